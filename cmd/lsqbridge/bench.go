package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
)

// cmdBench measures lsqbridge on this machine, end to end: the real HTTP
// server on real Postgres with both fakes on loopback (the sandbox). It
// resets the demo integration of the database it is given, so point it at a
// scratch database.
//
//	ingest    N lead-created webhooks from C concurrent senders: webhooks/s, latency
//	ceiling   the same number of bare Postgres transactions (the upper bound)
//	drain     the relay delivering the N create_ticket actions (platform calls)
//	e2e       owner changes at a fixed offered rate, relay running: webhook in →
//	          platform call done (outbox delivered_at − event received_at)
func cmdBench(e *env, args []string) error {
	fs := e.flagSet("bench")
	e.cfg.BindDB(fs)
	n := fs.Int("n", 2000, "webhooks to ingest")
	conc := fs.Int("concurrency", 16, "concurrent senders")
	rate := fs.Int("rate", 50, "offered load of the end-to-end phase, webhooks per second")
	dur := fs.Duration("duration", 5*time.Second, "length of the end-to-end phase")
	workers := fs.Int("relay-workers", 8, "relay workers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if e.cfg.MasterKey == "" {
		e.cfg.MasterKey = "6c73716272696467652d62656e63682d6b65792d6e6f742d7365637265742121"
	}
	if err := e.cfg.Validate(true, true); err != nil {
		return err
	}
	pcfg, err := pgxpool.ParseConfig(e.cfg.DatabaseURL)
	if err != nil {
		return err
	}
	pcfg.MaxConns = int32(*conc + *workers + 8)
	pool, err := pgxpool.NewWithConfig(e.ctx, pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := app.MigrateUp(e.ctx, pool); err != nil {
		return err
	}
	if _, err := pool.Exec(e.ctx, "DELETE FROM integrations WHERE id = 'demo'"); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	cfg := e.cfg
	cfg.RelayWorkers = *workers
	s, err := sandbox.Start(e.ctx, cfg, pool, log, sandbox.Options{WebhookMillis: true, App: app.Options{NoRelay: true}})
	if err != nil {
		return err
	}
	defer s.Close()
	b := &bench{ctx: e.ctx, s: s, pool: pool, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * *conc}}}
	owner := s.Users["asha@acme.test"].ID

	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tops\tseconds\tops/s\tp50 ms\tp95 ms\tp99 ms\t")
	p := e.progress()
	defer p.Done()
	row := func(name string, ops int, took time.Duration, lat []time.Duration) {
		p := percentiles(lat)
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%s\t%s\t%s\t\n", name, ops, took.Seconds(), float64(ops)/took.Seconds(), p[0], p[1], p[2])
	}

	p.Step("ingest: %d lead-created webhooks from %d senders…", *n, *conc)
	took, lat, err := b.parallel(*n, *conc, func(i int) error { return b.leadCreated(i, owner) })
	if err != nil {
		return err
	}
	row("ingest (webhook → committed)", *n, took, lat)

	p.Step("ceiling: %d bare Postgres transactions…", *n)
	took, lat, err = b.parallel(*n, *conc, b.bareTx)
	if err != nil {
		return err
	}
	row("postgres ceiling (same writes)", *n, took, lat)

	p.Step("drain: relay delivering %d create_ticket actions…", *n)
	start := time.Now()
	done, err := s.App.Relay.Drain(e.ctx)
	if err != nil {
		return err
	}
	row("relay drain (create tickets)", done, time.Since(start), nil)

	p.Step("e2e: owner changes at %d/s for %s, relay running…", *rate, *dur)
	rctx, stop := context.WithCancel(e.ctx)
	relayDone := make(chan struct{})
	go func() { s.App.Relay.Run(rctx); close(relayDone) }()
	since := time.Now()
	sent, err := b.offered(*rate, *dur, *n)
	if err != nil {
		stop()
		return err
	}
	if err := b.waitDrained(30 * time.Second); err != nil {
		stop()
		return err
	}
	stop()
	<-relayDone
	e2e, err := b.endToEnd(since)
	if err != nil {
		return err
	}
	row(fmt.Sprintf("end to end at %d/s (webhook → agent assigned)", *rate), sent, *dur, e2e)
	return tw.Flush()
}

type bench struct {
	ctx    context.Context
	s      *sandbox.Sandbox
	pool   *pgxpool.Pool
	client *http.Client
	seq    atomic.Int64
}

