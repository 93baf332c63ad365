package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/db"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// PacedOptions shape `bench relay --paced`.
type PacedOptions struct {
	// Limit is LeadSquared's calls per 5-second window: the fake refuses
	// more, and the integration is paced to it (default 25).
	Limit int
	// Duration is how long the relay is watched (default 30 s).
	Duration time.Duration
	// Workers is the relay's deliveries in flight (default the service's).
	Workers int
}

// PacedReport is what `bench relay --paced` prints.
type PacedReport struct {
	Bench       string  `json:"bench"`
	Limit       int     `json:"calls_allowed_per_5s"`
	Actions     int     `json:"actions"`
	Windows     int     `json:"full_windows"`
	Allowed     int     `json:"calls_allowed"`
	Used        int     `json:"calls_made"`
	Share       float64 `json:"share_used"`
	PerWindow   []int   `json:"calls_per_window"`
	RateLimited int     `json:"rate_limit_answers"`
	Delivered   int64   `json:"delivered"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
}

// windowNanos is LeadSquared's (and the fake's) fixed rate window.
const windowNanos = int64(5 * time.Second)

// Paced measures the relay delivering a backlog of LeadSquared updates to
// the LeadSquared fake limited to Limit calls per fixed 5-second window,
// with the integration paced to the same number: how much of what the
// plan allows is used, and how many rate-limit answers come back.
func Paced(ctx context.Context, w *World, o PacedOptions) (*PacedReport, error) {
	if o.Limit <= 0 {
		o.Limit = 25
	}
	if o.Duration <= 0 {
		o.Duration = 30 * time.Second
	}
	p := w.progress()
	// A backlog that outlasts the run by half.
	links := int(float64(o.Limit)/5*o.Duration.Seconds()*1.5) + o.Limit
	c := &callLog{}
	opts := sandboxOptions()
	opts.RequestsPer5s = o.Limit
	opts.WrapLeadSquared = c.wrap
	cfg := w.Config
	if o.Workers > 0 {
		cfg.RelayWorkers = o.Workers
	}
	ww := *w
	ww.Config = cfg
	sc, err := ww.start(ctx, links, false, opts)
	if err != nil {
		return nil, err
	}
	defer sc.Close()

	p.Step("paced: %d LimeChat label changes, each a LeadSquared field update…", links)
	for _, t := range sc.tickets {
		if err := sc.s.LC.AddLabel(t, "wants-callback"); err != nil {
			return nil, err
		}
	}
	if err := sc.s.LCHooks.Wait(ctx); err != nil {
		return nil, err
	}
	if err := sc.vacuum(ctx); err != nil {
		return nil, err
	}
	q := db.New(w.Pool)
	open, err := q.BenchOpenActions(ctx, sandbox.IntegrationID)
	if err != nil {
		return nil, err
	}
	rep := &PacedReport{Bench: "relay paced", Limit: o.Limit, Actions: int(open)}
	before, err := delivered(ctx, q)
	if err != nil {
		return nil, err
	}

	sc.s.LSQ.SetRateLimit(o.Limit, 0)
	c.reset()
	p.Step("paced: relay delivering for %s, LeadSquared allowing %d calls per 5 s…", o.Duration, o.Limit)
	rctx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	start := time.Now()
	go func() { defer close(ran); sc.s.App.Relay.Run(rctx) }()
	end := start.Add(o.Duration)
	for time.Now().Before(end) && ctx.Err() == nil {
		n, err := q.BenchOpenActions(ctx, sandbox.IntegrationID)
		if err != nil {
			stop()
			return nil, err
		}
		if n == 0 {
			end = time.Now()
			break
		}
		used, limited := c.counts()
		p.Status("paced: %d calls made, %d rate-limit answers, %d actions open", used, limited, n)
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	<-ran
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	after, err := delivered(ctx, q)
	if err != nil {
		return nil, err
	}
	rep.Delivered = after - before
	// Full fixed windows between the start and the end (the backlog
	// emptied or the time ran out).
	first := (start.UnixNano() + windowNanos - 1) / windowNanos
	last := end.UnixNano()/windowNanos - 1
	c.mu.Lock()
	for win := first; win <= last; win++ {
		rep.PerWindow = append(rep.PerWindow, c.ok[win])
		rep.Used += c.ok[win]
	}
	rep.RateLimited = c.limited
	c.mu.Unlock()
	rep.Windows = len(rep.PerWindow)
	rep.Allowed = rep.Windows * o.Limit
	if rep.Allowed > 0 {
		rep.Share = float64(rep.Used) / float64(rep.Allowed)
	}
	rep.PeakRSSMB = PeakRSSMB()
	return rep, nil
}

// delivered counts the demo integration's delivered actions.
func delivered(ctx context.Context, q *db.Queries) (int64, error) {
	counts, err := q.BenchOutboxStatusCounts(ctx, sandbox.IntegrationID)
	if err != nil {
		return 0, err
	}
	for _, r := range counts {
		if r.Status == outbox.StatusDelivered {
			return r.N, nil
		}
	}
	return 0, nil
}

// callLog counts the LeadSquared fake's answers per fixed window.
type callLog struct {
	mu      sync.Mutex
	ok      map[int64]int // successful calls by window
	limited int
}

func (c *callLog) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ok, c.limited = map[int64]int{}, 0
}

func (c *callLog) counts() (used, limited int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.ok {
		used += n
	}
	return used, c.limited
}

func (c *callLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		at := time.Now().UnixNano() / windowNanos
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.ok == nil {
			return // setup: not counted
		}
		switch {
		case sw.status == http.StatusTooManyRequests:
			c.limited++
		case sw.status < 300:
			c.ok[at]++
		}
	})
}

// Print writes the paced run's table.
func (r *PacedReport) Print(o Output) error {
	if r == nil {
		return nil
	}
	t := &table{header: []string{"relay --paced", "value"}}
	t.add("LeadSquared allows", fmt.Sprintf("%d calls per 5 s", r.Limit))
	t.add("backlog", fmt.Sprintf("%d field updates (one call each)", r.Actions))
	t.add("full 5-s windows watched", fmt.Sprint(r.Windows))
	t.add("calls allowed in them", fmt.Sprint(r.Allowed))
	t.add("calls made in them", fmt.Sprintf("%d %v", r.Used, r.PerWindow))
	t.add("share of allowed calls used", fmt.Sprintf("%.1f%%", 100*r.Share))
	t.add("rate-limit answers", fmt.Sprint(r.RateLimited))
	t.add("field updates delivered", fmt.Sprint(r.Delivered))
	t.add("peak RSS", mb(r.PeakRSSMB))
	return o.emit(r, t)
}
