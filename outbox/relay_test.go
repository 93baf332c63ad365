package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// relayBundle is a database with one integration, a stub handler, and
// helpers to enqueue actions and read their rows.
type relayBundle struct {
	t    *testing.T
	ctx  context.Context
	pool *pgxpool.Pool
	h    *stubHandler
}

func setupRelay(t *testing.T) *relayBundle {
	t.Helper()
	b := &relayBundle{t: t, ctx: t.Context(), pool: dbtest.New(t), h: &stubHandler{seen: map[int64][]int{}}}
	b.exec(`INSERT INTO integrations (id, name, lsq_host, lsq_access_key_sealed, lsq_secret_key_sealed,
		limechat_base_url, limechat_account_id, limechat_inbox_id, limechat_api_token_sealed, webhook_token_hash)
		VALUES ('acme', 'n', 'h', '\x00', '\x00', 'u', 1, 1, '\x00', '\x00')`)
	return b
}

func (b *relayBundle) exec(sql string, args ...any) {
	b.t.Helper()
	if _, err := b.pool.Exec(b.ctx, sql, args...); err != nil {
		b.t.Fatal(err)
	}
}

// links creates n links and returns their ids.
func (b *relayBundle) links(n int) []int64 {
	b.t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		if err := b.pool.QueryRow(b.ctx, `INSERT INTO links (integration_id, record_kind, record_id, lead_id, origin)
			VALUES ('acme', 'lead', $1, $1, 'leadsquared') RETURNING id`, fmt.Sprintf("lead-%d", i)).Scan(&ids[i]); err != nil {
			b.t.Fatal(err)
		}
	}
	return ids
}

// enqueue adds action seq of a link; the payload carries seq so the stub
// can tell the order actions reached it in.
func (b *relayBundle) enqueue(link int64, seq int) int64 {
	b.t.Helper()
	err := pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
		_, err := outbox.Enqueue(b.ctx, tx, []outbox.NewAction{{IntegrationID: "acme", LinkID: link, Kind: "test.step",
			Payload: map[string]int{"seq": seq}, IdempotencyKey: fmt.Sprintf("%d:%d", link, seq)}})
		return err
	})
	if err != nil {
		b.t.Fatal(err)
	}
	var id int64
	if err := b.pool.QueryRow(b.ctx, "SELECT id FROM outbox WHERE idempotency_key = $1", fmt.Sprintf("%d:%d", link, seq)).Scan(&id); err != nil {
		b.t.Fatal(err)
	}
	return id
}

// enqueueBacklog adds actions 0…perLink-1 of every link, in that order,
// in one transaction (a backlog; one enqueue per action would make the
// setup the slowest part of a test).
func (b *relayBundle) enqueueBacklog(links []int64, perLink int) {
	b.t.Helper()
	var actions []outbox.NewAction
	for seq := range perLink {
		for _, l := range links {
			actions = append(actions, outbox.NewAction{IntegrationID: "acme", LinkID: l, Kind: "test.step",
				Payload: map[string]int{"seq": seq}, IdempotencyKey: fmt.Sprintf("%d:%d", l, seq)})
		}
	}
	err := pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
		n, err := outbox.Enqueue(b.ctx, tx, actions)
		if err == nil && n != len(actions) {
			err = fmt.Errorf("enqueued %d of %d actions", n, len(actions))
		}
		return err
	})
	if err != nil {
		b.t.Fatal(err)
	}
}

type row struct {
	Status, Outcome, LastError string
	Attempts, Crashes          int
	FirstFailed                bool
}

func (b *relayBundle) row(id int64) row {
	b.t.Helper()
	var r row
	if err := b.pool.QueryRow(b.ctx, `SELECT status, outcome, last_error, attempts, crashes, first_failed_at IS NOT NULL
		FROM outbox WHERE id = $1`, id).Scan(&r.Status, &r.Outcome, &r.LastError, &r.Attempts, &r.Crashes, &r.FirstFailed); err != nil {
		b.t.Fatal(err)
	}
	return r
}

// makeDue makes every pending action due now, instead of waiting out backoffs.
func (b *relayBundle) makeDue() {
	b.exec("UPDATE outbox SET next_attempt_at = now() WHERE status = 'pending'")
}

// stubHandler records the order each link's actions reached it in and
// answers with outcome (Delivered when nil).
type stubHandler struct {
	mu      sync.Mutex
	seen    map[int64][]int
	calls   int
	outcome func(a outbox.Action, seq int) outbox.Outcome
}

func (h *stubHandler) Handle(ctx context.Context, a outbox.Action) outbox.Outcome {
	var p struct{ Seq int }
	_ = json.Unmarshal(a.Payload, &p)
	h.mu.Lock()
	h.seen[a.LinkID] = append(h.seen[a.LinkID], p.Seq)
	h.calls++
	f := h.outcome
	h.mu.Unlock()
	if f != nil {
		return f(a, p.Seq)
	}
	return outbox.Outcome{Verdict: outbox.Delivered}
}

