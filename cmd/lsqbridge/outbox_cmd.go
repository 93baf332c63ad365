package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/outbox"
)

// `lsqbridge outbox` is how a person handles actions the relay gave up on
// (dead) or keeps failing (pending with errors): list them, retry them with
// a fresh attempt budget, or drop them.

const outboxUsage = "usage: lsqbridge outbox list [--integration ID] [--status dead,pending] [--limit N]\n" +
	"       lsqbridge outbox retry --integration ID [--force] ACTION_ID... | --all\n" +
	"       lsqbridge outbox drop --integration ID ACTION_ID..."

var outboxStatuses = []string{outbox.StatusPending, outbox.StatusDelivering, outbox.StatusDelivered, outbox.StatusSuperseded, outbox.StatusDead}

func cmdOutbox(e *env, args []string) error {
	if len(args) == 0 {
		return errors.New(outboxUsage)
	}
	sub := args[0]
	fs := e.flagSet("outbox " + sub)
	e.cfg.BindDB(fs)
	integration := fs.String("integration", "", "the integration the actions belong to")
	status := fs.String("status", "dead,pending", "with list: statuses to show, comma-separated")
	limit := fs.Int("limit", 200, "with list: at most this many rows")
	force := fs.Bool("force", false, "with retry: also retry actions whose earlier delivery may have happened (outcome unknown)")
	all := fs.Bool("all", false, "with retry: every dead action of the integration (those of unknown outcome need --force too)")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	var ids []int64
	switch sub {
	case "list":
		if len(pos) > 0 {
			return fmt.Errorf("list takes no arguments\n%s", outboxUsage)
		}
	case "retry", "drop":
		if *all && (sub != "retry" || *integration == "" || len(pos) > 0) {
			return fmt.Errorf("--all goes with retry --integration ID and no action ids\n%s", outboxUsage)
		}
		if *all {
			break
		}
		if *integration == "" || len(pos) == 0 {
			return fmt.Errorf("%s needs --integration ID and at least one action id\n%s", sub, outboxUsage)
		}
		for _, p := range pos {
			id, err := strconv.ParseInt(p, 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("%q is not an action id (the number in the list's ID column)", p)
			}
			ids = append(ids, id)
		}
	default:
		return fmt.Errorf("unknown outbox command %q\n%s", sub, outboxUsage)
	}
	if err := e.cfg.Validate(true, false); err != nil {
		return err
	}
	pool, err := e.openPool()
	if err != nil {
		return err
	}
	defer pool.Close()
	a := outbox.NewAdmin(pool)
	if *all {
		if ids, err = deadActions(e, a, *integration); err != nil {
			return err
		}
		if len(ids) == 0 {
			fmt.Fprintf(e.stdout, "no dead actions in %s\n", *integration)
			return nil
		}
	}
	switch sub {
	case "list":
		return outboxList(e, a, *integration, *status, *limit)
	case "retry":
		return outboxChange(e, a, *integration, ids, func(r outbox.Row) (bool, string, error) {
			if r.Outcome == outbox.NoteUnknown && !*force {
				return false, fmt.Sprintf("action %d (%s): may have reached %s before its attempt failed (outcome unknown);"+
					" check there first, then retry with --force, or drop it", r.ID, r.Kind, platformOf(r.Kind)), nil
			}
			ok, err := a.Retry(e.ctx, r.IntegrationID, r.ID)
			if err == nil && ok {
				fmt.Fprintf(e.stdout, "action %d (%s): retrying now with a fresh attempt budget\n", r.ID, r.Kind)
			}
			return ok, "", err
		})
	default:
		return outboxChange(e, a, *integration, ids, func(r outbox.Row) (bool, string, error) {
			ok, err := a.Drop(e.ctx, r.IntegrationID, r.ID)
			if err == nil && ok {
				fmt.Fprintf(e.stdout, "action %d (%s): dropped; it will not be delivered\n", r.ID, r.Kind)
			}
			return ok, "", err
		})
	}
}

