package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/db"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// Agents work in the ticket; what lsqbridge could not mirror is otherwise
// visible only in the audit views. So, unless the integration switches it
// off (notes.enabled: false), lsqbridge posts a private note on the ticket
// (Chatwoot private message: agents see it, the customer never does) when
//
//   - an owner or agent has no counterpart on the other platform (decide);
//   - an action died: the deliverer declares it dead (Handle), or the relay
//     gave up on it or it crashed the relay (the reconciler's sweep);
//   - changes made since wait behind such an action (the sweep).
//
// Each note is an unordered outbox action — a dead action of its link
// does not hold it (it is usually about that action), and it holds
// nothing — enqueued at most once per link and cause: its idempotency key
// is onceKey(link, cause), so a second event with the same unmatched owner
// finds the note enqueued already. The key (a marker in the note) lets a
// retry after an ambiguous failure find a note posted before instead of
// posting it twice, as postActivity does. Once pruned with the outbox
// (7 days after delivery), a cause that comes back is noted again.

// onceKey is the idempotency key of an action enqueued once per link and
// cause (Action.Once).
func onceKey(linkID int64, cause string) string {
	return "note:l" + strconv.FormatInt(linkID, 10) + ":" + cause
}

// actionKey is an action's idempotency key: event-scoped (scope tells the
// links of one event apart when several share a ticket), or once per link.
func actionKey(eventID, linkID int64, scope string, a Action) string {
	if a.Once != "" {
		return onceKey(linkID, a.Once)
	}
	return "ev" + strconv.FormatInt(eventID, 10) + ":" + scope + a.Key
}

// noteForAgents adds a private note for the ticket's agents to the decision, when
// the integration posts notes.
func (r *result) noteForAgents(rules *Rules, cause, text string) {
	if !rules.NotesOn() || r.next.TicketID == 0 {
		// No ticket to carry it yet: when the relay opens it, the create
		// notes an owner with no agent itself (noteOpenedUnassigned).
		return
	}
	r.add(Action{Kind: ActPostNote, Key: "note:" + cause, Once: cause, Unordered: true,
		Payload: NotePayload{Cause: cause, Text: text}})
}

// recordName is how a note names the link's record.
func recordName(k RecordKind) string {
	if k == KindOpportunity {
		return "opportunity"
	}
	return "lead"
}

// fixPerson is the advice of every unmatched-person note.
const fixPerson = "To fix it, give the person an account with the same e-mail on both LeadSquared and LimeChat " +
	"(or correct the e-mail on one of them); the agent directory refreshes every 15 minutes, and the next change syncs."

func noteOwnerWithoutAgent(kind RecordKind, email string) string {
	return fmt.Sprintf("lsqbridge: the LeadSquared owner of this %s is now %s, but no LimeChat agent has that e-mail, "+
		"so this ticket's agent was not changed. %s", recordName(kind), email, fixPerson)
}

func noteOwnerUnknown(kind RecordKind, userID string) string {
	return fmt.Sprintf("lsqbridge: the LeadSquared owner of this %s is now user %s, whose e-mail lsqbridge does not know "+
		"(not in its agent directory), so this ticket's agent was not changed. %s", recordName(kind), userID, fixPerson)
}

func noteOpenedUnassigned(kind RecordKind, owner string) string {
	return fmt.Sprintf("lsqbridge: this ticket was opened unassigned: the LeadSquared owner of this %s, %s, has no LimeChat "+
		"agent with that e-mail. %s", recordName(kind), owner, fixPerson)
}

func noteAgentWithoutUser(kind RecordKind, email, owner string) string {
	return fmt.Sprintf("lsqbridge: %s was assigned this ticket but has no LeadSquared user with that e-mail, so the "+
		"%s's owner in LeadSquared stays %s. %s", email, recordName(kind), orNone(owner), fixPerson)
}

func noteAgentUnknown(kind RecordKind, agentID int64, owner string) string {
	return fmt.Sprintf("lsqbridge: LimeChat agent %d was assigned this ticket but is not in lsqbridge's agent directory "+
		"(no e-mail known), so the %s's owner in LeadSquared stays %s. %s", agentID, recordName(kind), orNone(owner), fixPerson)
}