func (h *stubHandler) order(link int64) []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.seen[link]...)
}

// TestTwoBatchingRelaysDeliverEveryLinkInOrderOnce: a backlog of many
// links, two relays claiming and recording in batches at once: every
// action reaches the handler exactly once, each link's in the order enqueued.
func TestTwoBatchingRelaysDeliverEveryLinkInOrderOnce(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	const links, perLink = 200, 8
	ids := b.links(links)
	b.enqueueBacklog(ids, perLink)
	ctx, cancel := context.WithCancel(b.ctx)
	var wg sync.WaitGroup
	for range 2 {
		r := outbox.NewRelay(b.pool, b.h, outbox.Config{Workers: 16, FetchBatch: 32, PollInterval: 10 * time.Millisecond})
		wg.Add(1)
		go func() { defer wg.Done(); r.Run(ctx) }()
	}
	waitFor(t, 30*time.Second, func() bool {
		var open int
		_ = b.pool.QueryRow(b.ctx, "SELECT count(*) FROM outbox WHERE status <> 'delivered'").Scan(&open)
		return open == 0
	})
	cancel()
	wg.Wait()
	if b.h.calls != links*perLink {
		t.Errorf("handler called %d times for %d actions", b.h.calls, links*perLink)
	}
	for _, l := range ids {
		got := b.h.order(l)
		if len(got) != perLink {
			t.Fatalf("link %d: delivered %v, want each of %d actions once", l, got, perLink)
		}
		for i, seq := range got {
			if seq != i {
				t.Fatalf("link %d: delivered in order %v", l, got)
			}
		}
	}
	t.Logf("%d links × %d actions, two relays: every link in order, each action once", links, perLink)
}

// TestDeadActionHoldsItsLinkUntilRetriedOrDropped: a dead action holds the
// later actions of its link (order is kept), not other links; retry and
// drop each release the link.
func TestDeadActionHoldsItsLinkUntilRetriedOrDropped(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	ids := b.links(3)
	held, other, dropped := ids[0], ids[1], ids[2]
	head := b.enqueue(held, 0)
	b.enqueue(held, 1)
	b.enqueue(other, 0)
	dropHead := b.enqueue(dropped, 0)
	b.enqueue(dropped, 1)
	refuse := true
	b.h.outcome = func(a outbox.Action, seq int) outbox.Outcome {
		if seq == 0 && a.LinkID != other && refuse {
			return outbox.Outcome{Verdict: outbox.Dead, Err: errors.New("HTTP 422 refused"), Note: "rejected by platform"}
		}
		return outbox.Outcome{Verdict: outbox.Delivered}
	}
	r := outbox.NewRelay(b.pool, b.h, outbox.Config{})
	drain(t, r)
	if got := b.h.order(held); len(got) != 1 {
		t.Errorf("held link: handler saw %v, want only the head (dead), the follower held", got)
	}
	if got := b.h.order(other); len(got) != 1 {
		t.Errorf("other link: handler saw %v, want its action delivered", got)
	}
	var heldLinks int
	check(t, b.pool.QueryRow(b.ctx, "SELECT count(*) FROM audit.held_links WHERE waiting_actions = 1").Scan(&heldLinks))
	if heldLinks != 2 {
		t.Errorf("audit.held_links lists %d links with a waiting action, want 2", heldLinks)
	}

	refuse = false
	admin := outbox.NewAdmin(b.pool)
	if ok, err := admin.Retry(b.ctx, "acme", head); !ok || err != nil {
		t.Fatalf("retry: %v %v", ok, err)
	}
	if ok, err := admin.Drop(b.ctx, "acme", dropHead); !ok || err != nil {
		t.Fatalf("drop: %v %v", ok, err)
	}
	drain(t, r)
	if got := b.h.order(held); len(got) != 3 || got[1] != 0 || got[2] != 1 {
		t.Errorf("held link after retry: handler saw %v, want the head again, then its follower", got)
	}
	if got := b.h.order(dropped); len(got) != 2 || got[1] != 1 {
		t.Errorf("dropped link after drop: handler saw %v, want the follower delivered", got)
	}
	check(t, b.pool.QueryRow(b.ctx, "SELECT count(*) FROM audit.held_links").Scan(&heldLinks))
	if heldLinks != 0 {
		t.Errorf("%d links still held after retry and drop", heldLinks)
	}
}

