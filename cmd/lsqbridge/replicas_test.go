package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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

// buildBinary compiles cmd/lsqbridge into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go tool to build the binary: %v", err)
	}
	bin := filepath.Join(dir, "lsqbridge")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is one `lsqbridge serve` running as its own OS process.
type process struct {
	name string
	cmd  *exec.Cmd
	url  string
	logs *syncedBuffer
	done chan error
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func startProcess(t *testing.T, bin, name string, env []string) *process {
	t.Helper()
	return startProcessAt(t, bin, name, env, freeAddr(t))
}

// startProcessAt starts `lsqbridge serve` listening on addr and waits until it is ready.
func startProcessAt(t *testing.T, bin, name string, env []string, addr string) *process {
	t.Helper()
	p := &process{name: name, url: "http://" + addr, logs: &syncedBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "serve", "--listen", addr)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, p.logs.String())
		}
	})
	waitFor(t, 30*time.Second, name+" ready", func() (bool, string) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s exited while starting: %v\n%s", name, err, p.logs.String())
		default:
		}
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return p
}

// stop sends SIGTERM and returns the exit error (nil for exit status 0).
func (p *process) stop(t *testing.T) error {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30s of SIGTERM", p.name)
		return nil
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last: %s)", d, what, state)
		}
		<-tick.C
	}
}

const twinYAML = `id: twin
name: Two replicas
leadsquared:
  host: %s
  access_key: ${TWIN_LSQ_ACCESS_KEY}
  secret_key: ${TWIN_LSQ_SECRET_KEY}
  requests_per_5s: 100
  integration_user_id: "%s"
limechat:
  base_url: %s
  account_id: 1
  inbox_id: 1
  api_token: ${TWIN_LIMECHAT_TOKEN}
sync:
  leads: true
  initial_labels: [leadsquared]
field_tags:
  - record: lead
    field: mx_Interest
    value: Villa
    tag: interest-villa
tag_fields:
  - tag: wants-callback
    record: lead
    set:
      mx_Callback_Requested: "Yes"
fuse:
  max_actions_per_minute: 200
`

