package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// Sync applies inbound events: one transaction per event that records the
// delivery, locks the link, decides, and writes the link's new state with
// the outbox rows that follow from it.
type Sync struct {
	pool    *pgxpool.Pool
	q       *db.Queries
	agents  *AgentDirectory
	notify  func()
	metrics *Metrics
	log     *slog.Logger
}

// SyncConfig holds Sync's collaborators.
type SyncConfig struct {
	Agents *AgentDirectory
	// Notify is called after a commit that enqueued actions (wakes relays).
	Notify  func()
	Metrics *Metrics
	Logger  *slog.Logger
}

// NewSync returns the sync engine.
func NewSync(pool *pgxpool.Pool, cfg SyncConfig) *Sync {
	s := &Sync{pool: pool, q: db.New(pool), agents: cfg.Agents, notify: cfg.Notify, metrics: cfg.Metrics, log: cfg.Logger}
	if s.notify == nil {
		s.notify = func() {}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Result is what happened to one inbound event.
type Result struct {
	EventID int64
	LinkID  int64
	Outcome string
	Detail  string
	Actions int
	// Planned describes each action enqueued ("kind payload").
	Planned []string
}

// Apply records and applies one event. Raw is the body as received, kept
// with the event. The returned error means nothing was committed.
func (s *Sync) Apply(ctx context.Context, in *Integration, ev Event, raw []byte) (Result, error) {
	return s.applyRow(ctx, in, ev, inbound{Raw: raw}, 0)
}

// Preview decides events in order as Apply would, in one transaction that
// is rolled back: what a pass would do, without doing it (reconcile
// --dry-run). Raw is stored nowhere.
func (s *Sync) Preview(ctx context.Context, in *Integration, events []Event) ([]Result, error) {
	dir, err := s.directory(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck
	out := make([]Result, 0, len(events))
	for _, ev := range events {
		res, err := s.apply(ctx, tx, in, ev, inbound{}, 0, dir)
		if err != nil {
			return out, fmt.Errorf("preview %s event: %w", ev.Type, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// applyRow applies ev in one transaction, recording it as row (or, when
// existing is set, taking over the stored row of a delivery whose first
// application failed).
func (s *Sync) applyRow(ctx context.Context, in *Integration, ev Event, row inbound, existing int64) (Result, error) {
	// A person this event names who is not in the directory yet: refresh it
	// before deciding (rate-limited), so new agents match without a restart.
	if s.agents != nil && s.agents.missing(ctx, in.ID, ev) {
		if err := s.agents.RefreshIfDue(ctx, in); err != nil {
			s.log.Warn("refresh agent directory on a miss", "integration", in.ID, "err", err)
		}
	}
	dir, err := s.directory(ctx, in.ID)
	if err != nil {
		return Result{}, err
	}
	var res Result
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		res, err = s.apply(ctx, tx, in, ev, row, existing, dir)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("apply %s event: %w", ev.Type, err)
	}
	s.metrics.event(string(ev.Source), res.Outcome)
	if res.Actions > 0 {
		s.notify()
	}
	s.log.Info("event applied", "integration", in.ID, "source", ev.Source, "type", ev.Type,
		"event_id", res.EventID, "link", res.LinkID, "outcome", res.Outcome, "actions", res.Actions)
	return res, nil
}

// apply applies one event inside tx in a few round trips: the delivery is
// recorded and its lead locked (one statement), the link locked and read
// with the kinds of its unfinished actions (one), and everything decide
// concluded written at once (one): the link's state, the event's outcome
// and the actions. The agent directory comes from memory.
func (s *Sync) apply(ctx context.Context, tx pgx.Tx, in *Integration, ev Event, row inbound, existing int64, dir Directory) (Result, error) {
	q := db.New(tx)
	if ev.Type == EventReconcile {
		// A read taken while earlier actions were in flight may not show
		// them yet: skip it without recording it, so the next pass's read
		// of the same record is not taken for a duplicate.
		if busy, err := s.busySinceRead(ctx, tx, in, ev); err != nil || busy {
			return Result{Outcome: OutcomeIgnored, Detail: "actions were in flight when the platform was read; the next pass looks again"}, err
		}
	}
	// The lead's lock serialises with an opportunity form submission on the
	// same lead, which links its new opportunity before this webhook may look.
	leadKey := ""
	if ev.Record != nil {
		leadKey = leadLockKey(in.ID, firstNonEmpty(ev.Record.LeadID, ev.Record.ID))
	}
	id := existing
	var err error
	if existing != 0 {
		if _, err = q.InboundLockFailed(ctx, db.InboundLockFailedParams{IntegrationID: in.ID, ID: existing}); db.IsNotFound(err) {
			return Result{EventID: existing, Outcome: OutcomeDuplicate, Detail: "applied meanwhile"}, nil
		}
		if err == nil && ev.Record != nil {
			err = LockLead(ctx, tx, in.ID, firstNonEmpty(ev.Record.LeadID, ev.Record.ID))
		}
	} else {
		row.Integration, row.Source, row.EventType, row.DedupKey = in.ID, string(ev.Source), string(ev.Type), ev.DedupKey
		row.OccurredAt, row.Outcome = ev.OccurredAt, "received"
		id, err = row.insertLocking(ctx, q, leadKey)
		if db.IsNotFound(err) {
			return Result{Outcome: OutcomeDuplicate, Detail: "this delivery was already received"}, nil
		}
	}
	if err != nil {
		return Result{}, err
	}
	res := Result{EventID: id}

	link, open, err := s.lockLink(ctx, q, in.ID, ev)
	if err != nil {
		return res, err
	}
	if link == nil && ev.Type == EventOpportunityCreated {
		if r, done, err := s.recoverFormCapture(ctx, tx, in, ev, id); err != nil || done {
			return r, err
		}
	}
	if link == nil && ev.Type == EventConversationCreated {
		// A closed ticket's customer wrote again (followup.go).
		if r, done, err := s.followUp(ctx, tx, in, ev, id); err != nil || done {
			return r, err
		}
	}
	if dir == nil {
		dir = &txDirectory{ctx: ctx, q: q, integration: in.ID}
	}
	input := Input{Event: ev, Rules: &in.Rules, Agents: dir, Link: link}
	if link != nil && ev.Type != EventReconcile {
		// (A reconcile read has no action in flight from before it — see
		// busySinceRead — and those enqueued after it, by this same pass,
		// cannot show in it: it is judged by source time alone.)
		input.Open = open
	}
	d := decide(input)

	if d.Link != nil && d.Create {
		row, err := q.LinkInsert(ctx, insertParams(in.ID, d.Link))
		if db.IsNotFound(err) {
			// Another delivery created it first: decide again against it.
			if link, open, err = s.lockLink(ctx, q, in.ID, ev); err != nil {
				return res, fmt.Errorf("read the link created concurrently: %w", err)
			}
			if link == nil {
				return res, errors.New("the link was created concurrently but is not found")
			}
			input.Link, input.Open = link, open
			d = decide(input)
		} else if err != nil {
			return res, fmt.Errorf("insert link: %w", err)
		} else {
			d.Link.ID = row.ID
			d.Link.IntegrationID = in.ID
			d.Create = false
			link = nil // nothing to save beyond the insert
		}
	}
	if d.Link != nil && d.Link.ID != 0 {
		res.LinkID = d.Link.ID
	}
	if len(d.Actions) > 0 && link != nil && d.Link != nil {
		if tripped, why := s.fuse(in, d.Link, len(d.Actions)); tripped {
			d.Link.Paused, d.Link.PausedReason = true, why
			d.Actions, d.Outcome, d.Detail = nil, OutcomePaused, why
			s.log.Error("loop fuse tripped; link paused", "integration", in.ID, "link", d.Link.ID, "reason", why)
		}
	}
	res.Outcome, res.Detail = d.Outcome, d.Detail
	// The ticket's other record, if it has one, decides too (shared.go);
	// what it concludes is part of this event's outcome.
	var shared Result
	if link != nil && link.SharesTicket && ev.Ticket != nil {
		if shared, err = s.applySharers(ctx, tx, in, ev, id, link.ID, dir, res.Outcome); err != nil {
			return res, err
		}
		res.Outcome, res.Detail = shared.Outcome, joinDetail(res.Detail, shared.Detail)
	}
	p := finishParams(in.ID, id, ev, link, d)
	p.Outcome, p.Detail = res.Outcome, cleanText(res.Detail, maxDetail)
	var linkID int64
	if d.Link != nil {
		linkID = d.Link.ID
	}
	if res.Planned, err = addActions(&p, id, linkID, "", d.Actions); err != nil {
		return res, err
	}
	added, err := q.ApplyFinish(ctx, p)
	if err != nil {
		return res, fmt.Errorf("record the decision: %w", err)
	}
	res.Actions = len(added) + shared.Actions
	res.Planned = append(res.Planned, shared.Planned...)
	if link != nil && d.Link != nil && d.Link.TicketID != 0 && link.TicketID == 0 {
		if err := q.LinkSetTicket(ctx, db.LinkSetTicketParams{IntegrationID: in.ID, ID: d.Link.ID, TicketID: &d.Link.TicketID}); err != nil {
			return res, fmt.Errorf("record ticket of link %d: %w", d.Link.ID, err)
		}
	}
	return res, nil
}

// finishParams is ApplyFinish's input without the actions: the link's new
// state when there is one to save, and the event's outcome.
func finishParams(integration string, eventID int64, ev Event, prev *Link, d Decision) db.ApplyFinishParams {
	p := db.ApplyFinishParams{IntegrationID: integration, EventID: &eventID, RecordEvent: true, Outcome: d.Outcome,
		Detail: cleanText(d.Detail, maxDetail), EventType: string(ev.Type), Fields: []byte("{}"), Written: []byte("{}"), Seen: []byte("{}")}
	if l := d.Link; l != nil {
		p.LinkID = l.ID
		if l.ID != 0 {
			p.EventLinkID = &l.ID
		}
		if prev != nil {
			p.SaveLink = true
			p.OwnerEmail, p.OwnerChangedAt, p.Labels = l.OwnerEmail, ptrTime(l.OwnerChangedAt), l.Labels
			p.Fields, p.Written, p.Seen = jsonObject(l.Fields), jsonObject(l.Written), jsonObject(l.Seen)
			p.LsqSeenAt, p.LimechatSeenAt, p.State = ptrTime(l.LeadSquaredSeenAt), ptrTime(l.LimeChatSeenAt), l.State
			p.Paused, p.PausedReason = l.Paused, l.PausedReason
			p.FuseWindowStart, p.FuseCount = ptrTime(l.FuseStart), int32(l.FuseCount)
		}
	}
	if p.Labels == nil {
		p.Labels = []string{}
	}
	return p
}

// directory is the integration's agent directory, read before the event's
// transaction begins (a read inside it would take a second connection while
// the transaction holds locks): the in-memory snapshot, or nil (read inside
// the transaction) without an AgentDirectory.
func (s *Sync) directory(ctx context.Context, integration string) (Directory, error) {
	if s.agents == nil {
		return nil, nil
	}
	return s.agents.Lookup(ctx, integration)
}

// lockLink finds and locks the link an event is about (nil when none), and
// reads the kinds of its unfinished actions in the same round trip.
func (s *Sync) lockLink(ctx context.Context, q *db.Queries, integration string, ev Event) (*Link, map[string]bool, error) {
	var row db.Link
	var open []string
	var shared bool
	var err error
	switch {
	case ev.Record != nil:
		var r db.LinkLockByRecordOpenRow
		r, err = q.LinkLockByRecordOpen(ctx, db.LinkLockByRecordOpenParams{IntegrationID: integration, RecordKind: string(ev.Record.Kind), RecordID: ev.Record.ID})
		row, open = r.Link, r.OpenKinds
	case ev.Ticket != nil:
		var r db.LinkLockByTicketOpenRow
		r, err = q.LinkLockByTicketOpen(ctx, db.LinkLockByTicketOpenParams{IntegrationID: integration, TicketID: &ev.Ticket.ID})
		row, open, shared = r.Link, r.OpenKinds, r.Shared
		if db.IsNotFound(err) {
			// A ticket we created whose id is not recorded yet (its webhook
			// overtook the relay): find it by the record id we put on it.
			kind, rid := ticketRecord(ev.Ticket)
			if rid == "" {
				return nil, nil, nil
			}
			var r db.LinkLockByRecordOpenRow
			r, err = q.LinkLockByRecordOpen(ctx, db.LinkLockByRecordOpenParams{IntegrationID: integration, RecordKind: kind, RecordID: rid})
			row, open = r.Link, r.OpenKinds
			if err == nil && row.TicketID != nil && *row.TicketID != ev.Ticket.ID {
				return nil, nil, nil // the record's link has another ticket
			}
		}
	default:
		return nil, nil, nil
	}
	if db.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("lock link: %w", err)
	}
	l, err := linkFromRow(row)
	if err != nil {
		return nil, nil, err
	}
	l.SharesTicket = shared
	kinds := make(map[string]bool, len(open))
	for _, k := range open {
		kinds[k] = true
	}
	return l, kinds, nil
}

// ticketRecord reads the record a ticket was opened for from its custom attributes.
func ticketRecord(t *Ticket) (kind, id string) {
	id, _ = t.CustomAttributes["lsq_record_id"].(string)
	kind, _ = t.CustomAttributes["lsq_record_kind"].(string)
	if kind == "" {
		kind = string(KindLead)
	}
	return kind, id
}

// fuse pauses a link that produced more actions in a minute than the
// integration allows: a loop would otherwise spend the customer's API quota
// and message their customers. It counts on the link itself, in fixed
// one-minute windows (no read of the outbox per event).
func (s *Sync) fuse(in *Integration, l *Link, adding int) (bool, string) {
	now := time.Now()
	if l.FuseStart.IsZero() || now.Sub(l.FuseStart) >= time.Minute {
		l.FuseStart, l.FuseCount = now, 0
	}
	l.FuseCount += adding
	limit := in.Rules.Fuse.MaxActionsPerMinute
	if limit <= 0 || l.FuseCount <= limit {
		return false, ""
	}
	s.metrics.fuse(in.ID)
	return true, fmt.Sprintf("loop fuse: %d actions for this link within a minute exceeds %d", l.FuseCount, limit)
}

// jsonObject encodes one of a link's maps (strings, times, ledgers: they
// always encode) for a jsonb NOT NULL column; a nil map is {}.
func jsonObject(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return []byte("{}")
	}
	return b
}

func insertParams(integration string, l *Link) db.LinkInsertParams {
	return db.LinkInsertParams{
		Fields: jsonObject(l.Fields), Written: jsonObject(l.Written), Seen: jsonObject(l.Seen),
		IntegrationID: integration, RecordKind: string(l.Kind), RecordID: l.RecordID, LeadID: l.LeadID,
		TicketID: ptrInt(l.TicketID), ContactID: ptrInt(l.ContactID), OwnerEmail: l.OwnerEmail,
		OwnerChangedAt: ptrTime(l.OwnerChangedAt), Labels: l.Labels,
		LsqSeenAt: ptrTime(l.LeadSquaredSeenAt), LimechatSeenAt: ptrTime(l.LimeChatSeenAt), State: l.State, Origin: l.Origin,
	}
}

// txDirectory reads the agent directory inside the event's transaction.
type txDirectory struct {
	ctx         context.Context
	q           *db.Queries
	integration string
}

func agentFromRow(r db.Agent) Agent {
	a := Agent{Email: r.Email}
	if r.LsqUserID != nil && r.LsqActive {
		a.LeadSquaredUserID = *r.LsqUserID
	}
	if r.LimechatAgentID != nil && r.LimechatActive {
		a.LimeChatAgentID = *r.LimechatAgentID
	}
	return a
}

func (d *txDirectory) ByLeadSquaredUser(id string) (Agent, bool) {
	r, err := d.q.AgentGetByLeadSquaredUser(d.ctx, db.AgentGetByLeadSquaredUserParams{IntegrationID: d.integration, LsqUserID: &id})
	if err != nil {
		return Agent{}, false
	}
	return agentFromRow(r), true
}

func (d *txDirectory) ByLimeChatAgent(id int64) (Agent, bool) {
	r, err := d.q.AgentGetByLimeChatAgent(d.ctx, db.AgentGetByLimeChatAgentParams{IntegrationID: d.integration, LimechatAgentID: &id})
	if err != nil {
		return Agent{}, false
	}
	return agentFromRow(r), true
}

func (d *txDirectory) ByEmail(email string) (Agent, bool) {
	if email == "" {
		return Agent{}, false
	}
	r, err := d.q.AgentGetByEmail(d.ctx, db.AgentGetByEmailParams{IntegrationID: d.integration, Email: email})
	if err != nil {
		return Agent{}, false
	}
	return agentFromRow(r), true
}

// recoverFormCapture handles the opportunity-created webhook of an
// opportunity whose form submission was interrupted after LeadSquared
// created it (a crash, or an answer that never came): the opportunity is
// linked to the submitting ticket, as the form would have done, instead of
// getting a ticket of its own, and the submission's key now replays that
// answer. done is false when no interrupted submission matches.
func (s *Sync) recoverFormCapture(ctx context.Context, tx pgx.Tx, in *Integration, ev Event, eventID int64) (Result, bool, error) {
	q := db.New(tx)
	rec := ev.Record
	// Only an opportunity lsqbridge's own LeadSquared user created, of the
	// form's type, can be the interrupted capture's: a salesperson's
	// opportunity on the same lead must not take the agent's ticket.
	if in.LeadSquaredUserID == "" || rec.ModifiedBy != in.LeadSquaredUserID ||
		(rec.OpportunityType != 0 && in.Rules.Form.OpportunityType != 0 && rec.OpportunityType != in.Rules.Form.OpportunityType) {
		return Result{}, false, nil
	}
	sub, err := q.FormSubmissionInterrupted(ctx, db.FormSubmissionInterruptedParams{IntegrationID: in.ID, LeadID: firstNonEmpty(rec.LeadID, rec.ID)})
	if db.IsNotFound(err) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, fmt.Errorf("look for an interrupted form submission: %w", err)
	}
	if _, err := q.LinkGetByTicket(ctx, db.LinkGetByTicketParams{IntegrationID: in.ID, TicketID: &sub.TicketID}); err == nil {
		return Result{}, false, nil // the ticket has a record: the opportunity gets its own ticket, as the form does
	} else if !db.IsNotFound(err) {
		return Result{}, false, fmt.Errorf("read link of ticket %d: %w", sub.TicketID, err)
	}
	d := decide(Input{Event: ev, Rules: &in.Rules, Agents: &txDirectory{ctx: ctx, q: q, integration: in.ID}})
	if !d.Create || d.Link == nil {
		return Result{}, false, nil
	}
	l := d.Link
	l.TicketID, l.State, l.Origin = sub.TicketID, LinkActive, sub.Origin
	tags := []string{}
	for _, t := range l.Labels {
		if !slices.Contains(in.Rules.Sync.InitialLabels, t) {
			tags = append(tags, t)
		}
	}
	l.Labels = tags
	row, err := q.LinkInsert(ctx, insertParams(in.ID, l))
	if err != nil {
		return Result{}, false, fmt.Errorf("link the interrupted submission's opportunity: %w", err)
	}
	res := Result{EventID: eventID, LinkID: row.ID, Outcome: OutcomeApplied,
		Detail: fmt.Sprintf("linked to ticket %d: its opportunity form submission was interrupted after LeadSquared created the opportunity", sub.TicketID)}
	if len(tags) > 0 {
		n, err := outbox.Enqueue(ctx, tx, []outbox.NewAction{{IntegrationID: in.ID, LinkID: row.ID, Kind: ActAddLabels,
			Payload: AddLabelsPayload{Labels: tags}, IdempotencyKey: "ev" + strconv.FormatInt(eventID, 10) + ":labels", CausedBy: eventID}})
		if err != nil {
			return res, true, err
		}
		res.Actions = n
	}
	answer, err := json.Marshal(Submitted{OpportunityID: rec.ID, LeadID: row.LeadID, TicketID: &sub.TicketID, LinkID: row.ID,
		State: LinkActive, OwnerEmail: row.OwnerEmail})
	if err != nil {
		return res, true, err
	}
	if _, err := q.FormSubmissionRecover(ctx, db.FormSubmissionRecoverParams{IntegrationID: in.ID, IdempotencyKey: sub.IdempotencyKey, Response: answer}); err != nil {
		return res, true, fmt.Errorf("complete the interrupted submission: %w", err)
	}
	linkID := row.ID
	err = q.InboundSetOutcome(ctx, db.InboundSetOutcomeParams{IntegrationID: in.ID, ID: eventID, Outcome: res.Outcome, Detail: res.Detail, LinkID: &linkID})
	return res, true, err
}

// busySinceRead reports whether the link a reconcile read is about had
// actions in flight from before the read.
func (s *Sync) busySinceRead(ctx context.Context, tx pgx.Tx, in *Integration, ev Event) (bool, error) {
	q := db.New(tx)
	if ev.Record != nil {
		if err := LockLead(ctx, tx, in.ID, firstNonEmpty(ev.Record.LeadID, ev.Record.ID)); err != nil {
			return false, err
		}
	}
	link, _, err := s.lockLink(ctx, q, in.ID, ev)
	if err != nil || link == nil {
		return false, err
	}
	n, err := q.OutboxOpenBefore(ctx, db.OutboxOpenBeforeParams{IntegrationID: in.ID, LinkID: link.ID, Before: ev.ReadAt})
	if err != nil {
		return false, fmt.Errorf("read open actions: %w", err)
	}
	return n > 0, nil
}
