package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/db"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// In LimeChat a ticket ends Resolved, then Closed (by an agent or the
// inbox's Auto Close timer); after Closed, a customer's new WhatsApp
// message opens a NEW conversation with the same contact in the same
// inbox, not linked to anything. Without more, sync would silently stop
// for the record. So a conversation_created that no link knows, from the
// contact of a linked ticket, asks each such link (an action in its order)
// to follow it: the deliverer reads the linked ticket, and when it has
// ended (not open, pending or snoozed) moves the link to the new
// conversation — the old ticket is kept in link_tickets — then assigns it
// to the owner's agent and tags it with the record's tags, as a ticket of
// its own would have been. A ticket still open keeps its link (a second
// conversation the contact opened meanwhile is not the record's).

// liveStatuses are the statuses of a conversation that is not over.
var liveStatuses = []string{"open", "pending", "snoozed"}

// followUp handles a conversation_created for a conversation no link has:
// every active link of the same contact gets a follow_ticket action. done
// is false when no link has that contact (the event is then unlinked).
func (s *Sync) followUp(ctx context.Context, tx pgx.Tx, in *Integration, ev Event, eventID int64) (Result, bool, error) {
	t := ev.Ticket
	if t == nil || t.ID == 0 || t.Contact.ID == 0 || (t.InboxID != 0 && in.LimeChatInboxID != 0 && t.InboxID != in.LimeChatInboxID) {
		return Result{}, false, nil
	}
	if _, rid := ticketRecord(t); rid != "" {
		return Result{}, false, nil // opened by lsqbridge for a record: not a follow-up
	}
	q := db.New(tx)
	rows, err := q.LinkListByContact(ctx, db.LinkListByContactParams{IntegrationID: in.ID, ContactID: &t.Contact.ID, ExceptTicketID: &t.ID})
	if err != nil {
		return Result{}, false, fmt.Errorf("find links of contact %d: %w", t.Contact.ID, err)
	}
	if len(rows) == 0 {
		return Result{}, false, nil
	}
	res := Result{EventID: eventID, LinkID: rows[0].ID, Outcome: OutcomeApplied}
	var actions []outbox.NewAction
	var names []string
	for _, row := range rows {
		p := FollowTicketPayload{From: *row.TicketID, Ticket: t.ID}
		actions = append(actions, outbox.NewAction{IntegrationID: in.ID, LinkID: row.ID, Kind: ActFollowTicket, Payload: p,
			IdempotencyKey: "ev" + strconv.FormatInt(eventID, 10) + ":follow:l" + strconv.FormatInt(row.ID, 10), CausedBy: eventID})
		b, _ := json.Marshal(p)
		res.Planned = append(res.Planned, ActFollowTicket+" "+string(b))
		names = append(names, fmt.Sprintf("%s %s (ticket %d)", row.RecordKind, row.RecordID, *row.TicketID))
	}
	if res.Actions, err = outbox.Enqueue(ctx, tx, actions); err != nil {
		return res, true, err
	}
	res.Detail = fmt.Sprintf("conversation %d of contact %d: it follows up %s if that ticket has ended",
		t.ID, t.Contact.ID, strings.Join(names, ", "))
	linkID := res.LinkID
	typ := string(ev.Type)
	err = q.InboundSetOutcome(ctx, db.InboundSetOutcomeParams{IntegrationID: in.ID, ID: eventID, Outcome: res.Outcome,
		Detail: cleanText(res.Detail, maxDetail), LinkID: &linkID, EventType: &typ})
	if err != nil {
		return res, true, fmt.Errorf("record outcome: %w", err)
	}
	return res, true, nil
}

