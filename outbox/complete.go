package outbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/db"
)

// completion is one delivery's outcome, waiting to be recorded.
type completion struct {
	a     Action
	o     Outcome
	start time.Time
}

// completeInto is a sink writing into a channel (Drain collects a batch).
type completeInto chan completion

func (c completeInto) add(x completion) { c <- x }

// completer records outcomes in batches, as River's job completer does: one
// transaction (one commit) for whatever finished while the previous batch
// was being written, so recording costs a fraction of a round trip per
// action at load and adds no wait when idle.
type completer struct {
	r    *Relay
	in   chan completion
	done chan struct{}
}

// maxCompleteBatch bounds one recording transaction.
const maxCompleteBatch = 500

func newCompleter(r *Relay) *completer {
	c := &completer{r: r, in: make(chan completion, r.cfg.Workers), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *completer) add(x completion) {
	if x.a.ID != 0 {
		c.in <- x
	}
}

// close records what is queued and stops; every add must have returned.
func (c *completer) close() {
	close(c.in)
	<-c.done
}

func (c *completer) run() {
	defer close(c.done)
	for first := range c.in {
		batch := []completion{first}
	more:
		for len(batch) < maxCompleteBatch {
			select {
			case x, ok := <-c.in:
				if !ok {
					break more
				}
				batch = append(batch, x)
			default:
				break more
			}
		}
		// Outcomes are recorded even while shutting down: the effects happened.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c.r.recordBatch(ctx, batch)
		cancel()
	}
}

// recordBatch records a batch of outcomes in one transaction: plain
// deliveries in one statement, the rest (failures, and deliveries with
// write-backs) one by one, each under a savepoint so one failing row does
// not undo the others. If the transaction itself fails, each row is
// recorded in a transaction of its own.
func (r *Relay) recordBatch(ctx context.Context, batch []completion) {
	if len(batch) == 0 {
		return
	}
	statuses, err := r.recordTogether(ctx, batch)
	if err != nil {
		r.log.Warn("record outcomes together; recording one by one", "count", len(batch), "err", err)
		statuses = make([]string, len(batch))
		for i, c := range batch {
			err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
				var err error
				if err = lockLinks(ctx, tx, batch[i:i+1]); err != nil {
					return err
				}
				if statuses[i], err = r.record(ctx, tx, c.a, c.o); err != nil {
					return err
				}
				return promote(ctx, tx, batch[i:i+1], statuses[i:i+1])
			})
			if err != nil {
				statuses[i] = ""
				r.log.Error("record action outcome", "integration", c.a.IntegrationID, "action", c.a.ID, "err", err)
			}
		}
	}
	for i, c := range batch {
		if statuses[i] != "" {
			r.observe(c, statuses[i])
		}
	}
	// Finished heads made their successors heads: claim them now.
	r.Wake()
}

// lockLinks locks the links of a batch (in one order, so two relays
// recording at once cannot deadlock): moving a link's head to its next
// action must not race an enqueue on that link, which holds the same lock.
func lockLinks(ctx context.Context, tx pgx.Tx, batch []completion) error {
	var p db.LinksLockParams
	for _, c := range batch {
		p.IntegrationIds = append(p.IntegrationIds, c.a.IntegrationID)
		p.LinkIds = append(p.LinkIds, c.a.LinkID)
	}
	if err := db.New(tx).LinksLock(ctx, p); err != nil {
		return fmt.Errorf("lock links: %w", err)
	}
	return nil
}

// promote makes the next action of each link whose head finished (was
// delivered or superseded) the link's head.
func promote(ctx context.Context, tx pgx.Tx, batch []completion, statuses []string) error {
	var p db.OutboxPromoteParams
	for i, c := range batch {
		if statuses[i] == StatusDelivered || statuses[i] == StatusSuperseded {
			p.IntegrationIds = append(p.IntegrationIds, c.a.IntegrationID)
			p.LinkIds = append(p.LinkIds, c.a.LinkID)
		}
	}
	if len(p.LinkIds) == 0 {
		return nil
	}
	if err := db.New(tx).OutboxPromote(ctx, p); err != nil {
		return fmt.Errorf("move links' heads on: %w", err)
	}
	return nil
}

