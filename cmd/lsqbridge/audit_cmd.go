package main

import (
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"
)

// `lsqbridge audit` prints the support views (docs/audit.md) as tables. It
// reads nothing but the audit schema, so it works with a DATABASE_URL of a
// login role granted lsqbridge_support, and shows the rows support gets
// from SQL: the same view, the same filter, a few columns (--wide for all).

// auditQuery is a SELECT over one audit view, built from flags.
type auditQuery struct {
	view  string
	cols  []string
	where []string
	args  []any
	order string
	limit int
}

// filter adds a condition; each %d in cond is the placeholder of arg.
func (q *auditQuery) filter(cond string, arg any) {
	q.args = append(q.args, arg)
	n := len(q.args)
	q.where = append(q.where, strings.ReplaceAll(cond, "%d", fmt.Sprint(n)))
}

func (q *auditQuery) sql(wide bool) string {
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

// auditCommand is one `audit` subcommand: its view, default columns and
// the flags that filter it.
type auditCommand struct {
	view, order, help string
	cols              []string
	limit             int
	// flags registers the subcommand's filters; the returned function adds
	// the ones set to the query.
	flags func(fs *flag.FlagSet) func(q *auditQuery) error
}

var auditCommands = map[string]auditCommand{
	"links": {
		view: "audit.links", order: "integration_id, link_id", limit: 100,
		help: "links [--integration ID] [--lead ID | --opportunity ID | --ticket N | --email E]",
		cols: []string{"integration_id", "link_id", "record_kind", "record_id", "lead_id", "ticket_id", "contact_email",
			"owner_email", "state", "labels", "open_actions", "dead_actions", "last_event_at", "paused_reason"},
		flags: func(fs *flag.FlagSet) func(q *auditQuery) error {
			lead := fs.String("lead", "", "links of this LeadSquared lead (ProspectID), its opportunities included")
			opp := fs.String("opportunity", "", "the link of this LeadSquared opportunity (OpportunityId)")
			ticket := fs.Int64("ticket", 0, "the link of this LimeChat ticket (conversation display id)")
			email := fs.String("email", "", "links whose customer (contact) or owner has this e-mail")
			return func(q *auditQuery) error {
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
		view: "audit.link_timeline", order: "at, direction, event_id NULLS LAST, action_id NULLS FIRST", limit: 1000,
		help: "timeline --link N [--integration ID]",
		cols: []string{"at", "direction", "platform", "what", "outcome", "detail", "event_id", "action_id", "attempts"},
		flags: func(fs *flag.FlagSet) func(q *auditQuery) error {
			link := fs.Int64("link", 0, "the link id (from `audit links`)")
			return func(q *auditQuery) error {
				if *link == 0 {
					return errors.New("timeline needs --link N (find it with `lsqbridge audit links`)")
				}
				q.filter("link_id = $%d", *link)
				return nil
			}
		},
	},
	"events": {
		view: "audit.events", order: "event_id DESC", limit: 50,
		help: "events [--integration ID] [--outcome O] [--link N] [--contains TEXT]",
		cols: []string{"integration_id", "event_id", "received_at", "source", "event_type", "link_id", "outcome", "detail", "body"},
		flags: func(fs *flag.FlagSet) func(q *auditQuery) error {
			outcome := fs.String("outcome", "", "only events with this outcome (rejected, unlinked, error, …)")
			link := fs.Int64("link", 0, "only events of this link")
			contains := fs.String("contains", "", "only events whose body contains this text (a record id, an e-mail)")
			return func(q *auditQuery) error {
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
		view: "audit.failing_actions", order: "integration_id, created_at, action_id", limit: 200,
		help: "failing [--integration ID]",
		cols: []string{"integration_id", "action_id", "link_id", "record_kind", "record_id", "ticket_id", "kind", "status",
			"outcome", "attempts", "next_attempt_at", "age", "last_error"},
	},
	"held": {
		view: "audit.held_links", order: "integration_id, held_since", limit: 200,
		help: "held [--integration ID]",
		cols: []string{"integration_id", "link_id", "record_kind", "record_id", "ticket_id", "dead_action_id", "dead_kind",
			"dead_outcome", "waiting_actions", "held_since", "last_error"},
	},
	"unmatched": {
		view: "audit.unmatched_agents", order: "integration_id, last_seen_at DESC", limit: 200,
		help: "unmatched [--integration ID]",
		cols: []string{"integration_id", "person", "seen_on", "missing_on", "occurrences", "last_seen_at", "last_link_id", "matched_now"},
	},
	"lag": {
		view: "audit.sync_lag", order: "integration_id",
		help: "lag [--integration ID]",
		cols: []string{"integration_id", "disabled", "lsq_paused_until", "links_waiting_for_ticket", "open_actions",
			"oldest_open_age", "failing_actions", "dead_actions", "delivered_last_hour", "p50_delivery_seconds",
			"p95_delivery_seconds", "last_leadsquared_event_at", "last_limechat_event_at"},
	},
}

func auditUsage() string {
	names := make([]string, 0, len(auditCommands))
	for n := range auditCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: lsqbridge audit <view> [flags]; views:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  lsqbridge audit %s\n", auditCommands[n].help)
	}
	b.WriteString("every view takes --limit N and --wide (all columns, untruncated); see docs/audit.md")
	return b.String()
}

func cmdAudit(e *env, args []string) error {
	if len(args) == 0 {
		return errors.New(auditUsage())
	}
	c, ok := auditCommands[args[0]]
	if !ok {
		return fmt.Errorf("unknown view %q\n%s", args[0], auditUsage())
	}
	fs := e.flagSet("audit " + args[0])
	e.cfg.BindDB(fs)
	integration := fs.String("integration", "", "only this integration")
	wide := fs.Bool("wide", false, "every column of the view, nothing truncated")
	limit := fs.Int("limit", c.limit, "at most this many rows (0 = all)")
	var apply func(*auditQuery) error
	if c.flags != nil {
		apply = c.flags(fs)
	}
	rest, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected %q\nusage: lsqbridge audit %s", strings.Join(rest, " "), c.help)
	}
	if err := e.cfg.Validate(true, false); err != nil {
		return err
	}
	q := &auditQuery{view: c.view, cols: c.cols, order: c.order, limit: *limit}
	if *integration != "" {
		q.filter("integration_id = $%d", *integration)
	}
	if apply != nil {
		if err := apply(q); err != nil {
			return err
		}
	}

	pool, err := e.openPool()
	if err != nil {
		return err
	}
	defer pool.Close()
	rows, err := pool.Query(e.ctx, q.sql(*wide), q.args...)
	if err != nil {
		return fmt.Errorf("read %s: %w", c.view, err)
	}
	defer rows.Close()
	var header []string
	for _, f := range rows.FieldDescriptions() {
		header = append(header, f.Name)
	}
	t := newTable(e.stdout, header...)
	width := 80
	if *wide {
		width = 0
	}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return fmt.Errorf("read %s: %w", c.view, err)
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = truncate(cell(v), width)
		}
		t.row(cells...)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", c.view, err)
	}
	return t.flush()
}
