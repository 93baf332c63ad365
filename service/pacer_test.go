package service

import (
	"context"
	"testing"
	"time"
)

func TestPacerTakeSpendsTheWindowThenSaysHowLongToWait(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	p := NewPacer()
	p.now = func() time.Time { return now }

	for i := range 5 {
		if wait := p.Take(context.Background(), "acme", 5); wait != 0 {
			t.Fatalf("call %d of a 5-per-5s window waited %s", i+1, wait)
		}
	}
	if wait := p.Take(context.Background(), "acme", 5); wait != time.Second {
		t.Fatalf("sixth call: wait %s, want 1s (one token a second)", wait)
	}
	if wait := p.Take(context.Background(), "other", 5); wait != 0 {
		t.Fatalf("another integration waited %s; buckets are per integration", wait)
	}
	now = now.Add(time.Second)
	if wait := p.Take(context.Background(), "acme", 5); wait != 0 {
		t.Fatalf("after a second: wait %s, want a token", wait)
	}
}

func TestPacerPauseHoldsUntilItEnds(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	p := NewPacer()
	p.now = func() time.Time { return now }
	p.Pause("acme", now.Add(5*time.Second))
	if wait := p.Take(context.Background(), "acme", 25); wait != 5*time.Second {
		t.Fatalf("paused: wait %s, want 5s", wait)
	}
	now = now.Add(5 * time.Second)
	if wait := p.Take(context.Background(), "acme", 25); wait != 0 {
		t.Fatalf("after the pause: wait %s, want a token (the bucket refilled meanwhile)", wait)
	}
}
