package limechatfake_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

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

// TestCustomerWritingAfterCloseOpensANewConversation: LimeChat's lifecycle
// for WhatsApp — a message to a resolved ticket reopens it, a message to a
// closed one opens a new conversation with the same contact and inbox
// (conversation_created), which is what lsqbridge must follow.
func TestCustomerWritingAfterCloseOpensANewConversation(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	_, tk := newTicket(t, e)

	// Resolved, then the customer writes: the same ticket opens again.
	if err := e.fake.SetStatus(tk.ID, "resolved"); err != nil {
		t.Fatal(err)
	}
	e.take(t)
	same := must(e.fake.CustomerWrites(tk.ID, "one more question"))(t)
	if same.ID != tk.ID || same.Status != "open" {
		t.Fatalf("after writing to a resolved ticket: %+v, want ticket %d open again", same, tk.ID)
	}
	if evs := parse(t, e.take(t)); len(evs) != 2 || evs[0].Type != service.EventConversationStatusChanged || evs[0].Ticket.Status != "open" {
		t.Errorf("reopening fired %+v, want the status change", evs)
	}

	// Closed, then the customer writes: a new conversation, same contact and inbox.
	if err := e.fake.CloseConversation(tk.ID); err != nil {
		t.Fatal(err)
	}
	if evs := parse(t, e.take(t)); len(evs) != 2 || evs[0].Ticket.Status != "closed" {
		t.Errorf("closing fired %+v, want the status change to closed", evs)
	}
	next := must(e.fake.CustomerWrites(tk.ID, "hello again"))(t)
	if next.ID == tk.ID || next.Contact.ID != tk.Contact.ID || next.InboxID != tk.InboxID || next.Status != "open" || next.AssigneeID != 0 {
		t.Fatalf("after writing to a closed ticket: %+v; want a new open, unassigned conversation of contact %d in inbox %d", next, tk.Contact.ID, tk.InboxID)
	}
	evs := parse(t, e.take(t))
	if len(evs) != 1 || evs[0].Type != service.EventConversationCreated || evs[0].Ticket.ID != next.ID || evs[0].Ticket.Contact.ID != tk.Contact.ID {
		t.Errorf("the new conversation fired %+v, want conversation_created for %d", evs, next.ID)
	}
	if old, _ := e.fake.Conversation(tk.ID); old.Status != "closed" {
		t.Errorf("the closed ticket is %s now", old.Status)
	}
	msgs := must(e.fake.Messages(next.ID))(t)
	if len(msgs) != 1 || msgs[0].Content != "hello again" || msgs[0].Outgoing {
		t.Errorf("new conversation messages %+v, want the customer's", msgs)
	}
	if _, err := e.fake.CustomerWrites(99, "x"); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("unknown conversation: %v", err)
	}
}

// TestPrivateNotesAreStoredAndListed: POST …/messages stores a private
// outgoing note, touches the conversation without a webhook, and GET
// …/messages pages back with ?before=.
func TestPrivateNotesAreStoredAndListed(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := context.Background()
	_, tk := newTicket(t, e)
	before, _ := e.fake.Conversation(tk.ID)
	e.clock.Advance(time.Second)
	note := must(e.client.PostMessage(ctx, tk.ID, service.NewMessage{Content: "Owner has no agent", Private: true}))(t)
	if note.ID == 0 || note.Content != "Owner has no agent" || !note.Private || !note.Outgoing {
		t.Errorf("posted %+v", note)
	}
	if ds := e.take(t); len(ds) != 0 {
		t.Errorf("a note fired %d webhooks, want none", len(ds))
	}
	if after, _ := e.fake.Conversation(tk.ID); !after.UpdatedAt.After(before.UpdatedAt) {
		t.Errorf("updated_at %v → %v, want it moved by the note", before.UpdatedAt, after.UpdatedAt)
	}
	for i := range 25 {
		must(e.client.PostMessage(ctx, tk.ID, service.NewMessage{Content: fmt.Sprintf("n%d", i), Private: true}))(t)
	}
	all := must(e.client.Messages(ctx, tk.ID, 100))(t)
	if len(all) != 26 || all[0].Content != "Owner has no agent" || all[25].Content != "n24" {
		t.Fatalf("listed %d messages (first %+v), want all 26 oldest first", len(all), all[:min(1, len(all))])
	}
	if last := must(e.client.Messages(ctx, tk.ID, 3))(t); len(last) != 3 || last[2].Content != "n24" {
		t.Errorf("the 3 newest: %+v", last)
	}
	_, err := e.client.PostMessage(ctx, 99, service.NewMessage{Content: "x", Private: true})
	if !errors.Is(err, service.ErrNotFound) {
		t.Errorf("note on an unknown conversation: %v", err)
	}
}
