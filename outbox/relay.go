package outbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
)

// Config tunes a Relay; zero values take the defaults noted.
type Config struct {
	// Workers is how many actions are delivered at once (default 4).
	Workers int
	// Lease is how long a claimed action is ours before another relay may
	// take it back (default 60s); longer than any platform call.
	Lease time.Duration
	// PollInterval is the fallback when no wakeup arrives (default 1s).
	PollInterval time.Duration
	// MaxAttempts is the attempt budget before an action is dead (default 8).
	MaxAttempts int
	// BaseBackoff and MaxBackoff bound the exponential backoff (1s, 5m).
	BaseBackoff, MaxBackoff time.Duration
	Logger                  *slog.Logger
	Metrics                 *Metrics
	// AfterAttempt, when set, runs after the handler and before the outcome
	// is recorded. Returning false abandons the row as a crash would: it
	// stays 'delivering' until its lease expires. For crash tests.
	AfterAttempt func(a Action, o Outcome) bool
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
	cfg.Workers = cmp.Or(cfg.Workers, 4)
	cfg.Lease = cmp.Or(cfg.Lease, 60*time.Second)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, time.Second)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, 8)
	cfg.BaseBackoff = cmp.Or(cfg.BaseBackoff, time.Second)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, 5*time.Minute)
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

// Run delivers until ctx ends: it claims whenever a worker is free and work
// is due, and otherwise waits for a wakeup (in-process or a NOTIFY from
// another process) or the poll interval.
func (r *Relay) Run(ctx context.Context) {
	go r.listen(ctx)
	sem := make(chan struct{}, r.cfg.Workers)
	done := make(chan struct{}, 1)
	var inflight sync.WaitGroup
	lastRelease := time.Time{}
	for {
		if time.Since(lastRelease) > r.cfg.Lease/4 {
			r.releaseExpired(ctx)
			lastRelease = time.Now()
		}
		free := r.cfg.Workers - len(sem)
		claimed := 0
		if free > 0 {
			actions, err := r.claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				r.log.Error("claim outbox batch", "err", err)
			}
			claimed = len(actions)
			for _, a := range actions {
				sem <- struct{}{}
				inflight.Add(1)
				go func() {
					defer func() {
						<-sem
						inflight.Done()
						select { // a worker is free: look for more work
						case done <- struct{}{}:
						default:
						}
					}()
					r.deliver(ctx, a)
				}()
			}
		}
		if claimed == free && free > 0 {
			continue // there may be more due right now
		}
		select {
		case <-ctx.Done():
			inflight.Wait()
			return
		case <-r.wake:
		case <-done:
		case <-time.After(r.cfg.PollInterval):
		}
	}
}

// Drain delivers everything due now, one batch after another, and returns
// how many actions it handled. For the CLI, tests and benchmarks.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		r.releaseExpired(ctx)
		actions, err := r.claim(ctx, r.cfg.Workers)
		if err != nil {
			return total, err
		}
		if len(actions) == 0 {
			return total, nil
		}
		done := make(chan struct{}, len(actions))
		for _, a := range actions {
			go func() {
				defer func() { done <- struct{}{} }()
				r.deliver(ctx, a)
			}()
		}
		for range actions {
			<-done
		}
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
	n, err := r.q.OutboxReleaseExpired(ctx)
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

// deliveryTimeout bounds one attempt, including the platform calls.
const deliveryTimeout = 45 * time.Second

func (r *Relay) deliver(ctx context.Context, a Action) {
	start := time.Now()
	// A claimed action is finished even when shutdown begins: cancelling a
	// platform call mid-flight would make its outcome unknown (and a
	// Flow-builder event un-retryable). Run stops claiming instead.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(deliveryTimeout, r.cfg.Lease))
	defer cancel()
	o := r.safeHandle(hctx, a)
	if r.cfg.AfterAttempt != nil && !r.cfg.AfterAttempt(a, o) {
		return // simulated crash: the lease will expire
	}
	// Record the outcome even when ctx is ending: the effect has happened.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	status, err := r.record(rctx, a, o)
	log := r.log.With("integration", a.IntegrationID, "link", a.LinkID, "action", a.ID, "kind", a.Kind, "attempt", a.Attempts)
	if err != nil {
		log.Error("record action outcome", "err", err)
		return
	}
	r.cfg.Metrics.observe(a, status, o, time.Since(start))
	switch status {
	case StatusDead:
		log.Error("action dead", "err", errString(o.Err), "outcome", o.Note)
	case StatusPending:
		if o.Deferred {
			log.Debug("action deferred", "reason", errString(o.Err))
		} else {
			log.Warn("action will be retried", "err", errString(o.Err))
		}
	default:
		log.Debug("action finished", "status", status, "outcome", o.Note)
	}
}

