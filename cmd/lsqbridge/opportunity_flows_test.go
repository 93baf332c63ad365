package main

import (
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/service"
)

// The checklist for opportunities, end to end: each flow a lead has, an
// opportunity has too, with its own fields, activities and campaigns.

// oppWithTicket creates a lead owned by Asha and an opportunity on it
// owned by owner, and returns the opportunity and its ticket.
func oppWithTicket(t *testing.T, w *world, owner string) (lead, opp service.Record, ticket service.Ticket) {
	t.Helper()
	lead = must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Opp", "LastName": "Flows", "EmailAddress": "opp-flows@example.com", "Phone": "+91-9811122233",
		"OwnerId": w.Users["asha@acme.test"].ID,
	}))
	opp = must[service.Record](t)(w.LSQ.CreateOpportunity(lead.ID, map[string]string{
		"mx_Custom_1": "Kerala houseboat", "Status": "Open", "mx_Custom_2": "New", "mx_Custom_4": "2026-12-01", "Owner": w.Users[owner].ID,
	}))
	w.settle()
	return lead, opp, w.ticketOf(opp.ID)
}

// TestOpportunityOwnerChangedInLeadSquaredMovesTheTicketAgent: a person
// changes the opportunity's owner in LeadSquared; its ticket's agent
// follows, and a later agent change in LimeChat comes back as its owner.
func TestOpportunityOwnerChangedInLeadSquaredMovesTheTicketAgent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, opp, tk := oppWithTicket(t, w, "asha@acme.test")
	if tk.AssigneeID != w.agentID("asha@acme.test") {
		t.Fatalf("opportunity ticket assignee %d, want Asha", tk.AssigneeID)
	}

	check(t, w.LSQ.UpdateOpportunity(opp.ID, map[string]string{"Owner": w.Users["ravi@acme.test"].ID}))
	w.settle()
	if got, _ := w.LC.Conversation(tk.ID); got.AssigneeID != w.agentID("ravi@acme.test") {
		t.Fatalf("after the owner → Ravi in LeadSquared, the ticket's agent is %d, want Ravi (%d)", got.AssigneeID, w.agentID("ravi@acme.test"))
	}
	if lead, _ := w.LSQ.Lead(opp.LeadID); lead.OwnerID != w.Users["asha@acme.test"].ID {
		t.Errorf("the lead's owner became %s; only the opportunity's owner changed", lead.OwnerID)
	}

	// And back: the agent changes in LimeChat, the owner follows.
	check(t, w.LC.AssignAgent(tk.ID, w.agentID("meera@acme.test")))
	w.settle()
	if o, _ := w.LSQ.Opportunity(opp.ID); o.OwnerID != w.Users["meera@acme.test"].ID {
		t.Errorf("after the agent → Meera in LimeChat, the opportunity's owner is %s, want Meera", o.OwnerID)
	}
	if got, _ := w.LC.Conversation(tk.ID); got.AssigneeID != w.agentID("meera@acme.test") {
		t.Errorf("the ticket's agent moved on to %d", got.AssigneeID)
	}
	assertQuiet(t, w)
}

// TestOpportunityTagPostsAnActivityOnTheOpportunity: the quote-sent tag on
// an opportunity's ticket posts the opportunity rule's activity (208) on
// the opportunity, once however often its webhook arrives, owned by the
// ticket's agent — not the lead rule's.
func TestOpportunityTagPostsAnActivityOnTheOpportunity(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	lead, opp, tk := oppWithTicket(t, w, "ravi@acme.test")

	w.LCHooks.SetFaults(fakehooks.Faults{DuplicateRate: 1}) // the tag's webhook arrives twice
	check(t, w.LC.AddLabel(tk.ID, "quote-sent"))
	w.settle()
	w.LCHooks.SetFaults(fakehooks.Faults{})

	var onOpp []service.Activity
	for _, a := range w.LSQ.Activities(opp.ID) {
		if strings.Contains(a.Note, "Quote sent from LimeChat") {
			onOpp = append(onOpp, a)
		}
	}
	if len(onOpp) != 1 || onOpp[0].EventCode != 208 || onOpp[0].OwnerEmail != "ravi@acme.test" {
		t.Fatalf("activities on the opportunity %+v; want one 208 activity owned by Ravi", onOpp)
	}
	for _, a := range w.LSQ.Activities(lead.ID) {
		if strings.Contains(a.Note, "Quote sent from LimeChat") {
			t.Errorf("the lead rule's activity was posted on the lead too: %+v", a)
		}
	}
	assertQuiet(t, w)
}

// TestOpportunityStageCampaignReachesFlowBuilderOnce: the opportunity's
// Stage (mx_Custom_2) moving to Reachable sends the campaign's event to
// Flow-builder once — not again for a save that leaves the stage as it is,
// nor for the webhook delivered twice.
func TestOpportunityStageCampaignReachesFlowBuilderOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, opp, _ := oppWithTicket(t, w, "asha@acme.test")

	w.LSQHooks.SetFaults(fakehooks.Faults{DuplicateRate: 1}) // every webhook twice
	check(t, w.LSQ.UpdateOpportunity(opp.ID, map[string]string{"mx_Custom_2": "Reachable"}))
	w.settle()
	w.LSQHooks.SetFaults(fakehooks.Faults{})
	check(t, w.LSQ.UpdateOpportunity(opp.ID, map[string]string{"mx_Custom_2": "Reachable", "mx_Custom_6": "4"}))
	w.settle()

	var got []service.FlowEvent
	for _, ev := range w.LC.FlowEvents() {
		if ev.Event == "opportunity_reachable" {
			got = append(got, ev)
		}
	}
	if len(got) != 1 {
		t.Fatalf("Flow-builder received %d opportunity_reachable events, want 1: %+v", len(got), got)
	}
	ev := got[0]
	if ev.Data["record_id"] != opp.ID || ev.Data["record_kind"] != "opportunity" || ev.Data["booking"] != "Kerala houseboat" ||
		ev.Data["stage"] != "Reachable" || ev.Phone != "919811122233" || ev.DistinctID != opp.LeadID {
		t.Errorf("event %+v; want the opportunity's booking and stage, to the lead's phone", ev)
	}
	assertQuiet(t, w)
}
