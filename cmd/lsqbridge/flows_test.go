package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/service"
)

// TestUATChecklist walks the scope's acceptance checklist end to end, through
// the real HTTP server on real Postgres, against both fakes with every
// webhook (and every echo of our own writes) delivered as the platforms do.
func TestUATChecklist(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	asha, ravi, meera := w.Users["asha@acme.test"], w.Users["ravi@acme.test"], w.Users["meera@acme.test"]

	// Lead created in LeadSquared → ticket assigned to the owner's agent.
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Priya", "LastName": "Shah", "EmailAddress": "priya@example.com", "Phone": "+91-9876543210",
		"OwnerId": asha.ID, "mx_City": "Pune",
	}))
	w.settle()
	tk := w.ticketOf(lead.ID)
	if tk.AssigneeID != w.agentID("asha@acme.test") {
		t.Errorf("lead ticket assignee = %d, want Asha (%d)", tk.AssigneeID, w.agentID("asha@acme.test"))
	}
	if !tk.HasLabel("leadsquared") || tk.CustomAttributes["city"] != "Pune" {
		t.Errorf("lead ticket labels %v attributes %v: want the initial label and city", tk.Labels, tk.CustomAttributes)
	}
	if tk.Contact.Phone != "+919876543210" || tk.Contact.Email != "priya@example.com" {
		t.Errorf("ticket contact = %+v, want the lead's phone and e-mail", tk.Contact)
	}

	// Opportunity created → its own ticket.
	opp := must[service.Record](t)(w.LSQ.CreateOpportunity(lead.ID, map[string]string{
		"mx_Custom_1": "Goa holiday", "Status": "Open", "mx_Custom_4": "2026-12-20", "Owner": ravi.ID,
	}))
	w.settle()
	otk := w.ticketOf(opp.ID)
	if otk.AssigneeID != w.agentID("ravi@acme.test") || otk.ID == tk.ID {
		t.Errorf("opportunity ticket %d assignee %d; want a new ticket assigned to Ravi", otk.ID, otk.AssigneeID)
	}
	if otk.Contact.Phone != "+919876543210" {
		t.Errorf("opportunity ticket contact = %+v, want the lead's contact", otk.Contact)
	}

	// Owner changed in LeadSquared → agent changes in LimeChat.
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, ravi.ID))
	w.settle()
	if got := w.ticketOf(lead.ID).AssigneeID; got != w.agentID("ravi@acme.test") {
		t.Errorf("after owner → Ravi, ticket assignee = %d", got)
	}

	// Agent changed in LimeChat → owner changes in LeadSquared.
	check(t, w.LC.AssignAgent(tk.ID, w.agentID("meera@acme.test")))
	w.settle()
	if l, _ := w.LSQ.Lead(lead.ID); l.OwnerID != meera.ID {
		t.Errorf("after agent → Meera, lead owner = %s, want %s", l.OwnerID, meera.ID)
	}

	// A mapped field updated in LeadSquared → tag on the ticket.
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"mx_Interest": "Villa"}))
	w.settle()
	if !w.ticketOf(lead.ID).HasLabel("interest-villa") {
		t.Errorf("after mx_Interest=Villa, labels = %v", w.ticketOf(lead.ID).Labels)
	}

	// A tag added in LimeChat → mapped field updated, and activity posted.
	check(t, w.LC.AddLabel(tk.ID, "wants-callback"))
	check(t, w.LC.AddLabel(tk.ID, "quote-sent"))
	w.settle()
	if l, _ := w.LSQ.Lead(lead.ID); l.Field("mx_Callback_Requested") != "Yes" {
		t.Errorf("after tag wants-callback, mx_Callback_Requested = %q", l.Field("mx_Callback_Requested"))
	}
	acts := w.LSQ.Activities(lead.ID)
	n := 0
	for _, a := range acts {
		if strings.Contains(a.Note, "Quote sent from LimeChat") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("after tag quote-sent, %d matching activities on the lead, want 1 (all: %+v)", n, acts)
	}

	// Stage change → exactly one Flow-builder event with its data.
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"ProspectStage": "Qualified"}))
	w.settle()
	// Status Open → Won on the opportunity → its campaign.
	check(t, w.LSQ.UpdateOpportunity(opp.ID, map[string]string{"Status": "Won"}))
	w.settle()
	var qualified, won []service.FlowEvent
	for _, ev := range w.LC.FlowEvents() {
		switch ev.Event {
		case "lead_qualified":
			qualified = append(qualified, ev)
		case "booking_confirmed":
			won = append(won, ev)
		}
	}
	if len(qualified) != 1 || qualified[0].Data["first_name"] != "Priya" || qualified[0].Phone != "919876543210" {
		t.Errorf("lead_qualified events = %+v, want one for Priya at 919876543210", qualified)
	}
	if len(won) != 1 || won[0].Data["booking"] != "Goa holiday" {
		t.Errorf("booking_confirmed events = %+v, want one for Goa holiday", won)
	}

	// Everything the fakes echoed back ends quiet: no action pending, and
	// another round of delivery changes nothing.
	assertQuiet(t, w)
}

