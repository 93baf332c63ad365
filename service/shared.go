package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/db"
)

// A ticket may belong to a lead and an opportunity at once: a lead the
// opportunity form created shares the agent's ticket with the opportunity
// captured on it (form_lead.go), and a lead and an opportunity of one
// contact may both follow the customer's next conversation (followup.go).
// Each record keeps its own link and state; a LimeChat event about the
// ticket is decided for every link of it, in the event's transaction (the
// first link by lockLink, the others here, always locked in id order). So
// an agent change on the ticket sets the owner of both records, and a tag
// runs the rules of each record's kind.

// applySharers decides ev for the links of its ticket other than the one
// apply decided (first), and writes each one's state and actions (not the
// event's outcome: apply records it once, for all). The result carries
// their actions and what they concluded: outcome is the first link's
// outcome, raised to the sharers' when the first link had seen the event
// and a sharer had not. apply calls it only when the ticket's lock said
// the ticket is shared (Link.SharesTicket): a ticket with one link costs
// nothing more.
func (s *Sync) applySharers(ctx context.Context, tx pgx.Tx, in *Integration, ev Event, eventID, first int64, dir Directory, outcome string) (Result, error) {
	res := Result{Outcome: outcome}
	if ev.Ticket == nil || ev.Ticket.ID == 0 || first == 0 {
		return res, nil
	}
	q := db.New(tx)
	rows, err := q.LinkLockSharers(ctx, db.LinkLockSharersParams{IntegrationID: in.ID, TicketID: &ev.Ticket.ID, ExceptID: first})
	if err != nil {
		return res, fmt.Errorf("lock the ticket's other links: %w", err)
	}
	for _, row := range rows {
		link, err := linkFromRow(row)
		if err != nil {
			return res, err
		}
		input := Input{Event: ev, Rules: &in.Rules, Agents: dir, Link: link}
		if ev.Type == EventReconcile {
			// As for the first link (busySinceRead): a read taken while
			// this link's actions were in flight may not show them.
			n, err := q.OutboxOpenBefore(ctx, db.OutboxOpenBeforeParams{IntegrationID: in.ID, LinkID: link.ID, Before: ev.ReadAt})
			if err != nil {
				return res, fmt.Errorf("read open actions: %w", err)
			}
			if n > 0 {
				continue
			}
		} else {
			kinds, err := q.OutboxOpenKinds(ctx, db.OutboxOpenKindsParams{IntegrationID: in.ID, LinkID: link.ID})
			if err != nil {
				return res, fmt.Errorf("read open actions: %w", err)
			}
			input.Open = make(map[string]bool, len(kinds))
			for _, k := range kinds {
				input.Open[k] = true
			}
		}
		d := decide(input)
		if d.Link == nil {
			continue
		}
		if len(d.Actions) > 0 {
			if tripped, why := s.fuse(in, d.Link, len(d.Actions)); tripped {
				d.Link.Paused, d.Link.PausedReason = true, why
				d.Actions, d.Outcome, d.Detail = nil, OutcomePaused, why
				s.log.Error("loop fuse tripped; link paused", "integration", in.ID, "link", d.Link.ID, "reason", why)
			}
		}
		p := finishParams(in.ID, eventID, ev, link, d)
		p.RecordEvent = false
		planned, err := addActions(&p, eventID, link.ID, "l"+strconv.FormatInt(link.ID, 10)+":", d.Actions)
		if err != nil {
			return res, err
		}
		added, err := q.ApplyFinish(ctx, p)
		if err != nil {
			return res, fmt.Errorf("record the decision for link %d: %w", link.ID, err)
		}
		res.Actions += len(added)
		res.Planned = append(res.Planned, planned...)
		if d.Outcome != OutcomeEcho {
			res.Detail = joinDetail(res.Detail, fmt.Sprintf("%s %s on the same ticket: %s %s", link.Kind, link.RecordID, d.Outcome, d.Detail))
			if res.Outcome == OutcomeEcho || res.Outcome == OutcomeStale {
				res.Outcome = d.Outcome
			}
		}
	}
	return res, nil
}

// addActions adds a decision's actions to ApplyFinish's input, keyed by
// actionKey (scope tells apart the links of one event sharing a ticket),
// and returns them described ("kind payload").
func addActions(p *db.ApplyFinishParams, eventID, linkID int64, scope string, actions []Action) ([]string, error) {
	var planned []string
	for _, a := range actions {
		payload, err := json.Marshal(a.Payload)
		if err != nil {
			return nil, fmt.Errorf("encode %s payload: %w", a.Kind, err)
		}
		p.Kinds = append(p.Kinds, a.Kind)
		p.Payloads = append(p.Payloads, payload)
		p.IdempotencyKeys = append(p.IdempotencyKeys, actionKey(eventID, linkID, scope, a))
		p.Unordereds = append(p.Unordereds, a.Unordered)
		planned = append(planned, a.Kind+" "+string(payload))
	}
	return planned, nil
}

func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
