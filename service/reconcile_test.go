package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// TestReconcileLetsTheOnlySideThatChangedWin: an owner change whose
// webhook was lost leaves the two platforms apart, and the other side was
// touched later for something else (so it is the newer record). The
// reconciler reads both and compares each with what it was last known to
// hold (a three-way merge): the side whose owner changed is a person's
// choice and is written to the other side, however old; the side that did
// not change is not written. A second pass finds nothing to do.
func TestReconcileLetsTheOnlySideThatChangedWin(t *testing.T) {
	t.Parallel()
	t.Run("LeadSquared changed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		l := b.linkedLead("lead-1", asha)
		b.lsqChange("lead-1", map[string]string{"OwnerId": ravi.user}) // its webhook is lost
		b.lc.PersonLabels(l.TicketID, "vip")                           // later, and lost too
		b.reconcile(b.reconciler)
		b.drain()
		if got := b.lc.Conversation(l.TicketID).AssigneeID; got != ravi.agent {
			t.Errorf("ticket assigned to %d, want ravi's agent %d (LeadSquared changed)", got, ravi.agent)
		}
		if calls := b.lsq.Calls("update_lead"); len(calls) != 0 {
			t.Errorf("LeadSquared, the side that changed, was written: %v", calls)
		}
		if got := b.link("lead-1").Owner; got != ravi.email {
			t.Errorf("link owner %q, want %q", got, ravi.email)
		}
		b.secondPassIsQuiet()
	})
	t.Run("LimeChat changed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		l := b.linkedLead("lead-1", asha)
		b.lc.PersonAssigns(l.TicketID, meera.agent)                                              // its webhook is lost
		b.lsq.PersonChangesLead("lead-1", "u-salesperson", map[string]string{"mx_City": "Pune"}) // later, unwatched
		b.reconcile(b.reconciler)
		b.drain()
		if got := b.lsq.Lead("lead-1").OwnerID; got != meera.user {
			t.Errorf("lead owner %s, want meera (LimeChat changed)", got)
		}
		if calls := b.lsq.Calls("update_lead"); len(calls) != 1 {
			t.Errorf("LeadSquared updates %v, want one", calls)
		}
		if calls := b.lc.Calls("assign"); len(calls) != 0 {
			t.Errorf("LimeChat, the side that changed, was written: %v", calls)
		}
		if got := b.link("lead-1").Owner; got != meera.email {
			t.Errorf("link owner %q, want %q", got, meera.email)
		}
		b.secondPassIsQuiet()
	})
}

// reconcile makes one pass and fails the test on an error.
func (b *testBundle) reconcile(r *service.Reconciler) service.ReconcileStats {
	b.t.Helper()
	st, err := r.Run(b.ctx, b.in)
	check(b.t, err)
	if st.Errors != 0 {
		b.t.Fatalf("reconcile pass: %d reads failed", st.Errors)
	}
	return st
}

func (b *testBundle) secondPassIsQuiet() {
	b.t.Helper()
	if st := b.reconcile(b.reconciler); st.Actions != 0 || st.Disagreeing != 0 {
		b.t.Errorf("a second pass found %d disagreements and enqueued %d actions, want none: %+v", st.Disagreeing, st.Actions, st.Plans)
	}
	if n := b.count("SELECT count(*) FROM outbox WHERE status <> 'delivered' AND status <> 'superseded'"); n != 0 {
		b.t.Errorf("%d actions left undelivered", n)
	}
}

// state is everything a reconcile pass may change, as text.
func (b *testBundle) state() string {
	b.t.Helper()
	var s string
	check(b.t, b.pool.QueryRow(b.ctx, `SELECT concat_ws(' | ',
		(SELECT string_agg(concat_ws(',', id, owner_email, owner_changed_at, labels, fields, written, seen, state), ';' ORDER BY id) FROM links),
		(SELECT count(*) FROM outbox), (SELECT count(*) FROM inbound_events),
		(SELECT coalesce(reconciled_at::text, 'never') FROM integrations WHERE id = 'acme'))`).Scan(&s))
	return s
}

