package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/db"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// A ticket may belong to a lead and an opportunity at once: a lead the
// opportunity form created shares the agent's ticket with the opportunity
// captured on it (form_capture.go), and a lead and an opportunity of one
// contact may both follow the customer's next conversation (followup.go).
// Each record keeps its own link and state; a LimeChat event about the
// ticket is decided for every link of it, in the event's transaction (the
// first link by lockLink, the others here, always locked in id order). So
// an agent change on the ticket sets the owner of both records, and a tag
// runs the rules of each record's kind.

// applySharers decides ev for the links of its ticket other than the one
// Apply decided (first), saves their state and enqueues their actions,
// adding them to res.
func (s *Sync) applySharers(ctx context.Context, tx pgx.Tx, in *Integration, ev Event, eventID, first int64, res *Result) error {
	if ev.Ticket == nil || ev.Ticket.ID == 0 || first == 0 {
		return nil
	}
	q := db.New(tx)
	rows, err := q.LinkLockSharers(ctx, db.LinkLockSharersParams{IntegrationID: in.ID, TicketID: &ev.Ticket.ID, ExceptID: first})
	if err != nil {
		return fmt.Errorf("lock the ticket's other links: %w", err)
	}
	for _, row := range rows {
		link, err := linkFromRow(row)
		if err != nil {
			return err
		}
		input := Input{Event: ev, Rules: &in.Rules, Agents: &txDirectory{ctx: ctx, q: q, integration: in.ID}, Link: link}
		if ev.Type == EventReconcile {
			// As for the first link (busySinceRead): a read taken while
			// this link's actions were in flight may not show them.
			n, err := q.OutboxOpenBefore(ctx, db.OutboxOpenBeforeParams{IntegrationID: in.ID, LinkID: link.ID, Before: ev.ReadAt})
			if err != nil {
				return fmt.Errorf("read open actions: %w", err)
			}
			if n > 0 {
				continue
			}
		} else if input.Open, err = openKinds(ctx, q, in.ID, link.ID); err != nil {
			return err
		}
		d := decide(input)
		if d.Link == nil {
			continue
		}
		if len(d.Actions) > 0 {
			if tripped, why, err := s.fuse(ctx, q, in, link.ID, len(d.Actions)); err != nil {
				return err
			} else if tripped {
				d.Link.Paused, d.Link.PausedReason = true, why
				d.Actions, d.Outcome, d.Detail = nil, OutcomePaused, why
				s.log.Error("loop fuse tripped; link paused", "integration", in.ID, "link", link.ID, "reason", why)
			}
		}
		if err := saveLink(ctx, q, link, d.Link); err != nil {
			return err
		}
		scope := "l" + strconv.FormatInt(link.ID, 10) + ":"
		actions := make([]outbox.NewAction, len(d.Actions))
		for i, a := range d.Actions {
			actions[i] = outbox.NewAction{IntegrationID: in.ID, LinkID: link.ID, Kind: a.Kind, Payload: a.Payload,
				IdempotencyKey: actionKey(eventID, link.ID, scope, a), CausedBy: eventID, Unordered: a.Unordered}
			p, _ := json.Marshal(a.Payload)
			res.Planned = append(res.Planned, a.Kind+" "+string(p))
		}
		n, err := outbox.Enqueue(ctx, tx, actions)
		if err != nil {
			return err
		}
		res.Actions += n
		if d.Outcome != OutcomeEcho {
			res.Detail = joinDetail(res.Detail, fmt.Sprintf("%s %s on the same ticket: %s %s", link.Kind, link.RecordID, d.Outcome, d.Detail))
			if res.Outcome == OutcomeEcho || res.Outcome == OutcomeStale {
				// The first link had seen it; this one had not.
				res.Outcome = d.Outcome
			}
		}
	}
	return nil
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
