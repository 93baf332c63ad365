package main

import (
	"testing"

	"github.com/lsqbridge/lsqbridge/service"
)

// TestClosedTicketsFollowUpConversationIsLinkedAndSyncs: a lead's ticket is
// closed; the customer writes again on WhatsApp, and LimeChat opens a new
// conversation with the same contact and inbox. The lead's link moves to it
// (the old ticket is kept for audit), the new ticket gets the owner's agent
// and the record's tags, and sync goes on there: an owner change in
// LeadSquared moves the new ticket's agent, an agent change on it comes
// back. A conversation the same customer opens while their ticket is still
// open takes nothing over.
func TestClosedTicketsFollowUpConversationIsLinkedAndSyncs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Follow", "LastName": "Up",
		"EmailAddress": "follow@example.com", "Phone": "+91-9555555555", "OwnerId": w.Users["asha@acme.test"].ID, "mx_Interest": "Villa"}))
	w.settle()
	old := w.ticketOf(lead.ID)

	// While the ticket is open, another conversation of the same customer
	// is not the record's.
	side := must[service.Ticket](t)(w.LC.CreateConversationByPerson(service.Contact{ID: old.Contact.ID}))
	w.settle()
	if n := w.count("SELECT count(*) FROM links WHERE ticket_id = $1", side.ID); n != 0 {
		t.Fatalf("a conversation opened beside an open ticket took its link")
	}

	check(t, w.LC.CloseConversation(old.ID))
	next := must[service.Ticket](t)(w.LC.CustomerWrites(old.ID, "Hi, is the villa still available?"))
	if next.ID == old.ID || next.Contact.ID != old.Contact.ID {
		t.Fatalf("the customer's message landed in %+v; want a new conversation of contact %d", next, old.Contact.ID)
	}
	w.settle()

	var ticket int64
	check(t, w.pool.QueryRow(w.ctx, "SELECT ticket_id FROM links WHERE record_id = $1", lead.ID).Scan(&ticket))
	if ticket != next.ID {
		t.Fatalf("the lead's link is on ticket %d, want the follow-up conversation %d", ticket, next.ID)
	}
	var status string
	var followedBy int64
	check(t, w.pool.QueryRow(w.ctx, `SELECT status_when_left, followed_by FROM audit.link_tickets
		WHERE record_id = $1 AND ticket_id = $2 AND NOT current`, lead.ID, old.ID).Scan(&status, &followedBy))
	if status != "closed" || followedBy != next.ID {
		t.Errorf("audit.link_tickets keeps ticket %d as %q followed by %d; want closed, followed by %d", old.ID, status, followedBy, next.ID)
	}
	tk, _ := w.LC.Conversation(next.ID)
	if tk.AssigneeID != w.agentID("asha@acme.test") || !tk.HasLabel("leadsquared") || !tk.HasLabel("interest-villa") {
		t.Errorf("follow-up ticket %+v; want it assigned to the owner's agent (Asha) with the record's tags", tk)
	}

	// Sync goes on, on the new ticket.
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, w.Users["ravi@acme.test"].ID))
	w.settle()
	if tk, _ := w.LC.Conversation(next.ID); tk.AssigneeID != w.agentID("ravi@acme.test") {
		t.Errorf("after the owner → Ravi, the follow-up ticket's agent is %d, want Ravi", tk.AssigneeID)
	}
	if tk, _ := w.LC.Conversation(old.ID); tk.AssigneeID != w.agentID("asha@acme.test") {
		t.Errorf("the closed ticket was reassigned to %d", tk.AssigneeID)
	}
	check(t, w.LC.AssignAgent(next.ID, w.agentID("meera@acme.test")))
	check(t, w.LC.AddLabel(next.ID, "wants-callback"))
	w.settle()
	l, _ := w.LSQ.Lead(lead.ID)
	if l.OwnerID != w.Users["meera@acme.test"].ID || l.Field("mx_Callback_Requested") != "Yes" {
		t.Errorf("after the agent → Meera and a tag on the follow-up ticket: owner %s, mx_Callback_Requested %q", l.OwnerID, l.Field("mx_Callback_Requested"))
	}
	// The old ticket's webhooks are no longer the link's.
	check(t, w.LC.AssignAgent(old.ID, w.agentID("ravi@acme.test")))
	w.settle()
	if l, _ := w.LSQ.Lead(lead.ID); l.OwnerID != w.Users["meera@acme.test"].ID {
		t.Errorf("an agent change on the closed ticket moved the owner to %s", l.OwnerID)
	}
	assertQuiet(t, w)
}