// followTicket moves the link to its record's next conversation when its
// ticket has ended, then makes the new ticket show the record's state.
func (x *delivery) followTicket(ctx context.Context) outbox.Outcome {
	p, err := decode[FollowTicketPayload](x.a)
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Dead, Err: err}
	}
	if x.link.TicketID != p.From || x.link.State != LinkActive {
		return outbox.Outcome{Verdict: outbox.Superseded, Note: fmt.Sprintf("the link's ticket is no longer %d", p.From)}
	}
	status := "deleted"
	old, err := x.c.LimeChat.GetConversation(ctx, p.From)
	switch {
	case err == nil:
		status = old.Status
	case !errors.Is(err, ErrNotFound):
		return x.failed(ctx, "read the linked ticket", err, false)
	}
	if slices.Contains(liveStatuses, status) {
		return outbox.Outcome{Verdict: outbox.Superseded,
			Note: fmt.Sprintf("ticket %d is still %s: conversation %d is not its follow-up", p.From, status, p.Ticket)}
	}
	next, err := x.c.LimeChat.GetConversation(ctx, p.Ticket)
	if errors.Is(err, ErrNotFound) {
		return outbox.Outcome{Verdict: outbox.Superseded, Note: fmt.Sprintf("conversation %d no longer exists", p.Ticket)}
	}
	if err != nil {
		return x.failed(ctx, "read the new conversation", err, false)
	}
	if (x.link.ContactID != 0 && next.Contact.ID != 0 && next.Contact.ID != x.link.ContactID) ||
		(next.InboxID != 0 && next.InboxID != x.in.LimeChatInboxID) {
		return outbox.Outcome{Verdict: outbox.Superseded, Note: fmt.Sprintf("conversation %d is another contact's or inbox's", p.Ticket)}
	}
	if _, rid := ticketRecord(&next); rid != "" && rid != x.link.RecordID {
		return outbox.Outcome{Verdict: outbox.Superseded, Note: fmt.Sprintf("conversation %d was opened for record %s", p.Ticket, rid)}
	}
	return outbox.Outcome{Verdict: outbox.Delivered, Note: "followed",
		Result: map[string]any{"from": p.From, "ticket_id": p.Ticket, "from_status": status},
		Finish: x.moveToTicket(p, status, next)}
}

// moveToTicket moves the link (if it still has the old ticket and no link
// of its kind has the new one), keeps the old ticket in link_tickets, and
// enqueues the assignment and the tags the new ticket needs.
func (x *delivery) moveToTicket(p FollowTicketPayload, oldStatus string, next Ticket) func(context.Context, pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error {
		q := db.New(tx)
		cur, err := x.lockedLink(ctx, tx)
		if err != nil {
			return err
		}
		if cur.TicketID != p.From {
			return nil // moved (or replaced) meanwhile
		}
		if _, err := q.LinkGetByTicketKind(ctx, db.LinkGetByTicketKindParams{IntegrationID: x.in.ID, TicketID: &p.Ticket, RecordKind: string(cur.Kind)}); err == nil {
			x.log.Warn("a follow-up conversation is another record's already", "integration", x.in.ID, "link", cur.ID, "ticket", p.Ticket)
			return nil
		} else if !db.IsNotFound(err) {
			return fmt.Errorf("read links of ticket %d: %w", p.Ticket, err)
		}
		// What LimeChat is known to hold is the new ticket's: its
		// assignee and tags, as read just now.
		written := cur.Written
		written[writtenAssignee] = Written{Known: strings.ToLower(next.AssigneeEmail)}
		written[writtenLabels] = Written{Set: sortedCopy(next.Labels), HasSet: true}
		var caused *int64
		if x.a.CausedBy != 0 {
			caused = &x.a.CausedBy
		}
		n, err := q.LinkFollowTicket(ctx, db.LinkFollowTicketParams{IntegrationID: x.in.ID, ID: cur.ID, OldTicketID: p.From,
			NewTicketID: p.Ticket, OldStatus: oldStatus, CausedBy: caused, Written: jsonObject(written)})
		if err != nil {
			return fmt.Errorf("move link %d to ticket %d: %w", cur.ID, p.Ticket, err)
		}
		if n == 0 {
			return nil
		}
		x.log.Info("link follows its record's next conversation", "integration", x.in.ID, "link", cur.ID, "from", p.From, "ticket", p.Ticket)
		prefix := "follow" + strconv.FormatInt(x.a.ID, 10) + ":"
		var rows []outbox.NewAction
		if a, err := q.AgentGetByEmail(ctx, db.AgentGetByEmailParams{IntegrationID: x.in.ID, Email: cur.OwnerEmail}); err == nil {
			if ag := agentFromRow(a); ag.LimeChatAgentID != 0 && next.AssigneeID != ag.LimeChatAgentID {
				rows = append(rows, outbox.NewAction{IntegrationID: x.in.ID, LinkID: cur.ID, Kind: ActAssign, IdempotencyKey: prefix + "assign",
					Payload: AssignPayload{Email: ag.Email, AgentID: ag.LimeChatAgentID}, CausedBy: x.a.CausedBy})
			}
		}
		var tags []string
		for _, l := range cur.Labels {
			if !next.HasLabel(l) {
				tags = append(tags, l)
			}
		}
		if len(tags) > 0 {
			rows = append(rows, outbox.NewAction{IntegrationID: x.in.ID, LinkID: cur.ID, Kind: ActAddLabels, IdempotencyKey: prefix + "labels",
				Payload: AddLabelsPayload{Labels: tags}, CausedBy: x.a.CausedBy})
		}
		_, err = outbox.Enqueue(ctx, tx, rows)
		return err
	}
}
