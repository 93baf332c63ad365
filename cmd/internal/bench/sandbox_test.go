package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
)

const testMasterKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func sandboxWorld(t *testing.T) *World {
	t.Helper()
	return &World{Config: app.Config{MasterKey: testMasterKey, RelayWorkers: 16}, Pool: dbtest.New(t)}
}

// printed renders a report as its table and as JSON, and fails unless the
// JSON reads back and the table names every want.
func printed(t *testing.T, r Report, want ...string) {
	t.Helper()
	var out bytes.Buffer
	if err := r.Print(Output{W: &out}); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	if err := r.Print(Output{W: &out, JSON: true}); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatalf("JSON report %s: %v", out.String(), err)
	}
}

// TestIngestBenchSendsBothPlatformsWebhooksNextToTheCeiling runs `bench
// ingest` small: webhooks of both platforms are all accepted at each level,
// and the ceiling is measured beside them.
func TestIngestBenchSendsBothPlatformsWebhooksNextToTheCeiling(t *testing.T) {
	t.Parallel()
	rep, err := Ingest(t.Context(), sandboxWorld(t), IngestOptions{Links: 20, Webhooks: 60, Levels: []int{1, 4}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Levels) != 2 {
		t.Fatalf("levels: %+v", rep.Levels)
	}
	for _, l := range rep.Levels {
		if l.Webhooks != 60 || l.Errors != 0 || l.PerSecond <= 0 || l.Ceiling <= 0 {
			t.Errorf("level %+v", l)
		}
	}
	var lsq, lc int
	for k, n := range rep.Mix {
		switch {
		case strings.HasPrefix(k, "leadsquared "):
			lsq += n
		case strings.HasPrefix(k, "limechat "):
			lc += n
		}
	}
	if lsq == 0 || lc == 0 {
		t.Errorf("mix %v: want webhooks of both platforms", rep.Mix)
	}
	printed(t, rep, "share of ceiling", "limechat conversation_updated", "peak RSS")
}

// TestE2EBenchPairsEveryChangeWithItsAssignment runs `bench e2e` small:
// each owner change offered is followed by the LimeChat assignment that
// mirrors it.
func TestE2EBenchPairsEveryChangeWithItsAssignment(t *testing.T) {
	t.Parallel()
	rep, err := E2E(t.Context(), sandboxWorld(t), E2EOptions{Links: 30, Rate: 20, Duration: time.Second, CeilingOps: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 1 {
		t.Fatalf("steps: %+v", rep.Steps)
	}
	s := rep.Steps[0]
	if s.Sent < 15 || s.Done != s.Sent || s.Lost != 0 || s.Errors != 0 || s.Latency.P50 <= 0 || rep.Ceiling <= 0 {
		t.Fatalf("step %+v, ceiling %.0f", s, rep.Ceiling)
	}
	printed(t, rep, "offered/s", "highest rate with p99", "peak RSS")
}

// TestPacedBenchRuns runs `bench relay --paced` for two windows: LeadSquared
// updates are delivered to the rate-limited fake and counted per window.
// (That pacing keeps any window within the plan is service's
// TestPacerNeverLetsAWindowHoldMoreThanThePlan.)
func TestPacedBenchRuns(t *testing.T) {
	t.Parallel()
	rep, err := Paced(t.Context(), sandboxWorld(t), PacedOptions{Limit: 10, Duration: 10500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Windows < 1 || rep.Used == 0 || rep.Delivered == 0 {
		t.Fatalf("report %+v", rep)
	}
	printed(t, rep, "share of allowed calls used", "rate-limit answers")
}
