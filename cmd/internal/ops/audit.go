package ops

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// `lsqbridge audit` prints the support views (docs/audit.md) as tables. It
// reads nothing but the audit schema, so it works with a DATABASE_URL of a
// login role granted lsqbridge_support, and shows the rows support gets
// from SQL: the same view, the same filter, a few columns (--wide for all).
// These SELECTs are the only SQL outside queries/: they read views support
// also reads by hand, built from the filters given.

// AuditQuery is a SELECT over one audit view, built from flags.
type AuditQuery struct {
	view  string
	cols  []string
	where []string
	args  []any
	order string
	limit int
}

// filter adds a condition; each %d in cond is the placeholder of arg.
func (q *AuditQuery) filter(cond string, arg any) {
	q.args = append(q.args, arg)
	n := len(q.args)
	q.where = append(q.where, strings.ReplaceAll(cond, "%d", fmt.Sprint(n)))
}

func (q *AuditQuery) sql(wide bool) string {
	cols := "*"
	if !wide {
		cols = strings.Join(q.cols, ", ")
	}
	s := "SELECT " + cols + " FROM " + q.view
	if len(q.where) > 0 {
		s += " WHERE " + strings.Join(q.where, " AND ")
	}
	s += " ORDER BY " + q.order
	if q.limit > 0 {
		s += fmt.Sprintf(" LIMIT %d", q.limit)
	}
	return s
}

// AuditView is one `audit` subcommand: its view, default columns and the
// flags that filter it.
type AuditView struct {
	view, order string
	// Help is the subcommand's usage line.
	Help string
	cols []string
	// Limit is the default of --limit (0 = all rows).
	Limit int
	// flags registers the subcommand's filters; the returned function adds
	// the ones set to the query.
	flags func(fs *flag.FlagSet) func(q *AuditQuery) error
}

// AuditViews are the `audit` subcommands by name.
func AuditViews() map[string]AuditView { return auditViews }

var auditViews = map[string]AuditView{
	"links": {
		view: "audit.links", order: "integration_id, link_id", Limit: 100,
		Help: "links [--integration ID] [--lead ID | --opportunity ID | --ticket N | --email E]",
		cols: []string{"integration_id", "link_id", "record_kind", "record_id", "lead_id", "ticket_id", "contact_email",
			"owner_email", "state", "labels", "open_actions", "dead_actions", "last_event_at", "paused_reason"},
		flags: func(fs *flag.FlagSet) func(q *AuditQuery) error {
			lead := fs.String("lead", "", "links of this LeadSquared lead (ProspectID), its opportunities included")
			opp := fs.String("opportunity", "", "the link of this LeadSquared opportunity (OpportunityId)")
			ticket := fs.Int64("ticket", 0, "the link of this LimeChat ticket (conversation display id)")
			email := fs.String("email", "", "links whose customer (contact) or owner has this e-mail")
			return func(q *AuditQuery) error {
				if *lead != "" {
					q.filter("lead_id = $%d", *lead)
				}
				if *opp != "" {
					q.filter("record_kind = 'opportunity' AND record_id = $%d", *opp)
				}
				if *ticket != 0 {
					q.filter("ticket_id = $%d", *ticket)
				}
				if *email != "" {
					q.filter("(lower(contact_email) = lower($%d) OR owner_email = lower($%d))", *email)
				}
				return nil
			}
		},
	},
	"timeline": {
		view: "audit.link_timeline", order: "at, direction, event_id NULLS LAST, action_id NULLS FIRST", Limit: 1000,
		Help: "timeline --link N [--integration ID]",
		cols: []string{"at", "direction", "platform", "what", "outcome", "detail", "event_id", "action_id", "attempts"},
		flags: func(fs *flag.FlagSet) func(q *AuditQuery) error {
			link := fs.Int64("link", 0, "the link id (from `audit links`)")
			return func(q *AuditQuery) error {
				if *link == 0 {
					return errors.New("timeline needs --link N (find it with `lsqbridge audit links`)")
				}
				q.filter("link_id = $%d", *link)
				return nil
			}
		},
	},
	"events": {
		view: "audit.events", order: "event_id DESC", Limit: 50,
		Help: "events [--integration ID] [--outcome O] [--link N] [--contains TEXT]",
		cols: []string{"integration_id", "event_id", "received_at", "source", "event_type", "link_id", "outcome", "detail", "body"},
		flags: func(fs *flag.FlagSet) func(q *AuditQuery) error {
			outcome := fs.String("outcome", "", "only events with this outcome (rejected, unlinked, error, …)")
			link := fs.Int64("link", 0, "only events of this link")
			contains := fs.String("contains", "", "only events whose body contains this text (a record id, an e-mail)")
			return func(q *AuditQuery) error {
				if *outcome != "" {
					q.filter("outcome = $%d", *outcome)
				}
				if *link != 0 {
					q.filter("link_id = $%d", *link)
				}
				if *contains != "" {
					q.filter("strpos(body, $%d) > 0", *contains)
				}
				return nil
			}
		},
	},
	"failing": {
		view: "audit.failing_actions", order: "integration_id, created_at, action_id", Limit: 200,
		Help: "failing [--integration ID]",
		cols: []string{"integration_id", "action_id", "link_id", "record_kind", "record_id", "ticket_id", "kind", "status",
			"outcome", "attempts", "next_attempt_at", "age", "last_error"},
	},
	"held": {
		view: "audit.held_links", order: "integration_id, held_since", Limit: 200,
		Help: "held [--integration ID]",
		cols: []string{"integration_id", "link_id", "record_kind", "record_id", "ticket_id", "dead_action_id", "dead_kind",
			"dead_outcome", "waiting_actions", "held_since", "last_error"},
	},
	"unmatched": {
		view: "audit.unmatched_agents", order: "integration_id, last_seen_at DESC", Limit: 200,
		Help: "unmatched [--integration ID]",
		cols: []string{"integration_id", "person", "seen_on", "missing_on", "occurrences", "last_seen_at", "last_link_id", "matched_now"},
	},
	"lag": {
		view: "audit.sync_lag", order: "integration_id",
		Help: "lag [--integration ID]",
		cols: []string{"integration_id", "disabled", "lsq_paused_until", "links_waiting_for_ticket", "open_actions",
			"oldest_open_age", "failing_actions", "dead_actions", "delivered_last_hour", "p50_delivery_seconds",
			"p95_delivery_seconds", "last_leadsquared_event_at", "last_limechat_event_at"},
	},
}