// TestTransientFailuresRetryByTimeNotByCount: a transient failure is
// retried with growing backoff whatever the attempt count, until RetryFor
// since the first failure; a deferred attempt (a wait, not a failure) is
// given back and starts no window.
func TestTransientFailuresRetryByTimeNotByCount(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	l := b.links(2)
	flaky, waiting := b.enqueue(l[0], 0), b.enqueue(l[1], 0)
	b.h.outcome = func(a outbox.Action, _ int) outbox.Outcome {
		if a.LinkID == l[1] {
			return outbox.Outcome{Verdict: outbox.Retry, Deferred: true, Err: errors.New("waiting for the ticket"), Note: "not_sent"}
		}
		return outbox.Outcome{Verdict: outbox.Retry, Err: errors.New("HTTP 503"), Note: "maybe_sent"}
	}
	r := outbox.NewRelay(b.pool, b.h, outbox.Config{RetryFor: time.Hour})
	var lastGap time.Duration
	for i := 1; i <= 20; i++ {
		drain(t, r)
		got := b.row(flaky)
		if got.Status != outbox.StatusPending || got.Attempts != i || !got.FirstFailed {
			t.Fatalf("attempt %d: %+v, want pending, counted, window started", i, got)
		}
		var gap time.Duration
		check(t, b.pool.QueryRow(b.ctx, "SELECT next_attempt_at - now() FROM outbox WHERE id = $1", flaky).Scan(&gap))
		if i > 1 && i <= 8 && gap < lastGap {
			t.Errorf("attempt %d: backoff %s shorter than the one before (%s)", i, gap, lastGap)
		}
		lastGap = gap
		if w := b.row(waiting); w.Attempts != 0 || w.FirstFailed {
			t.Fatalf("deferred action %+v: a wait must not count or start the window", w)
		}
		b.makeDue()
	}
	if lastGap > 18*time.Minute {
		t.Errorf("backoff %s after 20 attempts, want it capped at 15 min ±20%%", lastGap)
	}
	b.exec("UPDATE outbox SET first_failed_at = now() - interval '2 hours' WHERE id = $1", flaky)
	drain(t, r)
	if got := b.row(flaky); got.Status != outbox.StatusDead || !strings.Contains(got.LastError, "HTTP 503") {
		t.Errorf("after the window: %+v, want dead with the last error", got)
	}
}

// TestALeaseExpiryCountsAndACrashLoopEndsDead: an action whose relay stops
// mid-delivery is taken back after its lease, marked maybe sent, and
// counted; the MaxCrashes-th time it is dead, so it cannot take every
// replica down in turn.
func TestALeaseExpiryCountsAndACrashLoopEndsDead(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	id := b.enqueue(b.links(1)[0], 0)
	crashing := outbox.NewRelay(b.pool, b.h, outbox.Config{MaxCrashes: 3,
		AfterAttempt: func(outbox.Action, outbox.Outcome) bool { return false }})
	drain(t, crashing) // first attempt: the relay "dies" before recording
	for i := 1; i <= 3; i++ {
		b.exec("UPDATE outbox SET lease_until = now() - interval '1 second' WHERE id = $1", id)
		drain(t, crashing) // takes the row back, and claims it again unless dead
		got := b.row(id)
		switch {
		case i < 3 && (got.Crashes != i || got.Outcome != "maybe_sent" || got.Attempts != i+1 || got.Status != outbox.StatusDelivering):
			t.Fatalf("after crash %d: %+v, want counted, maybe_sent, claimed again", i, got)
		case i == 3 && (got.Status != outbox.StatusDead || got.Outcome != "crashed" || !strings.Contains(got.LastError, "3 times")):
			t.Fatalf("after crash 3: %+v, want dead, outcome crashed, with the reason", got)
		}
	}
	if b.h.calls != 3 {
		t.Errorf("handler called %d times, want 3 (then dead)", b.h.calls)
	}
}

// TestAnOutcomeIsRecordedOnlyByTheAttemptHoldingTheRow: a slow attempt
// whose lease ran out and whose row another attempt took cannot record
// its outcome over the newer attempt's.
func TestAnOutcomeIsRecordedOnlyByTheAttemptHoldingTheRow(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	id := b.enqueue(b.links(1)[0], 0)
	b.h.outcome = func(outbox.Action, int) outbox.Outcome {
		// While this attempt runs, its lease expires and another relay
		// claims the row (attempt 2).
		b.exec("UPDATE outbox SET attempts = attempts + 1 WHERE id = $1", id)
		return outbox.Outcome{Verdict: outbox.Delivered, Note: "stale attempt"}
	}
	drain(t, outbox.NewRelay(b.pool, b.h, outbox.Config{}))
	if got := b.row(id); got.Status != outbox.StatusDelivering || got.Outcome == "stale attempt" {
		t.Errorf("row %+v: the attempt that lost the row recorded its outcome", got)
	}
}

