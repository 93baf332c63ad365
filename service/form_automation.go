package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/lsqbridge/lsqbridge/db"
)

// Automation outcomes (AutomationResult.Outcome).
const (
	AutomationCreated    = "created"
	AutomationIncomplete = "incomplete"
	AutomationIgnored    = "ignored"
	AutomationDuplicate  = "duplicate"
)

// AutomationResult is what one automation-rule delivery led to.
type AutomationResult struct {
	// Outcome is created, incomplete (tagged, nothing created), ignored or
	// duplicate (a delivery or submission seen before; nothing done).
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
	// Errors are the pre-filled form's problems when it was incomplete.
	Errors map[string]string `json:"errors,omitempty"`
	// Submission is the created (or earlier created) opportunity.
	Submission *Submitted `json:"submission,omitempty"`
	// EventID is the inbound_events row recording this delivery.
	EventID int64 `json:"event_id,omitempty"`
}

// Automate handles a LimeChat automation rule's "send webhook" call: the
// opportunity form of its conversation is submitted without an agent, with
// the pre-filled values only, when every field is valid. When it is not,
// the ticket gets the integration's form.incomplete_tag and nothing is
// created. The delivery is recorded in inbound_events with its outcome and
// why. A repeat of the same rule event on the same conversation creates
// nothing twice (its idempotency key is conversation id + rule event).
//
// Tickets that already belong to a LeadSquared record are ignored: among
// them are the tickets lsqbridge itself opens, whose conversation_created
// rule would otherwise make an opportunity for every opportunity.
func (f *Forms) Automate(ctx context.Context, in *Integration, ev Event, raw []byte) (AutomationResult, error) {
	if ev.Ticket == nil || ev.Ticket.ID == 0 {
		return AutomationResult{Outcome: AutomationIgnored, Detail: "the automation payload carries no conversation"}, nil
	}
	t := ev.Ticket
	rule := ev.Automation
	sum := sha256.Sum256(raw)
	key := "automation:" + hex.EncodeToString(sum[:])
	eventID, err := insertInbound(ctx, f.q, in.ID, string(SourceLimeChat), "automation."+rule,
		key, ev.OccurredAt, raw, "received", "")
	if db.IsNotFound(err) {
		// A repeat. If the first delivery failed (nothing was created: the
		// submission key guards the create), this one is processed again.
		eventID, err = f.q.InboundRetryFailed(ctx, db.InboundRetryFailedParams{IntegrationID: in.ID, Source: string(SourceLimeChat), DedupKey: key})
		if db.IsNotFound(err) {
			return AutomationResult{Outcome: AutomationDuplicate, Detail: "this delivery was already received"}, nil
		}
	}
	if err != nil {
		return AutomationResult{}, err
	}
	res, linkID, err := f.automate(ctx, in, t, rule)
	res.EventID = eventID
	outcome, detail := OutcomeIgnored, res.Detail
	switch {
	case err != nil:
		outcome, detail = OutcomeError, err.Error()
	case res.Outcome == AutomationCreated:
		outcome = OutcomeApplied
	case res.Outcome == AutomationDuplicate:
		outcome = OutcomeDuplicate
	}
	var lid *int64
	if linkID != 0 {
		lid = &linkID
	}
	if serr := f.q.InboundSetOutcome(context.WithoutCancel(ctx), db.InboundSetOutcomeParams{
		IntegrationID: in.ID, ID: eventID, Outcome: outcome, Detail: detail, LinkID: lid,
	}); serr != nil && err == nil {
		err = fmt.Errorf("record automation outcome: %w", serr)
	}
	if f.sync != nil {
		f.sync.metrics.event(string(SourceLimeChat), outcome)
	}
	f.log.Info("automation handled", "integration", in.ID, "ticket", t.ID, "rule", rule, "event_id", eventID,
		"outcome", res.Outcome, "detail", detail)
	return res, err
}

