package outbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
)

// Retention says how long finished rows are kept.
type Retention struct {
	// Actions is how long delivered and superseded actions are kept (default 7 days).
	Actions time.Duration
	// Events is how long inbound events are kept (default 30 days).
	Events time.Duration
	// Every is how often pruning runs (default 1 hour).
	Every time.Duration
}

// Prune deletes rows past retention, in batches of 5,000 so no statement
// holds locks for long; it returns how many rows it deleted.
func Prune(ctx context.Context, pool *pgxpool.Pool, r Retention) (int64, error) {
	r = r.withDefaults()
	q := db.New(pool)
	var total int64
	for {
		n, err := q.OutboxPrune(ctx, db.OutboxPruneParams{Before: time.Now().Add(-r.Actions), MaxRows: 5000})
		total += n
		if err != nil || n < 5000 {
			if err != nil {
				return total, err
			}
			break
		}
	}
	for {
		n, err := q.InboundPrune(ctx, db.InboundPruneParams{Before: time.Now().Add(-r.Events), MaxRows: 5000})
		total += n
		if err != nil || n < 5000 {
			return total, err
		}
	}
}

func (r Retention) withDefaults() Retention {
	if r.Actions <= 0 {
		r.Actions = 7 * 24 * time.Hour
	}
	if r.Events <= 0 {
		r.Events = 30 * 24 * time.Hour
	}
	if r.Every <= 0 {
		r.Every = time.Hour
	}
	return r
}

// RunPruner prunes on a timer until ctx ends.
func RunPruner(ctx context.Context, pool *pgxpool.Pool, r Retention, log *slog.Logger) {
	r = r.withDefaults()
	t := time.NewTicker(r.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := Prune(ctx, pool, r)
		if err != nil && ctx.Err() == nil {
			log.Error("prune outbox and events", "err", err)
		} else if n > 0 {
			log.Info("pruned finished actions and old events", "rows", n)
		}
	}
}
