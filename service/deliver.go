package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// Deliverer performs outbox actions on the platforms (an outbox.Handler).
// Delivery is at-least-once; each action makes its effect once: setting
// values is idempotent, labels are read-union-written, creates look before
// they act on a retry, and a Flow-builder event is never re-sent after an
// attempt that may have reached the platform.
type Deliverer struct {
	pool         *pgxpool.Pool
	q            *db.Queries
	integrations *Integrations
	platforms    Platforms
	pacer        *Pacer
	log          *slog.Logger
	// agents, when set, answers who is who from memory.
	agents *AgentDirectory
}

// WithDirectory makes the deliverer read people from the directory's
// in-memory snapshot instead of a query per look-up.
func (d *Deliverer) WithDirectory(a *AgentDirectory) *Deliverer {
	d.agents = a
	return d
}

// NewDeliverer returns the action handler.
func NewDeliverer(pool *pgxpool.Pool, integrations *Integrations, platforms Platforms, pacer *Pacer, log *slog.Logger) *Deliverer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if pacer == nil {
		pacer = NewPacer()
	}
	return &Deliverer{pool: pool, q: db.New(pool), integrations: integrations, platforms: platforms, pacer: pacer, log: log}
}

// delivery is one action being handled.
type delivery struct {
	*Deliverer
	a    outbox.Action
	in   *Integration
	link *Link
	c    Clients
}

// Handle performs one action.
func (d *Deliverer) Handle(ctx context.Context, a outbox.Action) outbox.Outcome {
	in, err := d.integrations.Get(ctx, a.IntegrationID)
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Retry, Err: err}
	}
	row, err := d.q.LinkGet(ctx, db.LinkGetParams{IntegrationID: a.IntegrationID, ID: a.LinkID})
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Retry, Err: fmt.Errorf("load link: %w", err)}
	}
	link, err := linkFromRow(row)
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Dead, Err: err}
	}
	x := &delivery{Deliverer: d, a: a, in: in, link: link, c: d.platforms.For(in)}
	// An action that dies holds its link: the ticket's agents get a note
	// saying so (notes.go).
	return x.noteIfDead(x.handle(ctx))
}

func (x *delivery) handle(ctx context.Context) outbox.Outcome {
	switch x.a.Kind {
	case ActCreateTicket:
		return x.createTicket(ctx)
	case ActAssign:
		return x.assign(ctx)
	case ActAddLabels:
		return x.addLabels(ctx)
	case ActRemoveLabels:
		return x.removeLabels(ctx)
	case ActFlowEvent:
		return x.flowEvent(ctx)
	case ActSetOwner, ActSetFields:
		return x.updateRecord(ctx)
	case ActPostActivity:
		return x.postActivity(ctx)
	case ActPostNote:
		return x.postNote(ctx)
	case ActFollowTicket:
		return x.followTicket(ctx)
	}
	return outbox.Outcome{Verdict: outbox.Dead, Err: fmt.Errorf("unknown action kind %q", x.a.Kind)}
}

func decode[T any](a outbox.Action) (T, error) {
	var v T
	if err := json.Unmarshal(a.Payload, &v); err != nil {
		return v, fmt.Errorf("decode %s payload: %w", a.Kind, err)
	}
	return v, nil
}

// failed turns a platform error into an outcome.
func (x *delivery) failed(ctx context.Context, op string, err error, leadSquared bool) outbox.Outcome {
	err = fmt.Errorf("%s: %w", op, err)
	class, after := ClassOf(err)
	switch class {
	case ClassRateLimited:
		if leadSquared {
			after = max(after, 5*time.Second)
			until := time.Now().Add(after)
			if perr := x.q.IntegrationPauseLeadSquared(ctx, db.IntegrationPauseLeadSquaredParams{ID: x.in.ID, Until: until}); perr != nil {
				x.log.Error("pause integration", "integration", x.in.ID, "err", perr)
			}
			x.pacer.Pause(x.in.ID, until)
		}
		return outbox.Outcome{Verdict: outbox.Retry, Err: err, RateLimited: true, RetryAfter: after, Note: outbox.NoteNotSent}
	case ClassPermanent:
		return outbox.Outcome{Verdict: outbox.Dead, Err: err, Note: "rejected by platform"}
	case ClassUncertain:
		return outbox.Outcome{Verdict: outbox.Retry, Err: err, RetryAfter: after, Note: outbox.NoteMaybeSent}
	}
	note := outbox.NoteMaybeSent
	if notSent(err) {
		note = outbox.NoteNotSent
	}
	return outbox.Outcome{Verdict: outbox.Retry, Err: err, RetryAfter: after, Note: note}
}

