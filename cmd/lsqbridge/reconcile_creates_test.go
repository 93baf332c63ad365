package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// loseLeadSquaredWebhooks runs make with LeadSquared's webhooks lost, and
// checks some were (the created webhooks the test means to lose).
func (w *world) loseLeadSquaredWebhooks(make func()) {
	w.t.Helper()
	w.LSQHooks.SetManual(true)
	make()
	lost := w.LSQHooks.TakeQueued()
	w.LSQHooks.SetManual(false)
	if len(lost) == 0 {
		w.t.Fatal("no webhooks were queued to lose")
	}
}

func (w *world) reconcile() service.ReconcileStats {
	w.t.Helper()
	stats, err := w.App.Reconciler.RunAll(w.ctx, w.App.Integrations, "demo")
	if err != nil {
		w.t.Fatal(err)
	}
	w.settle()
	return stats["demo"]
}

// TestReconcileOpensTheTicketOfALeadWhoseCreatedWebhookWasLost: a lead
// created in LeadSquared while its lead-created webhook was lost gets its
// link and ticket — assigned, tagged — from one pass, as the webhook would
// have given them; a dry run lists it first and does nothing; a second
// pass does nothing more.
func TestReconcileOpensTheTicketOfALeadWhoseCreatedWebhookWasLost(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var lead service.Record
	w.loseLeadSquaredWebhooks(func() {
		lead = must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Lost", "LastName": "Create",
			"EmailAddress": "lost-create@example.com", "Phone": "+91-9333333333", "OwnerId": w.Users["ravi@acme.test"].ID, "mx_Interest": "Villa"}))
	})
	w.settle()
	if n := w.count("SELECT count(*) FROM links"); n != 0 {
		t.Fatalf("%d links before reconciling; the created webhook was supposed to be lost", n)
	}

	c := &cli{t: t, env: map[string]string{"DATABASE_URL": w.dbURL(), "LSQBRIDGE_MASTER_KEY": testMasterKey, "LSQBRIDGE_ALLOW_LOOPBACK": "true"}}
	out := c.mustRun("reconcile", "--integration", "demo", "--dry-run")
	if !strings.Contains(out, lead.ID) || !strings.Contains(out, "its created webhook never arrived") || !strings.Contains(out, "limechat.create_ticket") {
		t.Errorf("dry run does not list the lead it would link:\n%s", out)
	}
	if n := w.count("SELECT count(*) FROM links") + w.count("SELECT count(*) FROM outbox"); n != 0 {
		t.Fatalf("the dry run wrote %d rows", n)
	}

	if st := w.reconcile(); st.Created != 1 {
		t.Errorf("pass: %+v, want 1 record created", st)
	}
	tk := w.ticketOf(lead.ID)
	if tk.AssigneeID != w.agentID("ravi@acme.test") || !tk.HasLabel("leadsquared") || !tk.HasLabel("interest-villa") ||
		tk.Contact.Email != "lost-create@example.com" {
		t.Errorf("ticket %+v; want it assigned to Ravi, with the initial label and the field tag, for the lead's contact", tk)
	}
	var origin, dedup string
	check(t, w.pool.QueryRow(w.ctx, `SELECT l.origin, e.dedup_key FROM links l JOIN inbound_events e ON e.link_id = l.id
		WHERE l.record_id = $1 AND e.event_type = 'lead_created'`, lead.ID).Scan(&origin, &dedup))
	if origin != service.OriginLeadSquared || !strings.HasPrefix(dedup, "reconcile:created:") {
		t.Errorf("link origin %s, event %s; want a leadsquared link made by the reconciler's created event", origin, dedup)
	}

	// It syncs like any linked lead.
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, w.Users["meera@acme.test"].ID))
	w.settle()
	if got := w.ticketOf(lead.ID); got.AssigneeID != w.agentID("meera@acme.test") {
		t.Errorf("after an owner change the agent is %d, want Meera", got.AssigneeID)
	}
	if st := w.reconcile(); st.Created != 0 || st.Actions != 0 {
		t.Errorf("second pass: %+v, want nothing to do", st)
	}
	if n := len(w.conversationsFor(lead.ID)); n != 1 {
		t.Errorf("%d tickets for the lead, want 1", n)
	}
}

