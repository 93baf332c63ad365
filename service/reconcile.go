package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
)

// Reconciler repairs what lost webhooks left apart. Chatwoot account
// webhooks are never retried and LeadSquared disables a webhook after
// repeated failures, so events can be lost. For every active link it reads
// both platforms and feeds what it read through Sync.Apply as snapshot
// events (EventReconcile): the same decisions, echo and staleness rules as
// webhooks. It also opens the links and tickets of records whose created
// webhook was lost (reconcile_creates.go) — only records created since the
// integration's sync-since time, never older ones — and posts the notes
// the relay could not (notes.go).
type Reconciler struct {
	// DryRun makes a pass read and decide without acting: Plans says what
	// it would do (reconcile --dry-run).
	DryRun    bool
	pool      *pgxpool.Pool
	q         *db.Queries
	sync      *Sync
	platforms Platforms
	pacer     *Pacer
	log       *slog.Logger
	// Progress, when set, is called after each link a pass looks at with
	// the pass's counts so far (the CLI shows them on a terminal).
	Progress func(integration string, st ReconcileStats)
}

// NewReconciler returns a reconciler.
func NewReconciler(pool *pgxpool.Pool, sync *Sync, platforms Platforms, pacer *Pacer, log *slog.Logger) *Reconciler {
	if pacer == nil {
		pacer = NewPacer()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{pool: pool, q: db.New(pool), sync: sync, platforms: platforms, pacer: pacer, log: log}
}

// ReconcileStats counts one pass.
type ReconcileStats struct {
	Links   int // active links looked at
	Skipped int // links with actions in flight, or paused
	Changed int // snapshot events that changed something
	Actions int // actions enqueued
	Errors  int // reads that failed (the next pass retries)
	// Busy counts modified leads skipped because actions were in flight:
	// the watermark stays before them, so the next pass reads them again.
	Busy int
	// holdBack is the oldest modification time among the busy leads.
	holdBack time.Time
	// from is where this pass started reading LeadSquared.
	from     time.Time
	LeadRead int // leads LeadSquared reported modified since the watermark
	// Created counts records the pass gave their link and ticket: created
	// since the integration's sync-since time, their created webhook lost.
	Created int
	// Notes counts private notes the pass enqueued (dead actions the relay
	// gave up on, changes held behind them).
	Notes int
	// Disagreeing counts links whose two sides (or link) disagreed when read.
	Disagreeing int
	// Plans lists, for each link that disagreed or needs actions, what was
	// found and what the pass did (or, in a dry run, would do).
	Plans []LinkPlan
}

// LinkPlan is what a pass found on one link and what it does about it.
type LinkPlan struct {
	LinkID     int64
	RecordKind RecordKind
	RecordID   string
	TicketID   int64
	Disagrees  []string
	Actions    []string
	Outcomes   []string
}

// busy notes a modified lead the pass could not look at. A lead without a
// modification time holds the watermark where this pass started reading.
func (st *ReconcileStats) busy(modified time.Time) {
	if modified.IsZero() {
		modified = st.from
	}
	st.Busy++
	if st.holdBack.IsZero() || (!modified.IsZero() && modified.Before(st.holdBack)) {
		st.holdBack = modified
	}
}

// firstWatermark is how far back the first pass asks LeadSquared.
const firstWatermark = 7 * 24 * time.Hour

// watermarkOverlap re-reads a little before the last pass, so a change made
// while that pass ran is not missed.
const watermarkOverlap = 5 * time.Minute

// Run makes one pass over an integration's active links.
func (r *Reconciler) Run(ctx context.Context, in *Integration) (ReconcileStats, error) {
	var st ReconcileStats
	c := r.platforms.For(in)
	started := time.Now().UTC()

	// Leads: one paged RecentlyModified call instead of a read per link.
	from := started.Add(-firstWatermark)
	wm, err := r.q.IntegrationReconciledAt(ctx, in.ID)
	if err != nil {
		// Not a reason to read a week of leads again: try next pass.
		return st, fmt.Errorf("read the reconcile watermark: %w", err)
	}
	if wm != nil {
		from = wm.Add(-watermarkOverlap)
	}
	if err := r.pacer.Wait(ctx, in.ID, in.RequestsPer5s); err != nil {
		return st, err
	}
	st.from = from
	// LeadSquared takes whole seconds: round the end up so this second's
	// changes are in.
	modified, err := c.LeadSquared.RecentlyModifiedLeads(ctx, from, started.Truncate(time.Second).Add(time.Second))
	if err != nil {
		return st, fmt.Errorf("read recently modified leads: %w", err)
	}
	leads := make(map[string]Record, len(modified))
	for _, l := range modified {
		leads[l.ID] = l
	}
	st.LeadRead = len(modified)

	var after int64
	for {
		rows, err := r.q.LinkListActive(ctx, db.LinkListActiveParams{IntegrationID: in.ID, AfterID: after, MaxRows: 200})
		if err != nil {
			return st, fmt.Errorf("list links: %w", err)
		}
		for _, row := range rows {
			after = row.ID
			if err := r.link(ctx, in, c, row, leads, &st); err != nil {
				if ctx.Err() != nil {
					return st, ctx.Err()
				}
				st.Errors++
				r.log.Warn("reconcile link", "integration", in.ID, "link", row.ID, "err", err)
			}
			if r.Progress != nil {
				r.Progress(in.ID, st)
			}
		}
		if len(rows) < 200 {
			break
		}
	}
	// Records whose created webhook was lost (reconcile_creates.go).
	if err := r.creates(ctx, in, c, modified, &st); err != nil {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		st.Errors++
		r.log.Warn("reconcile lost creations", "integration", in.ID, "err", err)
	}
	if !r.DryRun {
		if err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
			n, err := NoteSweep(ctx, tx, in)
			st.Notes = n
			return err
		}); err == nil && st.Notes > 0 {
			r.sync.notify()
		} else if err != nil {
			st.Errors++
			r.log.Warn("reconcile notes", "integration", in.ID, "err", err)
		}
	}
	if st.Errors == 0 && !r.DryRun {
		// Leads skipped as busy are read again next pass: the watermark
		// stays before the oldest of them.
		wm := started
		if !st.holdBack.IsZero() && st.holdBack.Before(wm) {
			wm = st.holdBack
		}
		if err := r.q.IntegrationSetReconciledAt(ctx, db.IntegrationSetReconciledAtParams{ID: in.ID, ReconciledAt: &wm}); err != nil {
			return st, fmt.Errorf("store watermark: %w", err)
		}
	}
	r.log.Info("reconcile pass", "integration", in.ID, "links", st.Links, "skipped", st.Skipped,
		"changed", st.Changed, "actions", st.Actions, "created", st.Created, "notes", st.Notes, "errors", st.Errors)
	return st, nil
}

