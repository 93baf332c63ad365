package service

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/db"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// A delivery writes values it read from the link when it started. If an
// event changed the link while the call was in flight, the call may have
// landed after a person's newer change on that platform and overwritten
// it: the platform then holds the older value while the link (and the other
// platform) hold the person's. realign runs in the transaction that records
// the delivery, under the link's lock, and writes the link's current value
// again wherever it differs from what the call sent. Once people stop
// changing things, the link stops changing and the writes stop with it.

// realignOwner enqueues a write of the link's current owner to the side
// behind kind (ActAssign or ActSetOwner) when the call sent another one.
func (x *delivery) realignOwner(ctx context.Context, tx pgx.Tx, kind, sent string) error {
	cur, err := x.lockedLink(ctx, tx)
	if err != nil || cur.OwnerEmail == "" || cur.OwnerEmail == sent {
		return err
	}
	q := db.New(tx)
	a, err := q.AgentGetByEmail(ctx, db.AgentGetByEmailParams{IntegrationID: x.in.ID, Email: cur.OwnerEmail})
	if err != nil {
		return nil // no counterpart: nothing can be written (decide recorded it unmatched)
	}
	agent := agentFromRow(a)
	var act Action
	switch kind {
	case ActAssign:
		if agent.LimeChatAgentID == 0 {
			return nil
		}
		act = Action{Kind: ActAssign, Key: "owner", Payload: AssignPayload{Email: agent.Email, AgentID: agent.LimeChatAgentID}}
	case ActSetOwner:
		if agent.LeadSquaredUserID == "" {
			return nil
		}
		act = Action{Kind: ActSetOwner, Key: "owner", Payload: SetOwnerPayload{Email: agent.Email, UserID: agent.LeadSquaredUserID}}
	default:
		return fmt.Errorf("realign owner: unexpected kind %s", kind)
	}
	waiting, err := x.waiting(ctx, q, kind)
	if err != nil {
		return err
	}
	for _, w := range waiting {
		var p struct{ Email string }
		if json.Unmarshal(w.Payload, &p) == nil && p.Email == cur.OwnerEmail {
			return nil // a waiting action writes it already
		}
	}
	return x.enqueueRealign(ctx, tx, act)
}

// realignFields enqueues a write of every field the call sent whose value
// the link no longer has.
func (x *delivery) realignFields(ctx context.Context, tx pgx.Tx, sent map[string]string) error {
	cur, err := x.lockedLink(ctx, tx)
	if err != nil {
		return err
	}
	again := map[string]string{}
	for f, v := range sent {
		if now, ok := cur.Fields[f]; ok && now != v {
			again[f] = now
		}
	}
	if len(again) == 0 {
		return nil
	}
	waiting, err := x.waiting(ctx, db.New(tx), ActSetFields)
	if err != nil {
		return err
	}
	for _, w := range waiting {
		var p SetFieldsPayload
		if json.Unmarshal(w.Payload, &p) == nil {
			maps.DeleteFunc(again, func(f, v string) bool { return p.Fields[f] == v })
		}
	}
	if len(again) == 0 {
		return nil
	}
	return x.enqueueRealign(ctx, tx, Action{Kind: ActSetFields, Key: "fields", Payload: SetFieldsPayload{Fields: again}})
}

// lockedLink locks and reads the link as it is now.
func (x *delivery) lockedLink(ctx context.Context, tx pgx.Tx) (*Link, error) {
	row, err := db.New(tx).LinkLock(ctx, db.LinkLockParams{IntegrationID: x.in.ID, ID: x.link.ID})
	if err != nil {
		return nil, fmt.Errorf("lock link: %w", err)
	}
	return linkFromRow(row)
}

// waiting lists the link's actions of kind still to be sent after this one.
func (x *delivery) waiting(ctx context.Context, q *db.Queries, kind string) ([]db.Outbox, error) {
	rows, err := q.OutboxPendingOfKinds(ctx, db.OutboxPendingOfKindsParams{IntegrationID: x.in.ID, LinkID: x.link.ID,
		Kinds: []string{kind}, AfterID: x.a.ID})
	if err != nil {
		return nil, fmt.Errorf("read waiting actions: %w", err)
	}
	return slices.DeleteFunc(rows, func(r db.Outbox) bool { return r.Status != outbox.StatusPending }), nil
}

func (x *delivery) enqueueRealign(ctx context.Context, tx pgx.Tx, a Action) error {
	x.log.Info("the link changed while an action was in flight; writing its current value again",
		"integration", x.in.ID, "link", x.link.ID, "action", x.a.ID, "kind", a.Kind)
	_, err := outbox.Enqueue(ctx, tx, []outbox.NewAction{{
		IntegrationID: x.in.ID, LinkID: x.link.ID, Kind: a.Kind, Payload: a.Payload,
		IdempotencyKey: "realign" + strconv.FormatInt(x.a.ID, 10) + ":" + a.Key, CausedBy: x.a.CausedBy,
	}})
	return err
}