// actionWhat says, for agents, what an action of kind was doing.
func actionWhat(kind string) string {
	switch kind {
	case ActCreateTicket:
		return "Opening this ticket"
	case ActAssign:
		return "Assigning this ticket to the LeadSquared owner's agent"
	case ActAddLabels, ActRemoveLabels:
		return "Changing this ticket's tags"
	case ActFlowEvent:
		return "Sending the Flow-builder event (the campaign message to the customer)"
	case ActSetOwner:
		return "Changing the owner in LeadSquared"
	case ActSetFields:
		return "Updating fields in LeadSquared"
	case ActPostActivity:
		return "Posting the activity in LeadSquared"
	case ActFollowTicket:
		return "Moving the record's sync to this conversation"
	}
	return "An update (" + kind + ")"
}

// noteDead is the note about a dead action.
func noteDead(kind string, actionID int64, outcome, why string) string {
	why = strings.TrimSpace(why)
	if len(why) > 300 {
		why = why[:300] + "…"
	}
	what := actionWhat(kind) + " failed and will not be retried"
	if kind == ActFlowEvent && outcome == "unknown" {
		what = actionWhat(kind) + " may or may not have reached the customer, so it is not sent again"
	}
	return fmt.Sprintf("lsqbridge: %s (%s). Until support retries or drops it (lsqbridge outbox retry|drop %d), "+
		"later changes to this ticket's owner, tags and LeadSquared fields wait behind it, in both directions; "+
		"they are not lost.", what, orNone(why), actionID)
}

func noteHeld(kind string, actionID int64, waiting int64) string {
	return fmt.Sprintf("lsqbridge: changes made since on this ticket or its LeadSquared record are not mirrored yet "+
		"(%d update(s) waiting): %s failed (action %d) and holds this record's sync until support retries or drops it "+
		"(lsqbridge outbox retry|drop %d). Nothing is lost: they follow once it is released.",
		waiting, strings.ToLower(actionWhat(kind)[:1])+actionWhat(kind)[1:], actionID, actionID)
}

// enqueueNote writes a note action for link in tx.
func enqueueNote(ctx context.Context, tx pgx.Tx, integration string, linkID, causedBy int64, cause, text string) error {
	_, err := outbox.Enqueue(ctx, tx, []outbox.NewAction{{IntegrationID: integration, LinkID: linkID, Kind: ActPostNote,
		Payload: NotePayload{Cause: cause, Text: text}, IdempotencyKey: onceKey(linkID, cause), CausedBy: causedBy, Unordered: true}})
	if err != nil {
		return fmt.Errorf("enqueue a note: %w", err)
	}
	return nil
}

// noteIfDead adds, to a dead outcome of an action on a link with a ticket,
// the note saying so (in the transaction that records it).
func (x *delivery) noteIfDead(o outbox.Outcome) outbox.Outcome {
	if o.Verdict != outbox.Dead || x.a.Kind == ActPostNote || x.link.TicketID == 0 || !x.in.Rules.NotesOn() {
		return o
	}
	why := ""
	if o.Err != nil {
		why = o.Err.Error()
	}
	text := noteDead(x.a.Kind, x.a.ID, o.Note, why)
	cause := "dead:" + strconv.FormatInt(x.a.ID, 10)
	finish := o.Finish
	o.Finish = func(ctx context.Context, tx pgx.Tx) error {
		if finish != nil {
			if err := finish(ctx, tx); err != nil {
				return err
			}
		}
		return enqueueNote(ctx, tx, x.in.ID, x.link.ID, x.a.CausedBy, cause, text)
	}
	return o
}

// noteTicketWait is how often a note whose ticket is not made yet looks again.
const noteTicketWait = 5 * time.Second

// maxNoteLookBack is how many of a ticket's newest messages a retry reads
// to find a note a previous attempt may have posted.
const maxNoteLookBack = 100

