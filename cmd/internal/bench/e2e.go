package bench

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// E2EOptions shape `bench e2e`.
type E2EOptions struct {
	// Links are the leads with tickets the changes are about (default 1000).
	Links int
	// Rate is the offered owner changes per second (without FindMax).
	Rate float64
	// Duration is how long each rate is offered (default 5 s).
	Duration time.Duration
	// FindMax tries Steps in order and stops at the first whose p99 is
	// above P99 (or that loses changes or falls behind).
	FindMax bool
	Steps   []float64
	P99     time.Duration
	// CeilingOps is how many bare transactions measure the ceiling (default 2000).
	CeilingOps int
}

// E2EReport is what `bench e2e` prints.
type E2EReport struct {
	Bench     string    `json:"bench"`
	Links     int       `json:"links"`
	Workers   int       `json:"relay_workers"`
	P99Bound  float64   `json:"p99_bound_ms"`
	Steps     []E2EStep `json:"steps"`
	MaxRate   float64   `json:"max_rate_within_bound"`
	Ceiling   float64   `json:"ceiling_per_second_16_clients"`
	Ratio     float64   `json:"max_rate_over_ceiling"`
	PeakRSSMB float64   `json:"peak_rss_mb"`
}

// E2EStep is one offered rate.
type E2EStep struct {
	Offered   float64 `json:"offered_per_second"`
	Sent      int     `json:"sent"`
	Done      int     `json:"done"`
	PerSecond float64 `json:"done_per_second"`
	Latency   Latency `json:"latency"`
	Lost      int     `json:"not_done"`
	Errors    int     `json:"webhook_errors"`
	Within    bool    `json:"within_bound"`
}

// E2E offers LeadSquared owner changes at a rate, made by a person in the
// LeadSquared fake and sent as its webhooks (lead-updated and
// lead-owner-changed), with the service's relay running, and measures
// each from its first webhook sent to the LimeChat fake having answered
// the assignment call that mirrors it.
func E2E(ctx context.Context, w *World, o E2EOptions) (*E2EReport, error) {
	if o.Links <= 0 {
		o.Links = 1000
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.P99 <= 0 {
		o.P99 = 50 * time.Millisecond
	}
	if o.CeilingOps <= 0 {
		o.CeilingOps = 2000
	}
	steps := []float64{o.Rate}
	if o.FindMax {
		steps = o.Steps
	}
	if len(steps) == 0 || steps[0] <= 0 {
		return nil, fmt.Errorf("no rate to offer")
	}
	p := w.progress()
	tr := &tracker{pending: map[int64]time.Time{}}
	opts := sandboxOptions()
	opts.WrapLimeChat = tr.wrap
	sc, err := w.start(ctx, o.Links, true, opts)
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	rep := &E2EReport{Bench: "e2e", Links: o.Links, Workers: w.Config.RelayWorkers, P99Bound: float64(o.P99.Microseconds()) / 1000}

	p.Step("ceiling: %d bare transactions from 16 clients…", o.CeilingOps)
	ceil, err := newCeiling(ctx, w.Pool, o.Links)
	if err != nil {
		return nil, err
	}
	body := []byte(`{"Before":{"ProspectID":"x","OwnerId":"a"},"After":{"ProspectID":"x","OwnerId":"b"}}`)
	var cerr error
	var cmu sync.Mutex
	took, _ := parallel(ctx, o.CeilingOps, 16, p, "ceiling", func(i int) {
		if err := ceil.tx(ctx, i, body); err != nil {
			cmu.Lock()
			cerr = firstErr(cerr, err)
			cmu.Unlock()
		}
	})
	ceil.close(ctx)
	if cerr != nil {
		return nil, fmt.Errorf("ceiling: %w", cerr)
	}
	rep.Ceiling = perSec(o.CeilingOps, took)

	// Both fakes' webhooks are sent from here: LeadSquared's when a change
	// is made, LimeChat's (the echoes of the relay's assignments) as soon as
	// they are queued, each in its own goroutine, as the platforms' many
	// senders would, and without the fakes' sender keeping every delivery.
	sc.s.LSQHooks.SetManual(true)
	sc.s.LCHooks.SetManual(true)
	pctx, stopPump := context.WithCancel(ctx)
	pumped := make(chan struct{})
	go func() { defer close(pumped); sc.pump(pctx) }()
	defer func() { stopPump(); <-pumped }()
	owner := make([]int, len(sc.leads))
	for i := range owner {
		owner[i] = i % len(sc.owners)
	}
	next := 0
	for _, rate := range steps {
		p.Step("e2e: %.0f owner changes/s for %s…", rate, o.Duration)
		st := E2EStep{Offered: rate}
		tr.begin()
		var wg sync.WaitGroup
		var emu sync.Mutex
		start := time.Now()
		for ctx.Err() == nil {
			el := time.Since(start)
			if el >= o.Duration {
				break
			}
			for st.Sent < int(rate*el.Seconds()) {
				// The next lead without a change in flight.
				i := -1
				for k := 0; k < len(sc.leads); k++ {
					j := (next + k) % len(sc.leads)
					if !tr.busy(sc.tickets[j]) {
						i = j
						break
					}
				}
				if i < 0 {
					break // every lead has a change in flight
				}
				next = i + 1
				owner[i] = (owner[i] + 1) % len(sc.owners)
				if err := sc.s.LSQ.ChangeLeadOwner(sc.leads[i], sc.owners[owner[i]]); err != nil {
					return nil, err
				}
				ds := sc.s.LSQHooks.TakeQueued()
				if len(ds) == 0 {
					return nil, errNoDeliveries
				}
				tr.sent(sc.tickets[i], time.Now())
				st.Sent++
				for _, d := range ds {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := sc.post(ctx, d); err != nil {
							emu.Lock()
							st.Errors++
							emu.Unlock()
						}
					}()
				}
			}
			p.Status("e2e: %.0f/s offered, %d sent, %d done", rate, st.Sent, tr.count())
			time.Sleep(time.Millisecond)
		}
		wg.Wait()
		// Changes still in flight get a few seconds more.
		for deadline := time.Now().Add(10 * time.Second); tr.inFlight() > 0 && time.Now().Before(deadline) && ctx.Err() == nil; {
			time.Sleep(10 * time.Millisecond)
		}
		lat, lost := tr.end()
		st.Done, st.Lost = len(lat), lost
		st.PerSecond = perSec(st.Done, o.Duration)
		st.Latency = latencyOf(lat)
		st.Within = st.Lost == 0 && st.Errors == 0 && st.Latency.P99 <= rep.P99Bound && float64(st.Sent) >= 0.95*rate*o.Duration.Seconds()
		rep.Steps = append(rep.Steps, st)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if st.Within {
			rep.MaxRate = max(rep.MaxRate, rate)
		} else if o.FindMax {
			break
		}
		// Let the echoes of this step settle before the next.
		if err := sc.settle(ctx, true, p); err != nil {
			return nil, err
		}
		if err := sc.vacuum(ctx); err != nil {
			return nil, err
		}
	}
	if rep.Ceiling > 0 {
		rep.Ratio = rep.MaxRate / rep.Ceiling
	}
	rep.PeakRSSMB = PeakRSSMB()
	return rep, nil
}

