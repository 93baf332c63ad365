package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/outbox"
)

// `lsqbridge outbox` is how a person handles actions the relay gave up on
// (dead) or keeps failing (pending with errors): list them, retry them with
// a fresh attempt budget, or drop them.

// outboxStatuses are the statuses `outbox list --status` takes.
var outboxStatuses = []string{outbox.StatusPending, outbox.StatusDelivering, outbox.StatusDelivered, outbox.StatusSuperseded, outbox.StatusDead}

// Outbox lists, retries and drops one integration's actions through an
// outbox.Admin, saying what it did on Out and, on Err, why it left an
// action unchanged.
type Outbox struct {
	Admin    *outbox.Admin
	Out, Err io.Writer
	Progress *Progress
}

// List writes the actions in the given statuses (comma-separated), oldest
// first, of one integration or, when integration is "", of all.
func (o *Outbox) List(ctx context.Context, integration, statuses string, limit int) error {
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
	rows, err := o.Admin.List(ctx, integration, want, limit)
	if err != nil {
		return fmt.Errorf("list outbox: %w", err)
	}
	t := newTable(o.Out, "ID", "INTEGRATION", "LINK", "KIND", "STATUS", "OUTCOME", "ATTEMPTS", "NEXT ATTEMPT", "CREATED", "LAST ERROR")
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

// DeadActions lists the ids of every dead action of an integration, oldest first.
func (o *Outbox) DeadActions(ctx context.Context, integration string) ([]int64, error) {
	rows, err := o.Admin.List(ctx, integration, []string{outbox.StatusDead}, math.MaxInt32)
	if err != nil {
		return nil, fmt.Errorf("list dead actions: %w", err)
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids, nil
}

// Retry gives each action a fresh attempt budget. An action whose earlier
// delivery may have reached the platform (outcome unknown) is refused
// unless force: a person checks there first.
func (o *Outbox) Retry(ctx context.Context, integration string, ids []int64, force bool) error {
	return o.change(ctx, integration, ids, func(r outbox.Row) (bool, string, error) {
		if r.Outcome == outbox.NoteUnknown && !force {
			return false, fmt.Sprintf("action %d (%s): may have reached %s before its attempt failed (outcome unknown);"+
				" check there first, then retry with --force, or drop it", r.ID, r.Kind, platformOf(r.Kind)), nil
		}
		ok, err := o.Admin.Retry(ctx, r.IntegrationID, r.ID)
		if err == nil && ok {
			fmt.Fprintf(o.Out, "action %d (%s): retrying now with a fresh attempt budget\n", r.ID, r.Kind)
		}
		return ok, "", err
	})
}

// Drop finishes each action without delivering it.
func (o *Outbox) Drop(ctx context.Context, integration string, ids []int64) error {
	return o.change(ctx, integration, ids, func(r outbox.Row) (bool, string, error) {
		ok, err := o.Admin.Drop(ctx, r.IntegrationID, r.ID)
		if err == nil && ok {
			fmt.Fprintf(o.Out, "action %d (%s): dropped; it will not be delivered\n", r.ID, r.Kind)
		}
		return ok, "", err
	})
}

// changeFunc changes one action; it reports whether the row changed, or
// why it refuses to change it.
type changeFunc func(outbox.Row) (changed bool, refusal string, err error)

// change applies change to each action and explains every action it could
// not change; any refusal makes the command fail.
func (o *Outbox) change(ctx context.Context, integration string, ids []int64, change changeFunc) error {
	refused := 0
	defer o.Progress.Done()
	for i, id := range ids {
		o.Progress.Status("%d/%d actions (action %d)", i+1, len(ids), id)
		why, err := o.changeOne(ctx, integration, id, change)
		if err != nil {
			return err
		}
		if why != "" {
			o.Progress.Done()
			fmt.Fprintln(o.Err, why)
			refused++
		}
	}
	if refused > 0 {
		return fmt.Errorf("%d of %d actions left unchanged", refused, len(ids))
	}
	return nil
}

func (o *Outbox) changeOne(ctx context.Context, integration string, id int64, change changeFunc) (string, error) {
	r, err := o.Admin.Get(ctx, integration, id)
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
		if r, err = o.Admin.Get(ctx, integration, id); err == nil {
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
