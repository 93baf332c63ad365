package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/adapters/limechat"
	"github.com/lsqbridge/lsqbridge/service"
)

// maxWebhookBody caps what one delivery may send.
const maxWebhookBody = 1 << 20

// maxDeliveryID is the longest X-Chatwoot-Delivery header taken as a
// delivery id (Chatwoot sends a UUID).
const maxDeliveryID = 200

// signatureSkew is how old a signed LimeChat delivery may be.
const signatureSkew = 5 * time.Minute

// AutomationFunc handles a LimeChat automation-rule webhook (the
// opportunity form without an agent) and returns the JSON answer.
type AutomationFunc func(ctx context.Context, in *service.Integration, ev service.Event, raw []byte) (status int, body any)

// Webhooks serves the platforms' webhooks.
type Webhooks struct {
	Integrations *service.Integrations
	Sync         *service.Sync
	Automation   AutomationFunc
	Logger       *slog.Logger
	// Now is the clock for signature timestamps (time.Now when nil).
	Now func() time.Time

	refused *prometheus.CounterVec // see auth.go
}

func (h *Webhooks) register(r *mux.Router) {
	r.HandleFunc("/v1/webhooks/leadsquared/{integration}/{event}", h.leadSquared).Methods(http.MethodPost, http.MethodHead)
	r.HandleFunc("/v1/webhooks/limechat/{integration}", h.limeChat).Methods(http.MethodPost)
	r.HandleFunc("/v1/webhooks/limechat/{integration}/automation", h.limeChatAutomation).Methods(http.MethodPost)
}

func (h *Webhooks) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// lsqAnswer is LeadSquared's webhook answer: always HTTP 200 (repeated
// non-2xx answers disable the webhook), the verdict in the body.
func lsqAnswer(w http.ResponseWriter, ok bool, reason string) {
	status := "Success"
	if !ok {
		status = "Error"
	}
	writeJSON(w, http.StatusOK, map[string]string{"Status": status, "StatusReason": reason})
}

// readBody reads a bounded body; too large is reported, not fatal: the
// part read is kept with the rejection.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return body, fmt.Errorf("body exceeds %d bytes", maxWebhookBody)
	}
	return body, err
}

func hashKey(event string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(event + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// leadSquared handles POST|HEAD /v1/webhooks/leadsquared/{integration}/{event}.
func (h *Webhooks) leadSquared(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	in, ok := h.admit(w, r, service.PowerLeadSquared) // auth.go
	if !ok {
		return
	}
	event := mux.Vars(r)["event"]
	body, err := readBody(w, r)
	ctx := r.Context()
	if err != nil {
		h.reject(ctx, w, in, service.SourceLeadSquared, event, body, err.Error())
		return
	}
	if reason := service.Unusable(body); reason != "" {
		h.reject(ctx, w, in, service.SourceLeadSquared, event, body, reason)
		return
	}
	events, err := leadsquared.ParseWebhook(event, r.Header, body)
	if err == nil {
		if reason := service.UnusableEvents(events); reason != "" {
			err = errors.New(reason)
		}
	}
	if err != nil {
		h.reject(ctx, w, in, service.SourceLeadSquared, event, body, err.Error())
		return
	}
	if len(events) == 0 {
		if len(bytes.TrimSpace(body)) > 0 {
			// A body with no record in it (an empty batch): kept, not acted on.
			if _, err := h.Sync.Record(ctx, in.ID, service.SourceLeadSquared, event, hashKey(event, body), body,
				service.OutcomeIgnored, "the payload holds no record"); err != nil {
				h.unavailable(w, in, service.SourceLeadSquared, err)
				return
			}
			lsqAnswer(w, true, "nothing to do (no record in the payload)")
			return
		}
		lsqAnswer(w, true, "nothing to do (verification call)")
		return
	}
	results, err := h.Sync.ApplyDelivery(ctx, in, service.Delivery{Source: service.SourceLeadSquared, Name: event, Raw: body}, events)
	if err != nil {
		h.unavailable(w, in, service.SourceLeadSquared, err)
		return
	}
	outcomes := make([]string, len(results))
	for i, res := range results {
		outcomes[i] = res.Outcome
	}
	lsqAnswer(w, true, fmt.Sprint(outcomes))
}

// unavailable answers a delivery that could not even be stored: the
// database cannot be written, so the platform should send it again.
func (h *Webhooks) unavailable(w http.ResponseWriter, in *service.Integration, src service.Source, err error) {
	h.log().Error("store webhook: database unavailable", "integration", in.ID, "source", src, "err", err)
	if src == service.SourceLeadSquared {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"Status": "Error", "StatusReason": "temporarily unavailable; retry"})
		return
	}
	writeError(w, http.StatusServiceUnavailable, "temporarily unavailable; retry")
}

