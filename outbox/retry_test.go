package outbox_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/outbox"
)

// nextAttempts drains once and returns, per action, when its next attempt
// is due, with the times just before and after the drain (the bounds a
// backoff computed during it falls between).
func (b *relayBundle) nextAttempts(r *outbox.Relay, ids []int64) (due map[int64]time.Time, before, after time.Time) {
	b.t.Helper()
	before = time.Now()
	drain(b.t, r)
	after = time.Now()
	due = map[int64]time.Time{}
	for _, id := range ids {
		var at time.Time
		check(b.t, b.pool.QueryRow(b.ctx, "SELECT next_attempt_at FROM outbox WHERE id = $1", id).Scan(&at))
		due[id] = at
	}
	return due, before, after
}

// TestRetryBackoffDoublesWithJitterUpToItsCap: after the n-th transient
// failure an action waits BaseBackoff×2^(n-1), capped at MaxBackoff, each
// wait drawn within ±20% of that (and not all the same: the jitter
// spreads retries of actions that failed together).
func TestRetryBackoffDoublesWithJitterUpToItsCap(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	var ids []int64
	for _, l := range b.links(25) {
		ids = append(ids, b.enqueue(l, 0))
	}
	b.h.outcome = func(outbox.Action, int) outbox.Outcome {
		return outbox.Outcome{Verdict: outbox.Retry, Err: errors.New("HTTP 502"), Note: outbox.NoteMaybeSent}
	}
	r := outbox.NewRelay(b.pool, b.h, outbox.Config{BaseBackoff: time.Minute, MaxBackoff: 8 * time.Minute})
	for n, base := range []time.Duration{1, 2, 4, 8, 8, 8} {
		base *= time.Minute
		due, before, after := b.nextAttempts(r, ids)
		var waits []time.Duration
		for _, id := range ids {
			lo, hi := before.Add(base*8/10-time.Millisecond), after.Add(base*12/10+time.Millisecond)
			if due[id].Before(lo) || due[id].After(hi) {
				t.Errorf("failure %d: next attempt in %s, want %s ±20%%", n+1, due[id].Sub(after).Round(time.Second), base)
			}
			waits = append(waits, due[id].Sub(before))
		}
		if spread := slices.Max(waits) - slices.Min(waits); spread < base/20 {
			t.Errorf("failure %d: %d actions' waits spread over %s only, want jitter", n+1, len(ids), spread)
		}
		for _, id := range ids {
			if got := b.row(id); got.Status != outbox.StatusPending || got.Attempts != n+1 {
				t.Fatalf("failure %d: %+v, want pending with %d attempts counted", n+1, got, n+1)
			}
		}
		b.makeDue()
	}
}

// TestAnAnswersRetryAfterIsTheLeastWait: a platform's Retry-After longer
// than the backoff sets the next attempt; a shorter one does not shorten
// the backoff.
func TestAnAnswersRetryAfterIsTheLeastWait(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	l := b.links(2)
	long, short := b.enqueue(l[0], 0), b.enqueue(l[1], 0)
	b.h.outcome = func(a outbox.Action, _ int) outbox.Outcome {
		after := 30 * time.Minute
		if a.ID == short {
			after = time.Second
		}
		return outbox.Outcome{Verdict: outbox.Retry, Err: errors.New("HTTP 503"), RetryAfter: after, Note: outbox.NoteNotSent}
	}
	r := outbox.NewRelay(b.pool, b.h, outbox.Config{BaseBackoff: time.Minute})
	due, before, after := b.nextAttempts(r, []int64{long, short})
	if due[long].Before(before.Add(30*time.Minute - time.Millisecond)) {
		t.Errorf("asked to wait 30 min, next attempt in %s", due[long].Sub(after).Round(time.Second))
	}
	if due[short].Before(before.Add(48*time.Second - time.Millisecond)) {
		t.Errorf("asked to wait 1 s with a 1 min backoff, next attempt in %s", due[short].Sub(after).Round(time.Second))
	}
}