// link reconciles one link: LimeChat's snapshot first, then LeadSquared's,
// so labels that LeadSquared field rules add are not mistaken for labels a
// person removed in LimeChat; owner conflicts are settled by source time
// whatever the order.
func (r *Reconciler) link(ctx context.Context, in *Integration, c Clients, row db.Link, leads map[string]Record, st *ReconcileStats) error {
	st.Links++
	if row.PausedAt != nil || row.TicketID == nil {
		st.Skipped++
		return nil
	}
	open, err := r.q.OutboxOpenCount(ctx, db.OutboxOpenCountParams{IntegrationID: in.ID, LinkID: row.ID})
	if err != nil {
		return err
	}
	if open > 0 {
		st.Skipped++ // the relay is still making the sides agree
		if l, ok := leads[row.RecordID]; ok && RecordKind(row.RecordKind) == KindLead {
			st.busy(l.ModifiedOn)
		}
		return nil
	}
	readAt := time.Now().UTC()
	ticket, terr := c.LimeChat.GetConversation(ctx, *row.TicketID)
	if terr != nil && !errors.Is(terr, ErrNotFound) {
		return fmt.Errorf("read ticket %d: %w", *row.TicketID, terr)
	}
	var rec *Record
	switch RecordKind(row.RecordKind) {
	case KindLead:
		if l, ok := leads[row.RecordID]; ok {
			rec = &l
		}
	case KindOpportunity:
		if err := r.pacer.Wait(ctx, in.ID, in.RequestsPer5s); err != nil {
			return err
		}
		o, err := c.LeadSquared.GetOpportunity(ctx, row.RecordID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("read opportunity %s: %w", row.RecordID, err)
		}
		if err == nil {
			rec = &o
		}
	}
	var events []Event
	var tk *Ticket
	if terr == nil && ticket.ID != 0 {
		tk = &ticket
		events = append(events, Event{Source: SourceLimeChat, Type: EventReconcile, Ticket: &ticket, OccurredAt: ticket.UpdatedAt, ReadAt: readAt,
			DedupKey: "reconcile:limechat:" + strconv.FormatInt(ticket.ID, 10) + ":" + ticket.UpdatedAt.Format(time.RFC3339Nano)})
	}
	if rec != nil {
		rec.Kind = RecordKind(row.RecordKind)
		events = append(events, Event{Source: SourceLeadSquared, Type: EventReconcile, Record: rec, OccurredAt: rec.ModifiedOn, ReadAt: readAt,
			DedupKey: "reconcile:leadsquared:" + rec.ID + ":" + rec.ModifiedOn.Format(time.RFC3339Nano)})
	}
	plan := LinkPlan{LinkID: row.ID, RecordKind: RecordKind(row.RecordKind), RecordID: row.RecordID, TicketID: *row.TicketID}
	if link, err := linkFromRow(row); err == nil {
		plan.Disagrees = r.disagreements(ctx, in, link, rec, tk)
	}
	var results []Result
	if r.DryRun {
		var err error
		if results, err = r.sync.Preview(ctx, in, events); err != nil {
			return err
		}
	} else {
		for _, ev := range events {
			var snapshot any = ev.Ticket
			if ev.Record != nil {
				snapshot = ev.Record
			}
			res, err := r.apply(ctx, in, ev, snapshot, st)
			if err != nil {
				return err
			}
			results = append(results, res)
			if ev.Record != nil && res.Outcome == OutcomeIgnored && ev.Record.Kind == KindLead {
				st.busy(ev.Record.ModifiedOn)
			}
		}
	}
	for _, res := range results {
		plan.Actions = append(plan.Actions, res.Planned...)
		if res.Outcome != OutcomeEcho && res.Outcome != OutcomeDuplicate {
			plan.Outcomes = append(plan.Outcomes, res.Outcome+": "+res.Detail)
		}
		if r.DryRun {
			st.Actions += len(res.Planned)
			if res.Outcome == OutcomeApplied || res.Outcome == OutcomeUnmatchedAgent {
				st.Changed++
			}
		}
	}
	if len(plan.Disagrees) > 0 {
		st.Disagreeing++
	}
	if len(plan.Disagrees) > 0 || len(plan.Actions) > 0 {
		st.Plans = append(st.Plans, plan)
	}
	return nil
}

