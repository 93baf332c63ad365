package limechatfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

func TestCreateConversationFiresConversationCreated(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := context.Background()
	ct := must(e.client.CreateContact(ctx, 3, service.Contact{Name: "Asha", Phone: "+919812345678"}))(t)
	tk := must(e.client.CreateConversation(ctx, service.NewConversation{
		InboxID: 3, ContactID: ct.ID, CustomAttributes: map[string]any{"lsq_record_id": "L-1"}, Message: "New lead",
	}))(t)
	ds := e.take(t)
	if len(ds) != 1 || ds[0].path != "/hook" || ds[0].header.Get("X-Lsqbridge-Token") != hookToken {
		t.Fatalf("deliveries %+v", ds)
	}
	evs := parse(t, ds)
	ev := evs[0]
	if ev.Type != service.EventConversationCreated || ev.Ticket.ID != tk.ID || ev.Ticket.AccountID != 12 ||
		ev.Ticket.InboxID != 3 || ev.Ticket.CustomAttributes["lsq_record_id"] != "L-1" || ev.Ticket.Contact.Phone != "+919812345678" {
		t.Errorf("event %+v ticket %+v", ev, ev.Ticket)
	}
	if !ev.OccurredAt.Equal(tk.UpdatedAt) {
		t.Errorf("OccurredAt %v, REST updated_at %v", ev.OccurredAt, tk.UpdatedAt)
	}
}

func TestAssignmentViaAPIEchoes(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := context.Background()
	agentID, tk := newTicket(t, e)

	if err := e.client.Assign(ctx, tk.ID, agentID); err != nil {
		t.Fatal(err)
	}
	ds := e.take(t)
	evs := parse(t, ds)
	if len(evs) != 1 || evs[0].Type != service.EventConversationUpdated || !evs[0].AssigneeChanged ||
		evs[0].PreviousAssigneeID != 0 || evs[0].Ticket.AssigneeID != agentID || evs[0].LabelsChanged {
		t.Fatalf("events %+v", evs)
	}
	if got := rawChanges(t, ds[0]); !slices.Equal(got, []string{"assignee_id", "updated_at"}) {
		t.Errorf("changed_attributes keys %v", got)
	}
	// Webhook assignees carry no e-mail; the REST API does.
	if evs[0].Ticket.AssigneeEmail != "" || bytes.Contains(ds[0].body, []byte("ravi@example.com")) {
		t.Errorf("webhook carries the assignee e-mail: %s", ds[0].body)
	}
	if got := must(e.client.GetConversation(ctx, tk.ID))(t); got.AssigneeEmail != "ravi@example.com" {
		t.Errorf("REST assignee e-mail %q", got.AssigneeEmail)
	}

	// The same assignee again changes nothing and fires nothing.
	if err := e.client.Assign(ctx, tk.ID, agentID); err != nil {
		t.Fatal(err)
	}
	if ds := e.take(t); len(ds) != 0 {
		t.Errorf("same-value assignment fired %d webhooks", len(ds))
	}

	// Unassigning reports the previous agent.
	if err := e.client.Assign(ctx, tk.ID, 0); err != nil {
		t.Fatal(err)
	}
	evs = parse(t, e.take(t))
	if len(evs) != 1 || !evs[0].AssigneeChanged || evs[0].PreviousAssigneeID != agentID || evs[0].Ticket.AssigneeID != 0 {
		t.Errorf("unassign events %+v", evs)
	}
}

func TestLabelsViaAPIEchoAndReplace(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := context.Background()
	_, tk := newTicket(t, e)
	steps := []struct {
		set        []string
		wantLabels []string
		fires      bool
		prev       []string
	}{
		{[]string{"hot", "vip"}, []string{"hot", "vip"}, true, []string{}},
		{[]string{"vip", "hot"}, []string{"hot", "vip"}, false, nil}, // same set: nothing
		{[]string{"vip", "new"}, []string{"vip", "new"}, true, []string{"hot", "vip"}},
		{[]string{"new", "new"}, []string{"new"}, true, []string{"vip", "new"}},
		{nil, []string{}, true, []string{"new"}},
		{nil, []string{}, false, nil},
	}
	for i, st := range steps {
		got := must(e.client.SetLabels(ctx, tk.ID, st.set))(t)
		if !slices.Equal(got, st.wantLabels) {
			t.Errorf("step %d: SetLabels(%v) = %v, want %v (set replaces)", i, st.set, got, st.wantLabels)
		}
		evs := parse(t, e.take(t))
		if !st.fires {
			if len(evs) != 0 {
				t.Errorf("step %d: same labels fired %+v", i, evs)
			}
			continue
		}
		if len(evs) != 1 || !evs[0].LabelsChanged || evs[0].AssigneeChanged || !slices.Equal(evs[0].PreviousLabels, st.prev) ||
			!slices.Equal(evs[0].Ticket.Labels, st.wantLabels) {
			t.Errorf("step %d: events %+v", i, evs)
		}
	}
}

