package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/db"
)

// IngestOptions shape `bench ingest`.
type IngestOptions struct {
	// Links are the leads with tickets the webhooks are about (default 1000).
	Links int
	// Webhooks is how many webhooks each concurrency level sends (default 2000).
	Webhooks int
	// Levels are the concurrent senders, one level after another (default 1,4,16,32).
	Levels []int
}

// IngestReport is what `bench ingest` prints.
type IngestReport struct {
	Bench     string         `json:"bench"`
	Links     int            `json:"links"`
	Mix       map[string]int `json:"mix"`
	Levels    []IngestLevel  `json:"levels"`
	PeakRSSMB float64        `json:"peak_rss_mb"`
}

// IngestLevel is one concurrency level: webhooks through the service, and
// the same writes as bare transactions (the ceiling).
type IngestLevel struct {
	Senders    int     `json:"senders"`
	Webhooks   int     `json:"webhooks"`
	PerSecond  float64 `json:"webhooks_per_second"`
	Latency    Latency `json:"latency"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Ceiling    float64 `json:"ceiling_per_second"`
	CeilingLat Latency `json:"ceiling_latency"`
	Ratio      float64 `json:"ratio"`
}

// Ingest measures webhooks of both platforms, made by people acting in the
// fakes (LeadSquared owner and field changes and new leads, LimeChat
// assignments and label changes), sent by concurrent senders as the
// platforms would, next to the same writes as bare transactions at the
// same concurrency.
func Ingest(ctx context.Context, w *World, o IngestOptions) (*IngestReport, error) {
	if o.Links <= 0 {
		o.Links = 1000
	}
	if o.Webhooks <= 0 {
		o.Webhooks = 2000
	}
	if len(o.Levels) == 0 {
		o.Levels = []int{1, 4, 16, 32}
	}
	p := w.progress()
	sc, err := w.start(ctx, o.Links, false, sandboxOptions())
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	sc.s.LSQHooks.SetManual(true)
	sc.s.LCHooks.SetManual(true)
	ceil, err := newCeiling(ctx, w.Pool, o.Links)
	if err != nil {
		return nil, err
	}
	defer ceil.close(ctx)

	rep := &IngestReport{Bench: "ingest", Links: o.Links, Mix: map[string]int{}}
	rng := rand.New(rand.NewPCG(10, 10))
	for _, c := range o.Levels {
		if err := sc.vacuum(ctx); err != nil {
			return nil, err
		}
		ds, mix := sc.mix(rng, o.Webhooks)
		for k, v := range mix {
			rep.Mix[k] += v
		}
		p.Step("ingest: %d webhooks from %d senders…", len(ds), c)
		lv := IngestLevel{Senders: c, Webhooks: len(ds)}
		var errs atomic.Int64
		var first sync.Once
		took, lat := parallel(ctx, len(ds), c, p, "ingest", func(i int) {
			if err := sc.post(ctx, ds[i]); err != nil {
				errs.Add(1)
				first.Do(func() { lv.FirstError = err.Error() })
			}
		})
		lv.Errors = int(errs.Load())
		lv.PerSecond, lv.Latency = perSec(len(ds), took), latencyOf(lat)

		p.Step("ceiling: %d bare transactions from %d clients…", len(ds), c)
		var cerr error
		var cmu sync.Mutex
		took, lat = parallel(ctx, len(ds), c, p, "ceiling", func(i int) {
			if err := ceil.tx(ctx, i, ds[i].Body); err != nil {
				cmu.Lock()
				cerr = firstErr(cerr, err)
				cmu.Unlock()
			}
		})
		if cerr != nil {
			return nil, fmt.Errorf("ceiling: %w", cerr)
		}
		lv.Ceiling, lv.CeilingLat = perSec(len(ds), took), latencyOf(lat)
		if lv.Ceiling > 0 {
			lv.Ratio = lv.PerSecond / lv.Ceiling
		}
		rep.Levels = append(rep.Levels, lv)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	rep.PeakRSSMB = PeakRSSMB()
	return rep, nil
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// parallel runs op(0…n-1) from c goroutines, showing progress, and returns
// the wall time and each op's latency.
func parallel(ctx context.Context, n, c int, p Progress, what string, op func(i int)) (time.Duration, []time.Duration) {
	var next, done atomic.Int64
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	start := time.Now()
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d := done.Load()
				p.Status("%s: %d/%d, %.0f/s", what, d, n, perSec(int(d), time.Since(start)))
			}
		}
	}()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				op(i)
				lat[i] = time.Since(t)
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	return time.Since(start), lat
}

// mix makes people act in the fakes until n webhooks are queued, and
// returns them with a count per kind. Roughly: a third LeadSquared owner
// changes, a fifth field changes, a tenth new leads; a fifth LimeChat
// assignments, a fifth label changes.
func (sc *scene) mix(rng *rand.Rand, n int) ([]fakehooks.Delivery, map[string]int) {
	var out []fakehooks.Delivery
	mix := map[string]int{}
	for len(out) < n {
		i := rng.IntN(len(sc.leads))
		lead, ticket := sc.leads[i], sc.tickets[i]
		var err error
		switch r := rng.IntN(100); {
		case r < 30:
			err = sc.s.LSQ.ChangeLeadOwner(lead, sc.owners[rng.IntN(len(sc.owners))])
		case r < 50:
			fields := map[string]string{"mx_City": []string{"Pune", "Goa", "Kochi", "Delhi"}[rng.IntN(4)]}
			if rng.IntN(2) == 0 {
				fields = map[string]string{"mx_Interest": []string{"Villa", "Apartment", "Resort"}[rng.IntN(3)]}
			}
			err = sc.s.LSQ.SetLeadFields(lead, fields)
		case r < 60:
			k := len(sc.leads) + int(sc.created.Add(1))
			_, err = sc.s.LSQ.CreateLead(leadFields(k, sc.owners[k%len(sc.owners)]))
		case r < 80:
			err = sc.s.LC.AssignAgent(ticket, sc.agents[rng.IntN(len(sc.agents))])
		default:
			label := []string{"vip", "follow-up", "quote-sent", "wants-callback"}[rng.IntN(4)]
			if rng.IntN(3) == 0 {
				err = sc.s.LC.RemoveLabel(ticket, label)
			} else {
				err = sc.s.LC.AddLabel(ticket, label)
			}
		}
		if err != nil {
			continue // e.g. the same value again: no change, no webhook
		}
		for _, d := range append(sc.s.LSQHooks.TakeQueued(), sc.s.LCHooks.TakeQueued()...) {
			out = append(out, d)
			mix[deliveryKind(d)]++
		}
	}
	return out[:n], mix
}

// deliveryKind names a webhook: LeadSquared's by its route, LimeChat's by
// its event.
func deliveryKind(d fakehooks.Delivery) string {
	u, err := url.Parse(d.URL)
	if err != nil {
		return "?"
	}
	if strings.Contains(u.Path, "/leadsquared/") {
		return "leadsquared " + path.Base(u.Path)
	}
	var b struct {
		Event string `json:"event"`
	}
	_ = json.Unmarshal(d.Body, &b)
	return "limechat " + b.Event
}

// ceiling runs what applying a webhook writes, as bare transactions of the
// same three statements (record the delivery and lock its lead; lock the
// link and read its open action kinds; write the link's state, the
// outcome and one action), on links of a disabled bench integration (so
// no relay claims its actions). It is the upper bound of ingest here.
type ceiling struct {
	pool  *pgxpool.Pool
	links int
	seq   atomic.Int64
	run   string
}

const ceilingIntegration = "bench-ceiling"

// ceilingLockNamespace seeds the ceiling's lead locks: a lock per lead like
// the service's, in a namespace of the bench's own.
const ceilingLockNamespace = 4210

func newCeiling(ctx context.Context, pool *pgxpool.Pool, links int) (*ceiling, error) {
	q := db.New(pool)
	if err := q.IntegrationDelete(ctx, ceilingIntegration); err != nil {
		return nil, err
	}
	if err := q.BenchIntegrationCreate(ctx, db.BenchIntegrationCreateParams{ID: ceilingIntegration, Disabled: true}); err != nil {
		return nil, err
	}
	if _, err := q.BenchLinksCreate(ctx, db.BenchLinksCreateParams{IntegrationID: ceilingIntegration, Prefix: "ceiling", N: int32(links)}); err != nil {
		return nil, err
	}
	return &ceiling{pool: pool, links: links, run: time.Now().UTC().Format("150405.000")}, nil
}

func (c *ceiling) close(ctx context.Context) {
	_ = db.New(c.pool).IntegrationDelete(context.WithoutCancel(ctx), ceilingIntegration)
}

func (c *ceiling) tx(ctx context.Context, i int, body []byte) error {
	n := c.seq.Add(1)
	record := fmt.Sprintf("ceiling-%d", 1+i%c.links)
	lockKey := ceilingIntegration + ":" + record
	return pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		now := time.Now()
		ev, err := q.InboundInsertLocking(ctx, db.InboundInsertLockingParams{IntegrationID: ceilingIntegration,
			Source: "leadsquared", EventType: "lead_updated", DedupKey: fmt.Sprintf("ceiling-%s-%d", c.run, n),
			OccurredAt: &now, Payload: body, Raw: body, Outcome: "received", LeadKey: &lockKey, LockNamespace: ceilingLockNamespace})
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		l, err := q.LinkLockByRecordOpen(ctx, db.LinkLockByRecordOpenParams{IntegrationID: ceilingIntegration, RecordKind: "lead", RecordID: record})
		if err != nil {
			return fmt.Errorf("lock link: %w", err)
		}
		fields, _ := json.Marshal(map[string]string{"mx_City": "Pune", "ProspectStage": "Prospect", "n": fmt.Sprint(n)})
		_, err = q.ApplyFinish(ctx, db.ApplyFinishParams{IntegrationID: ceilingIntegration, EventID: &ev.ID, RecordEvent: true,
			Outcome: "applied", EventType: "lead_updated", SaveLink: true, LinkID: l.Link.ID, EventLinkID: &l.Link.ID,
			OwnerEmail: "asha@acme.test", OwnerChangedAt: &now, Labels: []string{"leadsquared"}, Fields: fields,
			Written: []byte(`{}`), Seen: []byte(`{}`), LsqSeenAt: &now, State: l.Link.State,
			Kinds: []string{"limechat.assign"}, Payloads: [][]byte{[]byte(`{"agent_email":"asha@acme.test"}`)},
			IdempotencyKeys: []string{fmt.Sprintf("ceiling-%s-%d", c.run, n)}, Unordereds: []bool{false}})
		if err != nil {
			return fmt.Errorf("finish: %w", err)
		}
		return nil
	})
}

// Print writes the levels' table.
func (r *IngestReport) Print(o Output) error {
	if r == nil {
		return nil
	}
	t := &table{header: []string{"senders", "webhooks", "webhooks/s", "p50 ms", "p95 ms", "p99 ms", "errors",
		"ceiling tx/s", "ceiling p99 ms", "share of ceiling"}}
	for _, l := range r.Levels {
		t.add(fmt.Sprint(l.Senders), fmt.Sprint(l.Webhooks), fmt.Sprintf("%.0f", l.PerSecond), ms(l.Latency.P50), ms(l.Latency.P95),
			ms(l.Latency.P99), fmt.Sprint(l.Errors), fmt.Sprintf("%.0f", l.Ceiling), ms(l.CeilingLat.P99), fmt.Sprintf("%.2f", l.Ratio))
	}
	kinds := make([]string, 0, len(r.Mix))
	for k := range r.Mix {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var mix []string
	for _, k := range kinds {
		mix = append(mix, fmt.Sprintf("%s %d", k, r.Mix[k]))
	}
	lines := []string{"", fmt.Sprintf("webhooks about %d links (leads with tickets): %s", r.Links, strings.Join(mix, ", ")),
		fmt.Sprintf("peak RSS %.0f MB (this process: lsqbridge, both fakes and the senders)", r.PeakRSSMB)}
	for _, l := range r.Levels {
		if l.Errors > 0 {
			lines = append(lines, fmt.Sprintf("%d senders: %d webhooks failed, first: %s", l.Senders, l.Errors, l.FirstError))
		}
	}
	return o.emit(r, t, lines...)
}