// reject stores an unusable delivery and answers it.
func (h *Webhooks) reject(ctx context.Context, w http.ResponseWriter, in *service.Integration, src service.Source, event string, body []byte, reason string) {
	if _, err := h.Sync.Reject(ctx, in.ID, src, event, hashKey(event, body), body, reason); err != nil {
		h.unavailable(w, in, src, err)
		return
	}
	if src == service.SourceLeadSquared {
		lsqAnswer(w, false, reason)
		return
	}
	writeError(w, http.StatusBadRequest, reason)
}

// limeChatAuth authenticates a LimeChat delivery: token, then (when the
// integration has a signing secret) the signature over the raw bytes.
func (h *Webhooks) limeChatAuth(w http.ResponseWriter, r *http.Request, signed bool) (*service.Integration, []byte, bool) {
	in, ok := h.admit(w, r, webhookPower(signed)) // auth.go
	if !ok {
		return nil, nil, false
	}
	body, err := readBody(w, r)
	if err != nil {
		h.reject(r.Context(), w, in, service.SourceLimeChat, "unknown", body, err.Error())
		return nil, nil, false
	}
	if signed && in.LimeChatWebhookSecret != "" {
		now := time.Now()
		if h.Now != nil {
			now = h.Now()
		}
		if err := limechat.VerifySignature([]byte(in.LimeChatWebhookSecret), r.Header, body, now, signatureSkew); err != nil {
			h.refuseSignature(w, r, in.ID, err) // auth.go
			return nil, nil, false
		}
	}
	return in, body, true
}

// limeChat handles POST /v1/webhooks/limechat/{integration}.
func (h *Webhooks) limeChat(w http.ResponseWriter, r *http.Request) {
	in, body, ok := h.limeChatAuth(w, r, true)
	if !ok {
		return
	}
	ctx := r.Context()
	if id := r.Header.Get("X-Chatwoot-Delivery"); len(id) > maxDeliveryID {
		h.reject(ctx, w, in, service.SourceLimeChat, "unknown", body,
			fmt.Sprintf("the X-Chatwoot-Delivery header is %d characters long; a delivery id is a UUID", len(id)))
		return
	}
	if reason := service.Unusable(body); reason != "" {
		h.reject(ctx, w, in, service.SourceLimeChat, "unknown", body, reason)
		return
	}
	events, err := limechat.ParseWebhook(r.Header, body)
	if err == nil {
		if reason := service.UnusableEvents(events); reason != "" {
			err = errors.New(reason)
		}
	}
	if err != nil {
		h.reject(ctx, w, in, service.SourceLimeChat, "unknown", body, err.Error())
		return
	}
	if len(events) == 0 {
		key := r.Header.Get("X-Chatwoot-Delivery")
		if key == "" {
			key = hashKey("ignored", body)
		}
		if _, err := h.Sync.Record(ctx, in.ID, service.SourceLimeChat, "other", key, body, service.OutcomeIgnored, "event type not synced"); err != nil {
			h.unavailable(w, in, service.SourceLimeChat, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"outcome": service.OutcomeIgnored})
		return
	}
	if events[0].Type == service.EventAutomation {
		// Automation calls belong on the /automation route; kept, not acted on.
		ev := events[0]
		res, err := h.Sync.Record(ctx, in.ID, service.SourceLimeChat, "automation."+ev.Automation, ev.DedupKey, body,
			service.OutcomeIgnored, "automation rule webhooks go to /v1/webhooks/limechat/"+in.ID+"/automation")
		if err != nil {
			h.unavailable(w, in, service.SourceLimeChat, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"outcome": res.Outcome, "event_id": res.EventID})
		return
	}
	results, err := h.Sync.ApplyDelivery(ctx, in, service.Delivery{Source: service.SourceLimeChat, Raw: body}, events)
	if err != nil {
		h.unavailable(w, in, service.SourceLimeChat, err)
		return
	}
	last := results[len(results)-1]
	writeJSON(w, http.StatusOK, map[string]any{"outcome": last.Outcome, "event_id": last.EventID})
}

// limeChatAutomation handles POST /v1/webhooks/limechat/{integration}/automation:
// an automation rule's "send webhook" action, which carries no signature.
func (h *Webhooks) limeChatAutomation(w http.ResponseWriter, r *http.Request) {
	in, body, ok := h.limeChatAuth(w, r, false)
	if !ok {
		return
	}
	events, err := limechat.ParseWebhook(r.Header, body)
	if err == nil && (len(events) == 0 || events[0].Type != service.EventAutomation) {
		err = errors.New("not an automation event (automation_event.* or macro_event.*): account webhooks go to /v1/webhooks/limechat/" + in.ID)
	}
	if err != nil {
		h.reject(r.Context(), w, in, service.SourceLimeChat, "automation", body, err.Error())
		return
	}
	if h.Automation == nil {
		writeError(w, http.StatusNotImplemented, "automation is not enabled")
		return
	}
	status, answer := h.Automation(r.Context(), in, events[0], body)
	writeJSON(w, status, answer)
}
