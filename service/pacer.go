package service

import (
	"context"
	"sync"
	"time"
)

// Pacer spaces LeadSquared calls per integration with a token bucket of
// requests_per_5s tokens refilled over 5 seconds, so the relay stays under
// the plan's limit instead of discovering it through errors. A rate-limit
// answer pauses the integration's bucket until the window passes.
type Pacer struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
	paused time.Time
}

// NewPacer returns an empty pacer.
func NewPacer() *Pacer { return &Pacer{buckets: map[string]*bucket{}, now: time.Now} }

// Take takes a token for one call of integration id at perWindow calls per
// 5 seconds if one is there, and otherwise says how long until one is.
// It never blocks: the relay hands a long wait back to the queue instead
// of holding a worker that other customers' actions could use.
func (p *Pacer) Take(id string, perWindow int) time.Duration {
	if perWindow <= 0 {
		perWindow = 5
	}
	rate := float64(perWindow) / 5.0 // tokens per second
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
		wait := p.Take(id, perWindow)
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