// assertQuiet checks the outbox is drained, echoes were recognised, and
// settling again produces no new action or webhook.
func assertQuiet(t *testing.T, w *world) {
	t.Helper()
	if n := w.count("SELECT count(*) FROM outbox WHERE status IN ('pending','delivering','dead')"); n != 0 {
		t.Errorf("%d actions not delivered", n)
	}
	out := w.outcomes()
	if out[service.OutcomeEcho] == 0 {
		t.Errorf("no inbound event was recorded as echo: %v", out)
	}
	for _, bad := range []string{service.OutcomeError, service.OutcomeRejected, service.OutcomePaused} {
		if out[bad] != 0 {
			t.Errorf("%d events with outcome %s: %v", out[bad], bad, out)
		}
	}
	t.Logf("inbound outcomes %v; outbox %d rows", out, w.count("SELECT count(*) FROM outbox"))
	before := w.count("SELECT count(*) FROM outbox")
	events := w.count("SELECT count(*) FROM inbound_events")
	w.settle()
	if after := w.count("SELECT count(*) FROM outbox"); after != before {
		t.Errorf("settling again enqueued %d more actions", after-before)
	}
	if after := w.count("SELECT count(*) FROM inbound_events"); after != events {
		t.Errorf("settling again produced %d more webhooks", after-events)
	}
}

func TestEchoesOfOwnWritesEndQuiet(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	asha := w.Users["asha@acme.test"]
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Echo", "EmailAddress": "echo@example.com", "OwnerId": asha.ID}))
	w.settle()
	tk := w.ticketOf(lead.ID)
	// Each of these makes lsqbridge write to the other side, whose API
	// writes fire webhooks back (LimeChat for assignments and labels,
	// LeadSquared for opportunity updates).
	check(t, w.LC.AssignAgent(tk.ID, w.agentID("ravi@acme.test")))
	check(t, w.LC.AddLabel(tk.ID, "budget-confirmed"))
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"mx_Interest": "Villa", "ProspectStage": "Hot"}))
	w.settle()
	opp := must[service.Record](t)(w.LSQ.CreateOpportunity(lead.ID, map[string]string{"mx_Custom_1": "Trip", "Status": "Open", "mx_Custom_4": "2026-12-01", "Owner": asha.ID}))
	w.settle()
	otk := w.ticketOf(opp.ID)
	check(t, w.LC.AssignAgent(otk.ID, w.agentID("meera@acme.test")))
	check(t, w.LC.AddLabel(otk.ID, "budget-confirmed"))
	w.settle()
	o, _ := w.LSQ.Opportunity(opp.ID)
	if o.OwnerID != w.Users["meera@acme.test"].ID || o.Field("mx_Custom_7") != "50000" {
		t.Errorf("opportunity owner %s budget %q; want Meera and 50000", o.OwnerID, o.Field("mx_Custom_7"))
	}
	if labels := w.ticketOf(lead.ID).Labels; !slices.Contains(labels, "interest-villa") || !slices.Contains(labels, "hot-lead") {
		t.Errorf("lead ticket labels %v; want interest-villa and hot-lead", labels)
	}
	assertQuiet(t, w)
}
