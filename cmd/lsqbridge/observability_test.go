package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// metrics is one scrape of /metrics, parsed from the text format.
type metrics map[string]*dto.MetricFamily

func (w *world) scrape() metrics {
	w.t.Helper()
	resp, err := http.Get(w.URL + "/metrics")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		w.t.Fatalf("/metrics is not valid Prometheus text: %v", err)
	}
	return fams
}

// value sums the series of name whose labels include the given ones: a
// counter's or gauge's value, or a histogram's sample count.
func (m metrics) value(name string, labels ...string) float64 {
	fam, ok := m[name]
	if !ok {
		return 0
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	var sum float64
	for _, s := range fam.GetMetric() {
		matched := 0
		for _, l := range s.GetLabel() {
			if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
				matched++
			}
		}
		if matched != len(want) {
			continue
		}
		switch {
		case s.Counter != nil:
			sum += s.Counter.GetValue()
		case s.Gauge != nil:
			sum += s.Gauge.GetValue()
		case s.Histogram != nil:
			sum += float64(s.Histogram.GetSampleCount())
		}
	}
	return sum
}

// fullFlow runs every sync the scope names through the world: lead →
// ticket, owner → agent and back, field → tag, tag → field and activity,
// stage → Flow-builder, an opportunity and its campaign, a lead whose owner
// has no agent, and a failed delivery on each platform retried by hand.
func fullFlow(t *testing.T, w *world) {
	t.Helper()
	asha, ravi := w.Users["asha@acme.test"], w.Users["ravi@acme.test"]
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Priya", "LastName": "Shah", "EmailAddress": "priya@example.com", "Phone": "+91-9876543210",
		"OwnerId": asha.ID, "mx_City": "Pune",
	}))
	w.settle()
	tk := w.ticketOf(lead.ID)

	// The owner change fails on LimeChat more often than the client
	// retries: the action is retried by hand, as the runbook says.
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, ravi.ID))
	check(t, w.LSQHooks.Wait(w.ctx))
	w.LC.SetFaults(limechatfake.Faults{FailNext: 3})
	w.settle()
	w.LC.SetFaults(limechatfake.Faults{})
	w.retryFailing()

	check(t, w.LC.AssignAgent(tk.ID, w.agentID("meera@acme.test")))
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"mx_Interest": "Villa"}))
	w.settle()

	// Tag → field fails on LeadSquared first.
	check(t, w.LC.AddLabel(tk.ID, "wants-callback"))
	check(t, w.LCHooks.Wait(w.ctx))
	w.LSQ.SetFaults(lsqfake.Faults{FailNext: 5})
	w.settle()
	w.LSQ.SetFaults(lsqfake.Faults{})
	w.retryFailing()
	check(t, w.LC.AddLabel(tk.ID, "quote-sent"))
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"ProspectStage": "Qualified"}))
	w.settle()

	opp := must[service.Record](t)(w.LSQ.CreateOpportunity(lead.ID, map[string]string{
		"mx_Custom_1": "Goa holiday", "Status": "Open", "mx_Custom_4": "2026-12-20", "Owner": ravi.ID,
	}))
	w.settle()
	check(t, w.LSQ.UpdateOpportunity(opp.ID, map[string]string{"Status": "Won"}))
	must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Karan", "EmailAddress": "karan@example.com", "OwnerId": w.Users[sandbox.SoloEmail].ID,
	}))
	w.settle()

	if l, _ := w.LSQ.Lead(lead.ID); l.Field("mx_Callback_Requested") != "Yes" || l.OwnerID != w.Users["meera@acme.test"].ID {
		t.Errorf("lead after the flow: owner %s callback %q; want Meera and Yes", l.OwnerID, l.Field("mx_Callback_Requested"))
	}
	if n := len(w.LC.FlowEvents()); n != 2 {
		t.Errorf("%d Flow-builder events, want 2 (lead_qualified, booking_confirmed)", n)
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE status IN ('pending', 'delivering', 'dead')"); n != 0 {
		t.Errorf("%d actions not delivered after the flow", n)
	}
}

// retryFailing makes every failing action due now with `outbox retry` and
// delivers it.
func (w *world) retryFailing() {
	w.t.Helper()
	rows, err := w.pool.Query(w.ctx, "SELECT id::text FROM outbox WHERE status = 'pending' AND attempts > 0 ORDER BY id")
	if err != nil {
		w.t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		check(w.t, rows.Scan(&id))
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) == 0 {
		w.t.Fatal("no failing action to retry: the fault did not make one fail")
	}
	c := &cli{t: w.t, env: map[string]string{"DATABASE_URL": w.dbURL()}}
	c.mustRun(append([]string{"outbox", "retry", "--integration", "demo"}, ids...)...)
	w.settle()
}