func outboxList(e *env, a *outbox.Admin, integration, statuses string, limit int) error {
	var want []string
	for _, s := range strings.Split(statuses, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(outboxStatuses, s) {
			return fmt.Errorf("unknown status %q (one of %s)", s, strings.Join(outboxStatuses, ", "))
		}
		want = append(want, s)
	}
	rows, err := a.List(e.ctx, integration, want, limit)
	if err != nil {
		return fmt.Errorf("list outbox: %w", err)
	}
	t := newTable(e.stdout, "ID", "INTEGRATION", "LINK", "KIND", "STATUS", "OUTCOME", "ATTEMPTS", "NEXT ATTEMPT", "CREATED", "LAST ERROR")
	for _, r := range rows {
		next := stamp(r.NextAttemptAt)
		if r.Status != outbox.StatusPending {
			next = ""
		}
		t.row(strconv.FormatInt(r.ID, 10), r.IntegrationID, strconv.FormatInt(r.LinkID, 10), r.Kind, r.Status, r.Outcome,
			strconv.Itoa(r.Attempts), next, stamp(r.CreatedAt), truncate(r.LastError, 100))
	}
	return t.flush()
}

// deadActions lists the ids of every dead action of an integration, oldest first.
func deadActions(e *env, a *outbox.Admin, integration string) ([]int64, error) {
	rows, err := a.List(e.ctx, integration, []string{outbox.StatusDead}, math.MaxInt32)
	if err != nil {
		return nil, fmt.Errorf("list dead actions: %w", err)
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids, nil
}

// outboxChangeFunc changes one action; it reports whether the row changed,
// or why it refuses to change it.
type outboxChangeFunc func(outbox.Row) (changed bool, refusal string, err error)

// outboxChange applies change to each action and explains every action it
// could not change; any refusal makes the command fail.
func outboxChange(e *env, a *outbox.Admin, integration string, ids []int64, change outboxChangeFunc) error {
	refused := 0
	p := e.progress()
	defer p.Done()
	for i, id := range ids {
		p.Status("%d/%d actions (action %d)", i+1, len(ids), id)
		why, err := outboxChangeOne(e, a, integration, id, change)
		if err != nil {
			return err
		}
		if why != "" {
			p.Done()
			fmt.Fprintln(e.stderr, why)
			refused++
		}
	}
	if refused > 0 {
		return fmt.Errorf("%d of %d actions left unchanged", refused, len(ids))
	}
	return nil
}

func outboxChangeOne(e *env, a *outbox.Admin, integration string, id int64, change outboxChangeFunc) (string, error) {
	r, err := a.Get(e.ctx, integration, id)
	if errors.Is(err, outbox.ErrNotFound) {
		return fmt.Sprintf("action %d: not found in integration %s", id, integration), nil
	}
	if err != nil {
		return "", fmt.Errorf("read action %d: %w", id, err)
	}
	if why := unchangeable(r); why != "" {
		return why, nil
	}
	ok, refusal, err := change(r)
	if err != nil {
		return "", fmt.Errorf("change action %d: %w", id, err)
	}
	if refusal != "" {
		return refusal, nil
	}
	if !ok {
		// The relay took or finished it between the read and the change.
		if r, err = a.Get(e.ctx, integration, id); err == nil {
			if why := unchangeable(r); why != "" {
				return why, nil
			}
		}
		return fmt.Sprintf("action %d: changed meanwhile; look again with `lsqbridge outbox list`", id), nil
	}
	return "", nil
}

// unchangeable says why an action cannot be retried or dropped, or "".
func unchangeable(r outbox.Row) string {
	switch r.Status {
	case outbox.StatusDelivered:
		return fmt.Sprintf("action %d (%s): already delivered at %s; nothing to retry or drop", r.ID, r.Kind, stampPtr(r.DeliveredAt))
	case outbox.StatusSuperseded:
		return fmt.Sprintf("action %d (%s): already finished without delivery (superseded, outcome %q); nothing to do", r.ID, r.Kind, r.Outcome)
	case outbox.StatusDelivering:
		return fmt.Sprintf("action %d (%s): a relay is delivering it right now; look again once the attempt ends", r.ID, r.Kind)
	}
	return ""
}

func platformOf(kind string) string {
	switch {
	case strings.HasPrefix(kind, "limechat.flow_event"):
		return "the customer (a Flow-builder message)"
	case strings.HasPrefix(kind, "limechat."):
		return "LimeChat"
	case strings.HasPrefix(kind, "leadsquared."):
		return "LeadSquared"
	}
	return "the platform"
}
