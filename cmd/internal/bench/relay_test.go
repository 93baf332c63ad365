package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/db/dbtest"
)

// TestRelayBenchDeliversEveryActionInOrderOnce runs `bench relay` small:
// every action reaches the sink once, each link's in order, and the report
// says so in its table, its summary line and its JSON.
func TestRelayBenchDeliversEveryActionInOrderOnce(t *testing.T) {
	t.Parallel()
	w := &World{Pool: dbtest.New(t)}
	rep, err := Relay(t.Context(), w, RelayOptions{N: 300, Keys: 30, Workers: 8, SinkLatency: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Sink.OK || rep.Delivered != 300 || rep.PerSecond <= 0 || rep.PeakRSSMB <= 0 {
		t.Fatalf("report: %+v", rep)
	}
	var out bytes.Buffer
	if err := rep.Print(Output{W: &out}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"per-link order", "held (0 out of order)", "in flight / latency", "peak RSS",
		"lsqbridge+http: inserted 300 actions", "(workers=8, keys=30, per-key order held, each once;"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := rep.Print(Output{W: &out, JSON: true}); err != nil {
		t.Fatal(err)
	}
	var back RelayReport
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || back.Actions != 300 || !back.Sink.OK {
		t.Fatalf("JSON report %s: %v", out.String(), err)
	}

	// A second run replaces the first's backlog.
	rep, err = Relay(t.Context(), w, RelayOptions{N: 40, Keys: 40, Workers: 4})
	if err != nil || !rep.Sink.OK || rep.Delivered != 40 {
		t.Fatalf("second run: %+v, %v", rep, err)
	}
}
