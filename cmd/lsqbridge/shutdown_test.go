package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/service"
)

// TestServeStopsWithinItsDefaultShutdownBoundWithABacklog: LimeChat hangs,
// so every delivery in flight hangs too, and a backlog waits behind them.
// On SIGTERM, serve stops claiming at once and exits within its default
// bound (15 s, well under Kubernetes' 30 s grace), exit status 0; the hung
// deliveries are handed back to the queue (maybe sent), none left
// delivering, and the backlog was never claimed.
func TestServeStopsWithinItsDefaultShutdownBoundWithABacklog(t *testing.T) {
	t.Parallel()
	const backlog = 60
	tmp := t.TempDir()
	bin := buildBinary(t, tmp)
	dbURL := dbtest.NewURL(t)
	lsqHooks, lcHooks := fakehooks.New(nil), fakehooks.New(nil)
	lsq := lsqfake.New(lsqfake.Options{AccessKey: "twin-access", SecretKey: "twin-secret", Hooks: lsqHooks, WebhookMillis: true})
	lsq.AddLeadField(service.FieldMeta{SchemaName: "mx_Callback_Requested", DisplayName: "Callback Requested", DataType: "Select", Options: []string{"Yes", "No"}})
	lc := limechatfake.New(limechatfake.Options{AccountID: 1, InboxID: 1, APIToken: "twin-token", Hooks: lcHooks})
	lsqSrv, lcSrv := httptest.NewServer(lsq), httptest.NewServer(lc)
	t.Cleanup(func() {
		lsqHooks.Close()
		lcHooks.Close()
		lsq.Close()
		lc.Close()
		lsqSrv.Close()
		lcSrv.Close()
	})
	owner := lsq.AddUser("asha@acme.test", "Asha", "Test")
	lc.AddAgent("Asha Test", "asha@acme.test")
	env := append(os.Environ(), "DATABASE_URL="+dbURL, "LSQBRIDGE_MASTER_KEY="+testMasterKey,
		"LSQBRIDGE_RELAY_WORKERS=8", "LSQBRIDGE_ALLOW_LOOPBACK=true", "LSQBRIDGE_RECONCILE_EVERY=0",
		"TWIN_LSQ_ACCESS_KEY=twin-access", "TWIN_LSQ_SECRET_KEY=twin-secret", "TWIN_LIMECHAT_TOKEN=twin-token")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lsqbridge %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cfg := filepath.Join(tmp, "twin.yaml")
	check(t, os.WriteFile(cfg, fmt.Appendf(nil, twinYAML, lsqSrv.URL, lsq.APIUserID(), lcSrv.URL), 0o600))
	creds := credsFrom(t, run("integration", "apply", "-f", cfg))
	run("agents", "refresh", "twin")
	srv := startProcess(t, bin, "serve", env)
	for _, ev := range []string{"lead-created"} {
		lsq.SetWebhook(ev, srv.url+"/v1/webhooks/leadsquared/twin/"+ev, map[string][]string{"X-Lsqbridge-Token": {creds.LeadSquared}})
	}

	lc.SetFaults(limechatfake.Faults{Timeout: true}) // every LimeChat call hangs
	for i := range backlog {
		_, err := lsq.CreateLead(map[string]string{"FirstName": fmt.Sprintf("Stop %d", i), "EmailAddress": fmt.Sprintf("stop%d@example.com", i), "OwnerId": owner.ID})
		check(t, err)
	}
	check(t, lsqHooks.Wait(context.Background()))
	pool, err := pgxpool.New(context.Background(), dbURL)
	check(t, err)
	t.Cleanup(pool.Close)
	count := func(sql string) int {
		t.Helper()
		var n int
		check(t, pool.QueryRow(context.Background(), sql).Scan(&n))
		return n
	}
	waitFor(t, 30*time.Second, "deliveries to hang", func() (bool, string) {
		n := count("SELECT count(*) FROM outbox WHERE status = 'delivering'")
		return n == 8, fmt.Sprintf("%d delivering", n)
	})

	began := time.Now()
	check(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	var exitErr error
	select {
	case exitErr = <-srv.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still running 30 s after SIGTERM")
	}
	took := time.Since(began)
	if exitErr != nil {
		t.Errorf("serve exited with %v after SIGTERM; want status 0", exitErr)
	}
	if took > 16*time.Second {
		t.Errorf("serve took %s to stop; its default bound is 15 s", took.Round(time.Millisecond))
	}
	if n := count("SELECT count(*) FROM outbox WHERE status = 'delivering'"); n != 0 {
		t.Errorf("%d actions left delivering after shutdown", n)
	}
	handedBack := count("SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts = 1 AND outcome = 'maybe_sent'")
	untouched := count("SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts = 0")
	if handedBack != 8 || untouched != backlog-8 {
		t.Errorf("after shutdown: %d handed back (maybe sent), %d never claimed; want 8 and %d", handedBack, untouched, backlog-8)
	}
	t.Logf("shutdown: SIGTERM with %d deliveries hanging and %d waiting: exited in %s (bound 15 s), %d handed back, %d never claimed",
		8, backlog-8, took.Round(time.Millisecond), handedBack, untouched)
}
