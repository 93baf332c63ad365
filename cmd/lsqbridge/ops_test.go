package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
)

// dataLines returns the table rows of a command's output: every non-empty
// line after the header, up to the first blank line.
func dataLines(t *testing.T, out string) []string {
	t.Helper()
	lines := strings.Split(out, "\n")
	var rows []string
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		if l == "(no rows)" {
			continue
		}
		rows = append(rows, l)
	}
	return rows
}

// TestAuditCommandsShowTheViewRows runs `lsqbridge audit` as a login role
// granted lsqbridge_support: each subcommand prints as many rows as the
// view holds for the same filter, with the values support would look for.
func TestAuditCommandsShowTheViewRows(t *testing.T) {
	t.Parallel()
	w, ids := auditSample(t)
	c := &cli{t: t, env: map[string]string{"DATABASE_URL": supportURL(t, w.dbURL())}}
	tests := []struct {
		args  []string
		where string // the same filter in SQL over the view
		want  []string
	}{
		{[]string{"links", "--integration", "demo", "--lead", ids.Lead}, fmt.Sprintf("audit.links WHERE lead_id = '%s'", ids.Lead),
			[]string{ids.Opportunity, "priya@example.com", "interest-villa"}},
		{[]string{"links", "--ticket", "1"}, "audit.links WHERE ticket_id = 1", []string{ids.Lead, "ravi@acme.test"}},
		{[]string{"links", "--email", "PRIYA@example.com"}, "audit.links WHERE contact_email = 'priya@example.com'", []string{ids.Lead}},
		{[]string{"links", "--opportunity", ids.Opportunity}, fmt.Sprintf("audit.links WHERE record_id = '%s'", ids.Opportunity), []string{"opportunity"}},
		{[]string{"timeline", "--link", "1", "--integration", "demo"}, "audit.link_timeline WHERE link_id = 1",
			[]string{"lead_created", "limechat.create_ticket", "delivered:created", "limechat.flow_event", "dead:unknown", "HTTP 500"}},
		{[]string{"events", "--outcome", "unlinked"}, "audit.events WHERE outcome = 'unlinked'", []string{"ticket 5 was not created or linked"}},
		{[]string{"events", "--contains", ids.SoloLead}, fmt.Sprintf("audit.events WHERE strpos(body, '%s') > 0", ids.SoloLead), []string{"unmatched_agent"}},
		{[]string{"failing", "--integration", "demo"}, "audit.failing_actions", []string{"limechat.flow_event", "dead", "limechat.add_labels", "pending"}},
		{[]string{"unmatched"}, "audit.unmatched_agents", []string{sandbox.SoloEmail, "limechat", "false"}},
		{[]string{"lag"}, "audit.sync_lag", []string{"demo"}},
		{[]string{"links", "--wide", "--ticket", "1"}, "audit.links WHERE ticket_id = 1", []string{"contact_phone", "+919876543210", `"ProspectStage":"Qualified"`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out := c.mustRun(append([]string{"audit"}, tt.args...)...)
			want := w.count("SELECT count(*) FROM " + tt.where)
			if got := len(dataLines(t, out)); got != want || want == 0 {
				t.Errorf("%d rows printed, the view has %d:\n%s", got, want, out)
			}
			for _, s := range tt.want {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
		})
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"audit", "timeline"}, "--link"},
		{[]string{"audit", "nope"}, `unknown view "nope"`},
		{[]string{"audit"}, "lsqbridge audit links"},
		{[]string{"audit", "links", "stray"}, `unexpected "stray"`},
	} {
		if code, _, errs := c.run(tt.args...); code != 1 || !strings.Contains(errs, tt.want) {
			t.Errorf("lsqbridge %s: exit %d, stderr %q; want 1 and %q", strings.Join(tt.args, " "), code, errs, tt.want)
		}
	}
}

