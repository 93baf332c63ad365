package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/service"
)

const testMasterKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// setup starts a sandbox on its own database, with the relay left to settle.
func setup(t *testing.T) *Sandbox {
	t.Helper()
	pool := dbtest.New(t)
	s, err := Start(context.Background(), app.Config{MasterKey: testMasterKey, RelayWorkers: 4}, pool,
		slog.New(slog.DiscardHandler), Options{WebhookMillis: true, App: app.Options{NoRelay: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop sandbox: %v", err)
		}
	})
	return s
}

// settle delivers webhooks and outbox actions until both are quiet.
func settle(t *testing.T, s *Sandbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for range 200 {
		if err := s.LSQHooks.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.LCHooks.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		n, err := s.App.Relay.Drain(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && s.LSQHooks.Pending() == 0 && s.LCHooks.Pending() == 0 {
			return
		}
	}
	t.Fatal("the sandbox did not settle after 200 rounds")
}

// ticketOf returns the one LimeChat ticket of a record.
func ticketOf(t *testing.T, s *Sandbox, recordID string) service.Ticket {
	t.Helper()
	var found []service.Ticket
	for _, c := range s.LC.Conversations() {
		if c.CustomAttributes["lsq_record_id"] == recordID {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("record %s has %d tickets, want exactly 1", recordID, len(found))
	}
	return found[0]
}

// call sends a JSON request and decodes a 200 answer into out.
func call(t *testing.T, base, method, path string, body, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// TestStartAgainRotatesTheDemoCredentials: a sandbox started on a database
// that has the demo integration (a previous run's) gets new credentials,
// and Reset removes the integration.
func TestStartAgainRotatesTheDemoCredentials(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	start := func() *Sandbox {
		s, err := Start(context.Background(), app.Config{MasterKey: testMasterKey, RelayWorkers: 1}, pool,
			slog.New(slog.DiscardHandler), Options{App: app.Options{NoRelay: true}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	first, second := start(), start()
	for _, p := range service.Powers {
		if a, b := first.Creds.Get(p), second.Creds.Get(p); a == "" || b == "" || a == b {
			t.Errorf("%s credential: first %q, second %q; want two different ones", p, a, b)
		}
	}
	if err := Reset(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM integrations").Scan(&n); err != nil || n != 0 {
		t.Errorf("after Reset: %d integrations (%v), want none", n, err)
	}
}

// TestPrintShowsWhereEverythingRuns: the banner names lsqbridge's and the
// fakes' URLs and the Dashboard App key.
func TestPrintShowsWhereEverythingRuns(t *testing.T) {
	t.Parallel()
	s := &Sandbox{URL: "http://b", LSQURL: "http://lsq", LCURL: "http://lc", Creds: service.Credentials{App: "app-key"}}
	var b strings.Builder
	s.Print(&b)
	for _, want := range []string{"lsqbridge          http://b", "curl -XPOST http://lsq/_person/leads", "curl http://lc/_person/conversations",
		"X-Lsqbridge-App-Key: app-key"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, b.String())
		}
	}
}