// TestReconcileOpensTheTicketOfAnOpportunityWhoseCreatedWebhookWasLost: an
// opportunity on a linked lead, created while its opportunity-created
// webhook was lost, gets its own ticket from one pass.
func TestReconcileOpensTheTicketOfAnOpportunityWhoseCreatedWebhookWasLost(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Has", "EmailAddress": "has-lead@example.com",
		"Phone": "+91-9444444444", "OwnerId": w.Users["asha@acme.test"].ID}))
	w.settle()
	leadTicket := w.ticketOf(lead.ID)
	var opp service.Record
	w.loseLeadSquaredWebhooks(func() {
		opp = must[service.Record](t)(w.LSQ.CreateOpportunity(lead.ID, map[string]string{"mx_Custom_1": "Lost trip", "Status": "Open",
			"mx_Custom_2": "Qualified", "mx_Custom_4": "2026-12-10", "Owner": w.Users["meera@acme.test"].ID}))
	})
	w.settle()
	if n := len(w.conversationsFor(opp.ID)); n != 0 {
		t.Fatalf("the opportunity has %d tickets before reconciling", n)
	}

	if st := w.reconcile(); st.Created != 1 {
		t.Errorf("pass: %+v, want 1 record created", st)
	}
	tk := w.ticketOf(opp.ID)
	if tk.ID == leadTicket.ID || tk.AssigneeID != w.agentID("meera@acme.test") || !tk.HasLabel("opp-qualified") ||
		tk.CustomAttributes["lsq_record_kind"] != "opportunity" || tk.Contact.ID != leadTicket.Contact.ID {
		t.Errorf("opportunity ticket %+v; want its own ticket for the lead's contact, assigned to Meera, tagged opp-qualified", tk)
	}
	if st := w.reconcile(); st.Created != 0 {
		t.Errorf("second pass created %d more", st.Created)
	}
	assertQuiet(t, w)
}

// shiftedClock is a clock the test moves: the fakes' "now".
type shiftedClock struct {
	mu    sync.Mutex
	shift time.Duration
}

func (c *shiftedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.shift)
}

func (c *shiftedClock) set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shift = d
}

// TestReconcileNeverBackfillsRecordsCreatedBeforeTheIntegration: a lead and
// an opportunity created in LeadSquared two hours before the integration
// existed (their webhooks never reached it) get nothing from a pass, while
// a lead created since, whose webhook was lost too, gets its ticket.
func TestReconcileNeverBackfillsRecordsCreatedBeforeTheIntegration(t *testing.T) {
	t.Parallel()
	clock := &shiftedClock{}
	clock.set(-2 * time.Hour)
	w := newWorld(t, func(o *worldOptions) { o.Now = clock.Now })
	var old, oldOpp service.Record
	w.loseLeadSquaredWebhooks(func() {
		old = must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Old", "EmailAddress": "old@example.com",
			"OwnerId": w.Users["asha@acme.test"].ID}))
		oldOpp = must[service.Record](t)(w.LSQ.CreateOpportunity(old.ID, map[string]string{"mx_Custom_1": "Old trip", "Status": "Open",
			"mx_Custom_4": "2026-12-10"}))
	})
	clock.set(0)
	var fresh service.Record
	w.loseLeadSquaredWebhooks(func() {
		fresh = must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Fresh", "EmailAddress": "fresh@example.com",
			"OwnerId": w.Users["asha@acme.test"].ID}))
	})
	w.settle()
	if !old.CreatedOn.Before(w.In.SyncSince) || fresh.CreatedOn.Before(w.In.SyncSince) {
		t.Fatalf("created %v and %v around the integration's sync-since %v: the test needs one before, one after", old.CreatedOn, fresh.CreatedOn, w.In.SyncSince)
	}

	st := w.reconcile()
	if st.Created != 1 || st.LeadRead < 2 {
		t.Errorf("pass: %+v, want both leads read and one created", st)
	}
	if n := len(w.conversationsFor(fresh.ID)); n != 1 {
		t.Errorf("the lead created since has %d tickets, want 1", n)
	}
	for _, id := range []string{old.ID, oldOpp.ID} {
		if n := len(w.conversationsFor(id)); n != 0 {
			t.Errorf("record %s, created before the integration, got %d tickets", id, n)
		}
		if n := w.count("SELECT count(*) FROM links WHERE record_id = $1", id); n != 0 {
			t.Errorf("record %s, created before the integration, got a link", id)
		}
	}
}
