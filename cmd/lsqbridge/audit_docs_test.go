package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/service"
)

// sampleIDs are what auditSample made, for assertions.
type sampleIDs struct {
	Lead, Opportunity, SoloLead string
	Ticket                      int64
	// FollowUp is the conversation Priya opened after the opportunity's
	// ticket was closed; the opportunity's link follows it.
	FollowUp int64
}

// auditSample is the data docs/audit.md's examples are written against: the
// sandbox's demo integration after the steps its "Sample data" section
// lists, in that order (so the fakes hand out the same ids).
func auditSample(t *testing.T, opts ...worldOption) (*world, sampleIDs) {
	t.Helper()
	w := newWorld(t, opts...)
	var ids sampleIDs
	asha, ravi := w.Users["asha@acme.test"], w.Users["ravi@acme.test"]

	// 1. Priya's lead, owned by Asha: a ticket assigned to Asha.
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Priya", "LastName": "Shah", "EmailAddress": "priya@example.com", "Phone": "+91-9876543210",
		"OwnerId": asha.ID, "mx_City": "Pune",
	}))
	w.settle()
	ids.Lead = lead.ID
	ids.Ticket = w.ticketOf(lead.ID).ID

	// 2. An opportunity on it, owned by Ravi: its own ticket.
	opp := must[service.Record](t)(w.LSQ.CreateOpportunity(lead.ID, map[string]string{
		"mx_Custom_1": "Goa holiday", "Status": "Open", "mx_Custom_4": "2026-12-20", "Owner": ravi.ID,
	}))
	w.settle()
	ids.Opportunity = opp.ID

	// 3. The lead's owner becomes Ravi; the interest field tags the ticket.
	check(t, w.LSQ.ChangeLeadOwner(lead.ID, ravi.ID))
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"mx_Interest": "Villa"}))
	w.settle()

	// 4. The opportunity's ticket is closed and Priya writes again on
	// WhatsApp: LimeChat opens conversation 3, which the opportunity's link
	// follows (its old ticket is kept for audit.link_tickets).
	oppTicket := w.ticketOf(opp.ID).ID
	check(t, w.LC.CloseConversation(oppTicket))
	next := must[service.Ticket](t)(w.LC.CustomerWrites(oppTicket, "Is the villa still free?"))
	w.settle()
	ids.FollowUp = next.ID

	// 5. A lead owned by solo@acme.test, who has no LimeChat agent.
	solo := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Karan", "EmailAddress": "karan@example.com", "Phone": "+91-9000000001", "OwnerId": w.Users[sandbox.SoloEmail].ID,
	}))
	w.settle()
	ids.SoloLead = solo.ID

	// 6. Priya's lead reaches Qualified while Flow-builder answers 500: the
	// campaign event may have been sent, so it is dead (outcome unknown).
	check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"ProspectStage": "Qualified"}))
	check(t, w.LSQHooks.Wait(w.ctx))
	w.LC.SetFaults(limechatfake.Faults{FailNext: 1})
	w.settle()

	// 7. Karan's interest changes while LimeChat answers 500 (more often
	// than the client retries): the label action waits for its next
	// attempt (failing, not dead).
	check(t, w.LSQ.SetLeadFields(solo.ID, map[string]string{"mx_Interest": "Villa"}))
	check(t, w.LSQHooks.Wait(w.ctx))
	w.LC.SetFaults(limechatfake.Faults{FailNext: 3})
	w.settle()
	w.LC.SetFaults(limechatfake.Faults{})

	// 8. A customer writes in on WhatsApp: a ticket lsqbridge did not
	// create, so its webhooks are recorded as unlinked.
	must[service.Ticket](t)(w.LC.CreateConversationByPerson(service.Contact{Name: "Walk-in", Phone: "+919111111111"}))
	check(t, w.LCHooks.Wait(w.ctx))
	return w, ids
}

// dbURL is the URL of the world's database.
func (w *world) dbURL() string { return w.pool.Config().ConnString() }