// notSent reports whether a failure certainly left the platform untouched:
// it could not connect, or the platform answered that it did not act
// (a rate limit, 503 unavailable).
func notSent(err error) bool {
	var op *net.OpError
	var refused interface{ NotSent() bool }
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial") ||
		(errors.As(err, &refused) && refused.NotSent())
}

// ticketWait is how often an action that needs its link's ticket looks again.
const ticketWait = 30 * time.Second

func (x *delivery) needTicket() (outbox.Outcome, bool) {
	if x.link.TicketID != 0 {
		return outbox.Outcome{}, true
	}
	// Not a failure: the action waits for the ticket (its create may be
	// held behind a dead action, or retried), spending no attempt.
	return outbox.Outcome{Verdict: outbox.Retry, Deferred: true, RetryAfter: ticketWait,
		Err: errors.New("waiting for the link's ticket to be created"), Note: outbox.NoteNotSent}, false
}

// shortPace is the longest a worker waits for a LeadSquared token itself;
// a longer wait goes back to the queue (see Pacer.Take).
const shortPace = 250 * time.Millisecond

// pace spends one of the integration's LeadSquared tokens. When none comes
// soon, the action goes back to the queue, due when one will be there, with
// its attempt given back: the worker moves on to other customers' actions.
func (x *delivery) pace(ctx context.Context) (outbox.Outcome, bool) {
	for {
		wait := x.pacer.Take(ctx, x.in.ID, x.in.RequestsPer5s)
		if wait == 0 {
			return outbox.Outcome{}, true
		}
		if wait > shortPace {
			return outbox.Outcome{Verdict: outbox.Retry, RetryAfter: wait, Deferred: true, Note: outbox.NoteNotSent,
				Err: fmt.Errorf("waiting %s for the integration's LeadSquared pace (%d calls per 5 s)", wait.Round(time.Millisecond), x.in.RequestsPer5s)}, false
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return outbox.Outcome{Verdict: outbox.Retry, Err: ctx.Err(), Note: outbox.NoteNotSent}, false
		case <-t.C:
		}
	}
}

// recordWrite adds a value written to a platform to the link's ledger, so
// its echo is recognised and a person's change it may have overwritten is
// written back (see decide). It locks the link like Apply does. A mark made
// before the call (markWrite) is completed rather than added again.
func (x *delivery) recordWrite(key, value, prev string, sent time.Time, noEcho bool, window ...time.Time) func(context.Context, pgx.Tx) error {
	return x.updateLedger(func(ledger map[string]Written) {
		m := WriteMark{Value: value, Prev: prev, Sent: sent.UTC(), NoEcho: noEcho}
		if len(window) == 2 {
			m.Before, m.After = window[0].UTC(), window[1].UTC()
		}
		if noEcho {
			m.Landed = time.Now().UTC()
		}
		ledger[key] = ledger[key].recorded(m)
	})
}

// recorded returns w with the write m done and w's value now m's. A mark
// made before the call (same value, same sent time) is completed rather
// than added again.
func (w Written) recorded(m WriteMark) Written {
	w.Known = m.Value
	w.Marks = slices.Clone(w.Marks)
	if i := slices.IndexFunc(w.Marks, func(o WriteMark) bool { return o.Sent.Equal(m.Sent) && o.Value == m.Value }); i >= 0 {
		if landed := w.Marks[i].Landed; !landed.IsZero() && !m.NoEcho && (m.After.IsZero() || landed.Equal(m.After)) {
			// Its echo came before this record. A change that matched
			// the mark at another time than the read-back's was a
			// person's, to the same value, made before our call landed:
			// the mark then waits on for our own echo, which must not
			// pass for a person's change when it comes.
			m.Landed = landed
		}
		w.Marks[i] = m
	} else {
		w.Marks = append(w.Marks, m)
	}
	if n := len(w.Marks); n > maxMarks {
		w.Marks = w.Marks[n-maxMarks:]
	}
	return w
}

// markWrite records a write about to be made, before the call: the
// platform's echo of it may come before the delivery is recorded, and
// must still be told from a person's change.
func (x *delivery) markWrite(ctx context.Context, key, value, prev string, sent time.Time) error {
	return x.addMark(ctx, key, WriteMark{Value: value, Prev: prev, Sent: sent.UTC()})
}