// TestTwoServeProcessesDeliverEveryActionOnce runs two `lsqbridge serve`
// processes on one database against both fakes, splits the webhooks between
// them, and shows every action is claimed and delivered exactly once: one
// ticket per lead, one platform call per action, no attempt repeated.
func TestTwoServeProcessesDeliverEveryActionOnce(t *testing.T) {
	t.Parallel()
	const leads = 30
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
	people := []string{"asha@acme.test", "ravi@acme.test", "meera@acme.test"}
	users := map[string]service.User{}
	for _, email := range people {
		first := strings.TrimSuffix(email, "@acme.test")
		users[email] = lsq.AddUser(email, first, "Test")
		lc.AddAgent(first+" Test", email)
	}

	env := append(os.Environ(), "DATABASE_URL="+dbURL, "LSQBRIDGE_MASTER_KEY="+testMasterKey,
		"LSQBRIDGE_RELAY_WORKERS=2", "LSQBRIDGE_LOG_LEVEL=debug", "LSQBRIDGE_ALLOW_LOOPBACK=true",
		"TWIN_LSQ_ACCESS_KEY=twin-access", "TWIN_LSQ_SECRET_KEY=twin-secret", "TWIN_LIMECHAT_TOKEN=twin-token")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("lsqbridge %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String()
	}
	cfg := filepath.Join(tmp, "twin.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, twinYAML, lsqSrv.URL, lsq.APIUserID(), lcSrv.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := credsFrom(t, run("integration", "apply", "-f", cfg))
	if out := run("agents", "refresh", "twin"); !strings.Contains(out, "3 people matched") {
		t.Fatalf("agents refresh:\n%s", out)
	}

	a := startProcess(t, bin, "serve A", env)
	b := startProcess(t, bin, "serve B", env)
	// New leads and field updates go to A, owner changes and LimeChat to B.
	hdr := http.Header{"X-Lsqbridge-Token": {creds.LeadSquared}}
	for ev, p := range map[string]*process{"lead-created": a, "lead-updated": a, "lead-stage-changed": a, "lead-owner-changed": b} {
		lsq.SetWebhook(ev, p.url+"/v1/webhooks/leadsquared/twin/"+ev, hdr)
	}
	lc.SetWebhook(b.url+"/v1/webhooks/limechat/twin?token="+creds.LimeChat, nil, nil)

	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	count := func(sql string) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	// settled: both fakes idle, every link has its ticket, nothing open in
	// the outbox, and no new inbound event since the last look.
	lastEvents := -1
	settled := func(wantLinks int) func() (bool, string) {
		return func() (bool, string) {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if lsqHooks.Wait(wctx) != nil || lcHooks.Wait(wctx) != nil {
				return false, "webhooks in flight"
			}
			links := count("SELECT count(*) FROM links WHERE ticket_id IS NOT NULL")
			open := count("SELECT count(*) FROM outbox WHERE status IN ('pending', 'delivering')")
			events := count("SELECT count(*) FROM inbound_events")
			quiet := events == lastEvents
			lastEvents = events
			return links == wantLinks && open == 0 && quiet,
				fmt.Sprintf("%d/%d links with a ticket, %d open actions, %d events", links, wantLinks, open, events)
		}
	}

	ids := make([]string, leads)
	for i := range leads {
		rec, err := lsq.CreateLead(map[string]string{
			"FirstName": fmt.Sprintf("Lead%02d", i), "EmailAddress": fmt.Sprintf("lead%02d@example.com", i),
			"Phone": fmt.Sprintf("+91-90000%05d", i), "OwnerId": users[people[i%3]].ID,
		})
		check(t, err)
		ids[i] = rec.ID
	}
	waitFor(t, 60*time.Second, "every lead to get its ticket", settled(leads))

	tickets := map[string]int64{}
	for _, c := range lc.Conversations() {
		if id, ok := c.CustomAttributes["lsq_record_id"].(string); ok {
			if _, dup := tickets[id]; dup {
				t.Errorf("lead %s has more than one ticket", id)
			}
			tickets[id] = c.ID
		}
	}
	for i, id := range ids {
		check(t, lsq.ChangeLeadOwner(id, users[people[(i+1)%3]].ID))
		switch i % 3 {
		case 0:
			check(t, lc.AddLabel(tickets[id], "wants-callback"))
		case 1:
			check(t, lsq.SetLeadFields(id, map[string]string{"mx_Interest": "Villa"}))
		}
	}
	waitFor(t, 60*time.Second, "owner changes and labels to sync", settled(leads))

	// One ticket per lead, made by one POST each.
	if got := len(lc.Conversations()); got != leads {
		t.Errorf("%d conversations in LimeChat, want %d", got, leads)
	}
	for i, id := range ids {
		if _, ok := tickets[id]; !ok {
			t.Errorf("lead %d (%s) has no ticket", i, id)
		}
	}
	calls := map[string]int{}
	for _, c := range lc.Calls() {
		path := c.Path
		if strings.HasSuffix(path, "/assignments") {
			path = "assignments"
		}
		calls[c.Method+" "+path]++
	}
	if n := calls["POST /api/v1/accounts/1/conversations"]; n != leads {
		t.Errorf("%d POST /conversations, want %d (one per lead)", n, leads)
	}
	// Every action claimed once (a second claim would count a second
	// attempt), delivered, and its platform call made once.
	if n := count("SELECT count(*) FROM outbox WHERE attempts <> 1 AND status = 'delivered'"); n != 0 {
		t.Errorf("%d delivered actions took more than one attempt", n)
	}
	if n := count("SELECT count(*) FROM outbox WHERE status NOT IN ('delivered', 'superseded')"); n != 0 {
		t.Errorf("%d actions neither delivered nor superseded", n)
	}
	for kind, want := range map[string]int{service.ActCreateTicket: leads, service.ActAssign: leads, service.ActSetFields: leads / 3, service.ActAddLabels: leads / 3} {
		if n := count(fmt.Sprintf("SELECT count(*) FROM outbox WHERE kind = '%s' AND status = 'delivered'", kind)); n != want {
			t.Errorf("%d %s actions delivered, want %d", n, kind, want)
		}
	}
	if n, want := calls["POST assignments"], count("SELECT count(*) FROM outbox WHERE kind = 'limechat.assign' AND status = 'delivered'"); n != want {
		t.Errorf("%d assignment calls for %d delivered assign actions", n, want)
	}
	if n := lsq.CallCount("Lead.Update"); n != leads/3 {
		t.Errorf("%d LeadSquared Lead.Update calls, want %d (one per wants-callback tag)", n, leads/3)
	}
	agentOf := map[string]int64{}
	for _, ag := range lc.Agents() {
		var id int64
		fmt.Sscan(ag.ID, &id)
		agentOf[ag.Email] = id
	}
	for i, id := range ids {
		want := people[(i+1)%3]
		if c, ok := lc.Conversation(tickets[id]); !ok || c.AssigneeID != agentOf[want] {
			t.Errorf("lead %d's ticket is assigned to agent %d, want %s's (%d)", i, c.AssigneeID, want, agentOf[want])
		}
	}

	// Both processes delivered, and each delivery was made by one of them.
	delivered := count("SELECT count(*) FROM outbox WHERE status = 'delivered'")
	by := map[float64]string{}
	perProcess := map[string]int{}
	for _, p := range []*process{a, b} {
		for _, line := range strings.Split(p.logs.String(), "\n") {
			var rec struct {
				Msg    string  `json:"msg"`
				Status string  `json:"status"`
				Action float64 `json:"action"`
			}
			if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "action finished" || rec.Status != "delivered" {
				continue
			}
			if other, dup := by[rec.Action]; dup {
				t.Errorf("action %v delivered by %s and by %s", rec.Action, other, p.name)
			}
			by[rec.Action] = p.name
			perProcess[p.name]++
		}
	}
	if perProcess[a.name] == 0 || perProcess[b.name] == 0 || len(by) != delivered {
		t.Errorf("deliveries per process %v; want both working and %d in total", perProcess, delivered)
	}
	t.Logf("%d leads: %d inbound events (%d bytes a row on average), %d actions delivered: %v", leads,
		count("SELECT count(*) FROM inbound_events"), count("SELECT coalesce(avg(pg_column_size(e.*)), 0)::int FROM inbound_events e"),
		delivered, perProcess)

	for _, p := range []*process{a, b} {
		if err := p.stop(t); err != nil {
			t.Errorf("%s after SIGTERM: %v; want exit status 0", p.name, err)
		}
		if !strings.Contains(p.logs.String(), `"msg":"shutting down"`) {
			t.Errorf("%s did not log its shutdown", p.name)
		}
	}
}