// TestARateLimitSpendsNoAttemptAndNeverKillsAnAction: an attempt the
// platform's rate limit refused is given back — the count does not grow,
// so neither does the wait, and no retry window starts — and a rate limit
// answered after the window of earlier failures ran out still leaves the
// action pending, not dead.
func TestARateLimitSpendsNoAttemptAndNeverKillsAnAction(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	l := b.links(2)
	limited, late := b.enqueue(l[0], 0), b.enqueue(l[1], 0)
	b.h.outcome = func(outbox.Action, int) outbox.Outcome {
		return outbox.Outcome{Verdict: outbox.Retry, RateLimited: true, Err: errors.New("HTTP 429"), Note: outbox.NoteNotSent}
	}
	// late failed transiently for longer than the window already.
	b.exec("UPDATE outbox SET attempts = 7, first_failed_at = now() - interval '2 hours' WHERE id = $1", late)
	r := outbox.NewRelay(b.pool, b.h, outbox.Config{BaseBackoff: time.Minute, RetryFor: time.Hour})
	for round := 1; round <= 5; round++ {
		due, before, after := b.nextAttempts(r, []int64{limited})
		if got := b.row(limited); got.Status != outbox.StatusPending || got.Attempts != 0 || got.FirstFailed {
			t.Fatalf("rate limit %d: %+v, want pending, no attempt spent, no window started", round, got)
		}
		if w := due[limited]; w.Before(before.Add(48*time.Second-time.Millisecond)) || w.After(after.Add(72*time.Second+time.Millisecond)) {
			t.Errorf("rate limit %d: next attempt in %s, want the first backoff step (1 min ±20%%) every time", round, w.Sub(after).Round(time.Second))
		}
		if got := b.row(late); got.Status != outbox.StatusPending || got.Attempts != 7 {
			t.Fatalf("rate limit %d after the window ran out: %+v, want pending with its 7 attempts", round, got)
		}
		b.makeDue()
	}
	if b.h.calls != 10 {
		t.Errorf("handler called %d times, want 10 (both actions, every round)", b.h.calls)
	}
}

// TestARetriedOrSupersededHeadKeepsItsLinksOrder: while a link's head is
// being retried its later actions wait (not attempted, nothing spent);
// once it is delivered they follow in order, a superseded one passing the
// turn on like a delivered one. Other links are not held meanwhile.
func TestARetriedOrSupersededHeadKeepsItsLinksOrder(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	ls := b.links(2)
	link, free := ls[0], ls[1]
	var ids []int64
	for seq := range 4 {
		ids = append(ids, b.enqueue(link, seq))
	}
	b.enqueue(free, 0)
	b.enqueue(free, 1)
	failures := 3
	b.h.outcome = func(a outbox.Action, seq int) outbox.Outcome {
		switch {
		case a.LinkID == link && seq == 0 && failures > 0:
			failures--
			return outbox.Outcome{Verdict: outbox.Retry, Err: errors.New("HTTP 500"), Note: outbox.NoteMaybeSent}
		case a.LinkID == link && seq == 2:
			return outbox.Outcome{Verdict: outbox.Superseded, Note: "values changed again"}
		}
		return outbox.Outcome{Verdict: outbox.Delivered}
	}
	r := outbox.NewRelay(b.pool, b.h, outbox.Config{})
	for range 3 {
		drain(t, r)
		for _, id := range ids[1:] {
			if got := b.row(id); got.Status != outbox.StatusPending || got.Attempts != 0 {
				t.Fatalf("while the head is retried, a later action is %+v; want waiting, untouched", got)
			}
		}
		b.makeDue()
	}
	if got := b.h.order(free); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("the other link delivered %v while this one's head was retried, want [0 1]", got)
	}
	drain(t, r)
	if got := b.h.order(link); !slices.Equal(got, []int{0, 0, 0, 0, 1, 2, 3}) {
		t.Errorf("link's actions reached the handler as %v, want the head 4 times, then 1, 2, 3", got)
	}
	want := []string{outbox.StatusDelivered, outbox.StatusDelivered, outbox.StatusSuperseded, outbox.StatusDelivered}
	for i, id := range ids {
		if got := b.row(id); got.Status != want[i] {
			t.Errorf("action %d: %s, want %s", i, got.Status, want[i])
		}
	}
}
