package main

import (
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/service"
)

// TestReconcileRepairsDroppedWebhooksInOnePass loses every webhook of both
// platforms, makes changes on both sides, and checks that one reconcile
// pass brings the two sides back to agreement, while a record lsqbridge
// never linked is left alone.
func TestReconcileRepairsDroppedWebhooksInOnePass(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	asha, ravi := w.Users["asha@acme.test"], w.Users["ravi@acme.test"]
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Rec", "EmailAddress": "rec@example.com", "Phone": "+91-9111111111", "OwnerId": asha.ID}))
	opp := must[service.Record](t)(w.LSQ.CreateOpportunity(lead.ID, map[string]string{"mx_Custom_1": "Stay", "Status": "Open", "mx_Custom_4": "2026-12-24", "Owner": asha.ID}))
	w.settle()
	tk, otk := w.ticketOf(lead.ID), w.ticketOf(opp.ID)

	// From now on the platforms lose every webhook.
	for _, h := range []*fakehooks.Sender{w.LSQHooks, w.LCHooks} {
		h.SetFaults(fakehooks.Faults{DropRate: 1})
	}
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, ravi.ID))
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"mx_Interest": "Villa"}))
	check(t, w.LC.AddLabel(tk.ID, "wants-callback"))
	check(t, w.LC.AssignAgent(otk.ID, w.agentID("meera@acme.test")))
	check(t, w.LSQ.UpdateOpportunity(opp.ID, map[string]string{"mx_Custom_2": "Qualified"}))
	stranger := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Never", "EmailAddress": "never@example.com", "OwnerId": asha.ID}))
	w.settle()
	if n := w.count("SELECT count(*) FROM outbox WHERE created_at > now() - interval '1 hour' AND status = 'pending'"); n != 0 {
		t.Fatalf("%d actions before reconciling; the webhooks were supposed to be lost", n)
	}

	stats, err := w.app.reconciler.RunAll(w.ctx, w.app.integrations, "demo")
	if err != nil {
		t.Fatal(err)
	}
	w.settle()
	t.Logf("reconcile pass: %+v", stats["demo"])

	if got := w.ticketOf(lead.ID); got.AssigneeID != w.agentID("ravi@acme.test") || !got.HasLabel("interest-villa") {
		t.Errorf("lead ticket assignee %d labels %v; want Ravi and interest-villa", got.AssigneeID, got.Labels)
	}
	if l, _ := w.LSQ.Lead(lead.ID); l.Field("mx_Callback_Requested") != "Yes" || l.OwnerID != ravi.ID {
		t.Errorf("lead owner %s mx_Callback_Requested %q; want Ravi and Yes", l.OwnerID, l.Field("mx_Callback_Requested"))
	}
	if o, _ := w.LSQ.Opportunity(opp.ID); o.OwnerID != w.Users["meera@acme.test"].ID {
		t.Errorf("opportunity owner %s, want Meera (agent changed in LimeChat)", o.OwnerID)
	}
	if got := w.ticketOf(opp.ID); !got.HasLabel("opp-qualified") {
		t.Errorf("opportunity ticket labels %v, want opp-qualified", got.Labels)
	}
	for _, c := range w.LC.Conversations() {
		if c.CustomAttributes["lsq_record_id"] == stranger.ID {
			t.Errorf("reconcile opened a ticket for a lead lsqbridge never linked")
		}
	}
	if n := w.count("SELECT count(*) FROM links WHERE record_id = $1", stranger.ID); n != 0 {
		t.Errorf("the never-linked lead got a link")
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE status <> 'delivered' AND status <> 'superseded'"); n != 0 {
		t.Errorf("%d actions not delivered after the pass", n)
	}
	// A second pass finds nothing left to do.
	again, err := w.app.reconciler.RunAll(w.ctx, w.app.integrations, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if s := again["demo"]; s.Actions != 0 {
		t.Errorf("second pass enqueued %d actions; the first should have repaired everything: %+v", s.Actions, s)
	}
	var reconciled int
	_ = w.pool.QueryRow(w.ctx, "SELECT count(*) FROM inbound_events WHERE event_type = 'reconcile' AND outcome = 'applied'").Scan(&reconciled)
	if reconciled == 0 {
		t.Error("no reconcile event recorded as applied")
	}
	if strings.Contains(w.logs.String(), demoLCToken) {
		t.Error("a token leaked into the logs")
	}
}
