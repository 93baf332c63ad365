package main

import (
	"net/http"
	"testing"

	"github.com/lsqbridge/lsqbridge/service"
)

// TestFormCreatedLeadSyncsOwnerBothWays: a customer with no lead writes in;
// the agent opens an opportunity from the ticket, and the form creates the
// lead. That lead was created through the integration, so it is linked —
// to the customer's ticket, which it shares with the opportunity, opening
// no ticket of its own — and syncs: a LeadSquared owner change moves the
// ticket's agent, an agent change comes back as its owner, a field change
// tags the ticket.
func TestFormCreatedLeadSyncsOwnerBothWays(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	asha, ravi, meera := w.Users["asha@acme.test"], w.Users["ravi@acme.test"], w.Users["meera@acme.test"]
	tk := w.customerTicket(service.Contact{Name: "Nisha Verma", Email: "nisha@example.com", Phone: "+919812398123"},
		map[string]any{"check_in": "2026-12-20"}, "asha@acme.test")

	a := w.submitForm(tk.ID, "new-lead", map[string]string{"mx_Custom_2": "New"})
	if a.status != http.StatusCreated {
		t.Fatalf("submit = %d %s", a.status, a.body)
	}
	var got service.Submitted
	a.decode(t, &got)
	if !got.LeadCreated || got.State != service.LinkActive || got.TicketID == nil || *got.TicketID != tk.ID {
		t.Fatalf("answer %s; want a new lead, the opportunity active on ticket %d", a.body, tk.ID)
	}
	w.settle()
	lead, ok := w.LSQ.Lead(got.LeadID)
	if !ok || lead.OwnerID != asha.ID || lead.Field("EmailAddress") != "nisha@example.com" {
		t.Fatalf("lead %+v; want Nisha's lead owned by Asha, the agent who opened it", lead)
	}
	var state, origin string
	var ticket int64
	check(t, w.pool.QueryRow(w.ctx, "SELECT state, origin, ticket_id FROM links WHERE record_kind = 'lead' AND record_id = $1",
		lead.ID).Scan(&state, &origin, &ticket))
	if state != service.LinkActive || origin != service.OriginForm || ticket != tk.ID {
		t.Errorf("lead link %s %s on ticket %d; want active, form, on the customer's ticket %d", state, origin, ticket, tk.ID)
	}
	if n := len(w.conversationsFor(lead.ID)) + len(w.conversationsFor(got.OpportunityID)); n != 0 {
		t.Errorf("%d tickets opened for the new lead or opportunity; the customer's conversation is theirs", n)
	}

	// LeadSquared owner → the ticket's agent.
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, ravi.ID))
	w.settle()
	if tkNow, _ := w.LC.Conversation(tk.ID); tkNow.AssigneeID != w.agentID("ravi@acme.test") {
		t.Fatalf("after the lead's owner → Ravi, the ticket's agent is %d, want Ravi", tkNow.AssigneeID)
	}
	// One ticket, one agent: the opportunity on it follows too.
	if o, _ := w.LSQ.Opportunity(got.OpportunityID); o.OwnerID != ravi.ID {
		t.Errorf("the opportunity sharing the ticket is owned by %s, want Ravi", o.OwnerID)
	}

	// And back: the ticket's agent → the lead's owner (and the opportunity's).
	check(t, w.LC.AssignAgent(tk.ID, w.agentID("meera@acme.test")))
	w.settle()
	if l, _ := w.LSQ.Lead(lead.ID); l.OwnerID != meera.ID {
		t.Errorf("after the agent → Meera, the lead's owner is %s, want Meera", l.OwnerID)
	}
	if o, _ := w.LSQ.Opportunity(got.OpportunityID); o.OwnerID != meera.ID {
		t.Errorf("after the agent → Meera, the opportunity's owner is %s, want Meera", o.OwnerID)
	}

	// A lead field rule reaches the shared ticket.
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"mx_Interest": "Villa"}))
	w.settle()
	if tkNow, _ := w.LC.Conversation(tk.ID); !tkNow.HasLabel("interest-villa") {
		t.Errorf("ticket labels %v, want interest-villa from the lead's field", tkNow.Labels)
	}
	assertQuiet(t, w)
}