// pump posts the LimeChat fake's queued webhooks until ctx ends.
func (sc *scene) pump(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		for _, d := range sc.s.LCHooks.TakeQueued() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = sc.post(ctx, d) // an echo lsqbridge refuses shows in the outbox, not here
			}()
		}
		time.Sleep(time.Millisecond)
	}
}

// tracker pairs each owner change with the LimeChat assignment call that
// mirrors it, by ticket (one change per ticket in flight at a time).
type tracker struct {
	mu      sync.Mutex
	pending map[int64]time.Time
	lat     []time.Duration
}

func (t *tracker) begin() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending = map[int64]time.Time{}
	t.lat = nil
}

func (t *tracker) sent(ticket int64, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending[ticket] = at
}

func (t *tracker) busy(ticket int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.pending[ticket]
	return ok
}

func (t *tracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.lat)
}

func (t *tracker) end() ([]time.Duration, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	lost := len(t.pending)
	t.pending = map[int64]time.Time{}
	return t.lat, lost
}

func (t *tracker) done(ticket int64, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if sent, ok := t.pending[ticket]; ok {
		t.lat = append(t.lat, at.Sub(sent))
		delete(t.pending, ticket)
	}
}

// wrap wraps the LimeChat fake: an assignment call it answered with
// success completes the change of its ticket.
func (t *tracker) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/assignments") {
			h.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		parts := strings.Split(strings.TrimSuffix(r.URL.Path, "/assignments"), "/")
		if id, err := strconv.ParseInt(parts[len(parts)-1], 10, 64); err == nil && sw.status < 300 {
			t.done(id, time.Now())
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Print writes the steps' table and the summary.
func (r *E2EReport) Print(o Output) error {
	if r == nil {
		return nil
	}
	t := &table{header: []string{"offered/s", "sent", "done", "done/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "not done", "p99 within bound"}}
	for _, s := range r.Steps {
		within := "yes"
		if !s.Within {
			within = "no"
		}
		t.add(fmt.Sprintf("%.0f", s.Offered), fmt.Sprint(s.Sent), fmt.Sprint(s.Done), fmt.Sprintf("%.0f", s.PerSecond),
			ms(s.Latency.P50), ms(s.Latency.P95), ms(s.Latency.P99), ms(s.Latency.Max), fmt.Sprint(s.Lost+s.Errors), within)
	}
	lines := []string{"",
		fmt.Sprintf("webhook sent → LimeChat assignment answered, over %d links, relay workers %d", r.Links, r.Workers),
		fmt.Sprintf("highest rate with p99 ≤ %.0f ms: %.0f/s; same-writes ceiling (16 clients) %.0f tx/s; ratio %.2f", r.P99Bound, r.MaxRate, r.Ceiling, r.Ratio),
		fmt.Sprintf("peak RSS %.0f MB (this process: lsqbridge, both fakes and the sender)", r.PeakRSSMB)}
	return o.emit(r, t, lines...)
}
