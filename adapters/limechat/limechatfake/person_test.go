package limechatfake_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/lsqbridge/lsqbridge/service"
)

func TestPersonCreatesConversation(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	tk := must(e.fake.CreateConversationByPerson(service.Contact{Name: "Asha", Email: "Asha@Example.com", Phone: "+919812345678"}))(t)
	if tk.ID != 1 || tk.Status != "open" || tk.AssigneeID != 0 || tk.Contact.Email != "asha@example.com" {
		t.Errorf("ticket %+v", tk)
	}
	evs := parse(t, e.take(t))
	if len(evs) != 1 || evs[0].Type != service.EventConversationCreated || evs[0].Ticket.AccountID != 12 || evs[0].Ticket.Contact.ID != tk.Contact.ID {
		t.Errorf("events %+v", evs)
	}
	// The same person writing again reuses the contact (found by phone).
	again := must(e.fake.CreateConversationByPerson(service.Contact{Phone: "+919812345678"}))(t)
	if again.ID != 2 || again.Contact.ID != tk.Contact.ID || len(e.fake.Contacts()) != 1 {
		t.Errorf("second ticket %+v, contacts %+v", again, e.fake.Contacts())
	}
	// Chatwoot's phone validation applies to people too.
	if _, err := e.fake.CreateConversationByPerson(service.Contact{Phone: "98123"}); err == nil {
		t.Error("invalid phone accepted")
	}
}

func TestPersonAssignsAgent(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	_, tk := newTicket(t, e)
	second := e.fake.AddAgent("Meera", "meera@example.com")
	if second.ID != "2" || !second.Active {
		t.Fatalf("agent %+v", second)
	}
	if again := e.fake.AddAgent("Meera S", "MEERA@example.com"); again.ID != "2" || len(e.fake.Agents()) != 2 {
		t.Errorf("re-adding an e-mail made %+v", e.fake.Agents())
	}
	cases := []struct {
		name     string
		conv     int64
		agent    int64
		wantErr  bool
		fires    bool
		prev     int64
		assignee int64
	}{
		{"assign", tk.ID, 2, false, true, 0, 2},
		{"same agent again", tk.ID, 2, false, false, 0, 2},
		{"reassign", tk.ID, 1, false, true, 2, 1},
		{"unknown agent", tk.ID, 99, true, false, 0, 1},
		{"unknown conversation", 99, 1, true, false, 0, 1},
		{"unassign", tk.ID, 0, false, true, 1, 0},
	}
	for _, tc := range cases {
		err := e.fake.AssignAgent(tc.conv, tc.agent)
		if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, service.ErrNotFound)) {
			t.Errorf("%s: err %v", tc.name, err)
		}
		evs := parse(t, e.take(t))
		if !tc.fires {
			if len(evs) != 0 {
				t.Errorf("%s: fired %+v", tc.name, evs)
			}
		} else if len(evs) != 1 || !evs[0].AssigneeChanged || evs[0].PreviousAssigneeID != tc.prev || evs[0].Ticket.AssigneeID != tc.assignee {
			t.Errorf("%s: events %+v", tc.name, evs)
		}
		if got, _ := e.fake.Conversation(tk.ID); got.AssigneeID != tc.assignee {
			t.Errorf("%s: assignee %d, want %d", tc.name, got.AssigneeID, tc.assignee)
		}
	}
}

func TestPersonLabels(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	_, tk := newTicket(t, e)
	cases := []struct {
		name   string
		do     func() error
		fires  bool
		labels []string
	}{
		{"add", func() error { return e.fake.AddLabel(tk.ID, "hot") }, true, []string{"hot"}},
		{"add another", func() error { return e.fake.AddLabel(tk.ID, "vip") }, true, []string{"hot", "vip"}},
		{"add again", func() error { return e.fake.AddLabel(tk.ID, "hot") }, false, []string{"hot", "vip"}},
		{"remove", func() error { return e.fake.RemoveLabel(tk.ID, "hot") }, true, []string{"vip"}},
		{"remove absent", func() error { return e.fake.RemoveLabel(tk.ID, "hot") }, false, []string{"vip"}},
	}
	prev := []string{}
	for _, tc := range cases {
		if err := tc.do(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		evs := parse(t, e.take(t))
		switch {
		case !tc.fires && len(evs) != 0:
			t.Errorf("%s: fired %+v", tc.name, evs)
		case tc.fires && (len(evs) != 1 || !evs[0].LabelsChanged || !slices.Equal(evs[0].PreviousLabels, prev) || !slices.Equal(evs[0].Ticket.Labels, tc.labels)):
			t.Errorf("%s: events %+v", tc.name, evs)
		}
		prev = tc.labels
	}
	if err := e.fake.AddLabel(99, "x"); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("unknown conversation: %v", err)
	}
	if err := e.fake.AddLabel(tk.ID, " "); err == nil {
		t.Error("empty label accepted")
	}
}

func TestPersonSetsStatus(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	_, tk := newTicket(t, e)
	if err := e.fake.SetStatus(tk.ID, "resolved"); err != nil {
		t.Fatal(err)
	}
	ds := e.take(t)
	if len(ds) != 2 || eventName(t, ds[0]) != "conversation_status_changed" || eventName(t, ds[1]) != "conversation_updated" {
		t.Fatalf("deliveries %d", len(ds))
	}
	evs := parse(t, ds)
	if evs[0].Type != service.EventConversationStatusChanged || evs[0].Ticket.Status != "resolved" ||
		evs[1].AssigneeChanged || evs[1].LabelsChanged {
		t.Errorf("events %+v", evs)
	}
	if err := e.fake.SetStatus(tk.ID, "resolved"); err != nil || len(e.take(t)) != 0 {
		t.Errorf("same status: %v", err)
	}
	if err := e.fake.SetStatus(tk.ID, "closed"); err == nil {
		t.Error("unknown status accepted")
	}
	if err := e.fake.SetStatus(99, "open"); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("unknown conversation: %v", err)
	}
}
