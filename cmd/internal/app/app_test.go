package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/migrations"
)

const testMasterKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// startServe runs the service in-process on a free port and returns its base URL.
func startServe(t *testing.T, pool *pgxpool.Pool, cfg Config) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, cfg, pool, slog.New(slog.NewJSONHandler(io.Discard, nil)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeHealthReadinessAndMetrics(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	base := startServe(t, pool, Config{MasterKey: testMasterKey, RelayWorkers: 1})

	if code, body := get(t, base+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz on a migrated database = %d %s", code, body)
	}
	code, body := get(t, base+"/metrics")
	if code != 200 || !strings.Contains(body, "# TYPE go_goroutines gauge") {
		t.Errorf("/metrics is not Prometheus text: %d %.200s", code, body)
	}

	// Roll the schema back under the running service: readiness must say why.
	r, err := migrations.NewRunner(pool)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, body = get(t, base+"/readyz")
	var got map[string]string
	_ = json.Unmarshal([]byte(body), &got)
	if code != http.StatusServiceUnavailable || !strings.Contains(got["reason"], "migrate up") {
		t.Errorf("/readyz on a schema behind = %d %s; want 503 naming `migrate up`", code, body)
	}
}