// TestMetricsCountWhatTheFlowDid scrapes /metrics during and after an
// end-to-end flow: webhook outcomes, delivered actions and their latency
// match what the database recorded, and the outbox depth rises and falls.
func TestMetricsCountWhatTheFlowDid(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	before := w.scrape()
	if v := before.value("lsqbridge_webhooks_total"); v != 0 {
		t.Fatalf("a fresh service counts %v webhooks", v)
	}

	// A lead received but not delivered yet: one pending action.
	must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Depth", "OwnerId": w.Users["asha@acme.test"].ID}))
	check(t, w.LSQHooks.Wait(w.ctx))
	mid := w.scrape()
	if v := mid.value("lsqbridge_outbox_depth", "integration", "demo", "status", "pending"); v != 1 {
		t.Errorf("outbox depth while a ticket waits = %v, want 1", v)
	}
	if v := mid.value("lsqbridge_webhooks_total", "source", "leadsquared", "outcome", "applied"); v != 1 {
		t.Errorf("leadsquared/applied after one lead = %v, want 1", v)
	}
	w.settle()

	fullFlow(t, w)
	m := w.scrape()

	// Every stored inbound outcome is counted exactly.
	rows, err := w.pool.Query(w.ctx, "SELECT source, outcome, count(*) FROM inbound_events GROUP BY 1, 2")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var source, outcome string
		var n int
		check(t, rows.Scan(&source, &outcome, &n))
		if v := m.value("lsqbridge_webhooks_total", "source", source, "outcome", outcome); v != float64(n) {
			t.Errorf("lsqbridge_webhooks_total{source=%q,outcome=%q} = %v, the database has %d", source, outcome, v, n)
		}
	}
	rows.Close()
	// Every delivered action is counted, with its latency observed.
	rows, err = w.pool.Query(w.ctx, "SELECT kind, count(*) FROM outbox WHERE status = 'delivered' GROUP BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var kind string
		var n int
		check(t, rows.Scan(&kind, &n))
		if v := m.value("lsqbridge_actions_total", "kind", kind, "status", "delivered"); v != float64(n) {
			t.Errorf("lsqbridge_actions_total{kind=%q,status=delivered} = %v, the database has %d", kind, v, n)
		}
		if v := m.value("lsqbridge_action_delivery_seconds", "kind", kind); v != float64(n) {
			t.Errorf("lsqbridge_action_delivery_seconds_count{kind=%q} = %v, want %d", kind, v, n)
		}
	}
	rows.Close()

	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"lsqbridge_webhooks_total", []string{"source", "leadsquared", "outcome", "unmatched_agent"}, 1},
		{"lsqbridge_actions_total", []string{"kind", service.ActCreateTicket, "status", "delivered"}, 4},
		{"lsqbridge_actions_total", []string{"kind", service.ActFlowEvent, "status", "delivered"}, 2},
		{"lsqbridge_actions_total", []string{"kind", service.ActAssign, "status", "pending"}, 1},    // the failed attempt
		{"lsqbridge_actions_total", []string{"kind", service.ActSetFields, "status", "pending"}, 1}, // the failed attempt
		{"lsqbridge_action_delivery_seconds", []string{"kind", service.ActCreateTicket}, 4},         // histogram count
		{"lsqbridge_outbox_depth", []string{"integration", "demo", "status", "pending"}, 0},         // drained
		{"lsqbridge_rate_limit_pauses_total", nil, 0},
	} {
		if v := m.value(c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"lsqbridge_webhooks_total", []string{"source", "leadsquared", "outcome", "applied"}},
		{"lsqbridge_webhooks_total", []string{"source", "limechat", "outcome", "applied"}},
		{"lsqbridge_webhooks_total", []string{"source", "limechat", "outcome", "echo"}},
		{"lsqbridge_actions_total", []string{"kind", service.ActAssign, "status", "delivered"}},
		{"lsqbridge_actions_total", []string{"kind", service.ActSetOwner, "status", "delivered"}},
		{"lsqbridge_actions_total", []string{"kind", service.ActAddLabels, "status", "delivered"}},
		{"lsqbridge_actions_total", []string{"kind", service.ActPostActivity, "status", "delivered"}},
		{"lsqbridge_agent_directory_refreshes_total", []string{"result", "ok"}},
	} {
		if v := m.value(c.name, c.labels...); v < 1 {
			t.Errorf("%s%v = %v, want at least 1", c.name, c.labels, v)
		}
	}
	if _, ok := m["lsqbridge_outbox_oldest_seconds"]; !ok && mid["lsqbridge_outbox_oldest_seconds"] == nil {
		t.Error("lsqbridge_outbox_oldest_seconds never appeared")
	}
}

