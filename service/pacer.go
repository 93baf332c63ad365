package service

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
)

// Pacer spaces LeadSquared calls per integration so the relay stays under
// the plan's limit (requests_per_5s) instead of discovering it through
// errors: one call every paceWindow / requests_per_5s, with no burst (a
// bucket of one token). LeadSquared counts calls per 5-second window; a
// bucket that let a burst of requests_per_5s through and then refilled at
// the plan's rate would make up to twice the limit in one window, and be
// answered with rate-limit errors whenever a backlog waits. paceWindow is a
// little longer than 5 s, so calls that reach LeadSquared up to 100 ms
// apart from when they were paced still never exceed the limit in any
// window: at most 98% of the plan is used. A rate-limit answer pauses the
// integration until the window passes.
//
// A shared pacer keeps each bucket in the integration's row, so every relay
// process of a deployment draws from the same one (the plan's limit is per
// account, not per process); within a process, only one caller at a time
// asks the database for an integration's token, and none before the next
// token is due, so a relay's many waiting deliveries do not queue on the
// row. Should the database not answer, it paces in-process rather than not
// at all.
type Pacer struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	hints   map[string]*hint
	now     func() time.Time
	q       *db.Queries
}

// Pace: a call every paceWindow / requests_per_5s, no burst.
const (
	paceWindow = 5100 * time.Millisecond
	paceBurst  = 1.0
	// askAgain is how long a caller waits while another caller of this
	// process is asking the database for the same integration's token.
	askAgain = 5 * time.Millisecond
)

type bucket struct {
	tokens float64
	last   time.Time
	paused time.Time
}

// hint is what this process last learned of a shared bucket.
type hint struct {
	next   time.Time // no token before this
	asking bool      // a caller is asking the database now
}

// NewPacer returns an in-process pacer (one process, or tests).
func NewPacer() *Pacer {
	return &Pacer{buckets: map[string]*bucket{}, hints: map[string]*hint{}, now: time.Now}
}

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
	rate := float64(perWindow) / paceWindow.Seconds() // tokens per second
	if p.q != nil {
		if wait, ok := p.takeShared(ctx, id, rate); ok {
			return wait
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[id]
	now := p.now()
	if b == nil {
		b = &bucket{tokens: paceBurst, last: now}
		p.buckets[id] = b
	}
	b.tokens = min(paceBurst, b.tokens+now.Sub(b.last).Seconds()*rate)
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

// takeShared takes a token from the integration's row; ok is false when
// the database did not answer.
func (p *Pacer) takeShared(ctx context.Context, id string, rate float64) (time.Duration, bool) {
	p.mu.Lock()
	h := p.hints[id]
	if h == nil {
		h = &hint{}
		p.hints[id] = h
	}
	now := p.now()
	switch {
	case now.Before(h.next):
		p.mu.Unlock()
		return h.next.Sub(now), true
	case h.asking:
		p.mu.Unlock()
		return askAgain, true
	}
	h.asking = true
	p.mu.Unlock()

	r, err := p.q.IntegrationTakeToken(ctx, db.IntegrationTakeTokenParams{ID: id, Cap: paceBurst, Rate: rate})

	p.mu.Lock()
	defer p.mu.Unlock()
	h.asking = false
	if err != nil {
		return 0, false
	}
	if r.Granted {
		h.next = now.Add(time.Duration(float64(time.Second) / rate))
		return 0, true
	}
	wait := max(time.Duration(r.WaitSeconds*float64(time.Second)), time.Millisecond)
	h.next = now.Add(wait)
	return wait, true
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
	if h := p.hints[id]; h != nil && t.After(h.next) {
		h.next = t
	}
}