// postNote posts a private note on the link's ticket. A note that cannot
// be posted for good is given up (superseded, never dead): it must not
// hold the link nor page anyone.
func (x *delivery) postNote(ctx context.Context) outbox.Outcome {
	p, err := decode[NotePayload](x.a)
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Superseded, Err: err, Note: "not posted: " + err.Error()}
	}
	if !x.in.Rules.NotesOn() {
		return outbox.Outcome{Verdict: outbox.Superseded, Note: "notes are switched off (notes.enabled)"}
	}
	if x.link.State == LinkUnlinked {
		return outbox.Outcome{Verdict: outbox.Superseded, Note: "the link was unlinked"}
	}
	if x.link.TicketID == 0 {
		// Not a failure: the note waits for the ticket, spending no
		// attempt. (Notes are enqueued for links with a ticket; this is
		// a safety net.)
		return outbox.Outcome{Verdict: outbox.Retry, Deferred: true, RetryAfter: noteTicketWait,
			Err: errors.New("waiting for the link's ticket to be created"), Note: "not_sent"}
	}
	marker := "[lsqbridge " + x.a.IdempotencyKey + "]"
	if x.a.Attempts > 1 && x.a.LastOutcome != "not_sent" {
		// A previous attempt may have posted it: look for our marker first.
		msgs, err := x.c.LimeChat.Messages(ctx, x.link.TicketID, maxNoteLookBack)
		if err != nil {
			return x.gaveUpNote(x.failed(ctx, "look for a posted note", err, false))
		}
		for _, m := range msgs {
			if m.Private && strings.Contains(m.Content, marker) {
				return outbox.Outcome{Verdict: outbox.Delivered, Note: "found posted", Result: map[string]any{"message_id": m.ID, "ticket_id": x.link.TicketID}}
			}
		}
	}
	m, err := x.c.LimeChat.PostMessage(ctx, x.link.TicketID, NewMessage{Content: p.Text + "\n\n" + marker, Private: true})
	if err != nil {
		return x.gaveUpNote(x.failed(ctx, "post a private note", err, false))
	}
	return outbox.Outcome{Verdict: outbox.Delivered, Result: map[string]any{"message_id": m.ID, "ticket_id": x.link.TicketID}}
}

// gaveUpNote turns a note's permanent failure into superseded.
func (x *delivery) gaveUpNote(o outbox.Outcome) outbox.Outcome {
	if o.Verdict != outbox.Dead {
		return o
	}
	msg := "not posted"
	if o.Err != nil {
		msg += ": " + o.Err.Error()
	}
	return outbox.Outcome{Verdict: outbox.Superseded, Note: cleanText(msg, 200)}
}

// maxSweep bounds the notes one sweep enqueues per integration.
const maxSweep = 200

// NoteSweep enqueues the notes the deliverer could not: for actions the
// relay gave up on or that crashed it, and for changes waiting behind a
// dead action. The reconciler runs it every pass; it returns how many
// notes it enqueued.
func NoteSweep(ctx context.Context, tx pgx.Tx, in *Integration) (int, error) {
	if !in.Rules.NotesOn() {
		return 0, nil
	}
	q := db.New(tx)
	dead, err := q.NoteDeadWithoutNote(ctx, db.NoteDeadWithoutNoteParams{IntegrationID: in.ID, MaxRows: maxSweep})
	if err != nil {
		return 0, fmt.Errorf("find dead actions without a note: %w", err)
	}
	n := 0
	for _, d := range dead {
		var caused int64
		if d.CausedBy != nil {
			caused = *d.CausedBy
		}
		if err := enqueueNote(ctx, tx, in.ID, d.LinkID, caused, "dead:"+strconv.FormatInt(d.ID, 10),
			noteDead(d.Kind, d.ID, d.Outcome, d.LastError)); err != nil {
			return n, err
		}
		n++
	}
	held, err := q.NoteHeldWithoutNote(ctx, db.NoteHeldWithoutNoteParams{IntegrationID: in.ID, MaxRows: maxSweep})
	if err != nil {
		return n, fmt.Errorf("find held links without a note: %w", err)
	}
	for _, h := range held {
		if err := enqueueNote(ctx, tx, in.ID, h.LinkID, 0, "held:"+strconv.FormatInt(h.ID, 10), noteHeld(h.Kind, h.ID, h.Waiting)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
