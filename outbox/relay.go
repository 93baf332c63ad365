package outbox

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
)

// Config tunes a Relay; zero values take the defaults noted.
type Config struct {
	// Workers is how many actions may be in delivery at once (default 64).
	// Platform calls take 150–500 ms over the internet, so in-flight
	// deliveries, not CPU, bound the drain rate: about Workers / latency.
	// Each link still has at most one action in flight (per-link order),
	// and LeadSquared calls are paced per integration by the handler.
	Workers int
	// FetchBatch caps the rows one claim takes (default Workers). A claim
	// is made when a quarter of the batch is free, or at once when woken.
	FetchBatch int
	// Lease is how long a claimed action is ours before another relay may
	// take it back (default 60s); longer than any platform call.
	Lease time.Duration
	// PollInterval is the fallback when no wakeup arrives (default 1s).
	PollInterval time.Duration
	// RetryFor is how long transient failures (transport errors, timeouts,
	// 5xx, 429) are retried, counted from the first one (default 48h).
	RetryFor time.Duration
	// BaseBackoff and MaxBackoff bound the exponential backoff between
	// attempts (1s doubling, capped at 15m), with ±20% jitter.
	BaseBackoff, MaxBackoff time.Duration
	// MaxCrashes is how many times a relay may stop mid-delivery of one
	// action (its lease expires) before the action is dead (default 5).
	MaxCrashes int
	// ShutdownGrace is how long Run lets in-flight deliveries finish after
	// its context ends; then their calls are cancelled and the actions go
	// back to the queue, marked as maybe sent (default 10s).
	ShutdownGrace time.Duration
	Logger        *slog.Logger
	Metrics       *Metrics
	// AfterAttempt, when set, runs after the handler and before the outcome
	// is recorded. Returning false abandons the row as a crash would: it
	// stays 'delivering' until its lease expires. For crash tests.
	AfterAttempt func(a Action, o Outcome) bool
}

func (c Config) withDefaults() Config {
	c.Workers = cmp.Or(c.Workers, 64)
	c.FetchBatch = cmp.Or(c.FetchBatch, c.Workers)
	c.Lease = cmp.Or(c.Lease, 60*time.Second)
	c.PollInterval = cmp.Or(c.PollInterval, time.Second)
	c.RetryFor = cmp.Or(c.RetryFor, 48*time.Hour)
	c.BaseBackoff = cmp.Or(c.BaseBackoff, time.Second)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, 15*time.Minute)
	c.MaxCrashes = cmp.Or(c.MaxCrashes, 5)
	c.ShutdownGrace = cmp.Or(c.ShutdownGrace, 10*time.Second)
	return c
}

// Relay claims and delivers outbox actions.
type Relay struct {
	pool *pgxpool.Pool
	q    *db.Queries
	h    Handler
	cfg  Config
	log  *slog.Logger
	wake chan struct{}
}

// NewRelay returns a relay delivering through h.
func NewRelay(pool *pgxpool.Pool, h Handler, cfg Config) *Relay {
	cfg = cfg.withDefaults()
	log := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	return &Relay{pool: pool, q: db.New(pool), h: h, cfg: cfg, log: log, wake: make(chan struct{}, 1)}
}

// Wake asks the relay to look for work now. It never blocks.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. A producer claims due actions in batches
// (when enough delivery slots are free, or at once when woken), each action
// is delivered in its own goroutine, and a completer records the outcomes
// in batches. When ctx ends, Run stops claiming first, lets in-flight
// deliveries finish for ShutdownGrace, then cancels their calls (the
// actions go back to the queue) and returns once every outcome is recorded.
func (r *Relay) Run(ctx context.Context) {
	go r.listen(ctx)
	done := newCompleter(r)
	// Deliveries outlive ctx by ShutdownGrace: cancelling a platform call
	// mid-flight makes its outcome unknown (and a Flow-builder event
	// un-retryable), so they get the chance to finish first.
	hctx, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	slots := make(chan struct{}, r.cfg.Workers)
	freed := make(chan struct{}, 1)
	var inflight sync.WaitGroup
	lastRelease := time.Time{}
	threshold := max(1, min(r.cfg.FetchBatch, r.cfg.Workers)/4)
	lastRepair := time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastRelease) > r.cfg.Lease/4 {
			r.releaseExpired(ctx)
			lastRelease = time.Now()
		}
		if time.Since(lastRepair) > repairEvery {
			r.repairHeads(ctx)
			lastRepair = time.Now()
		}
		want := min(r.cfg.Workers-len(slots), r.cfg.FetchBatch)
		more := false
		if want > 0 {
			actions, err := r.claim(ctx, want)
			if err != nil && ctx.Err() == nil {
				r.log.Error("claim outbox batch", "err", err)
			}
			for _, a := range actions {
				slots <- struct{}{}
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					r.deliver(hctx, a, done)
					<-slots
					select { // a slot is free: the producer may look for more
					case freed <- struct{}{}:
					default:
					}
				}()
			}
			more = len(actions) == want
		}
		// Wait for a reason to claim again: a wakeup, or enough free slots
		// after a full claim (there may be more due right now), or the poll.
		for {
			select {
			case <-ctx.Done():
			case <-r.wake:
			case <-freed:
				if !more || r.cfg.Workers-len(slots) < threshold {
					continue
				}
			case <-time.After(r.cfg.PollInterval):
			}
			break
		}
	}
	r.stop(&inflight, cancelCalls, done)
}