func TestCustomAttributesViaAPIEchoAndReplace(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := context.Background()
	_, tk := newTicket(t, e)

	if err := e.client.SetCustomAttributes(ctx, tk.ID, map[string]any{"lsq_record_id": "L-1", "score": 3}); err != nil {
		t.Fatal(err)
	}
	ds := e.take(t)
	if len(ds) != 1 || !slices.Equal(rawChanges(t, ds[0]), []string{"custom_attributes", "updated_at"}) {
		t.Fatalf("deliveries %d, changes %v", len(ds), rawChanges(t, ds[0]))
	}
	if evs := parse(t, ds); evs[0].AssigneeChanged || evs[0].LabelsChanged {
		t.Errorf("custom attribute change reported as assignee/labels: %+v", evs[0])
	}
	// Same hash (key order and number form aside) fires nothing.
	if err := e.client.SetCustomAttributes(ctx, tk.ID, map[string]any{"score": 3.0, "lsq_record_id": "L-1"}); err != nil {
		t.Fatal(err)
	}
	if ds := e.take(t); len(ds) != 0 {
		t.Errorf("same attributes fired %d webhooks", len(ds))
	}
	// A new hash replaces the old one entirely.
	if err := e.client.SetCustomAttributes(ctx, tk.ID, map[string]any{"score": 4}); err != nil {
		t.Fatal(err)
	}
	e.take(t)
	if got, _ := e.fake.Conversation(tk.ID); len(got.CustomAttributes) != 1 || got.CustomAttributes["score"] != 4.0 {
		t.Errorf("attributes %v", got.CustomAttributes)
	}
}

func TestUpdatedAtAdvancesStrictly(t *testing.T) {
	t.Parallel()
	e := setup(t, nil) // the clock never moves in this test
	ctx := context.Background()
	agentID, tk := newTicket(t, e)
	last := tk.UpdatedAt
	writes := []func() error{
		func() error { return e.client.Assign(ctx, tk.ID, agentID) },
		func() error { _, err := e.client.SetLabels(ctx, tk.ID, []string{"a"}); return err },
		func() error { return e.client.SetCustomAttributes(ctx, tk.ID, map[string]any{"k": "v"}) },
		func() error { return e.fake.AddLabel(tk.ID, "b") },
		func() error { return e.fake.SetStatus(tk.ID, "resolved") },
	}
	for i, w := range writes {
		if err := w(); err != nil {
			t.Fatal(err)
		}
		evs := parse(t, e.take(t))
		if len(evs) == 0 {
			t.Fatalf("write %d fired nothing", i)
		}
		for _, ev := range evs {
			if !ev.OccurredAt.After(last) {
				t.Errorf("write %d: updated_at %v not after %v", i, ev.OccurredAt, last)
			}
		}
		last = evs[0].OccurredAt
	}
	if got := last.Sub(tk.UpdatedAt); got != 5*time.Microsecond {
		t.Errorf("updated_at advanced %v, want five bumps of 1µs", got)
	}
}

func TestAssignUnknownAgentUnassignsAndAnswersNull(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	agentID, tk := newTicket(t, e)
	if err := e.fake.AssignAgent(tk.ID, agentID); err != nil {
		t.Fatal(err)
	}
	e.take(t)
	req := rawRequest(t, e, "POST", "/api/v1/accounts/12/conversations/1/assignments", `{"assignee_id":999}`, helpdeskAuth(token))
	if req.status != 200 || string(bytes.TrimSpace(req.body)) != "null" {
		t.Errorf("got %d %s", req.status, req.body)
	}
	if got, _ := e.fake.Conversation(tk.ID); got.AssigneeID != 0 {
		t.Errorf("assignee %d, want unassigned", got.AssigneeID)
	}
	var p struct {
		Changed []map[string]struct {
			Previous json.RawMessage `json:"previous_value"`
			Current  json.RawMessage `json:"current_value"`
		} `json:"changed_attributes"`
	}
	ds := e.take(t)
	if len(ds) != 1 || json.Unmarshal(ds[0].body, &p) != nil || string(p.Changed[0]["assignee_id"].Current) != "null" {
		t.Errorf("deliveries %+v", ds)
	}
}