// unmarkWrite takes back a mark whose write certainly did not happen.
func (x *delivery) unmarkWrite(ctx context.Context, key string, sent time.Time) {
	err := pgx.BeginFunc(context.WithoutCancel(ctx), x.pool, func(tx pgx.Tx) error {
		return x.updateLedger(func(ledger map[string]Written) {
			w := ledger[key]
			w.Marks = slices.DeleteFunc(slices.Clone(w.Marks), func(m WriteMark) bool { return m.Sent.Equal(sent.UTC()) && m.Landed.IsZero() })
			ledger[key] = w
		})(ctx, tx)
	})
	if err != nil {
		x.log.Warn("take back the mark of a write that was not made", "link", x.link.ID, "err", err)
	}
}

// rememberFields records field values written to LeadSquared as what it
// now holds (a reconcile read showing them again is no change there).
func (x *delivery) rememberFields(fields map[string]string) func(context.Context, pgx.Tx) error {
	return x.updateLedger(func(ledger map[string]Written) {
		for f, v := range fields {
			w := ledger[writtenField(f)]
			w.Known = v
			ledger[writtenField(f)] = w
		}
	})
}

// rememberLabels records the label list written to (or read from) the
// ticket as what LimeChat now holds.
func (x *delivery) rememberLabels(labels []string) func(context.Context, pgx.Tx) error {
	return x.updateLedger(func(ledger map[string]Written) {
		w := ledger[writtenLabels]
		w.Set, w.HasSet = sortedCopy(labels), true
		ledger[writtenLabels] = w
	})
}

// markLabelWrite records, before the call, a label write about to be made
// with the list read before it, so that its echo is recognised whenever it
// comes (it may come before the delivery is recorded) and a person's
// change it raced is put back (see decide).
func (x *delivery) markLabelWrite(ctx context.Context, read, write []string) error {
	return x.addMark(ctx, writtenLabels, WriteMark{Value: joinSet(write), Prev: joinSet(read), Sent: time.Now().UTC()})
}

// addMark appends a mark to the link's ledger in one statement.
func (x *delivery) addMark(ctx context.Context, key string, m WriteMark) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return x.q.LinkAddMark(ctx, db.LinkAddMarkParams{Key: key, Mark: b, IntegrationID: x.in.ID, ID: x.link.ID})
}

// writeLabels replaces the ticket's labels with write, read being what it
// held: the write is marked first (markLabelWrite).
func (x *delivery) writeLabels(ctx context.Context, ticketID int64, read, write []string) error {
	if err := x.markLabelWrite(ctx, read, write); err != nil {
		return fmt.Errorf("mark the label write: %w", err)
	}
	_, err := x.c.LimeChat.SetLabels(ctx, ticketID, write)
	return err
}

// updateLedger changes the link's ledger (links.written) under its lock.
func (x *delivery) updateLedger(change func(map[string]Written)) func(context.Context, pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error {
		q := db.New(tx)
		row, err := q.LinkLock(ctx, db.LinkLockParams{IntegrationID: x.in.ID, ID: x.link.ID})
		if err != nil {
			return fmt.Errorf("lock link: %w", err)
		}
		ledger := map[string]Written{}
		if err := json.Unmarshal(row.Written, &ledger); err != nil {
			ledger = map[string]Written{}
		}
		change(ledger)
		b, err := json.Marshal(ledger)
		if err != nil {
			return err
		}
		return q.LinkSetWritten(ctx, db.LinkSetWrittenParams{IntegrationID: x.in.ID, ID: x.link.ID, Written: b})
	}
}

func (x *delivery) agent(ctx context.Context, email string) (Agent, bool) {
	if email == "" {
		return Agent{}, false
	}
	if x.agents != nil {
		if dir, err := x.agents.Lookup(ctx, x.in.ID); err == nil {
			return dir.ByEmail(email)
		}
	}
	r, err := x.q.AgentGetByEmail(ctx, db.AgentGetByEmailParams{IntegrationID: x.in.ID, Email: email})
	if err != nil {
		return Agent{}, false
	}
	return agentFromRow(r), true
}