// TestShutdownStopsClaimingAndHandsBackInFlightActions: Run returns within
// its grace period even when a delivery hangs; the hung delivery's call is
// cancelled and its action goes back to the queue (maybe sent), and nothing
// more is claimed after shutdown began.
func TestShutdownStopsClaimingAndHandsBackInFlightActions(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	ls := b.links(20)
	hung := b.enqueue(ls[0], 0)
	for _, l := range ls[1:] {
		b.enqueue(l, 0)
	}
	started := make(chan struct{})
	b.h.outcome = func(a outbox.Action, _ int) outbox.Outcome {
		if a.ID != hung {
			return outbox.Outcome{Verdict: outbox.Delivered}
		}
		close(started)
		<-ctxOf(a) // hangs until its call is cancelled
		return outbox.Outcome{Verdict: outbox.Retry, Err: errors.New("call cancelled"), Note: "maybe_sent"}
	}
	ctx, cancel := context.WithCancel(b.ctx)
	r := outbox.NewRelay(b.pool, ctxRecorder{b.h}, outbox.Config{Workers: 1, ShutdownGrace: 200 * time.Millisecond})
	stopped := make(chan struct{})
	go func() { r.Run(ctx); close(stopped) }()
	<-started
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its grace period")
	}
	if got := b.row(hung); got.Status != outbox.StatusPending || got.Outcome != "maybe_sent" {
		t.Errorf("hung action %+v, want handed back as pending, maybe sent", got)
	}
	var claimed int
	check(t, b.pool.QueryRow(b.ctx, "SELECT count(*) FROM outbox WHERE attempts > 0 AND id <> $1", hung).Scan(&claimed))
	if claimed != 0 {
		t.Errorf("%d actions claimed after shutdown began (one worker, busy with the hung one)", claimed)
	}
}

// ctxs lets the stub see the context its Handle was called with.
var ctxs sync.Map

func ctxOf(a outbox.Action) <-chan struct{} {
	c, _ := ctxs.Load(a.ID)
	return c.(context.Context).Done()
}

type ctxRecorder struct{ h *stubHandler }

func (c ctxRecorder) Handle(ctx context.Context, a outbox.Action) outbox.Outcome {
	ctxs.Store(a.ID, ctx)
	return c.h.Handle(ctx, a)
}

func drain(t *testing.T, r *outbox.Relay) {
	t.Helper()
	if _, err := r.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the limit passes.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not done after %s", limit)
		}
		<-tick.C
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestUnorderedActionsAreNeitherHeldNorHolding: an unordered action (a
// note) enqueued after a link's dead action is delivered while the link's
// ordered follower stays held; a dead unordered action holds nothing and
// is no held link.
func TestUnorderedActionsAreNeitherHeldNorHolding(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	ids := b.links(2)
	held, noted := ids[0], ids[1]
	unordered := func(link int64, seq int) {
		err := pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
			_, err := outbox.Enqueue(b.ctx, tx, []outbox.NewAction{{IntegrationID: "acme", LinkID: link, Kind: "test.note",
				Payload: map[string]int{"seq": seq}, IdempotencyKey: fmt.Sprintf("note:%d:%d", link, seq), Unordered: true}})
			return err
		})
		check(t, err)
	}
	b.enqueue(held, 0)  // dies
	b.enqueue(held, 1)  // held behind it
	unordered(held, 2)  // a note about it: not held
	unordered(noted, 0) // dies
	b.enqueue(noted, 1) // not held by the dead note
	b.h.outcome = func(a outbox.Action, seq int) outbox.Outcome {
		if seq == 0 {
			return outbox.Outcome{Verdict: outbox.Dead, Err: errors.New("HTTP 422 refused"), Note: "rejected by platform"}
		}
		return outbox.Outcome{Verdict: outbox.Delivered}
	}
	r := outbox.NewRelay(b.pool, b.h, outbox.Config{})
	drain(t, r)
	if got := b.h.order(held); len(got) != 2 || !slices.Contains(got, 0) || !slices.Contains(got, 2) {
		t.Errorf("held link: handler saw %v, want the dead head and the unordered note, not the held follower", got)
	}
	// (The note holds nothing, so the two may be claimed together.)
	if got := b.h.order(noted); len(got) != 2 || !slices.Contains(got, 1) {
		t.Errorf("link with a dead note: handler saw %v, want its ordered action delivered too", got)
	}
	var heldLinks []int64
	rows, err := b.pool.Query(b.ctx, "SELECT link_id FROM audit.held_links")
	check(t, err)
	heldLinks, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	check(t, err)
	if len(heldLinks) != 1 || heldLinks[0] != held {
		t.Errorf("audit.held_links lists %v, want only link %d (a dead note holds nothing)", heldLinks, held)
	}
	var waiting int
	check(t, b.pool.QueryRow(b.ctx, "SELECT waiting_actions FROM audit.held_links WHERE link_id = $1", held).Scan(&waiting))
	if waiting != 1 {
		t.Errorf("%d actions wait behind the dead one, want 1 (the note is not waiting)", waiting)
	}
}
