package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/service"
)

// killYAML is an integration whose every flow makes an effect that must
// happen once: tickets and contacts, tag → field, tag → activity, stage →
// Flow-builder message.
const killYAML = `id: crash
name: Crash test
leadsquared:
  host: %[1]s
  access_key: ${LSQ_ACCESS}
  secret_key: ${LSQ_SECRET}
  requests_per_5s: 100
limechat:
  base_url: %[2]s
  account_id: 1
  inbox_id: 1
  api_token: ${LC_TOKEN}
flow_builder:
  url: %[2]s
  account_id: %[3]s
  key: ${FB_KEY}
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
    set: {mx_Callback_Requested: "Yes"}
tag_activities:
  - tag: quote-sent
    record: lead
    activity_event: 201
    note: Quote sent from LimeChat
campaigns:
  - record: lead
    field: ProspectStage
    to: Qualified
    event: lead_qualified
    data: {first_name: FirstName}
fuse:
  max_actions_per_minute: 500
`

// personClient acts as people on the fakes running as processes.
type personClient struct {
	t          testing.TB
	lsq, lc    string
	httpClient *http.Client
}

func (p *personClient) do(method, url string, body any, out any) error {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (p *personClient) get(url string, out any) {
	p.t.Helper()
	if err := p.do(http.MethodGet, url, nil, out); err != nil {
		p.t.Fatal(err)
	}
}

// TestServeKilledAtRandomLosesAndDuplicatesNothing runs `lsqbridge serve` as
// a child process under steady load from both fakes (each its own process,
// sending webhooks as the platforms do), SIGKILLs it at random moments and
// restarts it. Afterwards: every webhook it answered 2xx is stored, every
// effect exists once on the fakes (tickets, contacts, activities,
// Flow-builder events), and nothing is left delivering.
func TestServeKilledAtRandomLosesAndDuplicatesNothing(t *testing.T) {
	t.Parallel()
	const kills = 10
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	lsqURL, lcURL := startFake(t, bin, "leadsquared"), startFake(t, bin, "limechat")
	file := filepath.Join(dir, "crash.yaml")
	check(t, os.WriteFile(file, fmt.Appendf(nil, killYAML, lsqURL, lcURL, sandbox.FlowBuilderAccount), 0o600))
	dbURL := dbtest.NewURL(t)
	env := append(os.Environ(), "DATABASE_URL="+dbURL, "LSQBRIDGE_MASTER_KEY="+testMasterKey,
		"LSQ_ACCESS="+sandbox.LeadSquaredAccessKey, "LSQ_SECRET="+sandbox.LeadSquaredSecretKey, "LC_TOKEN="+sandbox.LimeChatToken, "FB_KEY="+sandbox.FlowBuilderKey,
		"LSQBRIDGE_RECONCILE_EVERY=0", "LSQBRIDGE_ALLOW_LOOPBACK=true", "LSQBRIDGE_RELAY_LEASE=2s", "LSQBRIDGE_LOG_LEVEL=warn")
	runBin := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lsqbridge %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	creds := credsFrom(t, runBin("integration", "apply", "-f", file))
	runBin("agents", "refresh", "crash")
	addr := freeAddr(t)
	srv := startProcessAt(t, bin, "serve", env, addr)
	person := &personClient{t: t, lsq: lsqURL, lc: lcURL, httpClient: &http.Client{Timeout: 10 * time.Second}}
	postJSON(t, lsqURL+"/_person/webhooks", map[string]any{
		"url_base": "http://" + addr + "/v1/webhooks/leadsquared/crash", "header": map[string]string{"X-Lsqbridge-Token": creds.LeadSquared}})
	postJSON(t, lcURL+"/_person/webhooks", map[string]any{"url": "http://" + addr + "/v1/webhooks/limechat/crash?token=" + creds.LimeChat})

	// People work steadily: new leads, owner changes, fields and tags.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var leadIDs []string
	var loadErrs []error
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(7, 11))
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			known := slicesClone(leadIDs)
			mu.Unlock()
			var err error
			switch op := rng.IntN(6); {
			case len(known) < 5 || op == 0:
				var rec service.Record
				err = person.do(http.MethodPost, lsqURL+"/_person/leads", map[string]any{"owner": people[n%3], "fields": map[string]string{
					"FirstName": fmt.Sprintf("Crash %d", n), "EmailAddress": fmt.Sprintf("crash%d@example.com", n), "Phone": fmt.Sprintf("+91-96%08d", n)}}, &rec)
				if err == nil {
					mu.Lock()
					leadIDs = append(leadIDs, rec.ID)
					mu.Unlock()
				}
			case op == 1:
				err = person.do(http.MethodPost, lsqURL+"/_person/leads/"+known[rng.IntN(len(known))]+"/owner", map[string]string{"email": people[rng.IntN(3)]}, nil)
			case op == 2:
				stage := []string{"New", "Qualified"}[rng.IntN(2)]
				err = person.do(http.MethodPost, lsqURL+"/_person/leads/"+known[rng.IntN(len(known))]+"/fields",
					map[string]any{"fields": map[string]string{"ProspectStage": stage, "mx_Interest": interests[rng.IntN(3)]}}, nil)
			default:
				var convs []service.Ticket
				if err = person.do(http.MethodGet, lcURL+"/_person/conversations", nil, &convs); err == nil && len(convs) > 0 {
					c := convs[rng.IntN(len(convs))]
					label := []string{"quote-sent", "wants-callback", "vip"}[rng.IntN(3)]
					err = person.do(http.MethodPost, fmt.Sprintf("%s/_person/conversations/%d/labels", lcURL, c.ID), map[string]string{"label": label}, nil)
				}
			}
			if err != nil {
				mu.Lock()
				loadErrs = append(loadErrs, err)
				mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond) // people's pace
		}
	}()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	for i := range kills {
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond) // a random moment under load
		check(t, srv.cmd.Process.Kill())
		<-srv.done
		srv = startProcessAt(t, bin, fmt.Sprintf("serve (restart %d)", i+1), env, addr)
	}
	close(stop)
	wg.Wait()
	for _, err := range loadErrs {
		t.Errorf("a person's action failed: %v", err)
	}

	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	check(t, err)
	t.Cleanup(pool.Close)
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		check(t, pool.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}
	// Settle: the fakes have sent everything and nothing is left to
	// deliver, seen twice in a row (a delivery may make a webhook, which
	// may make an action, between two looks).
	lastSent, quietLooks := -1, 0
	waitFor(t, 2*time.Minute, "the last webhooks and actions", func() (bool, string) {
		var a, b []sandbox.WebhookResult
		var outA, outB struct{ Outstanding int }
		person.get(lsqURL+"/_person/webhooks/outstanding", &outA)
		person.get(lcURL+"/_person/webhooks/outstanding", &outB)
		person.get(lsqURL+"/_person/webhooks/deliveries", &a)
		person.get(lcURL+"/_person/webhooks/deliveries", &b)
		// (Actions held behind a dead one wait for a person: a Flow-builder
		// event whose call a kill interrupted is dead "unknown" by design.)
		open := count(`SELECT count(*) FROM outbox o WHERE o.status IN ('pending', 'delivering')
			AND NOT EXISTS (SELECT FROM outbox d WHERE d.link_id = o.link_id AND d.id < o.id AND d.status = 'dead')`)
		sent := len(a) + len(b)
		if sent == lastSent && open == 0 && outA.Outstanding+outB.Outstanding == 0 {
			quietLooks++
		} else {
			quietLooks = 0
		}
		quiet := quietLooks >= 2
		lastSent = sent
		var which string
		_ = pool.QueryRow(ctx, `SELECT coalesce(string_agg(format('#%s %s %s attempts=%s crashes=%s next=%s err=%s', id, kind, status, attempts,
			crashes, to_char(next_attempt_at - now(), 'SS.MS'), last_error), '; '), '') FROM outbox WHERE status IN ('pending', 'delivering')`).Scan(&which)
		return quiet, fmt.Sprintf("%d webhooks sent, %d outstanding, %d actions open: %s", sent, outA.Outstanding+outB.Outstanding, open, which)
	})

	// Every webhook answered 2xx is stored.
	var sent []sandbox.WebhookResult
	for _, u := range []string{lsqURL, lcURL} {
		var rs []sandbox.WebhookResult
		person.get(u+"/_person/webhooks/deliveries", &rs)
		sent = append(sent, rs...)
	}
	acked, lost, refused := 0, 0, 0
	for _, r := range sent {
		if r.Status/100 != 2 {
			refused++
			continue
		}
		acked++
		if count("SELECT count(*) FROM inbound_events WHERE raw = $1", r.Body) == 0 {
			lost++
		}
	}
	if lost != 0 {
		t.Errorf("%d of %d acknowledged webhooks were not stored", lost, acked)
	}
	// Every effect exists once.
	var convs []service.Ticket
	person.get(lcURL+"/_person/conversations", &convs)
	dupTickets := 0
	perRecord := map[string]int{}
	for _, c := range convs {
		if id, _ := c.CustomAttributes["lsq_record_id"].(string); id != "" {
			if perRecord[id]++; perRecord[id] == 2 {
				dupTickets++
			}
		}
	}
	var contacts []service.Contact
	person.get(lcURL+"/_person/contacts", &contacts)
	dupContacts, phones := 0, map[string]bool{}
	for _, c := range contacts {
		if c.Phone != "" && phones[c.Phone] {
			dupContacts++
		}
		phones[c.Phone] = true
	}
	dupActivities, activities := 0, 0
	mu.Lock()
	for _, id := range leadIDs {
		var acts []service.Activity
		person.get(lsqURL+"/_person/leads/"+id+"/activities", &acts)
		seen := map[string]bool{}
		for _, a := range acts {
			if i := strings.Index(a.Note, "[lsqbridge "); i >= 0 {
				activities++
				if seen[a.Note[i:]] {
					dupActivities++
				}
				seen[a.Note[i:]] = true
			}
		}
	}
	leads := len(leadIDs)
	mu.Unlock()
	var flows []service.FlowEvent
	person.get(lcURL+"/_person/flow-events", &flows)
	dupFlows, keys := 0, map[string]bool{}
	for _, e := range flows {
		k, _ := e.Data["idempotency_key"].(string)
		if keys[k] {
			dupFlows++
		}
		keys[k] = true
	}
	for what, n := range map[string]int{"tickets": dupTickets, "contacts": dupContacts, "activities": dupActivities, "Flow-builder events": dupFlows} {
		if n != 0 {
			t.Errorf("%d duplicate %s", n, what)
		}
	}
	if n := count("SELECT count(*) FROM outbox WHERE status = 'delivering'"); n != 0 {
		t.Errorf("%d actions still delivering", n)
	}
	if n := count("SELECT count(*) FROM outbox WHERE status = 'dead' AND NOT (kind = 'limechat.flow_event' AND outcome = 'unknown')"); n != 0 {
		t.Errorf("%d actions dead other than Flow-builder events a kill left unknown: %s", n, deadSummary(t, pool))
	}
	if n := count("SELECT count(*) FROM links WHERE ticket_id IS NULL AND state <> 'unlinked'"); n != 0 {
		t.Errorf("%d links without their ticket", n)
	}
	t.Logf("crash: %d SIGKILLs under load; %d leads; %d webhooks sent, %d acknowledged, %d lost, %d unanswered while down; "+
		"%d actions (%d delivered, %d taken back from a killed relay, %d dead: %s, %d held behind them); effects: %d tickets, %d contacts, %d activities, %d Flow-builder events; duplicates = 0",
		kills, leads, len(sent), acked, lost, refused,
		count("SELECT count(*) FROM outbox"), count("SELECT count(*) FROM outbox WHERE status = 'delivered'"),
		count("SELECT count(*) FROM outbox WHERE crashes > 0"), count("SELECT count(*) FROM outbox WHERE status = 'dead'"), deadSummary(t, pool),
		count("SELECT count(*) FROM outbox WHERE status = 'pending'"),
		len(perRecord), len(contacts), activities, len(flows))
}

// deadSummary counts dead actions by outcome: after a kill, a Flow-builder
// event whose call may have left is dead "unknown" by design (never sent twice).
func deadSummary(t testing.TB, pool *pgxpool.Pool) string {
	rows, err := pool.Query(context.Background(), "SELECT kind || '/' || outcome, count(*) FROM outbox WHERE status = 'dead' GROUP BY 1 ORDER BY 1")
	check(t, err)
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var k string
		var n int
		check(t, rows.Scan(&k, &n))
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