func (x *delivery) assign(ctx context.Context) outbox.Outcome {
	p, err := decode[AssignPayload](x.a)
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Dead, Err: err}
	}
	if x.link.OwnerEmail != p.Email {
		return outbox.Outcome{Verdict: outbox.Superseded, Note: "owner changed again before delivery"}
	}
	if o, ok := x.needTicket(); !ok {
		return o
	}
	agentID := p.AgentID
	if a, ok := x.agent(ctx, p.Email); ok && a.LimeChatAgentID != 0 {
		agentID = a.LimeChatAgentID
	}
	// Mark, then read, then write: assigning the agent already there fires
	// no webhook, and the previous agent and the time of the ticket's last
	// change tell our echo from a person's change. The read comes right
	// before the write: a person assigning the same agent between the two
	// makes our write a no-op whose "echo" is theirs, which no webhook can
	// tell apart (Chatwoot's carry no actor), so that window is kept to
	// one call.
	sent := time.Now()
	if err := x.markWrite(ctx, writtenAssignee, p.Email, "", sent); err != nil {
		return outbox.Outcome{Verdict: outbox.Retry, Err: fmt.Errorf("mark the assignment: %w", err), Note: outbox.NoteNotSent}
	}
	cur, err := x.c.LimeChat.GetConversation(ctx, x.link.TicketID)
	if err != nil {
		x.unmarkWrite(ctx, writtenAssignee, sent)
		return x.failed(ctx, "read ticket", err, false)
	}
	if cur.AssigneeID == agentID {
		return outbox.Outcome{Verdict: outbox.Delivered, Note: "already assigned",
			Finish: x.recordWrite(writtenAssignee, p.Email, "", sent, true)}
	}
	prev := strconv.FormatInt(cur.AssigneeID, 10)
	if err := x.c.LimeChat.Assign(ctx, x.link.TicketID, agentID); err != nil {
		o := x.failed(ctx, "assign ticket", err, false)
		if o.Note == outbox.NoteNotSent {
			x.unmarkWrite(ctx, writtenAssignee, sent)
		}
		return o
	}
	// Read back when it took effect, so its echo is told apart from a
	// person making the same change moments later.
	var window []time.Time
	if after, err := x.c.LimeChat.GetConversation(ctx, x.link.TicketID); err == nil && after.AssigneeID == agentID &&
		!cur.UpdatedAt.IsZero() && !after.UpdatedAt.IsZero() {
		window = []time.Time{cur.UpdatedAt, after.UpdatedAt}
	}
	record := x.recordWrite(writtenAssignee, p.Email, prev, sent, false, window...)
	return outbox.Outcome{Verdict: outbox.Delivered, Result: map[string]any{"ticket_id": x.link.TicketID, "agent_id": agentID},
		Finish: func(ctx context.Context, tx pgx.Tx) error {
			if err := record(ctx, tx); err != nil {
				return err
			}
			return x.realignOwner(ctx, tx, ActAssign, p.Email)
		}}
}

func (x *delivery) addLabels(ctx context.Context) outbox.Outcome {
	p, err := decode[AddLabelsPayload](x.a)
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Dead, Err: err}
	}
	want := slices.DeleteFunc(slices.Clone(p.Labels), func(l string) bool { return !slices.Contains(x.link.Labels, l) })
	if len(want) == 0 {
		return outbox.Outcome{Verdict: outbox.Superseded, Note: "labels removed again before delivery"}
	}
	if o, ok := x.needTicket(); !ok {
		return o
	}
	// The labels API replaces the whole list: read, union, write.
	cur, err := x.c.LimeChat.Labels(ctx, x.link.TicketID)
	if err != nil {
		return x.failed(ctx, "read labels", err, false)
	}
	union := slices.Clone(cur)
	for _, l := range want {
		if !slices.Contains(union, l) {
			union = append(union, l)
		}
	}
	if len(union) == len(cur) {
		return outbox.Outcome{Verdict: outbox.Delivered, Note: "already labelled", Finish: x.rememberLabels(cur)}
	}
	if err := x.writeLabels(ctx, x.link.TicketID, cur, union); err != nil {
		return x.failed(ctx, "set labels", err, false)
	}
	return outbox.Outcome{Verdict: outbox.Delivered, Result: map[string]any{"labels": union}, Finish: x.rememberLabels(union)}
}

