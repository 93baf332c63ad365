package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// newRelay is another relay process on the world's database, over pool
// (the world's, or a second pool like a second process has).
func newRelay(t testing.TB, pool *pgxpool.Pool, cfg outbox.Config) *outbox.Relay {
	t.Helper()
	return outbox.NewRelay(pool, newDeliverer(t, pool), cfg)
}

// drainTogether runs every relay's Drain at the same time, after the
// webhooks of every side are in, and returns how many each handled.
func (w *world) drainTogether(relays []*outbox.Relay, xs ...*otherSide) []int {
	w.t.Helper()
	w.waitHooks(xs...)
	ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
	defer cancel()
	counts := make([]int, len(relays))
	errs := make([]error, len(relays))
	var wg sync.WaitGroup
	for i, r := range relays {
		wg.Go(func() { counts[i], errs[i] = r.Drain(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		w.t.Fatal(err)
	}
	return counts
}

// secondPool is another connection pool on the world's database, as a
// second lsqbridge process would have.
func (w *world) secondPool() *pgxpool.Pool {
	w.t.Helper()
	p, err := pgxpool.New(w.ctx, w.pool.Config().ConnString())
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(p.Close)
	return p
}

// twoRelays are two relay processes on one database, each with its own pool.
func (w *world) twoRelays(cfg outbox.Config) []*outbox.Relay {
	return []*outbox.Relay{newRelay(w.t, w.pool, cfg), newRelay(w.t, w.secondPool(), cfg)}
}

// makeDue ends every pending action's backoff, as waiting would.
func (w *world) makeDue() {
	w.t.Helper()
	if _, err := w.pool.Exec(w.ctx, "UPDATE outbox SET next_attempt_at = now() WHERE status = 'pending'"); err != nil {
		w.t.Fatal(err)
	}
}

// rowByKind returns the one outbox row of kind on integration's link of recordID.
func (w *world) rowByKind(integration, recordID, kind string) actionRow {
	w.t.Helper()
	var a actionRow
	err := w.pool.QueryRow(w.ctx, `SELECT o.status, o.outcome, o.last_error, o.attempts FROM outbox o
		JOIN links l ON l.integration_id = o.integration_id AND l.id = o.link_id
		WHERE o.integration_id = $1 AND l.record_id = $2 AND o.kind = $3`, integration, recordID, kind).
		Scan(&a.Status, &a.Outcome, &a.LastError, &a.Attempts)
	if err != nil {
		w.t.Fatalf("%s action of %s/%s: %v", kind, integration, recordID, err)
	}
	return a
}

// newDeliverer is a relay process's action handler: its own integration
// store, platform clients and pacer, built as wire builds them.
func newDeliverer(t testing.TB, pool *pgxpool.Pool) *service.Deliverer {
	t.Helper()
	sealer, err := service.NewSealer(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	return service.NewDeliverer(pool, service.NewIntegrations(pool, sealer), app.NewPlatforms(true), service.NewPacer(), nil)
}

// expireLeases makes every in-flight action's lease run out, as time would
// after its relay crashed.
func (w *world) expireLeases() int {
	w.t.Helper()
	tag, err := w.pool.Exec(w.ctx, "UPDATE outbox SET lease_until = now() - interval '1 second' WHERE status = 'delivering'")
	if err != nil {
		w.t.Fatal(err)
	}
	return int(tag.RowsAffected())
}

// drain runs one relay until nothing is due.
func (w *world) drain(r *outbox.Relay) int {
	w.t.Helper()
	w.waitHooks()
	ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
	defer cancel()
	n, err := r.Drain(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

// actionRow is one outbox row as the tests inspect it.
type actionRow struct {
	Status, Outcome, LastError string
	Attempts                   int
}

// lcCalls counts the LimeChat fake's calls by method and path suffix.
func lcCalls(f *limechatfake.Fake, method, suffix string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.Method == method && strings.HasSuffix(c.Path, suffix) {
			n++
		}
	}
	return n
}

// TestCrashAfterSendThenNewRelayMakesNoSecondEffect crashes the relay after
// every first attempt — the request sent and answered, the outcome never
// recorded — and lets a new relay take the actions over once their leases
// expire. The new relay must find what the first one made: no second
// ticket, contact or activity, and no second Flow-builder event (that one
// goes dead for a person to check, never re-sent).
func TestCrashAfterSendThenNewRelayMakesNoSecondEffect(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	crashed := map[string]int{}
	w := newWorld(t, func(o *worldOptions) {
		o.App.AfterAttempt = func(act outbox.Action, _ outbox.Outcome) bool {
			if act.Attempts > 1 {
				return true
			}
			mu.Lock()
			defer mu.Unlock()
			crashed[act.Kind]++
			return false
		}
	})
	crashing := w.App.Relay
	fresh := newRelay(t, w.pool, outbox.Config{Workers: 4})
	asha, ravi := w.Users["asha@acme.test"], w.Users["ravi@acme.test"]

	// 1. Tickets. LimeChat's webhooks are held, so the new relay cannot
	// learn the tickets from conversation_created: it must look them up.
	w.LCHooks.SetManual(true)
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Crash", "EmailAddress": "crash@example.com", "Phone": "+91-9811122233", "OwnerId": asha.ID, "ProspectStage": "New",
	}))
	w.drain(crashing)
	opp := must[service.Record](t)(w.LSQ.CreateOpportunity(lead.ID, map[string]string{
		"mx_Custom_1": "Crash trip", "Status": "Open", "mx_Custom_4": "2026-12-20", "Owner": ravi.ID,
	}))
	w.drain(crashing)
	if n := len(w.LC.Conversations()); n != 2 {
		t.Fatalf("the crashed relay made %d conversations, want 2 (one per record)", n)
	}
	for _, id := range []string{lead.ID, opp.ID} {
		if a := w.rowByKind("demo", id, service.ActCreateTicket); a.Status != outbox.StatusDelivering {
			t.Fatalf("after the crash, create_ticket of %s is %s, want delivering (lease held)", id, a.Status)
		}
	}
	if n := w.expireLeases(); n != 2 {
		t.Fatalf("expired %d leases, want 2", n)
	}
	w.drain(fresh)
	if n := len(w.LC.Conversations()); n != 2 {
		t.Errorf("after the new relay: %d conversations, want 2", n)
	}
	if n := len(w.LC.Contacts()); n != 1 {
		t.Errorf("after the new relay: %d contacts, want 1 (the lead's person, shared by the opportunity)", n)
	}
	if n := lcCalls(w.LC, "POST", "/conversations"); n != 2 {
		t.Errorf("%d conversation creates sent, want 2", n)
	}
	if n := lcCalls(w.LC, "POST", "/contacts"); n != 1 {
		t.Errorf("%d contact creates sent, want 1", n)
	}
	for _, id := range []string{lead.ID, opp.ID} {
		a := w.rowByKind("demo", id, service.ActCreateTicket)
		if a.Status != outbox.StatusDelivered || a.Outcome != "found after an ambiguous attempt" || a.Attempts != 2 {
			t.Errorf("create_ticket of %s: %+v, want delivered on attempt 2, found after an ambiguous attempt", id, a)
		}
		tk := w.ticketOf(id)
		var linked int64
		if err := w.pool.QueryRow(w.ctx, "SELECT ticket_id FROM links WHERE record_id = $1", id).Scan(&linked); err != nil {
			t.Fatal(err)
		}
		if linked != tk.ID {
			t.Errorf("link of %s records ticket %d, LimeChat has %d", id, linked, tk.ID)
		}
	}
	// The held webhooks arrive late; they are our own creates: echoes.
	for _, d := range w.LCHooks.TakeQueued() {
		w.post(d)
	}
	w.LCHooks.SetManual(false)
	w.settleAll(fresh)
	if got := w.ticketOf(lead.ID).AssigneeID; got != w.agentID("asha@acme.test") {
		t.Errorf("lead ticket assignee %d, want Asha", got)
	}
	if got := w.ticketOf(opp.ID).AssigneeID; got != w.agentID("ravi@acme.test") {
		t.Errorf("opportunity ticket assignee %d, want Ravi", got)
	}

	// 2. A tag → activity rule: the activity is posted, the relay crashes.
	check(t, w.LC.AddLabel(w.ticketOf(lead.ID).ID, "quote-sent"))
	w.drain(crashing)
	quotes := func() int {
		n := 0
		for _, a := range w.LSQ.Activities(lead.ID) {
			if strings.Contains(a.Note, "Quote sent from LimeChat") {
				n++
			}
		}
		return n
	}
	if quotes() != 1 {
		t.Fatalf("the crashed relay posted %d activities, want 1", quotes())
	}
	w.expireLeases()
	w.drain(fresh)
	if n := quotes(); n != 1 {
		t.Errorf("after the new relay: %d activities, want 1", n)
	}
	if a := w.rowByKind("demo", lead.ID, service.ActPostActivity); a.Status != outbox.StatusDelivered || a.Outcome != "found posted" {
		t.Errorf("post_activity: %+v, want delivered, found posted", a)
	}

	// 3. A stage campaign: the event is sent, the relay crashes. Nobody can
	// tell whether Flow-builder started the flow, so it is never re-sent.
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"ProspectStage": "Qualified"}))
	w.drain(crashing)
	if n := len(w.LC.FlowEvents()); n != 1 {
		t.Fatalf("the crashed relay sent %d Flow-builder events, want 1", n)
	}
	w.expireLeases()
	w.settleAll(fresh)
	events := w.LC.FlowEvents()
	if len(events) != 1 {
		t.Errorf("after the new relay: %d Flow-builder events, want exactly 1: %+v", len(events), events)
	}
	a := w.rowByKind("demo", lead.ID, service.ActFlowEvent)
	if a.Status != outbox.StatusDead || a.Outcome != "unknown" || !strings.Contains(a.LastError, "may have reached Flow-builder") {
		t.Errorf("flow_event after the crash: %+v, want dead with outcome unknown for a person", a)
	}
	if key, _ := events[0].Data["idempotency_key"].(string); key == "" {
		t.Errorf("the Flow-builder event carries no idempotency key: %+v", events[0].Data)
	}

	// Every kind above really crashed once, and nothing else is left.
	mu.Lock()
	for _, k := range []string{service.ActCreateTicket, service.ActPostActivity, service.ActFlowEvent} {
		if crashed[k] == 0 {
			t.Errorf("no %s crashed: the test proved nothing for it (%v)", k, crashed)
		}
	}
	mu.Unlock()
	if n := len(w.LSQ.Opportunities()); n != 1 {
		t.Errorf("%d opportunities in LeadSquared, want 1", n)
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE status IN ('pending','delivering')"); n != 0 {
		t.Errorf("%d actions left unfinished", n)
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE status = 'dead'"); n != 1 {
		t.Errorf("%d dead actions, want only the Flow-builder event", n)
	}
}