// disagreements says where a link's two platforms (and the link) differ,
// by attribute, as read now; nil when they agree.
func (r *Reconciler) disagreements(ctx context.Context, in *Integration, l *Link, rec *Record, t *Ticket) []string {
	var out []string
	if rec != nil && t != nil {
		lsq := strings.ToLower(rec.OwnerEmail)
		if a, err := r.q.AgentGetByLeadSquaredUser(ctx, db.AgentGetByLeadSquaredUserParams{IntegrationID: in.ID, LsqUserID: &rec.OwnerID}); err == nil {
			lsq = a.Email
		}
		lc := ""
		if t.AssigneeID != 0 {
			lc = "agent " + strconv.FormatInt(t.AssigneeID, 10)
			if a, err := r.q.AgentGetByLimeChatAgent(ctx, db.AgentGetByLimeChatAgentParams{IntegrationID: in.ID, LimechatAgentID: &t.AssigneeID}); err == nil {
				lc = a.Email
			}
		}
		if lsq != lc || lc != l.OwnerEmail {
			out = append(out, fmt.Sprintf("owner: LeadSquared %s, LimeChat %s, link %s", orNone(lsq), orNone(lc), orNone(l.OwnerEmail)))
		}
	}
	if rec != nil {
		for _, f := range in.Rules.WatchedFields(l.Kind) {
			if v, ok := rec.Fields[f]; ok && v != l.Fields[f] {
				out = append(out, fmt.Sprintf("%s: LeadSquared %q, link %q", f, v, l.Fields[f]))
			}
		}
	}
	if t != nil {
		if added, removed := diff(l.Labels, t.Labels); len(added) > 0 || len(removed) > 0 {
			out = append(out, fmt.Sprintf("labels: ticket only %v, link only %v", added, removed))
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (r *Reconciler) apply(ctx context.Context, in *Integration, ev Event, snapshot any, st *ReconcileStats) (Result, error) {
	raw, _ := json.Marshal(map[string]any{"reconcile": snapshot})
	res, err := r.sync.Apply(ctx, in, ev, raw)
	if err != nil {
		return res, err
	}
	if res.Outcome == OutcomeApplied || res.Outcome == OutcomeUnmatchedAgent {
		st.Changed++
	}
	st.Actions += res.Actions
	return res, nil
}

// RunAll makes one pass over every enabled integration (or only id).
func (r *Reconciler) RunAll(ctx context.Context, integrations *Integrations, id string) (map[string]ReconcileStats, error) {
	list, err := integrations.List(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]ReconcileStats{}
	var errs []error
	for _, s := range list {
		if s.Disabled || (id != "" && s.ID != id) {
			continue
		}
		in, err := integrations.Get(ctx, s.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st, err := r.Run(ctx, in)
		out[s.ID] = st
		failed := st.Errors
		if err != nil {
			failed++
		}
		r.sync.metrics.reconcileErrors(s.ID, failed)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.ID, err))
		}
	}
	if id != "" {
		if _, ok := out[id]; !ok && len(errs) == 0 {
			return out, fmt.Errorf("%w (or disabled): %s", ErrIntegrationNotFound, id)
		}
	}
	return out, errors.Join(errs...)
}

// RunEvery reconciles every integration on a timer until ctx ends.
func (r *Reconciler) RunEvery(ctx context.Context, integrations *Integrations, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// One replica at a time: a session advisory lock held for the pass.
		conn, err := r.pool.Acquire(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("reconcile: no database connection; the next pass tries again", "err", err)
			}
			continue
		}
		q := db.New(conn)
		lock := db.TryLockSessionParams{Key: "reconciler", Namespace: lockReconciler}
		got, err := q.TryLockSession(ctx, lock)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("take the reconciler's lock", "err", err)
		}
		if got {
			if _, err := r.RunAll(ctx, integrations, ""); err != nil && ctx.Err() == nil {
				r.log.Warn("reconcile pass", "err", err)
			}
			if err := q.UnlockSession(context.WithoutCancel(ctx), db.UnlockSessionParams(lock)); err != nil {
				r.log.Warn("release the reconciler's lock", "err", err)
			}
		}
		conn.Release()
	}
}
