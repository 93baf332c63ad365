package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// TestLoopFusePausesALinkAndUnpauseLetsItSyncAgain: more actions for one
// link within a minute than the integration allows pause the link and say
// why; `lsqbridge links unpause` lets it sync again, and a reconcile pass
// repairs what came while it was paused.
func TestLoopFusePausesALinkAndUnpauseLetsItSyncAgain(t *testing.T) {
	t.Parallel()
	rules := sandbox.DemoRules()
	rules.Fuse.MaxActionsPerMinute = 3
	w := newWorld(t, func(o *worldOptions) { o.Rules = &rules })
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Fuse", "EmailAddress": "fuse@example.com", "OwnerId": w.Users["asha@acme.test"].ID}))
	w.settle() // action 1: the ticket
	for _, who := range []string{"ravi@acme.test", "meera@acme.test", "asha@acme.test", "ravi@acme.test"} {
		check(t, w.LSQ.ChangeLeadOwner(lead.ID, w.Users[who].ID))
		w.settle()
	}
	var linkID int64
	var reason string
	if err := w.pool.QueryRow(w.ctx, "SELECT id, paused_reason FROM links WHERE record_id = $1", lead.ID).Scan(&linkID, &reason); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reason, "loop fuse") {
		t.Fatalf("link not paused by the fuse; paused_reason %q", reason)
	}
	if n := w.count("SELECT count(*) FROM inbound_events WHERE outcome = 'paused'"); n == 0 {
		t.Error("no event recorded as paused")
	}
	// Ravi is the owner in LeadSquared; LimeChat stopped following.
	if got := w.ticketOf(lead.ID).AssigneeID; got == w.agentID("ravi@acme.test") {
		t.Fatal("the last owner change went through although the link was paused")
	}

	c := &cli{t: t, env: map[string]string{"DATABASE_URL": w.dbURL()}}
	out := c.mustRun("links", "unpause", "--integration", "demo", strconv.FormatInt(linkID, 10))
	if !strings.Contains(out, "syncs again") || !strings.Contains(out, "lsqbridge reconcile") {
		t.Errorf("unpause said:\n%s", out)
	}
	if code, _, errs := c.run("links", "unpause", "--integration", "demo", strconv.FormatInt(linkID, 10)); code == 0 || !strings.Contains(errs, "not paused") {
		t.Errorf("second unpause: exit %d, %s", code, errs)
	}
	if _, err := w.App.Reconciler.RunAll(w.ctx, w.App.Integrations, "demo"); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if got := w.ticketOf(lead.ID).AssigneeID; got != w.agentID("ravi@acme.test") {
		t.Errorf("after unpause and reconcile the agent is %s, want ravi@acme.test", w.agentEmail(got))
	}
}
