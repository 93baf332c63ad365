package limechatfake

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/limechat"
)

// target is a configured webhook destination.
type target struct {
	url    string
	header http.Header
	secret []byte
}

// SetWebhook configures the account webhook, subscribed to every
// conversation event (conversation_created, conversation_updated,
// conversation_status_changed); "" removes it. header is added to every
// delivery (e.g. a shared-secret token). With a non-empty secret the fake
// behaves like new Chatwoot builds: X-Chatwoot-Timestamp and
// X-Chatwoot-Signature over "{timestamp}.{body}", plus a fresh
// X-Chatwoot-Delivery id per delivery. Without one it behaves like older
// builds: no signature and no delivery id.
func (f *Fake) SetWebhook(url string, header http.Header, secret []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if url == "" {
		f.webhook = nil
		return
	}
	f.webhook = &target{url: url, header: header.Clone(), secret: slices.Clone(secret)}
}

// SetAutomationWebhook configures an automation rule "on conversation
// created → send webhook to url"; "" removes it. Its deliveries carry the
// conversation's webhook_data with event "automation_event.conversation_created",
// and no signature, delivery id or changed_attributes, as Chatwoot sends them.
func (f *Fake) SetAutomationWebhook(url string, header http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if url == "" {
		f.automation = nil
		return
	}
	f.automation = &target{url: url, header: header.Clone()}
}

// fireLocked sends a conversation event to the account webhook;
// changes, when not nil, become changed_attributes.
func (f *Fake) fireLocked(c *conversation, event string, changes []any) {
	if f.webhook == nil {
		return
	}
	payload := f.pushData(c)
	payload["event"] = event
	if changes != nil {
		payload["changed_attributes"] = changes
	}
	f.deliverLocked(f.webhook, payload)
}

// fireAutomationLocked runs the automation rule's send_webhook_event action.
func (f *Fake) fireAutomationLocked(c *conversation, ruleEvent string) {
	if f.automation == nil {
		return
	}
	payload := f.pushData(c)
	payload["event"] = limechat.AutomationEventPrefix + ruleEvent
	f.deliverLocked(f.automation, payload)
}

// deliverLocked hands one delivery to the sender. Called under f.mu, so
// deliveries are queued in the order the changes happened.
func (f *Fake) deliverLocked(t *target, payload map[string]any) {
	body, err := json.Marshal(payload)
	if err != nil {
		return // payloads are built from plain JSON values; cannot happen
	}
	h := t.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	if len(t.secret) > 0 {
		ts, sig := limechat.Sign(t.secret, f.now(), body)
		h.Set(limechat.HeaderTimestamp, ts)
		h.Set(limechat.HeaderSignature, sig)
		h.Set(limechat.HeaderDelivery, f.uuidLocked())
	}
	f.hooks.Send(fakehooks.Delivery{URL: t.url, Header: h, Body: body})
}