// supportURL creates a login role granted lsqbridge_support (unique in the
// cluster, dropped when the test ends) and returns dbURL as that role.
func supportURL(t *testing.T, dbURL string) string {
	t.Helper()
	ctx := context.Background()
	name := "lsqbridge_support_test_" + randomHex(t, 6)
	password := randomHex(t, 16)
	admin, err := pgx.Connect(ctx, dbtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE lsqbridge_support", name, password)); err != nil {
		t.Fatalf("create a support login role: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, dbtest.AdminURL(t))
		if err != nil {
			t.Errorf("drop role %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP ROLE IF EXISTS "+name); err != nil {
			t.Errorf("drop role %s: %v", name, err)
		}
	})
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(name, password)
	return u.String()
}

// supportPool connects to the world's database as a support login role.
func supportPool(t *testing.T, w *world) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), supportURL(t, w.dbURL()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// sqlState is the SQLSTATE of a Postgres error, or "".
func sqlState(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code
	}
	return ""
}

// docExample is one ```sql block of docs/audit.md.
type docExample struct {
	line int
	sql  string
	// mayBeEmpty: the block says it may return no rows.
	mayBeEmpty bool
}

var sqlFence = regexp.MustCompile("(?s)```sql\n(.*?)```")

func docExamples(t *testing.T, path string) []docExample {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var out []docExample
	for _, m := range sqlFence.FindAllStringSubmatchIndex(doc, -1) {
		body := doc[m[2]:m[3]]
		out = append(out, docExample{
			line:       strings.Count(doc[:m[0]], "\n") + 1,
			sql:        body,
			mayBeEmpty: strings.Contains(body, "-- may return no rows"),
		})
	}
	return out
}

// TestAuditDocExamplesRunAsSupport runs every ```sql block of docs/audit.md
// as a login role granted lsqbridge_support, on the sample data the doc
// describes: each must succeed and (unless it says otherwise) show rows.
func TestAuditDocExamplesRunAsSupport(t *testing.T) {
	t.Parallel()
	w, _ := auditSample(t)
	support := supportPool(t, w)
	examples := docExamples(t, "../../docs/audit.md")
	if len(examples) < 8 {
		t.Fatalf("docs/audit.md has %d sql examples; want one or more per view", len(examples))
	}
	views := map[string]bool{}
	for _, v := range auditViewNames(t, w.pool) {
		views[v] = false
	}
	for _, ex := range examples {
		rows, err := support.Query(w.ctx, ex.sql)
		if err != nil {
			t.Errorf("docs/audit.md:%d: %v\n%s", ex.line, err, ex.sql)
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Errorf("docs/audit.md:%d: %v\n%s", ex.line, err, ex.sql)
			continue
		}
		if n == 0 && !ex.mayBeEmpty {
			t.Errorf("docs/audit.md:%d: no rows on the sample data; the doc says it shows something:\n%s", ex.line, ex.sql)
		}
		for v := range views {
			if strings.Contains(ex.sql, "audit."+v) {
				views[v] = true
			}
		}
	}
	for v, used := range views {
		if !used {
			t.Errorf("docs/audit.md has no example for audit.%s", v)
		}
	}
}

// auditViewNames lists the views of the audit schema.
func auditViewNames(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT viewname FROM pg_views WHERE schemaname = 'audit' ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("the audit schema has no views")
	}
	return names
}