// TestOutboxCommandsRetryAndDropDeadLetters handles the sample's dead
// Flow-builder event and failing label action the way the runbook says.
func TestOutboxCommandsRetryAndDropDeadLetters(t *testing.T) {
	t.Parallel()
	w, _ := auditSample(t)
	c := &cli{t: t, env: map[string]string{"DATABASE_URL": w.dbURL()}}
	var dead, failing int64
	if err := w.pool.QueryRow(w.ctx, "SELECT id FROM outbox WHERE status = 'dead' AND kind = 'limechat.flow_event'").Scan(&dead); err != nil {
		t.Fatal(err)
	}
	if err := w.pool.QueryRow(w.ctx, "SELECT id FROM outbox WHERE status = 'pending' AND kind = 'limechat.add_labels'").Scan(&failing); err != nil {
		t.Fatal(err)
	}
	status := func(id int64) (s, outcome string, attempts int) {
		t.Helper()
		if err := w.pool.QueryRow(w.ctx, "SELECT status, outcome, attempts FROM outbox WHERE id = $1", id).Scan(&s, &outcome, &attempts); err != nil {
			t.Fatal(err)
		}
		return
	}

	out := c.mustRun("outbox", "list", "--integration", "demo")
	if rows := dataLines(t, out); len(rows) != 2 || !strings.Contains(out, "dead") || !strings.Contains(out, "HTTP 500") {
		t.Errorf("outbox list: want the dead and the failing action:\n%s", out)
	}
	if out := c.mustRun("outbox", "list", "--status", "dead"); len(dataLines(t, out)) != 1 {
		t.Errorf("outbox list --status dead:\n%s", out)
	}

	// A Flow-builder event that may have been sent needs --force.
	code, _, errs := c.run("outbox", "retry", "--integration", "demo", fmt.Sprint(dead))
	if code != 1 || !strings.Contains(errs, "outcome unknown") || !strings.Contains(errs, "--force") {
		t.Errorf("retry of an outcome-unknown action: exit %d, stderr %q; want a refusal naming --force", code, errs)
	}
	if s, _, _ := status(dead); s != "dead" {
		t.Errorf("refused retry changed the action to %s", s)
	}
	// Flags after the ids work too.
	out = c.mustRun("outbox", "retry", fmt.Sprint(dead), "--integration", "demo", "--force")
	if !strings.Contains(out, "retrying now") {
		t.Errorf("retry output: %s", out)
	}
	if s, o, n := status(dead); s != "pending" || o != "" || n != 0 {
		t.Errorf("after retry: status %s outcome %q attempts %d; want pending, no outcome, a fresh budget", s, o, n)
	}
	if due := w.count("SELECT count(*) FROM outbox WHERE id = $1 AND next_attempt_at <= now()", dead); due != 1 {
		t.Error("the retried action is not due now")
	}
	// Drop the failing label action, then deliver what is due.
	if out := c.mustRun("outbox", "drop", "--integration", "demo", fmt.Sprint(failing)); !strings.Contains(out, "dropped") {
		t.Errorf("drop output: %s", out)
	}
	w.settle()
	if s, _, _ := status(dead); s != "delivered" {
		t.Errorf("retried Flow-builder event is %s after delivery, want delivered", s)
	}
	if s, o, _ := status(failing); s != "superseded" || o != "dropped" {
		t.Errorf("dropped action: %s/%s, want superseded/dropped", s, o)
	}
	n := 0
	for _, ev := range w.LC.FlowEvents() {
		if ev.Event == "lead_qualified" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d lead_qualified events reached Flow-builder, want 1", n)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"retry", "--integration", "demo", fmt.Sprint(dead)}, "already delivered"},
		{[]string{"drop", "--integration", "demo", fmt.Sprint(dead)}, "already delivered"},
		{[]string{"drop", "--integration", "demo", fmt.Sprint(failing)}, "already finished"},
		{[]string{"retry", "--integration", "demo", "99999"}, "not found in integration demo"},
		{[]string{"retry", "--integration", "other", fmt.Sprint(failing)}, "not found in integration other"},
		{[]string{"retry", fmt.Sprint(failing)}, "needs --integration"},
		{[]string{"retry", "--integration", "demo", "abc"}, `"abc" is not an action id`},
		{[]string{"list", "--status", "lost"}, `unknown status "lost"`},
		{[]string{"purge"}, `unknown outbox command "purge"`},
	} {
		code, _, errs := c.run(append([]string{"outbox"}, tt.args...)...)
		if code != 1 || !strings.Contains(errs, tt.want) {
			t.Errorf("outbox %s: exit %d, stderr %q; want 1 and %q", strings.Join(tt.args, " "), code, errs, tt.want)
		}
	}
	if s, _, _ := status(dead); s != "delivered" {
		t.Errorf("a refused retry changed a delivered action to %s", s)
	}
}

// TestAgentsCommandsShowWhoIsOnOneSideOnly refreshes the directory from
// both fakes and lists it with the one-side-only flags.
func TestAgentsCommandsShowWhoIsOnOneSideOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	env := map[string]string{"DATABASE_URL": w.dbURL(), "LSQBRIDGE_MASTER_KEY": testMasterKey, "LSQBRIDGE_ALLOW_LOOPBACK": "true"}
	c := &cli{t: t, env: env}

	out := c.mustRun("agents", "list", "demo")
	for _, want := range []string{"asha@acme.test", "matched", sandbox.SoloEmail, "LeadSquared only", "3 matched"} {
		if !strings.Contains(out, want) {
			t.Errorf("agents list lacks %q:\n%s", want, out)
		}
	}

	lone := w.LC.AddAgent("Lone Ranger", "Lone@Acme.test")
	out = c.mustRun("agents", "refresh", "demo")
	head := fmt.Sprintf("Refreshed demo: %d LeadSquared users, %d LimeChat agents, 3 people matched by e-mail.",
		len(w.LSQ.Users()), len(w.LC.Agents()))
	if !strings.Contains(out, head) {
		t.Errorf("refresh output lacks %q:\n%s", head, out)
	}
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "lone@acme.test") {
			line = l
		}
	}
	if !strings.Contains(line, lone.ID) || !strings.Contains(line, "LimeChat only") {
		t.Errorf("lone@acme.test row = %q; want its LimeChat agent id %s and LimeChat only\n%s", line, lone.ID, out)
	}
	if !strings.Contains(out, "1 in LimeChat only") {
		t.Errorf("refresh summary:\n%s", out)
	}

	delete(env, "LSQBRIDGE_MASTER_KEY")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"agents", "refresh", "demo"}, "LSQBRIDGE_MASTER_KEY is not set"},
		{[]string{"agents", "list", "nope"}, "not found"},
		{[]string{"agents", "list"}, "needs one integration id"},
		{[]string{"agents", "sync", "demo"}, `unknown agents command "sync"`},
	} {
		if code, _, errs := c.run(tt.args...); code != 1 || !strings.Contains(errs, tt.want) {
			t.Errorf("lsqbridge %s: exit %d, stderr %q; want 1 and %q", strings.Join(tt.args, " "), code, errs, tt.want)
		}
	}
}