// parallel runs op n times from c goroutines and returns the wall time and
// each op's latency.
func (b *bench) parallel(n, c int, op func(i int) error) (time.Duration, []time.Duration, error) {
	var next atomic.Int64
	lat := make([]time.Duration, n)
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || b.ctx.Err() != nil {
					return
				}
				t := time.Now()
				if err := op(i); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	return time.Since(start), lat, firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (b *bench) post(event, body string) error {
	req, err := http.NewRequestWithContext(b.ctx, http.MethodPost, b.s.URL+"/v1/webhooks/leadsquared/demo/"+event, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Lsqbridge-Token", b.s.Creds.LeadSquared)
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || bytes.Contains(reply, []byte(`"Error"`)) {
		return fmt.Errorf("webhook answered %d %s", resp.StatusCode, reply)
	}
	return nil
}

func leadID(i int) string { return fmt.Sprintf("be7c0000-0000-4000-8000-%012d", i) }

func (b *bench) leadCreated(i int, owner string) error {
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000")
	return b.post("lead-created", fmt.Sprintf(`{"ProspectID":"%s","FirstName":"Bench%d","EmailAddress":"bench%d@example.com",`+
		`"Phone":"+91-98%08d","OwnerId":"%s","ProspectStage":"Prospect","CreatedOn":"%s","ModifiedOn":"%s"}`,
		leadID(i), i, i, i, owner, now, now))
}

// bareTx is the ceiling: the same rows ingest writes (event, link, outbox
// row), as plain SQL in one transaction, without HTTP or decisions.
func (b *bench) bareTx(i int) error {
	tx, err := b.pool.Begin(b.ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(b.ctx) //nolint:errcheck
	k := fmt.Sprintf("ceiling-%d-%d", time.Now().UnixNano(), i)
	var ev, link int64
	if err := tx.QueryRow(b.ctx, `INSERT INTO inbound_events (integration_id, source, event_type, dedup_key, payload, outcome)
		VALUES ('demo', 'leadsquared', 'lead_created', $1, '{"bench":true}', 'applied') RETURNING id`, k).Scan(&ev); err != nil {
		return err
	}
	if err := tx.QueryRow(b.ctx, `INSERT INTO links (integration_id, record_kind, record_id, lead_id, origin)
		VALUES ('demo', 'lead', $1, $1, 'leadsquared') RETURNING id`, k).Scan(&link); err != nil {
		return err
	}
	if _, err := tx.Exec(b.ctx, `INSERT INTO outbox (integration_id, link_id, kind, payload, idempotency_key, caused_by, status)
		VALUES ('demo', $1, 'bench.noop', '{}', $2, $3, 'superseded')`, link, k, ev); err != nil {
		return err
	}
	return tx.Commit(b.ctx)
}

// offered sends owner changes for the first leads at a fixed rate.
func (b *bench) offered(rate int, d time.Duration, leads int) (int, error) {
	people := []string{b.s.Users["ravi@acme.test"].ID, b.s.Users["meera@acme.test"].ID, b.s.Users["asha@acme.test"].ID}
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer tick.Stop()
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	var errOnce error
	var mu sync.Mutex
	sent := 0
	for time.Now().Before(end) {
		<-tick.C
		i := sent % leads
		before, after := people[(sent/leads)%3], people[(sent/leads+1)%3]
		sent++
		wg.Add(1)
		go func(i int, before, after string, n int) {
			defer wg.Done()
			now := time.Now().UTC().Format("2006-01-02 15:04:05.000")
			body := fmt.Sprintf(`{"Before":{"ProspectID":"%[1]s","OwnerId":"%[2]s","ModifiedOn":"%[4]s"},"After":{"ProspectID":"%[1]s","OwnerId":"%[3]s","ModifiedOn":"%[4]s","FirstName":"Bench%[5]d"}}`,
				leadID(i), before, after, now, n)
			if err := b.post("lead-owner-changed", body); err != nil {
				mu.Lock()
				errOnce = cmpErr(errOnce, err)
				mu.Unlock()
			}
		}(i, before, after, sent)
	}
	wg.Wait()
	return sent, errOnce
}

func (b *bench) waitDrained(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var open int
		if err := b.pool.QueryRow(b.ctx, "SELECT count(*) FROM outbox WHERE status IN ('pending','delivering')").Scan(&open); err != nil {
			return err
		}
		if open == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("the outbox did not drain within the limit")
}

// endToEnd reads each assign action's delay from its webhook's receipt.
func (b *bench) endToEnd(since time.Time) ([]time.Duration, error) {
	rows, err := b.pool.Query(b.ctx, `SELECT extract(epoch FROM o.delivered_at - e.received_at)
		FROM outbox o JOIN inbound_events e ON e.integration_id = o.integration_id AND e.id = o.caused_by
		WHERE o.kind = 'limechat.assign' AND o.status = 'delivered' AND e.received_at >= $1`, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var s float64
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, time.Duration(s*float64(time.Second)))
	}
	return out, rows.Err()
}

// percentiles returns p50, p95, p99 in milliseconds ("-" when empty).
func percentiles(lat []time.Duration) [3]string {
	out := [3]string{"-", "-", "-"}
	var xs []time.Duration
	for _, l := range lat {
		if l > 0 {
			xs = append(xs, l)
		}
	}
	if len(xs) == 0 {
		return out
	}
	slices.Sort(xs)
	for i, q := range []float64{0.50, 0.95, 0.99} {
		d := xs[min(len(xs)-1, int(q*float64(len(xs))))]
		out[i] = fmt.Sprintf("%.1f", float64(d.Microseconds())/1000)
	}
	return out
}
