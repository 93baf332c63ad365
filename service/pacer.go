package service

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
)

// Pacer spaces LeadSquared calls per integration with a token bucket of
// requests_per_5s tokens refilled over 5 seconds, so the relay stays under
// the plan's limit instead of discovering it through errors. A rate-limit
// answer pauses the integration's bucket until the window passes.
//
// A shared pacer keeps each bucket in the integration's row, so every relay
// process of a deployment draws from the same one (the plan's limit is per
// account, not per process). Should the database not answer, it paces
// in-process rather than not at all.
type Pacer struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	now     func() time.Time
	q       *db.Queries
}

type bucket struct {
	tokens float64
	last   time.Time
	paused time.Time
}

// NewPacer returns an in-process pacer (one process, or tests).
func NewPacer() *Pacer { return &Pacer{buckets: map[string]*bucket{}, now: time.Now} }

// NewSharedPacer returns a pacer whose buckets live in the database.
func NewSharedPacer(pool *pgxpool.Pool) *Pacer {
	p := NewPacer()
	p.q = db.New(pool)
	return p
}

// Take takes a token for one call of integration id at perWindow calls per
// 5 seconds if one is there, and otherwise says how long until one is.
// It never blocks: the relay hands a long wait back to the queue instead
// of holding a worker that other customers' actions could use.
func (p *Pacer) Take(ctx context.Context, id string, perWindow int) time.Duration {
	if perWindow <= 0 {
		perWindow = 5
	}
	rate := float64(perWindow) / 5.0 // tokens per second
	if p.q != nil {
		r, err := p.q.IntegrationTakeToken(ctx, db.IntegrationTakeTokenParams{ID: id, Cap: float64(perWindow), Rate: rate})
		if err == nil {
			if r.Granted {
				return 0
			}
			return max(time.Duration(r.WaitSeconds*float64(time.Second)), time.Millisecond)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[id]
	now := p.now()
	if b == nil {
		b = &bucket{tokens: float64(perWindow), last: now}
		p.buckets[id] = b
	}
	b.tokens = min(float64(perWindow), b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	switch {
	case now.Before(b.paused):
		return b.paused.Sub(now)
	case b.tokens >= 1:
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// Wait blocks until integration id may make one more call, or ctx ends.
func (p *Pacer) Wait(ctx context.Context, id string, perWindow int) error {
	for {
		wait := p.Take(ctx, id, perWindow)
		if wait == 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Pause stops calls for integration id until t.
func (p *Pacer) Pause(id string, t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[id]
	if b == nil {
		b = &bucket{last: p.now()}
		p.buckets[id] = b
	}
	if t.After(b.paused) {
		b.paused = t
		b.tokens = 0
	}
}
