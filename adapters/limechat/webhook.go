package limechat

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/lsqbridge/lsqbridge/service"
)

// Webhook event names as Chatwoot sends them in the payload's "event" field.
const (
	EventNameConversationCreated       = "conversation_created"
	EventNameConversationUpdated       = "conversation_updated"
	EventNameConversationStatusChanged = "conversation_status_changed"
	// AutomationEventPrefix starts the event of an automation rule's "send
	// webhook" action: automation_event.<rule event name>.
	AutomationEventPrefix = "automation_event."
	// MacroEventPrefix starts the event of a macro's "send webhook" action.
	MacroEventPrefix = "macro_event."
	// MacroExecuted is what older Chatwoot builds send for a macro's webhook.
	MacroExecuted = "macro.executed"
)

// HeaderDelivery is Chatwoot's per-delivery id header (newer builds only).
const HeaderDelivery = "X-Chatwoot-Delivery"

// ParseWebhook turns one Chatwoot webhook delivery (account webhook or
// automation/macro "send webhook" action) into normalized events. It is pure
// and never panics.
//
//   - conversation_created, conversation_status_changed → one event of that type;
//   - conversation_updated → one event whose AssigneeChanged/LabelsChanged and
//     Previous* fields come from changed_attributes (assignee_id, label_list);
//     other changed keys (updated_at, waiting_since, status…) are ignored;
//   - automation_event.<name>, macro_event.<name> and macro.executed →
//     EventAutomation with Automation set to <name> (or "macro.executed");
//   - any other event (message_created, contact_updated, typing…) → nil, nil:
//     acknowledge it, there is nothing to do.
//
// A body that is not a JSON object, has no "event", or whose conversation
// cannot be read (or has no id) is an error saying what is wrong. DedupKey is
// the X-Chatwoot-Delivery header when present, else the hex SHA-256 of
// event name + "\n" + body.
func ParseWebhook(header http.Header, body []byte) ([]service.Event, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		if !json.Valid(body) {
			return nil, errors.New("limechat webhook: body is not JSON")
		}
		return nil, errors.New("limechat webhook: body is not a JSON object")
	}
	rawEvent, ok := top["event"]
	if !ok || string(rawEvent) == "null" {
		return nil, errors.New("limechat webhook: no \"event\" field")
	}
	var name string
	if err := json.Unmarshal(rawEvent, &name); err != nil {
		return nil, errors.New("limechat webhook: \"event\" is not a string")
	}
	if name == "" {
		return nil, errors.New("limechat webhook: \"event\" is empty")
	}
	typ, automation, err := classifyEvent(name)
	if err != nil || typ == "" {
		return nil, err
	}

	var conv conversationJSON
	if err := json.Unmarshal(body, &conv); err != nil {
		return nil, fmt.Errorf("limechat webhook %s: read conversation: %w", name, err)
	}
	if conv.ID == 0 {
		return nil, fmt.Errorf("limechat webhook %s: conversation has no id", name)
	}
	ticket := conv.ticket()
	ev := service.Event{
		Source:     service.SourceLimeChat,
		Type:       typ,
		DedupKey:   dedupKey(header, name, body),
		OccurredAt: ticket.UpdatedAt,
		Ticket:     &ticket,
		Automation: automation,
	}
	if typ == service.EventConversationUpdated {
		if err := applyChanges(&ev, top["changed_attributes"]); err != nil {
			return nil, fmt.Errorf("limechat webhook %s: changed_attributes: %w", name, err)
		}
	}
	return []service.Event{ev}, nil
}

// classifyEvent maps a Chatwoot event name to a service event type; "" means
// the event is acknowledged and ignored.
func classifyEvent(name string) (service.EventType, string, error) {
	switch name {
	case EventNameConversationCreated:
		return service.EventConversationCreated, "", nil
	case EventNameConversationUpdated:
		return service.EventConversationUpdated, "", nil
	case EventNameConversationStatusChanged:
		return service.EventConversationStatusChanged, "", nil
	case MacroExecuted:
		return service.EventAutomation, MacroExecuted, nil
	}
	for _, prefix := range []string{AutomationEventPrefix, MacroEventPrefix} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			if rest == "" {
				return "", "", fmt.Errorf("limechat webhook: %q names no rule event", name)
			}
			return service.EventAutomation, rest, nil
		}
	}
	return "", "", nil
}

func dedupKey(header http.Header, name string, body []byte) string {
	if id := strings.TrimSpace(header.Get(HeaderDelivery)); id != "" {
		return id
	}
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// change is one changed_attributes entry.
type change struct {
	Previous json.RawMessage `json:"previous_value"`
	Current  json.RawMessage `json:"current_value"`
}

// applyChanges reads changed_attributes: a list of one-key objects
// ([{"assignee_id":{…}}, {"label_list":{…}}]) as Chatwoot sends it, or a
// single object of the same keys, which some consumers re-emit.
func applyChanges(ev *service.Event, raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var entries []map[string]json.RawMessage
	if raw[0] == '{' {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(raw, &one); err != nil {
			return err
		}
		entries = append(entries, one)
	} else if err := json.Unmarshal(raw, &entries); err != nil {
		return errors.New("not a list of objects")
	}
	for _, entry := range entries {
		for key, val := range entry {
			switch key {
			case "assignee_id":
				var c change
				if err := json.Unmarshal(val, &c); err != nil {
					return fmt.Errorf("assignee_id: %w", err)
				}
				var prev flexInt
				if err := unmarshalOptional(c.Previous, &prev); err != nil {
					return fmt.Errorf("assignee_id previous_value: %w", err)
				}
				ev.AssigneeChanged = true
				ev.PreviousAssigneeID = int64(prev)
			case "label_list":
				var c change
				if err := json.Unmarshal(val, &c); err != nil {
					return fmt.Errorf("label_list: %w", err)
				}
				prev, err := labelList(c.Previous)
				if err != nil {
					return fmt.Errorf("label_list previous_value: %w", err)
				}
				ev.LabelsChanged = true
				ev.PreviousLabels = prev
			}
		}
	}
	return nil
}

func unmarshalOptional(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// labelList reads a label list value: a JSON array of strings, null, or
// acts-as-taggable's comma-separated string.
func labelList(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return []string{}, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		out := []string{}
		for l := range strings.SplitSeq(s, ",") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out, nil
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, errors.New("not a list of strings")
	}
	return nonNilLabels(out), nil
}
