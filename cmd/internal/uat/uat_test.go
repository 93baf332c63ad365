package uat

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
)

const testMasterKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// setup starts the sandbox on its own database, its relay running in the
// background as `make run` has it.
func setup(t *testing.T) (*sandbox.Sandbox, *pgxpool.Pool) {
	t.Helper()
	pool := dbtest.New(t)
	s, err := sandbox.Start(context.Background(), app.Config{MasterKey: testMasterKey, RelayWorkers: 4}, pool,
		slog.New(slog.DiscardHandler), sandbox.Options{WebhookMillis: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop sandbox: %v", err)
		}
	})
	return s, pool
}

// lineWith returns the first line of out containing s.
func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestUATPassesAgainstTheSandbox runs the checklist against the sandbox:
// ten passing lines, progress while it waits, and each stage campaign
// counted where Flow-builder received it.
func TestUATPassesAgainstTheSandbox(t *testing.T) {
	t.Parallel()
	s, pool := setup(t)
	var out, progress bytes.Buffer
	err := Run(context.Background(), &out, pool, s.In, Options{Timeout: 20 * time.Second, AllowLoopback: true, Progress: &progress})
	if err != nil || !strings.Contains(out.String(), "uat: 10 passed, 0 failed") {
		t.Fatalf("uat: %v\nstdout:\n%s\nprogress:\n%s", err, &out, &progress)
	}
	t.Logf("uat against the sandbox:\n%s", &out)
	for _, kind := range []string{"lead", "opportunity"} {
		for _, check := range []string{"create → ticket", "owner → agent and back", "field → tag", "tag → field/activity", "stage → message"} {
			if line := lineWith(out.String(), kind+": "+check); !strings.Contains(line, "PASS") {
				t.Errorf("the table's %s line %q does not pass:\n%s", kind+": "+check, line, &out)
			}
		}
	}
	// The stage checks count what Flow-builder received, not what
	// lsqbridge thinks it sent.
	for _, want := range []string{"lead_qualified event received by Flow-builder", "opportunity_reachable event received by Flow-builder"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, &out)
		}
	}
	if !strings.Contains(progress.String(), "[1/10] lead: create → ticket") || !strings.Contains(progress.String(), "[6/10] opportunity: create → ticket") {
		t.Errorf("no progress shown while waiting:\n%s", &progress)
	}
	// Each stage campaign reached Flow-builder once, with its record.
	for _, ev := range []string{"lead_qualified", "opportunity_reachable"} {
		n := 0
		for _, got := range s.LC.FlowEvents() {
			if got.Event == ev {
				n++
			}
		}
		if n != 1 {
			t.Errorf("Flow-builder received %d %s events, want 1", n, ev)
		}
	}
}

// TestUATCountsWhatLsqbridgeDeliveredWhereFlowBuilderCannotSay: against a
// Flow-builder that cannot be asked what it received, the stage checks
// count the events lsqbridge delivered, and say so.
func TestUATCountsWhatLsqbridgeDeliveredWhereFlowBuilderCannotSay(t *testing.T) {
	t.Parallel()
	s, pool := setup(t)
	in := *s.In
	in.FlowBuilderURL = "" // as uat sees it: nowhere to ask
	var out bytes.Buffer
	if err := Run(context.Background(), &out, pool, &in, Options{Timeout: 20 * time.Second, AllowLoopback: true}); err != nil {
		t.Fatalf("uat: %v\n%s", err, &out)
	}
	for _, kind := range []string{"lead", "opportunity"} {
		line := lineWith(out.String(), kind+": stage → message")
		if !strings.Contains(line, "PASS") || !strings.Contains(line, "delivered by lsqbridge (Flow-builder cannot be asked what it received)") {
			t.Errorf("the %s stage line %q does not count what lsqbridge delivered:\n%s", kind, line, &out)
		}
	}
}
