package limechat

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

func TestParseWebhookRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body, wantErr string
	}{
		{"empty body", ``, "not JSON"},
		{"not JSON", `event=conversation_created`, "not JSON"},
		{"array", `[{"event":"conversation_created"}]`, "not a JSON object"},
		{"string", `"conversation_created"`, "not a JSON object"},
		{"no event", `{"id":1}`, `no "event"`},
		{"null event", `{"event":null,"id":1}`, `no "event"`},
		{"numeric event", `{"event":5,"id":1}`, "not a string"},
		{"empty event", `{"event":"","id":1}`, "empty"},
		{"no conversation id", `{"event":"conversation_created","inbox_id":1}`, "no id"},
		{"bad id", `{"event":"conversation_created","id":"abc"}`, "read conversation"},
		{"bad labels", `{"event":"conversation_created","id":1,"labels":"hot"}`, "read conversation"},
		{"bad timestamp", `{"event":"conversation_created","id":1,"updated_at":"tomorrow"}`, "read conversation"},
		{"automation without a name", `{"event":"automation_event.","id":1}`, "names no rule event"},
		{"changed_attributes not a list", `{"event":"conversation_updated","id":1,"changed_attributes":5}`, "changed_attributes"},
		{"assignee change not an object", `{"event":"conversation_updated","id":1,"changed_attributes":[{"assignee_id":3}]}`, "assignee_id"},
		{"label change of numbers", `{"event":"conversation_updated","id":1,"changed_attributes":[{"label_list":{"previous_value":[1]}}]}`, "label_list"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			events, err := ParseWebhook(nil, []byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || events != nil {
				t.Errorf("got %v, %v; want error containing %q", events, err, tc.wantErr)
			}
		})
	}
}

func TestParseWebhookIgnoresOtherEvents(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"message_created", "message_updated", "contact_created", "contact_updated",
		"conversation_typing_on", "conversation_typing_off", "webwidget_triggered", "inbox_created", "conversation_opened"} {
		events, err := ParseWebhook(nil, []byte(`{"event":"`+name+`","id":1}`))
		if events != nil || err != nil {
			t.Errorf("%s: got %v, %v; want nil, nil", name, events, err)
		}
	}
}

func TestParseWebhookChangedAttributes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name            string
		changes         string
		assigneeChanged bool
		prevAssignee    int64
		labelsChanged   bool
		prevLabels      []string
	}{
		{"absent", ``, false, 0, false, nil},
		{"null", `,"changed_attributes":null`, false, 0, false, nil},
		{"empty list", `,"changed_attributes":[]`, false, 0, false, nil},
		{"assignee from null", `,"changed_attributes":[{"assignee_id":{"previous_value":null,"current_value":7}}]`, true, 0, false, nil},
		{"assignee as string id", `,"changed_attributes":[{"assignee_id":{"previous_value":"3","current_value":"7"}}]`, true, 3, false, nil},
		{"labels from null", `,"changed_attributes":[{"label_list":{"previous_value":null,"current_value":["a"]}}]`, false, 0, true, []string{}},
		{"labels as taggable string", `,"changed_attributes":[{"label_list":{"previous_value":"a, b","current_value":"a, b, c"}}]`, false, 0, true, []string{"a", "b"}},
		{"single object form", `,"changed_attributes":{"assignee_id":{"previous_value":2,"current_value":3},"label_list":{"previous_value":["x"],"current_value":[]}}`, true, 2, true, []string{"x"}},
		{"noise only", `,"changed_attributes":[{"updated_at":{"previous_value":"2024-06-01T12:00:00.000Z","current_value":"2024-06-01T12:01:00.000Z"}},{"waiting_since":{"previous_value":null,"current_value":"x"}},{"custom_attributes":{"previous_value":{},"current_value":{"a":1}}}]`, false, 0, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			events, err := ParseWebhook(nil, []byte(`{"event":"conversation_updated","id":9`+tc.changes+`}`))
			if err != nil || len(events) != 1 {
				t.Fatalf("got %v, %v", events, err)
			}
			ev := events[0]
			if ev.AssigneeChanged != tc.assigneeChanged || ev.PreviousAssigneeID != tc.prevAssignee ||
				ev.LabelsChanged != tc.labelsChanged || !slices.Equal(ev.PreviousLabels, tc.prevLabels) || (ev.PreviousLabels == nil) != (tc.prevLabels == nil) {
				t.Errorf("got assignee %v/%d labels %v/%#v", ev.AssigneeChanged, ev.PreviousAssigneeID, ev.LabelsChanged, ev.PreviousLabels)
			}
		})
	}
}

