package main

import (
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// TestReconcileRepairsDroppedWebhooksInOnePass loses every webhook of both
// platforms, makes changes on both sides, and checks that one reconcile
// pass brings the two sides back to agreement, while a record created
// before the integration's scope began is left alone.
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
	// As if the integration's scope began after that lead was created
	// (integration apply moves it when what is synced changes): no backfill.
	if _, err := w.pool.Exec(w.ctx, "UPDATE integrations SET sync_since = now()"); err != nil {
		t.Fatal(err)
	}
	w.App.Integrations.Forget("demo")
	w.settle()
	if n := w.count("SELECT count(*) FROM outbox WHERE created_at > now() - interval '1 hour' AND status = 'pending'"); n != 0 {
		t.Fatalf("%d actions before reconciling; the webhooks were supposed to be lost", n)
	}

	stats, err := w.App.Reconciler.RunAll(w.ctx, w.App.Integrations, "demo")
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
			t.Errorf("reconcile opened a ticket for a lead created before the integration's scope")
		}
	}
	if n := w.count("SELECT count(*) FROM links WHERE record_id = $1", stranger.ID); n != 0 {
		t.Errorf("the lead created before the integration's scope got a link")
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE status <> 'delivered' AND status <> 'superseded'"); n != 0 {
		t.Errorf("%d actions not delivered after the pass", n)
	}
	// A second pass finds nothing left to do.
	again, err := w.App.Reconciler.RunAll(w.ctx, w.App.Integrations, "demo")
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
	if strings.Contains(w.logs.String(), sandbox.LimeChatToken) {
		t.Error("a token leaked into the logs")
	}
}

// TestReconcileDryRunListsDisagreementsThenAPassRepairsThem: the link moved
// on but the writes that should have followed were lost (owner, a field, a
// label), while neither platform changed. A dry run lists the link, what
// disagrees and what a pass would do, and changes nothing; a real pass
// writes the link's values to both platforms; a second pass finds nothing.
func TestReconcileDryRunListsDisagreementsThenAPassRepairsThem(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Lost", "EmailAddress": "lost@example.com",
		"Phone": "+91-9222222222", "OwnerId": w.Users["asha@acme.test"].ID, "mx_Interest": "Villa"}))
	w.settle()
	_, err := w.pool.Exec(w.ctx, `UPDATE links SET owner_email = 'meera@acme.test', fields = fields || '{"mx_Interest": "Cottage"}',
		labels = labels || '{vip}' WHERE record_id = $1`, lead.ID)
	check(t, err)
	before := w.count("SELECT count(*) FROM outbox") + w.count("SELECT count(*) FROM inbound_events")

	c := &cli{t: t, env: map[string]string{"DATABASE_URL": w.dbURL(), "LSQBRIDGE_MASTER_KEY": testMasterKey, "LSQBRIDGE_ALLOW_LOOPBACK": "true"}}
	out := c.mustRun("reconcile", "--integration", "demo", "--dry-run")
	t.Log(out)
	for _, want := range []string{lead.ID, "owner: LeadSquared asha@acme.test, LimeChat asha@acme.test, link meera@acme.test",
		`mx_Interest: LeadSquared "Villa", link "Cottage"`, "link only [vip]", "limechat.assign", "leadsquared.set_owner",
		`leadsquared.set_fields {"fields":{"mx_Interest":"Cottage"}}`, `limechat.add_labels {"labels":["vip"]}`, "nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if after := w.count("SELECT count(*) FROM outbox") + w.count("SELECT count(*) FROM inbound_events"); after != before {
		t.Errorf("the dry run wrote %d rows", after-before)
	}

	stats, err := w.App.Reconciler.RunAll(w.ctx, w.App.Integrations, "demo")
	check(t, err)
	w.settle()
	if s := stats["demo"]; s.Disagreeing != 1 || s.Actions != 4 {
		t.Errorf("pass: %+v, want 1 link disagreeing and 4 repairs", s)
	}
	l, _ := w.LSQ.Lead(lead.ID)
	tk := w.ticketOf(lead.ID)
	if l.OwnerID != w.Users["meera@acme.test"].ID || tk.AssigneeID != w.agentID("meera@acme.test") ||
		l.Field("mx_Interest") != "Cottage" || !tk.HasLabel("vip") {
		t.Errorf("after the pass: owner %s agent %d mx_Interest %q labels %v; want the link's values on both sides",
			l.OwnerID, tk.AssigneeID, l.Field("mx_Interest"), tk.Labels)
	}
	again, err := w.App.Reconciler.RunAll(w.ctx, w.App.Integrations, "demo")
	check(t, err)
	if s := again["demo"]; s.Disagreeing != 0 || s.Actions != 0 {
		t.Errorf("second pass: %+v, want nothing left", s)
	}
}