// AuditUsage lists the views and the flags every view takes.
func AuditUsage() string {
	names := make([]string, 0, len(auditViews))
	for n := range auditViews {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: lsqbridge audit <view> [flags]; views:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  lsqbridge audit %s\n", auditViews[n].Help)
	}
	b.WriteString("every view takes --limit N and --wide (all columns, untruncated); see docs/audit.md")
	return b.String()
}

// Bind registers the view's own filters on fs. Once fs is parsed, query
// builds the SELECT: of one integration unless integration is "", at most
// limit rows unless limit is 0. It fails when a filter the view needs is
// missing.
func (v AuditView) Bind(fs *flag.FlagSet) (query func(integration string, limit int) (*AuditQuery, error)) {
	var apply func(*AuditQuery) error
	if v.flags != nil {
		apply = v.flags(fs)
	}
	return func(integration string, limit int) (*AuditQuery, error) {
		q := &AuditQuery{view: v.view, cols: v.cols, order: v.order, limit: limit}
		if integration != "" {
			q.filter("integration_id = $%d", integration)
		}
		if apply != nil {
			if err := apply(q); err != nil {
				return nil, err
			}
		}
		return q, nil
	}
}

// Audit reads q's view and writes its rows as a table, each cell cut to 80
// characters unless wide (then every column too).
func Audit(ctx context.Context, pool *pgxpool.Pool, w io.Writer, q *AuditQuery, wide bool) error {
	rows, err := pool.Query(ctx, q.sql(wide), q.args...)
	if err != nil {
		return fmt.Errorf("read %s: %w", q.view, err)
	}
	defer rows.Close()
	var header []string
	for _, f := range rows.FieldDescriptions() {
		header = append(header, f.Name)
	}
	t := newTable(w, header...)
	width := 80
	if wide {
		width = 0
	}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return fmt.Errorf("read %s: %w", q.view, err)
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = truncate(cell(v), width)
		}
		t.row(cells...)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", q.view, err)
	}
	return t.flush()
}
