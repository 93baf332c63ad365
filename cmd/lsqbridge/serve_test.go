package main

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

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/migrations"
)

// startServe runs the service in-process on a free port and returns its base URL.
func startServe(t *testing.T, pool *pgxpool.Pool, cfg app.Config) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, pool, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.Options{})
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
	base := startServe(t, pool, app.Config{MasterKey: testMasterKey, RelayWorkers: 1})

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

func TestServeRefusesSchemaBehind(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{
		"DATABASE_URL": dbtest.NewEmptyURL(t), "LSQBRIDGE_MASTER_KEY": testMasterKey, "LSQBRIDGE_LISTEN": "127.0.0.1:0",
	}}
	code, _, errs := c.run("serve")
	if code == 0 || !strings.Contains(errs, "lsqbridge migrate up") {
		t.Errorf("serve on an empty database: exit %d, stderr %s", code, errs)
	}
}

func TestServeNamesMissingSettings(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{}}
	code, _, errs := c.run("serve")
	if code == 0 || !strings.Contains(errs, "DATABASE_URL is not set") || !strings.Contains(errs, "LSQBRIDGE_MASTER_KEY is not set") {
		t.Errorf("serve without settings: exit %d, stderr %s", code, errs)
	}
}

func TestMigrateCommands(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{"DATABASE_URL": dbtest.NewEmptyURL(t)}}
	if out := c.mustRun("migrate", "up"); !strings.Contains(out, "applied 00001_registry.sql") {
		t.Errorf("migrate up:\n%s", out)
	}
	out := c.mustRun("migrate", "status")
	if strings.Count(out, "applied") < 2 || strings.Contains(out, "pending") {
		t.Errorf("migrate status after up:\n%s", out)
	}
	c.mustRun("migrate", "down", "--to", "0")
	if out := c.mustRun("migrate", "version"); !strings.Contains(out, "database version 0") {
		t.Errorf("version after down to 0:\n%s", out)
	}
	c.mustRun("migrate", "up")
	if code, _, errs := c.run("migrate", "sideways"); code == 0 || !strings.Contains(errs, "unknown migrate command") {
		t.Errorf("unknown subcommand: %d %s", code, errs)
	}
}