func (r *Relay) recordTogether(ctx context.Context, batch []completion) ([]string, error) {
	statuses := make([]string, len(batch))
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if err := lockLinks(ctx, tx, batch); err != nil {
			return err
		}
		var plain db.OutboxMarkDeliveredManyParams
		index := map[int64]int{}
		for i, c := range batch {
			if c.o.Verdict != Delivered || c.o.Finish != nil {
				continue
			}
			result, err := encodeResult(c.o.Result)
			if err != nil {
				return err
			}
			plain.IntegrationIds = append(plain.IntegrationIds, c.a.IntegrationID)
			plain.Ids = append(plain.Ids, c.a.ID)
			plain.Attempts = append(plain.Attempts, int32(c.a.Attempts))
			plain.Outcomes = append(plain.Outcomes, c.o.Note)
			plain.Results = append(plain.Results, result)
			index[c.a.ID] = i
		}
		if len(plain.Ids) > 0 {
			rows, err := db.New(tx).OutboxMarkDeliveredMany(ctx, plain)
			if err != nil {
				return fmt.Errorf("mark %d actions delivered: %w", len(plain.Ids), err)
			}
			for _, row := range rows {
				statuses[index[row.ID]] = StatusDelivered
			}
			if len(rows) < len(plain.Ids) {
				r.log.Warn("some actions lost their lease before their delivery was recorded", "count", len(plain.Ids)-len(rows))
			}
		}
		for i, c := range batch {
			if c.o.Verdict == Delivered && c.o.Finish == nil {
				continue
			}
			sp, err := tx.Begin(ctx)
			if err != nil {
				return err
			}
			status, err := r.record(ctx, sp, c.a, c.o)
			if err != nil {
				r.log.Error("record action outcome", "integration", c.a.IntegrationID, "action", c.a.ID, "err", err)
				if rerr := sp.Rollback(ctx); rerr != nil {
					return rerr
				}
				continue
			}
			if err := sp.Commit(ctx); err != nil {
				return err
			}
			statuses[i] = status
		}
		return promote(ctx, tx, batch, statuses)
	})
	return statuses, err
}

// errLostLease is returned by record when another attempt holds the row.
var errLostLease = errors.New("lost the lease")

// record writes one outcome (and the handler's write-backs) in tx.
func (r *Relay) record(ctx context.Context, tx pgx.Tx, a Action, o Outcome) (string, error) {
	q := db.New(tx)
	status := ""
	var n int64
	var err error
	att := int32(a.Attempts)
	switch o.Verdict {
	case Delivered:
		var result []byte
		if result, err = encodeResult(o.Result); err != nil {
			return "", err
		}
		n, err = q.OutboxMarkDelivered(ctx, db.OutboxMarkDeliveredParams{IntegrationID: a.IntegrationID, ID: a.ID,
			Result: result, Outcome: o.Note, Attempt: att})
		status = StatusDelivered
	case Superseded:
		n, err = q.OutboxMarkSuperseded(ctx, db.OutboxMarkSupersededParams{IntegrationID: a.IntegrationID, ID: a.ID,
			Outcome: cmp.Or(o.Note, "superseded"), Attempt: att})
		status = StatusSuperseded
	case Retry:
		waited := !a.FirstFailedAt.IsZero() && time.Since(a.FirstFailedAt) > r.cfg.RetryFor
		if waited && !o.RateLimited && !o.Deferred {
			n, err = q.OutboxMarkDead(ctx, db.OutboxMarkDeadParams{IntegrationID: a.IntegrationID, ID: a.ID,
				LastError: fmt.Sprintf("still failing after retrying for %s: %s", r.cfg.RetryFor, errString(o.Err)),
				Outcome:   cmp.Or(o.Note, "gave up"), Attempt: att})
			status = StatusDead
			break
		}
		refund := int32(0)
		if o.RateLimited || o.Deferred {
			refund = 1
		}
		n, err = q.OutboxMarkRetry(ctx, db.OutboxMarkRetryParams{IntegrationID: a.IntegrationID, ID: a.ID,
			LastError: errString(o.Err), Outcome: o.Note, NextAttemptAt: time.Now().Add(r.backoff(a.Attempts-int(refund), o.RetryAfter)),
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
		return "", fmt.Errorf("action %d: %w before recording %s", a.ID, errLostLease, status)
	}
	if o.Finish != nil {
		if err := o.Finish(ctx, tx); err != nil {
			return "", fmt.Errorf("finish action %d: %w", a.ID, err)
		}
	}
	return status, nil
}

func encodeResult(v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return b, nil
}

// backoff is exponential in the attempt (BaseBackoff doubling, capped at
// MaxBackoff) with ±20% jitter, and at least retryAfter.
func (r *Relay) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := float64(r.cfg.BaseBackoff) * math.Pow(2, float64(min(max(attempt-1, 0), 40)))
	d = min(d, float64(r.cfg.MaxBackoff))
	d *= 0.8 + 0.4*rand.Float64()
	return max(time.Duration(d), retryAfter)
}

func (r *Relay) observe(c completion, status string) {
	r.cfg.Metrics.observe(c.a, status, c.o, time.Since(c.start))
	log := r.log.With("integration", c.a.IntegrationID, "link", c.a.LinkID, "action", c.a.ID, "kind", c.a.Kind, "attempt", c.a.Attempts)
	switch status {
	case StatusDead:
		log.Error("action dead", "err", errString(c.o.Err), "outcome", c.o.Note)
	case StatusPending:
		if c.o.Deferred {
			log.Debug("action deferred", "reason", errString(c.o.Err))
		} else {
			log.Warn("action will be retried", "err", errString(c.o.Err))
		}
	default:
		log.Debug("action finished", "status", status, "outcome", c.o.Note)
	}
}