func TestParseWebhookStatusChangedIgnoresChanges(t *testing.T) {
	t.Parallel()
	events, err := ParseWebhook(nil, []byte(`{"event":"conversation_status_changed","id":9,"status":"resolved","changed_attributes":[{"assignee_id":{"previous_value":1,"current_value":2}}]}`))
	if err != nil || len(events) != 1 || events[0].AssigneeChanged || events[0].Type != service.EventConversationStatusChanged || events[0].Ticket.Status != "resolved" {
		t.Errorf("got %+v, %v", events, err)
	}
}

func TestParseWebhookAutomationNames(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"automation_event.conversation_created": "conversation_created",
		"automation_event.message_created":      "message_created",
		"macro_event.Qualify lead":              "Qualify lead",
		"macro.executed":                        "macro.executed",
	}
	for event, want := range cases {
		events, err := ParseWebhook(nil, []byte(`{"event":"`+event+`","id":3}`))
		if err != nil || len(events) != 1 || events[0].Type != service.EventAutomation || events[0].Automation != want {
			t.Errorf("%s: got %+v, %v", event, events, err)
		}
	}
}

func TestParseWebhookDedupKey(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"conversation_created","id":3}`)
	sum := sha256.Sum256(append([]byte("conversation_created\n"), body...))
	cases := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"no header: hash of event and body", nil, hex.EncodeToString(sum[:])},
		{"blank header: hash", http.Header{HeaderDelivery: {"  "}}, hex.EncodeToString(sum[:])},
		{"delivery id", http.Header{HeaderDelivery: {"5b0c2c1e-1111-4222-8333-444455556666"}}, "5b0c2c1e-1111-4222-8333-444455556666"},
	}
	for _, tc := range cases {
		events, err := ParseWebhook(tc.header, body)
		if err != nil || events[0].DedupKey != tc.want {
			t.Errorf("%s: got %+v, %v; want %s", tc.name, events, err, tc.want)
		}
	}
}

func TestParseWebhookTimestamps(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, fields string
		want         time.Time
	}{
		{"float updated_at keeps microseconds", `"updated_at":1717243200.000001,"timestamp":1`, time.Unix(1717243200, 1000)},
		{"int updated_at", `"updated_at":1717243200`, time.Unix(1717243200, 0)},
		{"numeric string", `"updated_at":"1717243200.5"`, time.Unix(1717243200, 5e8)},
		{"RFC 3339", `"updated_at":"2024-06-01T12:00:00.123456+05:30"`, time.Date(2024, 6, 1, 6, 30, 0, 123456000, time.UTC)},
		{"exponent form", `"updated_at":1.7172432e9`, time.Unix(1717243200, 0)},
		{"falls back to timestamp", `"timestamp":1717243100`, time.Unix(1717243100, 0)},
		{"null updated_at falls back", `"updated_at":null,"timestamp":1717243100`, time.Unix(1717243100, 0)},
		{"none", `"status":"open"`, time.Time{}},
	}
	for _, tc := range cases {
		events, err := ParseWebhook(nil, []byte(`{"event":"conversation_created","id":3,`+tc.fields+`}`))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if ev := events[0]; !ev.OccurredAt.Equal(tc.want) || !ev.Ticket.UpdatedAt.Equal(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, ev.OccurredAt, tc.want)
		}
	}
}

func TestParseWebhookAccountID(t *testing.T) {
	t.Parallel()
	cases := map[string]int64{
		`"messages":[{"account_id":12}]`:                 12,
		`"messages":[{"id":1},{"account_id":"13"}]`:      13,
		`"account_id":14,"messages":[{"account_id":12}]`: 14,
		`"account":{"id":15,"name":"Acme"}`:              15,
		`"messages":[]`:                                  0,
	}
	for fields, want := range cases {
		events, err := ParseWebhook(nil, []byte(`{"event":"conversation_created","id":3,`+fields+`}`))
		if err != nil || events[0].Ticket.AccountID != want {
			t.Errorf("%s: got %+v, %v; want account %d", fields, events, err, want)
		}
	}
}
