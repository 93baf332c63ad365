package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
)

const (
	alertsPath = "../../docs/deploy/prometheus-alerts.yaml"
	boardPath  = "../../docs/deploy/grafana-lsqbridge.json"
)

// pendingMetrics are series the alerts and the board may use while another
// branch adds them in parallel (name → labels, as agreed). Nothing
// registers them here: once one is exported for real, this test fails until
// it is taken off the list, so the list cannot hide a name that drifted.
var pendingMetrics = map[string][]string{
	// none now: lsqbridge_outbox_held_links, lsqbridge_webhook_http_responses_total
	// and lsqbridge_reconcile_errors_total, listed here while their branches
	// were open, are exported.
}

var (
	descName   = regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels = regexp.MustCompile(`variableLabels: \{([^}]*)\}\}$`)
)

// exportedMetrics lists every metric a serve process registers, with its
// labels, from the registry its /metrics route serves. The registry's
// descriptions include families with no series yet (a counter never
// incremented), which a scrape would not show.
func exportedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	a, err := app.New(context.Background(), app.Config{MasterKey: testMasterKey, RelayWorkers: 1}, pool, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *prometheus.Desc)
	go func() {
		a.Registry.Describe(ch)
		close(ch)
	}()
	out := map[string][]string{}
	for d := range ch {
		s := d.String()
		m := descName.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("cannot read the name of %s", s)
		}
		var labels []string
		if l := descLabels.FindStringSubmatch(s); l != nil && l[1] != "" {
			for _, name := range strings.Split(l[1], ",") {
				labels = append(labels, strings.TrimSuffix(strings.TrimPrefix(name, "c("), ")"))
			}
		}
		out[m[1]] = labels
	}
	return out
}

// deployExpressions returns the PromQL of every alert and every board
// query (panels and template variables), keyed by where it is.
func deployExpressions(t *testing.T) (alerts, board map[string]string) {
	t.Helper()
	b, err := os.ReadFile(alertsPath)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	alerts = map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts["alert "+r.Alert] = r.Expr
		}
	}
	b, err = os.ReadFile(boardPath)
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", boardPath, err)
	}
	board = map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if s, ok := c.(string); ok && (k == "expr" || k == "definition") {
					board[path+"."+k] = s
				}
				walk(path+"."+k, c)
			}
		case []any:
			for i, c := range x {
				title := ""
				if m, ok := c.(map[string]any); ok {
					title, _ = m["title"].(string)
				}
				walk(fmt.Sprintf("%s[%d %s]", path, i, title), c)
			}
		}
	}
	walk("board", dash)
	return alerts, board
}

var (
	selector = regexp.MustCompile(`\b(lsqbridge_[a-zA-Z0-9_:]+)\s*(\{[^}]*\})?`)
	matcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	grouping = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// metricOf maps a series name as PromQL uses it to the exported family:
// a histogram's _bucket, _sum and _count belong to its family.
func metricOf(name string, exported map[string][]string) (string, []string, bool) {
	if l, ok := exported[name]; ok {
		return name, l, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if l, ok := exported[base]; ok {
				if suffix == "_bucket" {
					l = append(slices.Clone(l), "le")
				}
				return base, l, true
			}
		}
	}
	return "", nil, false
}

// TestDeployDocsUseExportedMetrics: every metric the alerts and the Grafana
// board name is one lsqbridge exports, with the labels they select and
// group by; and the board shows every metric an alert watches.
func TestDeployDocsUseExportedMetrics(t *testing.T) {
	t.Parallel()
	exported := exportedMetrics(t)
	for name := range pendingMetrics {
		if _, ok := exported[name]; ok {
			t.Errorf("%s is exported now: take it off pendingMetrics", name)
		}
	}
	known := map[string][]string{}
	for k, v := range exported {
		known[k] = v
	}
	for k, v := range pendingMetrics {
		if _, ok := known[k]; !ok {
			known[k] = v
		}
	}
	alerts, board := deployExpressions(t)
	if len(alerts) < 7 || len(board) < 10 {
		t.Fatalf("read %d alerts and %d board queries; the files' shape changed?", len(alerts), len(board))
	}
	used := map[string]map[string]bool{"alerts": {}, "board": {}}
	check := func(kind, where, expr string) {
		var labels []string
		names := 0
		for _, m := range selector.FindAllStringSubmatch(expr, -1) {
			names++
			base, ls, ok := metricOf(m[1], known)
			if !ok {
				t.Errorf("%s uses %s, which lsqbridge does not export", where, m[1])
				continue
			}
			used[kind][base] = true
			labels = append(labels, ls...)
			for _, lm := range matcher.FindAllStringSubmatch(m[2], -1) {
				if !slices.Contains(ls, lm[1]) {
					t.Errorf("%s selects label %s of %s, which has only %v", where, lm[1], m[1], ls)
				}
			}
		}
		if names == 0 {
			t.Errorf("%s names no lsqbridge metric: %s", where, expr)
		}
		for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !slices.Contains(labels, l) {
					t.Errorf("%s groups by %s, a label none of its metrics has", where, l)
				}
			}
		}
	}
	for where, expr := range alerts {
		check("alerts", where, expr)
	}
	for where, expr := range board {
		check("board", where, expr)
	}
	deployDoc, err := os.ReadFile(deployDocPath)
	if err != nil {
		t.Fatal(err)
	}
	for where := range alerts {
		if name := strings.TrimPrefix(where, "alert "); !strings.Contains(string(deployDoc), "| `"+name+"` |") {
			t.Errorf("docs/deploy.md's alert table does not explain %s", name)
		}
	}
	for name := range used["alerts"] {
		if !used["board"][name] {
			t.Errorf("the board does not show %s, which an alert watches", name)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%d alerts and %d board queries use %d metrics, all exported (%d of them pending on other branches: %v)",
		len(alerts), len(board), len(used["board"]), len(pendingMetrics), slices.Sorted(maps.Keys(pendingMetrics)))
}

// TestDeployMetricCheckCatchesUnknownNames makes sure the check above can
// fail: a name or a label lsqbridge does not export is caught.
func TestDeployMetricCheckCatchesUnknownNames(t *testing.T) {
	t.Parallel()
	exported := map[string][]string{"lsqbridge_webhooks_total": {"source", "outcome"}, "lsqbridge_action_delivery_seconds": {"kind"}}
	if _, _, ok := metricOf("lsqbridge_webhook_total", exported); ok {
		t.Error("a misspelt name passed")
	}
	if _, l, ok := metricOf("lsqbridge_action_delivery_seconds_bucket", exported); !ok || !slices.Contains(l, "le") {
		t.Error("a histogram's bucket series was not mapped to its family with le")
	}
	m := selector.FindStringSubmatch(`sum by (integration) (rate(lsqbridge_webhooks_total{outcom="x"}[5m]))`)
	if m == nil || m[1] != "lsqbridge_webhooks_total" {
		t.Fatalf("selector found %v", m)
	}
	if lm := matcher.FindAllStringSubmatch(m[2], -1); len(lm) != 1 || lm[0][1] != "outcom" {
		t.Errorf("matcher found %v", lm)
	}
	if g := grouping.FindStringSubmatch(`sum by (integration) (x)`); g == nil || g[1] != "integration" {
		t.Errorf("grouping found %v", g)
	}
}
