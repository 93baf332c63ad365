package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
)

// The numbers in docs/scaling.md come from these benchmarks:
//
//	go test ./cmd/lsqbridge -run '^$' -bench 'Apply|RelayDrain' -benchtime 2000x
//
// Both run the real HTTP server on real Postgres (one fresh database), with
// the fakes on loopback; the relay is driven by the benchmark.

// benchSandbox starts the sandbox for a benchmark, relay off.
func benchSandbox(b *testing.B) *sandbox.Sandbox {
	b.Helper()
	pool := dbtest.New(b)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	s, err := sandbox.Start(context.Background(), app.Config{MasterKey: testMasterKey, RelayWorkers: 8}, pool, log,
		sandbox.Options{WebhookMillis: true, App: app.Options{NoRelay: true}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

var benchSeq atomic.Int64

// leadCreated posts one lead-created webhook for a new lead, as LeadSquared
// sends it, and fails unless it was accepted.
func leadCreated(b *testing.B, client *http.Client, s *sandbox.Sandbox, owner string) {
	n := benchSeq.Add(1)
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000")
	body := fmt.Sprintf(`{"ProspectID":"be7c0000-0000-4000-8000-%012d","FirstName":"Bench%d","EmailAddress":"bench%d@example.com",`+
		`"Phone":"+91-98%08d","OwnerId":"%s","ProspectStage":"Prospect","CreatedOn":"%s","ModifiedOn":"%s"}`, n, n, n, n, owner, now, now)
	req, err := http.NewRequest(http.MethodPost, s.URL+"/v1/webhooks/leadsquared/demo/lead-created", bytes.NewBufferString(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Lsqbridge-Token", s.Creds.LeadSquared)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || bytes.Contains(reply, []byte(`"Error"`)) {
		b.Fatalf("webhook answered %d %s", resp.StatusCode, reply)
	}
}

// BenchmarkApply measures webhook ingest: one lead-created webhook per op
// over HTTP, authenticated, parsed, applied (dedup row, link, outbox row)
// and committed, from 8 concurrent senders. It reports webhooks per second
// and latency percentiles.
func BenchmarkApply(b *testing.B) {
	s := benchSandbox(b)
	owner := s.Users["asha@acme.test"].ID
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(4) // 4 × GOMAXPROCS senders
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			leadCreated(b, client, s, owner)
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "webhooks/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkRelayDrain measures delivery: b.N create_ticket actions (each
// a contact search, contact create, conversation create and labels call on
// the LimeChat fake) drained by one relay with 8 workers.
func BenchmarkRelayDrain(b *testing.B) {
	s := benchSandbox(b)
	owner := s.Users["asha@acme.test"].ID
	client := &http.Client{}
	for range b.N {
		leadCreated(b, client, s, owner)
	}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	n, err := s.App.Relay.Drain(ctx)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if n != b.N {
		b.Fatalf("drained %d actions, want %d", n, b.N)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "actions/s")
}

// BenchmarkPostgresCeiling runs the statements one lead-created webhook
// makes (inbound row, link lookup and insert, outbox row, outcome) as raw
// SQL from the same number of concurrent clients as BenchmarkApply: the
// ceiling Apply is compared with in docs/scaling.md.
func BenchmarkPostgresCeiling(b *testing.B) {
	pool := dbtest.New(b)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO integrations (id, name, lsq_host, lsq_access_key_sealed, lsq_secret_key_sealed,
		limechat_base_url, limechat_account_id, limechat_inbox_id, limechat_api_token_sealed, webhook_token_hash)
		VALUES ('ceiling', 'c', 'h', '\x00', '\x00', 'u', 1, 1, '\x00', '\x00')`); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	var ops atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := benchSeq.Add(1)
			rec := fmt.Sprintf("c%012d", n)
			tx, err := pool.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			var ev, link int64
			err = tx.QueryRow(ctx, `INSERT INTO inbound_events (integration_id, source, event_type, dedup_key, payload)
				VALUES ('ceiling', 'leadsquared', 'lead_created', $1, jsonb_build_object('ProspectID', $1::text))
				ON CONFLICT DO NOTHING RETURNING id`, rec).Scan(&ev)
			if err == nil {
				_, err = tx.Exec(ctx, `SELECT id FROM links WHERE integration_id = 'ceiling' AND record_kind = 'lead' AND record_id = $1 FOR UPDATE`, rec)
			}
			if err == nil {
				err = tx.QueryRow(ctx, `INSERT INTO links (integration_id, record_kind, record_id, lead_id, owner_email, origin)
					VALUES ('ceiling', 'lead', $1, $1, 'asha@acme.test', 'leadsquared') RETURNING id`, rec).Scan(&link)
			}
			if err == nil {
				_, err = tx.Exec(ctx, `INSERT INTO outbox (integration_id, link_id, kind, payload, idempotency_key, caused_by)
					VALUES ('ceiling', $1, 'limechat.create_ticket', '{}', $2, $3)`, link, rec, ev)
			}
			if err == nil {
				_, err = tx.Exec(ctx, `UPDATE inbound_events SET outcome = 'applied', link_id = $1 WHERE integration_id = 'ceiling' AND id = $2`, link, ev)
			}
			if err == nil {
				err = tx.Commit(ctx)
			}
			if err != nil {
				_ = tx.Rollback(ctx)
				b.Fatal(err)
			}
			ops.Add(1)
		}
	})
	b.ReportMetric(float64(ops.Load())/time.Since(start).Seconds(), "tx/s")
}
