package main

import (
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/db/dbtest"
)

// TestBenchRelayCommand keeps `lsqbridge bench relay` working: a tiny run
// prints its table and the River-shaped line, or JSON with --json.
func TestBenchRelayCommand(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{"DATABASE_URL": dbtest.NewURL(t)}}
	out := c.mustRun("bench", "relay", "-n", "50", "-keys", "5", "-workers", "4")
	for _, want := range []string{"per-link order", "held (0 out of order)", "peak RSS",
		"lsqbridge+http: inserted 50 actions", "(workers=4, keys=5, per-key order held, each once;"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench relay printed no %q:\n%s", want, out)
		}
	}
	out = c.mustRun("bench", "relay", "-n", "20", "-keys", "20", "--json")
	if !strings.Contains(out, `"order_held_each_once": true`) {
		t.Errorf("bench relay --json:\n%s", out)
	}
}