func (r *Relay) safeHandle(ctx context.Context, a Action) (o Outcome) {
	defer func() {
		if p := recover(); p != nil {
			o = Outcome{Verdict: Dead, Err: fmt.Errorf("handler panicked: %v", p)}
		}
	}()
	return r.h.Handle(ctx, a)
}

// record writes the outcome (and the handler's write-backs) in one transaction.
func (r *Relay) record(ctx context.Context, a Action, o Outcome) (string, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	q := db.New(tx)
	status := ""
	var n int64
	att := int32(a.Attempts)
	switch o.Verdict {
	case Delivered:
		var result []byte
		if o.Result != nil {
			if result, err = json.Marshal(o.Result); err != nil {
				return "", fmt.Errorf("encode result: %w", err)
			}
		}
		n, err = q.OutboxMarkDelivered(ctx, db.OutboxMarkDeliveredParams{IntegrationID: a.IntegrationID, ID: a.ID,
			Result: result, Outcome: o.Note, Attempt: att})
		status = StatusDelivered
	case Superseded:
		n, err = q.OutboxMarkSuperseded(ctx, db.OutboxMarkSupersededParams{IntegrationID: a.IntegrationID, ID: a.ID,
			Outcome: cmp.Or(o.Note, "superseded"), Attempt: att})
		status = StatusSuperseded
	case Retry:
		if a.Attempts >= r.cfg.MaxAttempts && !o.RateLimited && !o.Deferred {
			n, err = q.OutboxMarkDead(ctx, db.OutboxMarkDeadParams{IntegrationID: a.IntegrationID, ID: a.ID,
				LastError: errString(o.Err), Outcome: cmp.Or(o.Note, "attempts exhausted"), Attempt: att})
			status = StatusDead
			break
		}
		refund := int32(0)
		if o.RateLimited || o.Deferred {
			refund = 1
		}
		n, err = q.OutboxMarkRetry(ctx, db.OutboxMarkRetryParams{IntegrationID: a.IntegrationID, ID: a.ID,
			LastError: errString(o.Err), Outcome: o.Note, NextAttemptAt: time.Now().Add(r.backoff(a.Attempts, o.RetryAfter)),
			Refund: refund, Attempt: att})
		status = StatusPending
	case Dead:
		n, err = q.OutboxMarkDead(ctx, db.OutboxMarkDeadParams{IntegrationID: a.IntegrationID, ID: a.ID,
			LastError: errString(o.Err), Outcome: o.Note, Attempt: att})
		status = StatusDead
	}
	if err != nil {
		return "", fmt.Errorf("mark action %d %s: %w", a.ID, status, err)
	}
	if n == 0 {
		// This attempt's lease ran out and another relay took the row:
		// its outcome is the other attempt's to record, write-backs too.
		return "", fmt.Errorf("action %d: lost the lease before recording %s", a.ID, status)
	}
	if o.Finish != nil {
		if err := o.Finish(ctx, tx); err != nil {
			return "", fmt.Errorf("finish action %d: %w", a.ID, err)
		}
	}
	return status, tx.Commit(ctx)
}

// backoff is exponential in the attempt with ±20% jitter, at least retryAfter.
func (r *Relay) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := float64(r.cfg.BaseBackoff) * math.Pow(2, float64(max(attempt-1, 0)))
	d = min(d, float64(r.cfg.MaxBackoff))
	d *= 0.8 + 0.4*rand.Float64()
	return max(time.Duration(d), retryAfter)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// channel is the NOTIFY channel relays listen on.
const channel = "lsqbridge_outbox"

// listen wakes the relay on NOTIFYs from other processes.
func (r *Relay) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := r.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("outbox listener stopped; polling until it reconnects", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (r *Relay) listenOnce(ctx context.Context) error {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	defer func() {
		// Leave the connection clean for the pool.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "UNLISTEN *")
	}()
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		}
		r.Wake()
	}
}
