package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// RelayOptions shape `bench relay`. The flags are the River anchor's
// (-n -keys -workers), so both run the same work.
type RelayOptions struct {
	// N actions over Keys links (action i on link i%Keys, in order).
	N, Keys int
	// Workers is the relay's deliveries in flight (0: the relay's default).
	Workers int
	// SinkLatency is how long the sink takes to answer each POST.
	SinkLatency time.Duration
	// NoAnalyze leaves the backlog without planner statistics (see backlog).
	NoAnalyze bool
	// Timeout bounds the drain (default 10 minutes).
	Timeout time.Duration
}

// RelayReport is what `bench relay` prints.
type RelayReport struct {
	Bench         string    `json:"bench"`
	Actions       int       `json:"actions"`
	Keys          int       `json:"keys"`
	Workers       int       `json:"workers"`
	SinkLatencyMS float64   `json:"sink_latency_ms"`
	Analyzed      bool      `json:"analyzed"`
	InsertSeconds float64   `json:"insert_seconds"`
	DrainSeconds  float64   `json:"drain_seconds"`
	PerSecond     float64   `json:"actions_per_second"`
	Bound         float64   `json:"in_flight_over_latency_per_second,omitempty"`
	Sink          sinkCheck `json:"sink"`
	Delivered     int64     `json:"delivered_rows"`
	PeakRSSMB     float64   `json:"peak_rss_mb"`
}

// benchIntegration is the scratch integration `bench relay` owns; a run
// deletes what an earlier run left.
const benchIntegration = "bench-relay"

// defaultWorkers mirrors outbox.Config's default, for the report.
const defaultWorkers = 64

// Relay measures outbox.Relay draining a backlog of opts.N actions over
// opts.Keys links, each action one HTTP POST to an in-process sink, and
// checks per-link order and exactly-once at the sink. pool must be on a
// migrated scratch database.
func Relay(ctx context.Context, w *World, opts RelayOptions) (*RelayReport, error) {
	p, pool := w.progress(), w.Pool
	if opts.N <= 0 || opts.Keys <= 0 {
		return nil, errors.New("-n and -keys must be positive")
	}
	opts.Keys = min(opts.Keys, opts.N)
	if opts.Workers <= 0 {
		opts.Workers = defaultWorkers
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Minute
	}
	rep := &RelayReport{Bench: "relay", Actions: opts.N, Keys: opts.Keys, Workers: opts.Workers,
		SinkLatencyMS: float64(opts.SinkLatency.Microseconds()) / 1000, Analyzed: !opts.NoAnalyze}

	p.Step("relay: inserting %d actions over %d links…", opts.N, opts.Keys)
	start := time.Now()
	if err := backlog(ctx, pool, opts.N, opts.Keys, !opts.NoAnalyze); err != nil {
		return nil, err
	}
	rep.InsertSeconds = time.Since(start).Seconds()

	s, err := startSink(opts.N, opts.Keys, opts.SinkLatency)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	h := &poster{url: s.URL, client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: opts.Workers}}}
	r := outbox.NewRelay(pool, h, outbox.Config{Workers: opts.Workers})

	p.Step("relay: draining with %d workers…", opts.Workers)
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	start = time.Now()
	go func() { defer close(ran); r.Run(rctx) }()
	deadline := time.After(opts.Timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for s.distinct.Load() < int64(opts.N) {
		select {
		case <-ctx.Done():
			break wait
		case <-deadline:
			break wait
		case <-tick.C:
			n := s.distinct.Load()
			p.Status("relay: %d/%d delivered, %.0f/s", n, opts.N, perSec(int(n), time.Since(start)))
		}
	}
	drain := time.Since(start)
	stop()
	<-ran // every outcome recorded
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.DrainSeconds = drain.Seconds()
	rep.PerSecond = perSec(int(s.distinct.Load()), drain)
	if opts.SinkLatency > 0 {
		rep.Bound = float64(opts.Workers) / opts.SinkLatency.Seconds()
	}
	rep.Sink = s.check()
	counts, err := db.New(pool).BenchOutboxStatusCounts(ctx, benchIntegration)
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		if c.Status == outbox.StatusDelivered {
			rep.Delivered = c.N
		}
	}
	rep.PeakRSSMB = PeakRSSMB()
	if rep.Sink.Missing > 0 {
		return rep, fmt.Errorf("%d of %d actions did not reach the sink within %s", rep.Sink.Missing, opts.N, opts.Timeout)
	}
	return rep, nil
}

