package outbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/outbox"
)

// handlerFunc is a Handler made of a function.
type handlerFunc func(ctx context.Context, a outbox.Action) outbox.Outcome

func (f handlerFunc) Handle(ctx context.Context, a outbox.Action) outbox.Outcome { return f(ctx, a) }

// blocked is a handler that reports each action it is given on entered and
// then waits for an outcome on release.
type blocked struct {
	entered chan outbox.Action
	release chan outbox.Outcome
}

func newBlocked() *blocked {
	return &blocked{entered: make(chan outbox.Action, 1), release: make(chan outbox.Outcome, 1)}
}

func (b *blocked) Handle(ctx context.Context, a outbox.Action) outbox.Outcome {
	b.entered <- a
	return <-b.release
}

// free lets a blocked delivery end (retried) if the test has not answered
// it, so a failed test leaves no relay waiting.
func (b *blocked) free() {
	select {
	case b.release <- outbox.Outcome{Verdict: outbox.Retry, Err: errors.New("test ended")}:
	default:
	}
}

// drainInBackground runs r.Drain until it returns; the channel says how
// many actions it handled.
func drainInBackground(t *testing.T, r *outbox.Relay) <-chan int {
	t.Helper()
	done := make(chan int, 1)
	go func() {
		n, err := r.Drain(context.WithoutCancel(t.Context()))
		if err != nil {
			t.Errorf("drain: %v", err)
		}
		done <- n
	}()
	return done
}

// TestALeasedActionIsKeptFromOtherRelaysUntilItsLeaseExpires: while one
// relay delivers an action under its lease, another relay neither claims
// it nor takes it back; the lease runs for Config.Lease from the claim.
func TestALeasedActionIsKeptFromOtherRelaysUntilItsLeaseExpires(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	id := b.enqueue(b.links(1)[0], 0)
	slow := newBlocked()
	before := time.Now()
	first := drainInBackground(t, outbox.NewRelay(b.pool, slow, outbox.Config{Lease: 10 * time.Minute}))
	defer slow.free()
	<-slow.entered

	var leaseUntil time.Time
	check(t, b.pool.QueryRow(b.ctx, "SELECT lease_until FROM outbox WHERE id = $1", id).Scan(&leaseUntil))
	if leaseUntil.Before(before.Add(10*time.Minute-time.Millisecond)) || leaseUntil.After(time.Now().Add(10*time.Minute+time.Millisecond)) {
		t.Errorf("lease until %s, want 10 minutes after the claim (%s)", leaseUntil, before)
	}
	other := &stubHandler{seen: map[int64][]int{}}
	n, err := outbox.NewRelay(b.pool, other, outbox.Config{Lease: 10 * time.Minute}).Drain(b.ctx)
	check(t, err)
	if n != 0 || other.calls != 0 {
		t.Errorf("the other relay handled %d actions while the lease held, want 0", n)
	}
	if got := b.row(id); got.Status != outbox.StatusDelivering || got.Crashes != 0 || got.Attempts != 1 {
		t.Errorf("row %+v while leased, want delivering, attempt 1, no crash counted", got)
	}

	slow.release <- outbox.Outcome{Verdict: outbox.Delivered, Note: "first"}
	<-first
	if got := b.row(id); got.Status != outbox.StatusDelivered || got.Outcome != "first" || got.Attempts != 1 {
		t.Errorf("row %+v, want delivered by the relay that held the lease", got)
	}
}

// TestAStaleRelaysOutcomeIsRefusedOnceAnotherTookTheRow: a relay whose
// lease expired mid-delivery loses the row to another relay, which is told
// the first attempt may have been sent and records its own outcome; when
// the stale relay finally answers, whatever it says — delivered (alone or
// with a write-back), retry, superseded or dead — is not recorded and its
// write-back does not run.
func TestAStaleRelaysOutcomeIsRefusedOnceAnotherTookTheRow(t *testing.T) {
	t.Parallel()
	stale := []struct {
		name    string
		outcome outbox.Outcome
	}{
		{"delivered", outbox.Outcome{Verdict: outbox.Delivered, Note: "stale"}},
		{"delivered with a write-back", outbox.Outcome{Verdict: outbox.Delivered, Note: "stale"}},
		{"retry", outbox.Outcome{Verdict: outbox.Retry, Err: errors.New("HTTP 503"), Note: "stale"}},
		{"superseded", outbox.Outcome{Verdict: outbox.Superseded, Note: "stale"}},
		{"dead", outbox.Outcome{Verdict: outbox.Dead, Err: errors.New("HTTP 422"), Note: "stale"}},
	}
	for _, tc := range stale {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupRelay(t)
			b.exec("CREATE TABLE finished (by text NOT NULL)")
			finish := func(by string) func(context.Context, pgx.Tx) error {
				return func(ctx context.Context, tx pgx.Tx) error {
					_, err := tx.Exec(ctx, "INSERT INTO finished VALUES ($1)", by)
					return err
				}
			}
			link := b.links(1)[0]
			id := b.enqueue(link, 0)
			next := b.enqueue(link, 1)

			slow := newBlocked()
			first := drainInBackground(t, outbox.NewRelay(b.pool, slow, outbox.Config{Lease: time.Minute}))
			defer slow.free()
			<-slow.entered
			// The slow relay's lease runs out (as if a minute passed).
			b.exec("UPDATE outbox SET lease_until = now() - interval '1 second' WHERE id = $1", id)

			var seen []outbox.Action
			taker := handlerFunc(func(_ context.Context, a outbox.Action) outbox.Outcome {
				seen = append(seen, a)
				if a.ID == id {
					return outbox.Outcome{Verdict: outbox.Delivered, Note: "taken over", Finish: finish("taker")}
				}
				return outbox.Outcome{Verdict: outbox.Delivered}
			})
			drain(t, outbox.NewRelay(b.pool, taker, outbox.Config{Lease: time.Minute}))
			if len(seen) != 2 || seen[0].ID != id || seen[1].ID != next {
				t.Fatalf("the other relay handled %d actions, want the taken-back one, then its link's next", len(seen))
			}
			if seen[0].Attempts != 2 || seen[0].LastOutcome != outbox.NoteMaybeSent {
				t.Errorf("taken-back action came as attempt %d, last outcome %q; want attempt 2, told it may have been sent",
					seen[0].Attempts, seen[0].LastOutcome)
			}

			o := tc.outcome
			if tc.name == "delivered with a write-back" {
				o.Finish = finish("stale relay")
			}
			slow.release <- o
			<-first
			got := b.row(id)
			if got.Status != outbox.StatusDelivered || got.Outcome != "taken over" || got.Attempts != 2 || got.Crashes != 1 {
				t.Errorf("row %+v, want the taking relay's outcome (delivered, attempt 2, one crash counted)", got)
			}
			var by []string
			rows, err := b.pool.Query(b.ctx, "SELECT by FROM finished")
			check(t, err)
			by, err = pgx.CollectRows(rows, pgx.RowTo[string])
			check(t, err)
			if len(by) != 1 || by[0] != "taker" {
				t.Errorf("write-backs ran for %v, want only the taking relay's", by)
			}
			if got := b.row(next); got.Status != outbox.StatusDelivered || got.Attempts != 1 {
				t.Errorf("the link's next action %+v, want delivered once", got)
			}
		})
	}
}
