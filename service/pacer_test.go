package service

import (
	"context"
	"testing"
	"time"
)

func TestPacerSpacesCallsAndSaysHowLongToWait(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	p := NewPacer()
	p.now = func() time.Time { return now }

	if wait := p.Take(context.Background(), "acme", 5); wait != 0 {
		t.Fatalf("first call of an idle integration waited %s", wait)
	}
	spacing := paceWindow / 5
	if wait := p.Take(context.Background(), "acme", 5); wait != spacing {
		t.Fatalf("second call: wait %s, want %s (5 calls per %s, evenly)", wait, spacing, paceWindow)
	}
	if wait := p.Take(context.Background(), "other", 5); wait != 0 {
		t.Fatalf("another integration waited %s; buckets are per integration", wait)
	}
	now = now.Add(spacing)
	if wait := p.Take(context.Background(), "acme", 5); wait != 0 {
		t.Fatalf("after %s: wait %s, want a token", spacing, wait)
	}
}

// TestPacerNeverLetsAWindowHoldMoreThanThePlan: calls taken as soon as the
// pacer allows, for a minute, from an idle start: no 5-second window (as
// LeadSquared counts them) holds more than the plan's calls, and the plan
// is used nearly in full.
func TestPacerNeverLetsAWindowHoldMoreThanThePlan(t *testing.T) {
	t.Parallel()
	for _, plan := range []int{2, 5, 25} {
		now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
		p := NewPacer()
		p.now = func() time.Time { return now }
		end := now.Add(time.Minute)
		var calls []time.Time
		for now.Before(end) {
			if wait := p.Take(context.Background(), "acme", plan); wait > 0 {
				now = now.Add(wait)
				continue
			}
			calls = append(calls, now)
		}
		for i, c := range calls {
			j := i
			for j < len(calls) && calls[j].Before(c.Add(5*time.Second)) {
				j++
			}
			if j-i > plan {
				t.Fatalf("plan %d per 5 s: %d calls in the 5 s from %s", plan, j-i, c.Format("15:04:05.000"))
			}
		}
		if allowed := plan * 12; float64(len(calls)) < 0.95*float64(allowed) {
			t.Errorf("plan %d per 5 s: %d calls in a minute, want at least 95%% of %d", plan, len(calls), allowed)
		}
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