// stop waits for in-flight deliveries, cancelling their calls after the
// grace period, then for their outcomes to be recorded.
func (r *Relay) stop(inflight *sync.WaitGroup, cancelCalls context.CancelFunc, done *completer) {
	finished := make(chan struct{})
	go func() {
		inflight.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(r.cfg.ShutdownGrace):
		r.log.Warn("shutdown grace over: cancelling deliveries still in flight; their actions go back to the queue")
		cancelCalls()
		<-finished
	}
	done.close()
}

// Drain delivers everything due now, one batch after another, and returns
// how many actions it handled. For the CLI, tests and benchmarks.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		r.releaseExpired(ctx)
		actions, err := r.claim(ctx, r.cfg.FetchBatch)
		if err != nil {
			return total, err
		}
		if len(actions) == 0 {
			return total, nil
		}
		results := make(chan completion, len(actions))
		for _, a := range actions {
			go r.deliver(ctx, a, completeInto(results))
		}
		batch := make([]completion, 0, len(actions))
		for range actions {
			if c := <-results; c.a.ID != 0 {
				batch = append(batch, c)
			}
		}
		r.recordBatch(context.WithoutCancel(ctx), batch)
		total += len(actions)
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

func (r *Relay) claim(ctx context.Context, n int) ([]Action, error) {
	rows, err := r.q.OutboxClaim(ctx, db.OutboxClaimParams{MaxRows: int32(n), LeaseSeconds: r.cfg.Lease.Seconds()})
	if err != nil {
		return nil, fmt.Errorf("claim outbox batch: %w", err)
	}
	out := make([]Action, len(rows))
	for i, row := range rows {
		out[i] = fromRow(row)
	}
	return out, nil
}

func (r *Relay) releaseExpired(ctx context.Context) {
	n, err := r.q.OutboxReleaseExpired(ctx, int32(r.cfg.MaxCrashes))
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("release expired leases", "err", err)
		}
		return
	}
	if n > 0 {
		r.log.Warn("took back actions whose relay stopped mid-delivery", "count", n)
	}
}

// repairEvery is how often a relay marks the heads of links that have
// unfinished actions but no head (enqueued by a binary that did not mark
// them): a sweep of the backlog, kept off the claim's path.
const repairEvery = 30 * time.Second

func (r *Relay) repairHeads(ctx context.Context) {
	n, err := r.q.OutboxRepairHeads(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("mark links' queue heads", "err", err)
		}
		return
	}
	if n > 0 {
		r.log.Warn("marked the queue heads of links that had none", "count", n)
	}
}

// deliveryTimeout bounds one attempt, including the platform calls.
const deliveryTimeout = 45 * time.Second

// sink receives one delivery's outcome for recording.
type sink interface{ add(completion) }

func (r *Relay) deliver(ctx context.Context, a Action, out sink) {
	start := time.Now()
	hctx, cancel := context.WithTimeout(ctx, min(deliveryTimeout, r.cfg.Lease))
	defer cancel()
	o := r.safeHandle(hctx, a)
	if r.cfg.AfterAttempt != nil && !r.cfg.AfterAttempt(a, o) {
		out.add(completion{}) // simulated crash: the lease will expire
		return
	}
	out.add(completion{a: a, o: o, start: start})
}

func (r *Relay) safeHandle(ctx context.Context, a Action) (o Outcome) {
	defer func() {
		if p := recover(); p != nil {
			o = Outcome{Verdict: Dead, Err: fmt.Errorf("handler panicked: %v", p)}
		}
	}()
	return r.h.Handle(ctx, a)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