// TestReconcileDryRunChangesNothing: a dry run reads both platforms and
// says where they disagree and what a pass would enqueue, without writing
// to either platform or the database (links, outbox, inbound events, its
// watermark); a real pass then enqueues what it listed.
func TestReconcileDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := b.linkedLead("lead-1", asha)
	b.lsqChange("lead-1", map[string]string{"OwnerId": ravi.user}) // its webhook is lost
	before := b.state()
	dry := service.NewReconciler(b.pool, b.sync, stubPlatforms{lsq: b.lsq, lc: b.lc}, nil, nil)
	dry.DryRun = true
	st := b.reconcile(dry)

	if st.Disagreeing != 1 || len(st.Plans) != 1 || st.Plans[0].LinkID != l.ID {
		t.Fatalf("dry run found %d disagreements, plans %+v; want the one link", st.Disagreeing, st.Plans)
	}
	p := st.Plans[0]
	if len(p.Disagrees) != 1 || !strings.Contains(p.Disagrees[0], "LeadSquared "+ravi.email) || !strings.Contains(p.Disagrees[0], "LimeChat "+asha.email) {
		t.Errorf("disagreements %q, want the owner: ravi in LeadSquared, asha in LimeChat", p.Disagrees)
	}
	if len(p.Actions) != 1 || !strings.HasPrefix(p.Actions[0], service.ActAssign+" ") {
		t.Errorf("planned actions %q, want one assignment", p.Actions)
	}
	if after := b.state(); after != before {
		t.Errorf("the dry run changed the database:\nbefore %s\nafter  %s", before, after)
	}
	if calls := append(b.lc.Calls("assign"), b.lsq.Calls("update_lead")...); len(calls) != 0 {
		t.Errorf("the dry run wrote to the platforms: %v", calls)
	}

	b.reconcile(b.reconciler)
	a := b.actions(l.ID, service.ActAssign)
	if len(a) != 1 || a[0].Status != outbox.StatusPending {
		t.Errorf("the real pass enqueued %+v, want the one assignment the dry run listed", a)
	}
}

// TestAReconcilePassThatCannotReadLeadSquaredKeepsItsWatermark: when the
// modified leads cannot be read, the pass fails and its watermark stays,
// so the next pass reads the same changes again; nothing is enqueued.
func TestAReconcilePassThatCannotReadLeadSquaredKeepsItsWatermark(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.linkedLead("lead-1", asha)
	b.lsqChange("lead-1", map[string]string{"OwnerId": ravi.user})
	b.lsq.fail("recently_modified", fault{err: transient("HTTP 503")})
	outboxRows := b.count("SELECT count(*) FROM outbox")
	if _, err := b.reconciler.Run(b.ctx, b.in); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("pass with LeadSquared unreadable: err %v, want the read's error", err)
	}
	if n := b.count("SELECT count(*) FROM integrations WHERE reconciled_at IS NOT NULL"); n != 0 {
		t.Errorf("the failed pass moved the watermark")
	}
	if n := b.count("SELECT count(*) FROM outbox"); n != outboxRows {
		t.Errorf("the failed pass enqueued %d actions", n-outboxRows)
	}
	started := time.Now()
	b.reconcile(b.reconciler)
	var wm time.Time
	check(t, b.pool.QueryRow(b.ctx, "SELECT reconciled_at FROM integrations WHERE id = 'acme'").Scan(&wm))
	if wm.Before(started.Add(-time.Second)) {
		t.Errorf("watermark %s after a good pass started at %s", wm, started)
	}
	if a := b.actions(b.link("lead-1").ID, service.ActAssign); len(a) != 1 {
		t.Errorf("the next pass enqueued %d assignments, want the lost change's one", len(a))
	}
}