// automate decides and acts; the caller records the outcome.
func (f *Forms) automate(ctx context.Context, in *Integration, t *Ticket, rule string) (AutomationResult, int64, error) {
	if in.Rules.Form.OpportunityType <= 0 {
		return AutomationResult{Outcome: AutomationIgnored, Detail: ErrFormNotConfigured.Error()}, 0, nil
	}
	if kind, rid := ticketRecord(t); rid != "" {
		return ignoredLinked(t.ID, RecordKind(kind), rid), 0, nil
	}
	sub := Submission{Origin: OriginAutomation, IdempotencyKey: strconv.FormatInt(t.ID, 10) + ":" + cmpRule(rule)}
	key := submissionKey(sub)
	if s, done, err := f.replay(ctx, in, key, t.ID); done {
		if err != nil {
			return AutomationResult{}, 0, err
		}
		return AutomationResult{Outcome: AutomationDuplicate, Submission: s,
			Detail: "this rule already created opportunity " + s.OpportunityID + " for this conversation"}, s.LinkID, nil
	}
	c := f.platforms.For(in)
	meta, err := f.metadata(ctx, in, c.LeadSquared)
	if err != nil {
		return AutomationResult{}, 0, err
	}
	tc, err := f.loadTicket(ctx, in, c.LimeChat, t.ID)
	if err != nil {
		return AutomationResult{}, 0, err
	}
	if tc.linked != nil {
		return ignoredLinked(t.ID, tc.linked.RecordKind, tc.linked.RecordID), 0, nil
	}
	form := buildForm(in, meta, tc)
	values, verr := checkForm(form, nil, nil)
	if verr != nil {
		res := AutomationResult{Outcome: AutomationIncomplete, Errors: verr.Fields,
			Detail: "opportunity form incomplete, nothing created: " + describeProblems(verr.Fields)}
		if tag := in.Rules.Form.IncompleteTag; tag != "" {
			if err := addLabel(ctx, c.LimeChat, t.ID, tag); err != nil {
				return res, 0, fmt.Errorf("tag ticket %d %q: %w", t.ID, tag, err)
			}
			res.Detail += "; tagged " + strconv.Quote(tag)
		}
		return res, 0, nil
	}
	s, err := f.submitValid(ctx, in, c, tc, values, sub, key)
	if err != nil {
		var ip *InProgressError
		if errors.As(err, &ip) {
			return AutomationResult{Outcome: AutomationDuplicate, Detail: err.Error()}, 0, nil
		}
		return AutomationResult{}, 0, err
	}
	if s.Replayed {
		return AutomationResult{Outcome: AutomationDuplicate, Submission: s,
			Detail: "this rule already created opportunity " + s.OpportunityID + " for this conversation"}, s.LinkID, nil
	}
	return AutomationResult{Outcome: AutomationCreated, Submission: s,
		Detail: fmt.Sprintf("opportunity %s created on lead %s, link %d (%s)", s.OpportunityID, s.LeadID, s.LinkID, s.State)}, s.LinkID, nil
}

func cmpRule(rule string) string {
	if rule == "" {
		return "automation"
	}
	return rule
}

func ignoredLinked(ticketID int64, kind RecordKind, recordID string) AutomationResult {
	return AutomationResult{Outcome: AutomationIgnored, Detail: fmt.Sprintf(
		"ticket %d already belongs to %s %s; automation opens opportunities only from tickets without a LeadSquared record",
		ticketID, kind, recordID)}
}

// describeProblems lists field problems in a stable order for audit rows.
func describeProblems(errs map[string]string) string {
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " (" + errs[k] + ")"
	}
	return strings.Join(parts, "; ")
}

// addLabel adds one label to a ticket: the labels API replaces the whole
// list, so read, union, write.
func addLabel(ctx context.Context, lc LimeChat, ticketID int64, label string) error {
	cur, err := lc.Labels(ctx, ticketID)
	if err != nil {
		return err
	}
	if slices.Contains(cur, label) {
		return nil
	}
	_, err = lc.SetLabels(ctx, ticketID, append(slices.Clone(cur), label))
	return err
}
