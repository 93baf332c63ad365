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

// Wait blocks until integration id may make one more call at perWindow
// calls per 5 seconds, or ctx ends.
func (p *Pacer) Wait(ctx context.Context, id string, perWindow int) error {
	if perWindow <= 0 {
		perWindow = 5
	}
	rate := float64(perWindow) / 5.0 // tokens per second
	for {
		p.mu.Lock()
		b := p.buckets[id]
		now := p.now()
		if b == nil {
			b = &bucket{tokens: float64(perWindow), last: now}
			p.buckets[id] = b
		}
		b.tokens = min(float64(perWindow), b.tokens+now.Sub(b.last).Seconds()*rate)
		b.last = now
		var wait time.Duration
		switch {
		case now.Before(b.paused):
			wait = b.paused.Sub(now)
		case b.tokens >= 1:
			b.tokens--
			p.mu.Unlock()
			return nil
		default:
			wait = time.Duration((1 - b.tokens) / rate * float64(time.Second))
		}
		p.mu.Unlock()
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
