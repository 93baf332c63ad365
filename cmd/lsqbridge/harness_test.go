package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/service"
)

// syncedBuffer collects log lines from concurrent goroutines.
type syncedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// world is a sandbox under test: lsqbridge over HTTP on a fresh database,
// both fakes, and a relay the test drives (settle) so nothing waits on time.
type world struct {
	*sandbox.Sandbox
	t    testing.TB
	ctx  context.Context
	pool *pgxpool.Pool
	logs *syncedBuffer
}

// worldOptions are the sandbox's options and the test world's own.
type worldOptions struct {
	sandbox.Options
	// poolMaxConns sizes the world's database pool.
	poolMaxConns int32
}

type worldOption func(*worldOptions)

// withRelay runs the relay in the background as serve does, instead of
// leaving delivery to settle().
func withRelay(o *worldOptions) { o.App.NoRelay = false }

func newWorld(t testing.TB, opts ...worldOption) *world {
	t.Helper()
	o := worldOptions{Options: sandbox.Options{WebhookMillis: true, App: app.Options{NoRelay: true}, WrapBridge: checkOpenAPI(t)}}
	for _, f := range opts {
		f(&o)
	}
	pcfg, err := pgxpool.ParseConfig(dbtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if o.poolMaxConns > 0 {
		pcfg.MaxConns = o.poolMaxConns
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	logs := &syncedBuffer{}
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	s, err := sandbox.Start(ctx, app.Config{MasterKey: testMasterKey, RelayWorkers: 4}, pool, log, o.Options)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop sandbox: %v", err)
		}
	})
	return &world{Sandbox: s, t: t, ctx: ctx, pool: pool, logs: logs}
}

// settle delivers webhooks and outbox actions until both are quiet: every
// webhook answered, nothing due in the outbox.
func (w *world) settle() {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 60*time.Second)
	defer cancel()
	for range 200 {
		if err := w.LSQHooks.Wait(ctx); err != nil {
			w.t.Fatal(err)
		}
		if err := w.LCHooks.Wait(ctx); err != nil {
			w.t.Fatal(err)
		}
		n, err := w.App.Relay.Drain(ctx)
		if err != nil {
			w.t.Fatal(err)
		}
		if n == 0 && w.LSQHooks.Pending() == 0 && w.LCHooks.Pending() == 0 {
			return
		}
	}
	w.t.Fatal("the system did not settle after 200 rounds")
}

func (w *world) count(sql string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.pool.QueryRow(w.ctx, sql, args...).Scan(&n); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// ticketOf returns the LimeChat ticket opened for a record.
func (w *world) ticketOf(recordID string) service.Ticket {
	w.t.Helper()
	var found []service.Ticket
	for _, c := range w.LC.Conversations() {
		if c.CustomAttributes["lsq_record_id"] == recordID {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		w.t.Fatalf("record %s has %d tickets, want exactly 1", recordID, len(found))
	}
	return found[0]
}

func (w *world) agentID(email string) int64 {
	w.t.Helper()
	a, ok := w.Agents[email]
	if !ok {
		w.t.Fatalf("no agent %s", email)
	}
	var id int64
	for _, c := range a.ID {
		id = id*10 + int64(c-'0')
	}
	return id
}

func (w *world) outcomes() map[string]int {
	w.t.Helper()
	rows, err := w.pool.Query(w.ctx, "SELECT outcome, count(*) FROM inbound_events GROUP BY outcome")
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var o string
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			w.t.Fatal(err)
		}
		m[o] = n
	}
	return m
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