// backlog replaces the bench integration with keys fresh links and n
// actions on them, inserted in batches as River's InsertMany does.
//
// With analyze the outbox is analyzed afterwards. A service's outbox has
// statistics (autovacuum keeps them); a table filled in one go has none
// until autovacuum's next pass, up to a minute later, and meanwhile the
// planner may sort every due head per claim instead of reading the first
// few off the outbox_heads index (docs/performance.md).
func backlog(ctx context.Context, pool *pgxpool.Pool, n, keys int, analyze bool) error {
	q := db.New(pool)
	if err := q.IntegrationDelete(ctx, benchIntegration); err != nil {
		return fmt.Errorf("remove the previous bench integration: %w", err)
	}
	if err := q.BenchIntegrationCreate(ctx, db.BenchIntegrationCreateParams{ID: benchIntegration}); err != nil {
		return fmt.Errorf("create the bench integration: %w", err)
	}
	links, err := q.BenchLinksCreate(ctx, db.BenchLinksCreateParams{IntegrationID: benchIntegration, Prefix: "bench", N: int32(keys)})
	if err != nil {
		return fmt.Errorf("create links: %w", err)
	}
	const batch = 5000
	for from := 0; from < n; from += batch {
		p := db.BenchEnqueueManyParams{IntegrationID: benchIntegration, Kind: "bench.post"}
		for i := from; i < min(n, from+batch); i++ {
			key, seq := i%keys, i/keys
			p.LinkIds = append(p.LinkIds, links[key])
			p.Seqs = append(p.Seqs, int32(seq))
			p.Payloads = append(p.Payloads, fmt.Appendf(nil, `{"key":%d,"seq":%d,"payload":"owner=agent@example.com"}`, key, seq))
			p.Keys = append(p.Keys, fmt.Sprintf("bench:%d:%d", key, seq))
		}
		if _, err := q.BenchEnqueueMany(ctx, p); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
	}
	if analyze {
		return q.BenchAnalyzeOutbox(ctx)
	}
	return nil
}

// poster delivers an action as one HTTP POST of its payload, as the River
// anchor's worker does.
type poster struct {
	url    string
	client *http.Client
}

func (h *poster) Handle(ctx context.Context, a outbox.Action) outbox.Outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(a.Payload))
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Dead, Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Retry, Err: err, Note: outbox.NoteMaybeSent}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return outbox.Outcome{Verdict: outbox.Retry, Err: fmt.Errorf("sink answered %d", resp.StatusCode)}
	}
	return outbox.Outcome{Verdict: outbox.Delivered}
}

// Print writes the report's table and the River-shaped summary line.
func (r *RelayReport) Print(o Output) error {
	if r == nil {
		return nil
	}
	t := &table{header: []string{"relay", "value"}}
	t.add("actions over links", fmt.Sprintf("%d over %d", r.Actions, r.Keys))
	t.add("workers (in flight at most)", fmt.Sprint(r.Workers))
	if r.SinkLatencyMS > 0 {
		t.add("sink latency", ms(r.SinkLatencyMS)+" ms")
	}
	analyzed := "then analyzed"
	if !r.Analyzed {
		analyzed = "not analyzed"
	}
	t.add("inserted", fmt.Sprintf("%.2f s (%.0f/s), %s", r.InsertSeconds, float64(r.Actions)/r.InsertSeconds, analyzed))
	t.add("drained", fmt.Sprintf("%.2f s", r.DrainSeconds))
	t.add("actions/s", fmt.Sprintf("%.0f", r.PerSecond))
	if r.Bound > 0 {
		t.add("in flight / latency", fmt.Sprintf("%.0f/s (%.0f%% of it)", r.Bound, 100*r.PerSecond/r.Bound))
	}
	t.add("most in flight at the sink", fmt.Sprint(r.Sink.MaxInFlight))
	t.add("per-link order", fmt.Sprintf("%s (%d out of order)", held(r.Sink.OutOfOrder == 0), r.Sink.OutOfOrder))
	t.add("each exactly once", fmt.Sprintf("%s (%d missing, %d twice, %d delivered rows)", held(r.Sink.Missing == 0 && r.Sink.Duplicates == 0),
		r.Sink.Missing, r.Sink.Duplicates, r.Delivered))
	t.add("peak RSS", mb(r.PeakRSSMB))
	order := "per-key order held, each once"
	if !r.Sink.OK {
		order = "ORDER OR EXACTLY-ONCE BROKEN"
	}
	line := fmt.Sprintf("lsqbridge+http: inserted %d actions in %.2fs (%.0f/s); drained in %.2fs = %.0f actions/s (workers=%d, keys=%d, %s; peak RSS %.0f MB)",
		r.Actions, r.InsertSeconds, float64(r.Actions)/r.InsertSeconds, r.DrainSeconds, r.PerSecond, r.Workers, r.Keys, order, r.PeakRSSMB)
	return o.emit(r, t, "", line)
}

func held(ok bool) string {
	if ok {
		return "held"
	}
	return "BROKEN"
}