// TestSupportRoleReadsAuditViewsOnly connects as a login role granted
// lsqbridge_support and proves it can read every audit view and nothing
// else: no table (so no secret column), and no write of any kind.
func TestSupportRoleReadsAuditViewsOnly(t *testing.T) {
	t.Parallel()
	w, _ := auditSample(t)
	support := supportPool(t, w)
	ctx := w.ctx

	views := auditViewNames(t, w.pool)
	for _, v := range []string{"links", "link_timeline", "events", "failing_actions", "unmatched_agents", "sync_lag"} {
		if !slices.Contains(views, v) {
			t.Errorf("audit.%s is missing; views: %v", v, views)
		}
	}
	for _, v := range views {
		var n int
		if err := support.QueryRow(ctx, "SELECT count(*) FROM audit."+v).Scan(&n); err != nil {
			t.Errorf("support cannot read audit.%s: %v", v, err)
		} else if n == 0 {
			t.Errorf("audit.%s is empty on the sample data", v)
		}
	}

	// Reads of tables and secret columns are refused.
	for _, q := range []string{
		"SELECT * FROM integrations",
		"SELECT lsq_access_key_sealed, lsq_secret_key_sealed FROM integrations",
		"SELECT limechat_api_token_sealed FROM integrations",
		"SELECT webhook_token_hash FROM integrations",
		"SELECT * FROM credentials",
		"SELECT id FROM integrations",
		"SELECT * FROM links",
		"SELECT * FROM outbox",
		"SELECT * FROM inbound_events",
		"SELECT * FROM agents",
		"SELECT * FROM goose_db_version",
	} {
		if _, err := support.Exec(ctx, q); sqlState(err) != "42501" {
			t.Errorf("%s as support: err %v, want permission denied (42501)", q, err)
		}
	}

	// Writes are refused, on views and on tables alike.
	writes := []string{
		"CREATE TABLE audit.support_notes (note text)",
		"CREATE VIEW audit.mine AS SELECT 1 AS one",
		"INSERT INTO integrations (id) VALUES ('x')",
		"UPDATE integrations SET name = 'x'",
		"DELETE FROM outbox",
		"TRUNCATE inbound_events",
		"UPDATE links SET owner_email = 'x@y'",
		"INSERT INTO agents (integration_id, email) VALUES ('demo', 'x@y')",
	}
	for _, v := range views {
		writes = append(writes, "DELETE FROM audit."+v, "UPDATE audit."+v+" SET integration_id = 'x'",
			"INSERT INTO audit."+v+" (integration_id) VALUES ('x')", "DROP VIEW audit."+v)
	}
	var version int
	if err := support.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version >= 150000 { // PUBLIC may create in public before 15 (docs/audit.md says to revoke it)
		writes = append(writes, "CREATE TABLE public.support_notes (note text)")
	}
	for _, q := range writes {
		if _, err := support.Exec(ctx, q); err == nil {
			t.Errorf("%s as support succeeded; want it refused", q)
		} else if s := sqlState(err); s != "42501" && s != "42809" && s != "55000" && s != "0A000" {
			t.Errorf("%s as support: %v; want permission denied", q, err)
		}
	}

	// And the catalog agrees: SELECT on audit views only, no other privilege
	// on any relation of any schema, and no secret-looking view column.
	rows, err := support.Query(ctx, `
		SELECT n.nspname, c.relname, c.relkind::text,
		       has_table_privilege('lsqbridge_support', c.oid, 'SELECT'),
		       has_table_privilege('lsqbridge_support', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for rows.Next() {
		var schema, rel, kind string
		var read, write bool
		if err := rows.Scan(&schema, &rel, &kind, &read, &write); err != nil {
			t.Fatal(err)
		}
		checked++
		if read != (schema == "audit") {
			t.Errorf("lsqbridge_support SELECT on %s.%s = %v", schema, rel, read)
		}
		if write {
			t.Errorf("lsqbridge_support may write %s.%s", schema, rel)
		}
	}
	rows.Close()
	if checked < len(views)+5 {
		t.Errorf("checked privileges on %d relations; want every table and view", checked)
	}
	secretish := regexp.MustCompile(`sealed|secret|token|key|hash|password`)
	cols, err := support.Query(ctx, "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'audit'")
	if err != nil {
		t.Fatal(err)
	}
	for cols.Next() {
		var table, col string
		if err := cols.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		if secretish.MatchString(col) {
			t.Errorf("audit.%s exposes column %s", table, col)
		}
	}
	cols.Close()
}