// TestNoSecretInLogsRecordsOrViews runs the full flow with signed LimeChat
// webhooks, failures and rejected deliveries, then looks for every secret
// — platform keys and tokens, the webhook signing secret, the webhook
// token and the master key — in every log line, every stored row, every
// audit view and /metrics.
func TestNoSecretInLogsRecordsOrViews(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(o *worldOptions) { o.Signed = true })
	fullFlow(t, w)

	// Deliveries that fail authentication: a forged signature with the real
	// token in the URL, and a wrong token.
	post := func(url string, hdr map[string]string) int {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"event":"conversation_updated","id":1}`))
		check(t, err)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		check(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(w.URL+"/v1/webhooks/limechat/demo?token="+w.Creds.LimeChat, map[string]string{"X-Chatwoot-Signature": "sha256=00", "X-Chatwoot-Timestamp": "1"}); code < 400 {
		t.Errorf("forged signature answered %d", code)
	}
	if code := post(w.URL+"/v1/webhooks/leadsquared/demo/lead-updated", map[string]string{"X-Lsqbridge-Token": w.Creds.LeadSquared + "x"}); code != http.StatusUnauthorized {
		t.Errorf("wrong token answered %d", code)
	}
	// Another route's credential, presented where each route takes its own.
	if code := post(w.URL+"/v1/webhooks/leadsquared/demo/lead-updated", map[string]string{"X-Lsqbridge-Token": w.Creds.LimeChat}); code != http.StatusUnauthorized {
		t.Errorf("the LimeChat credential on the LeadSquared route answered %d", code)
	}
	if code := post(w.URL+"/v1/webhooks/limechat/demo/automation?token="+w.Creds.App, nil); code != http.StatusUnauthorized {
		t.Errorf("the app key on the automation route answered %d", code)
	}

	secrets := map[string]string{
		"LeadSquared access key": sandbox.LeadSquaredAccessKey, "LeadSquared secret key": sandbox.LeadSquaredSecretKey,
		"LimeChat API token": sandbox.LimeChatToken, "Flow-builder key": sandbox.FlowBuilderKey, "LimeChat webhook secret": sandbox.WebhookSecret,
		"LeadSquared webhook credential": w.Creds.LeadSquared, "LimeChat webhook credential": w.Creds.LimeChat,
		"automation credential": w.Creds.Automation, "Dashboard App key": w.Creds.App, "master key": testMasterKey,
	}
	scan := func(where, text string) {
		t.Helper()
		for name, s := range secrets {
			if strings.Contains(text, s) || strings.Contains(text, hex.EncodeToString([]byte(s))) {
				// Show where, with the secret itself masked.
				i := strings.Index(text, s)
				t.Errorf("%s contains the %s: …%s…", where, name, excerpt(strings.ReplaceAll(text, s, "<"+name+">"), i))
			}
		}
	}

	logs := w.logs.String()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) < 20 || !strings.Contains(logs, "action will be retried") || !strings.Contains(logs, "event applied") {
		t.Fatalf("the flow logged %d lines without the expected retries and events; nothing to check", len(lines))
	}
	for i, l := range lines {
		scan(fmt.Sprintf("log line %d", i+1), l)
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("log line %d is not JSON: %s", i+1, l)
			continue
		}
		// Lines about one action or one event name it and its link.
		switch rec["msg"] {
		case "action will be retried", "action finished", "action dead":
			for _, k := range []string{"integration", "link", "action", "kind"} {
				if _, ok := rec[k]; !ok {
					t.Errorf("log line %d (%s) lacks %q: %s", i+1, rec["msg"], k, l)
				}
			}
		case "event applied":
			for _, k := range []string{"integration", "link", "event_id", "outcome"} {
				if _, ok := rec[k]; !ok {
					t.Errorf("log line %d (%s) lacks %q: %s", i+1, rec["msg"], k, l)
				}
			}
		}
	}

	// Every row of every table and every audit view, as text.
	rels, err := w.pool.Query(w.ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'v') AND n.nspname IN ('public', 'audit') ORDER BY 1`)
	check(t, err)
	var names []string
	for rels.Next() {
		var n string
		check(t, rels.Scan(&n))
		names = append(names, n)
	}
	rels.Close()
	for _, rel := range names {
		var text string
		check(t, w.pool.QueryRow(w.ctx, "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM "+rel+" t").Scan(&text))
		scan(rel, text)
	}
	for _, must := range []string{"public.inbound_events", "public.outbox", "audit.links", "audit.link_timeline", "audit.failing_actions"} {
		if !strings.Contains(strings.Join(names, " "), must) {
			t.Errorf("%s was not checked", must)
		}
	}
	var m bytes.Buffer
	for name, fam := range w.scrape() {
		fmt.Fprintln(&m, name, fam.String())
	}
	scan("/metrics", m.String())
}

func excerpt(s string, i int) string {
	if i < 0 {
		return "(hex-encoded)"
	}
	lo, hi := max(i-40, 0), min(i+40, len(s))
	return s[lo:hi]
}