// removeLabels takes labels off the ticket again (read, remove, write)
// that a label write of ours put back while a person was removing them;
// one the link has again by now stays.
func (x *delivery) removeLabels(ctx context.Context) outbox.Outcome {
	p, err := decode[RemoveLabelsPayload](x.a)
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Dead, Err: err}
	}
	drop := slices.DeleteFunc(slices.Clone(p.Labels), func(l string) bool { return slices.Contains(x.link.Labels, l) })
	if len(drop) == 0 {
		return outbox.Outcome{Verdict: outbox.Superseded, Note: "labels added again before delivery"}
	}
	if o, ok := x.needTicket(); !ok {
		return o
	}
	cur, err := x.c.LimeChat.Labels(ctx, x.link.TicketID)
	if err != nil {
		return x.failed(ctx, "read labels", err, false)
	}
	rest := slices.DeleteFunc(slices.Clone(cur), func(l string) bool { return slices.Contains(drop, l) })
	if len(rest) == len(cur) {
		return outbox.Outcome{Verdict: outbox.Delivered, Note: "already removed", Finish: x.rememberLabels(cur)}
	}
	if err := x.writeLabels(ctx, x.link.TicketID, cur, rest); err != nil {
		return x.failed(ctx, "set labels", err, false)
	}
	return outbox.Outcome{Verdict: outbox.Delivered, Result: map[string]any{"labels": rest}, Finish: x.rememberLabels(rest)}
}

func (x *delivery) flowEvent(ctx context.Context) outbox.Outcome {
	p, err := decode[FlowEventPayload](x.a)
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Dead, Err: err}
	}
	if x.c.FlowBuilder == nil {
		return outbox.Outcome{Verdict: outbox.Dead, Err: errors.New("the integration has no flow_builder settings"), Note: outbox.NoteNotSent}
	}
	if x.a.Attempts > 1 && x.a.LastOutcome != outbox.NoteNotSent {
		return outbox.Outcome{Verdict: outbox.Dead, Note: outbox.NoteUnknown, Err: fmt.Errorf(
			"a previous attempt may have reached Flow-builder (%s); not re-sent so the customer is not messaged twice: "+
				"check Flow-builder, then `lsqbridge outbox retry` or `drop`", x.a.LastError)}
	}
	if p.Phone == "" {
		if o, ok := x.flowPhone(ctx, &p); !ok {
			return o
		}
	}
	if p.Data == nil {
		p.Data = map[string]any{}
	}
	p.Data["idempotency_key"] = x.a.IdempotencyKey
	ev := FlowEvent{DistinctID: firstNonEmpty(p.DistinctID, p.Phone), Phone: p.Phone, Event: p.Event, Data: p.Data}
	if err := x.c.FlowBuilder.SendEvent(ctx, ev); err != nil {
		o := x.failed(ctx, "send Flow-builder event", err, false)
		if o.Verdict == outbox.Retry && o.Note != outbox.NoteNotSent {
			// It may have been delivered: a person decides, never a retry.
			o.Verdict, o.Note = outbox.Dead, outbox.NoteUnknown
		}
		return o
	}
	return outbox.Outcome{Verdict: outbox.Delivered, Result: map[string]any{"event": p.Event, "phone": p.Phone}}
}

