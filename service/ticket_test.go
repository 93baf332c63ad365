package service_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// TestANewLeadGetsOneTicketAndItsLinkIsFilled: a lead's created webhook
// links it and asks for a ticket; delivering that opens one conversation
// in the integration's inbox for the lead's person (a new contact with
// the number in international form), assigned to the owner's agent,
// tagged, carrying the record's id — and the link records the ticket and
// contact and becomes active. Delivering again opens nothing more.
func TestANewLeadGetsOneTicketAndItsLinkIsFilled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.leadCreated("lead-1", asha, map[string]string{"FirstName": "Priya", "LastName": "Shah",
		"EmailAddress": "priya@customer.test", "Mobile": "98765 43210", "ProspectStage": "Hot"})
	if res.Outcome != service.OutcomeApplied || res.Actions != 1 {
		t.Fatalf("created webhook: %+v, want applied with one action", res)
	}
	l := b.link("lead-1")
	if l.State != service.LinkPendingTicket || l.TicketID != 0 || l.Owner != asha.email {
		t.Errorf("link before delivery %+v, want pending its ticket, owned by asha", l)
	}
	b.drain()
	b.drain()

	convs := b.lc.Conversations()
	if len(convs) != 1 {
		t.Fatalf("%d conversations, want 1", len(convs))
	}
	tk := convs[0]
	if tk.InboxID != 7 || tk.AssigneeID != asha.agent || !slices.Equal(tk.Labels, []string{"leadsquared", "hot-lead"}) {
		t.Errorf("ticket %+v, want inbox 7, asha's agent, tagged leadsquared and hot-lead", tk)
	}
	if tk.CustomAttributes["lsq_record_id"] != "lead-1" || tk.CustomAttributes["lsq_record_kind"] != "lead" {
		t.Errorf("ticket attributes %v, want the record it was opened for", tk.CustomAttributes)
	}
	if c := tk.Contact; c.ID == 0 || c.Name != "Priya Shah" || c.Phone != "+919876543210" || c.Email != "priya@customer.test" {
		t.Errorf("ticket's contact %+v, want Priya Shah, +919876543210, priya@customer.test", c)
	}
	l = b.link("lead-1")
	if l.TicketID != tk.ID || l.ContactID != tk.Contact.ID || l.State != service.LinkActive {
		t.Errorf("link after delivery %+v, want ticket %d, contact %d, active", l, tk.ID, tk.Contact.ID)
	}
	if got := l.Written["limechat.assignee"].Known; got != asha.email {
		t.Errorf("LimeChat assignee known as %q, want asha (the create assigned her)", got)
	}
	a := b.actions(l.ID, service.ActCreateTicket)
	if len(a) != 1 || a[0].Status != outbox.StatusDelivered || a[0].Outcome != "created" ||
		!jsonEq(t, a[0].Result, fmt.Sprintf(`{"ticket_id": %d, "contact_id": %d}`, tk.ID, tk.Contact.ID)) {
		t.Errorf("create_ticket action %+v, want delivered, created, with the ticket and contact", a)
	}
}

// TestACreateWhoseAnswerWasLostFindsItsTicketInsteadOfOpeningASecond: the
// conversation was created but the answer never came; the retry finds it
// by the record id it carries and records it, so the customer has one
// ticket.
func TestACreateWhoseAnswerWasLostFindsItsTicketInsteadOfOpeningASecond(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.lc.fail("create_conversation", fault{err: uncertain("request sent, outcome unknown: no answer within 15s"), landed: true})
	b.leadCreated("lead-1", asha, map[string]string{"FirstName": "Priya", "Mobile": "98765 43210"})
	b.drain()
	l := b.link("lead-1")
	a := b.actions(l.ID, service.ActCreateTicket)[0]
	if a.Status != outbox.StatusPending || a.Outcome != outbox.NoteMaybeSent || l.TicketID != 0 {
		t.Fatalf("after the lost answer: action %+v, link ticket %d; want pending, maybe sent, no ticket recorded", a, l.TicketID)
	}
	b.makeDue()
	b.drain()

	convs := b.lc.Conversations()
	if len(convs) != 1 {
		t.Fatalf("%d conversations, want the one created before the answer was lost", len(convs))
	}
	a = b.actions(l.ID, service.ActCreateTicket)[0]
	if a.Status != outbox.StatusDelivered || a.Outcome != "found after an ambiguous attempt" {
		t.Errorf("create_ticket action %+v, want delivered by finding the ticket", a)
	}
	if l = b.link("lead-1"); l.TicketID != convs[0].ID || l.State != service.LinkActive {
		t.Errorf("link %+v, want ticket %d, active", l, convs[0].ID)
	}
	if got := b.lc.Conversation(convs[0].ID).Labels; !slices.Equal(got, []string{"leadsquared"}) {
		t.Errorf("found ticket's labels %v, want the link's labels added", got)
	}
}
