package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lsqbridge/lsqbridge/db"
)

// A record's created webhook can be lost like any other (LeadSquared
// disables a failing webhook), and then the record never got its link or
// ticket: walking the links cannot find it. So each pass also looks at the
// leads LeadSquared reports modified since the watermark (the read the
// pass makes anyway) and, for each synced opportunity type, at their
// opportunities (GetOpportunitiesOfLead: a new opportunity moves its
// lead's LastModifiedOn, which is what RecentlyModified filters on). A
// record with no link, created (CreatedOn) at or after the integration's
// sync-since time and within its sync filters, is fed through Sync.Apply
// as the created event its webhook would have been: the same link, ticket
// and rules. Records created before sync-since are never backfilled.

// createdDedupPrefix starts the dedup key of a created event the
// reconciler made: the same record is never created twice by it.
const createdDedupPrefix = "reconcile:created:"

// creates opens the links and tickets whose created webhooks were lost.
func (r *Reconciler) creates(ctx context.Context, in *Integration, c Clients, modified []Record, st *ReconcileStats) error {
	since := in.SyncSince
	inScope := func(created time.Time) bool { return !created.IsZero() && !created.Before(since) }
	var events []Event
	readAt := time.Now().UTC()
	if in.Rules.Sync.Leads {
		for _, l := range modified {
			if !inScope(l.CreatedOn) {
				continue
			}
			if linked, err := r.linked(ctx, in, KindLead, l.ID); err != nil || linked {
				if err != nil {
					return err
				}
				continue
			}
			l.Kind = KindLead
			events = append(events, createdEvent(l, readAt))
		}
	}
	if in.Rules.Sync.Opportunities {
		types := opportunityTypes(in)
		for _, l := range modified {
			for _, typ := range types {
				if err := r.pacer.Wait(ctx, in.ID, in.RequestsPer5s); err != nil {
					return err
				}
				opps, err := c.LeadSquared.OpportunitiesOfLead(ctx, l.ID, typ)
				if err != nil && !errors.Is(err, ErrNotFound) {
					return fmt.Errorf("read opportunities of lead %s: %w", l.ID, err)
				}
				for _, o := range opps {
					if !o.ModifiedOn.IsZero() && o.ModifiedOn.Before(since) {
						continue // created no later than modified: before the scope began
					}
					if linked, err := r.linked(ctx, in, KindOpportunity, o.ID); err != nil || linked {
						if err != nil {
							return err
						}
						continue
					}
					if o.CreatedOn.IsZero() {
						// The list has no CreatedOn (nor ModifiedBy): the
						// opportunity's details have.
						if err := r.pacer.Wait(ctx, in.ID, in.RequestsPer5s); err != nil {
							return err
						}
						full, err := c.LeadSquared.GetOpportunity(ctx, o.ID)
						if errors.Is(err, ErrNotFound) {
							continue
						}
						if err != nil {
							return fmt.Errorf("read opportunity %s: %w", o.ID, err)
						}
						o = full
					}
					if !inScope(o.CreatedOn) {
						continue
					}
					o.Kind = KindOpportunity
					if o.LeadID == "" {
						o.LeadID = l.ID
					}
					if o.OpportunityType == 0 {
						o.OpportunityType = typ
					}
					events = append(events, createdEvent(o, readAt))
				}
			}
		}
	}
	for _, ev := range events {
		plan := LinkPlan{RecordKind: ev.Record.Kind, RecordID: ev.Record.ID,
			Disagrees: []string{"no link: created " + ev.Record.CreatedOn.Format(time.RFC3339) + ", its created webhook never arrived"}}
		var res Result
		if r.DryRun {
			rs, err := r.sync.Preview(ctx, in, []Event{ev})
			if err != nil {
				return err
			}
			res = rs[0]
			st.Actions += len(res.Planned)
		} else {
			var err error
			if res, err = r.apply(ctx, in, ev, ev.Record, st); err != nil {
				return err
			}
		}
		if res.Outcome == OutcomeApplied || res.Outcome == OutcomeUnmatchedAgent {
			st.Created++
			if r.DryRun {
				st.Changed++
			}
		}
		plan.LinkID = res.LinkID
		plan.Actions = res.Planned
		if res.Outcome != OutcomeDuplicate {
			plan.Outcomes = append(plan.Outcomes, res.Outcome+": "+res.Detail)
		}
		st.Plans = append(st.Plans, plan)
	}
	return nil
}

// linked reports whether a record has a link (in any state).
func (r *Reconciler) linked(ctx context.Context, in *Integration, kind RecordKind, id string) (bool, error) {
	_, err := r.q.LinkGetByRecord(ctx, db.LinkGetByRecordParams{IntegrationID: in.ID, RecordKind: string(kind), RecordID: id})
	switch {
	case err == nil:
		return true, nil
	case db.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("read link of %s %s: %w", kind, id, err)
}

// opportunityTypes are the types whose lost creations a pass looks for:
// sync.opportunity_types, else the form's type. LeadSquared lists a lead's
// opportunities one type at a time and offers no list of types.
func opportunityTypes(in *Integration) []int {
	if len(in.Rules.Sync.OpportunityTypes) > 0 {
		return in.Rules.Sync.OpportunityTypes
	}
	if in.Rules.Form.OpportunityType > 0 {
		return []int{in.Rules.Form.OpportunityType}
	}
	return nil
}

// createdEvent is the created event a record's lost webhook would have been.
func createdEvent(rec Record, readAt time.Time) Event {
	typ := EventLeadCreated
	if rec.Kind == KindOpportunity {
		typ = EventOpportunityCreated
	}
	return Event{Source: SourceLeadSquared, Type: typ, Record: &rec, OccurredAt: rec.ModifiedOn, ReadAt: readAt,
		DedupKey: createdDedupPrefix + string(rec.Kind) + ":" + rec.ID}
}