// updateRecord sends a set_owner or set_fields action, folded together with
// every waiting owner/field update of the same record into one call.
func (x *delivery) updateRecord(ctx context.Context) outbox.Outcome {
	fields := map[string]string{}
	ownerEmail := ""
	absorb := func(kind string, payload []byte) error {
		switch kind {
		case ActSetOwner:
			var p SetOwnerPayload
			if err := json.Unmarshal(payload, &p); err != nil {
				return err
			}
			if p.Email != x.link.OwnerEmail {
				return nil // superseded by a later owner change
			}
			id := p.UserID
			if a, ok := x.agent(ctx, p.Email); ok && a.LeadSquaredUserID != "" {
				id = a.LeadSquaredUserID
			}
			ownerEmail = p.Email
			if x.link.Kind == KindOpportunity {
				fields["Owner"] = id
			} else {
				fields["OwnerId"] = id
			}
		case ActSetFields:
			var p SetFieldsPayload
			if err := json.Unmarshal(payload, &p); err != nil {
				return err
			}
			for f, v := range p.Fields {
				if cur, ok := x.link.Fields[f]; !ok || cur == v {
					fields[f] = v
				}
			}
		}
		return nil
	}
	if err := absorb(x.a.Kind, x.a.Payload); err != nil {
		return outbox.Outcome{Verdict: outbox.Dead, Err: err}
	}
	later, err := x.q.OutboxPendingOfKinds(ctx, db.OutboxPendingOfKindsParams{IntegrationID: x.in.ID, LinkID: x.link.ID,
		Kinds: []string{ActSetOwner, ActSetFields}, AfterID: x.a.ID})
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Retry, Err: fmt.Errorf("read waiting updates: %w", err)}
	}
	merged := make([]int64, 0, len(later))
	for _, r := range later {
		if err := absorb(r.Kind, r.Payload); err != nil {
			continue
		}
		merged = append(merged, r.ID)
	}
	finishMerged := func(ctx context.Context, tx pgx.Tx) error {
		if len(merged) == 0 {
			return nil
		}
		return db.New(tx).OutboxMarkMerged(ctx, db.OutboxMarkMergedParams{IntegrationID: x.in.ID, Ids: merged})
	}
	if len(fields) == 0 {
		return outbox.Outcome{Verdict: outbox.Superseded, Note: "values changed again before delivery", Finish: finishMerged}
	}
	if o, ok := x.pace(ctx); !ok {
		return o
	}
	sent := time.Now()
	// An opportunity update fires a webhook (a lead update does not): mark
	// the owner written before the call, so its echo is known whenever it comes.
	echoes := ownerEmail != "" && x.link.Kind == KindOpportunity
	if echoes {
		if err := x.markWrite(ctx, writtenOwner, ownerEmail, "", sent); err != nil {
			return outbox.Outcome{Verdict: outbox.Retry, Err: fmt.Errorf("mark the owner write: %w", err), Note: outbox.NoteNotSent}
		}
	}
	if x.link.Kind == KindOpportunity {
		err = x.c.LeadSquared.UpdateOpportunity(ctx, x.link.RecordID, fields)
	} else {
		err = x.c.LeadSquared.UpdateLead(ctx, x.link.RecordID, fields)
	}
	if err != nil {
		o := x.failed(ctx, "update "+string(x.link.Kind), err, true)
		if echoes && o.Note == outbox.NoteNotSent {
			x.unmarkWrite(ctx, writtenOwner, sent)
		}
		return o
	}
	note := ""
	if len(merged) > 0 {
		note = fmt.Sprintf("sent with %d later update(s)", len(merged))
	}
	return outbox.Outcome{Verdict: outbox.Delivered, Note: note, Result: map[string]any{"fields": fields, "merged": merged},
		Finish: func(ctx context.Context, tx pgx.Tx) error {
			if err := finishMerged(ctx, tx); err != nil {
				return err
			}
			if ownerEmail != "" {
				// Lead.Update without postUpdatedLead fires no webhook; an
				// opportunity update does.
				if err := x.recordWrite(writtenOwner, ownerEmail, "", sent, x.link.Kind == KindLead)(ctx, tx); err != nil {
					return err
				}
				if err := x.realignOwner(ctx, tx, ActSetOwner, ownerEmail); err != nil {
					return err
				}
			}
			others := maps.Clone(fields)
			delete(others, "OwnerId")
			delete(others, "Owner")
			if err := x.rememberFields(others)(ctx, tx); err != nil {
				return err
			}
			return x.realignFields(ctx, tx, others)
		}}
}

func (x *delivery) postActivity(ctx context.Context) outbox.Outcome {
	p, err := decode[PostActivityPayload](x.a)
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Dead, Err: err}
	}
	marker := "[lsqbridge " + x.a.IdempotencyKey + "]"
	if o, ok := x.pace(ctx); !ok {
		return o
	}
	if x.a.Attempts > 1 {
		// A previous attempt may have posted it: look for our marker first.
		acts, err := x.c.LeadSquared.LeadActivities(ctx, x.link.LeadID, p.EventCode)
		if err != nil {
			return x.failed(ctx, "look for a posted activity", err, true)
		}
		for _, a := range acts {
			if strings.Contains(a.Note, marker) {
				return outbox.Outcome{Verdict: outbox.Delivered, Note: "found posted", Result: map[string]any{"activity_id": a.ID}}
			}
		}
	}
	act := Activity{EventCode: p.EventCode, Note: strings.TrimSpace(p.Note + "\n" + marker), OwnerEmail: x.link.OwnerEmail, DateTime: time.Now().UTC()}
	var id string
	if x.link.Kind == KindOpportunity {
		if act.OwnerEmail == "" {
			return outbox.Outcome{Verdict: outbox.Dead, Err: errors.New("an opportunity activity needs an owner e-mail and the link has none")}
		}
		id, err = x.c.LeadSquared.PostOpportunityActivity(ctx, x.link.RecordID, act)
	} else {
		id, err = x.c.LeadSquared.PostLeadActivity(ctx, x.link.RecordID, act)
	}
	if err != nil {
		return x.failed(ctx, "post activity", err, true)
	}
	return outbox.Outcome{Verdict: outbox.Delivered, Result: map[string]any{"activity_id": id}}
}
