package service

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Outcomes recorded on inbound events.
const (
	OutcomeApplied        = "applied"
	OutcomeEcho           = "echo"
	OutcomeStale          = "stale"
	OutcomeDuplicate      = "duplicate"
	OutcomeUnlinked       = "unlinked"
	OutcomeUnmatchedAgent = "unmatched_agent"
	OutcomeRejected       = "rejected"
	OutcomeIgnored        = "ignored"
	OutcomePaused         = "paused"
	OutcomeError          = "error"
)

// Agent is one person in the directory: the e-mail both platforms share and
// the id each platform knows them by (empty/0 when that side lacks them).
type Agent struct {
	Email             string
	LeadSquaredUserID string
	LimeChatAgentID   int64
}

// Directory answers who is who. decide only reads it.
type Directory interface {
	ByLeadSquaredUser(id string) (Agent, bool)
	ByLimeChatAgent(id int64) (Agent, bool)
	ByEmail(email string) (Agent, bool)
}

// Input is everything decide looks at.
type Input struct {
	// Link is the current link, nil when the record or ticket has none.
	Link  *Link
	Event Event
	Rules *Rules
	// Agents maps people across platforms.
	Agents Directory
	// Open lists the kinds of the link's unfinished actions: values those
	// actions are about to write are not read back from snapshots.
	Open map[string]bool
}

// Decision is what decide concluded.
type Decision struct {
	Outcome string
	Detail  string
	// Link is the link's new state; nil when nothing is to be saved.
	Link *Link
	// Create is true when Link is new.
	Create  bool
	Actions []Action
}

// decide is the core of lsqbridge: a pure function from the link's state,
// one event and the integration's rules to the link's next state and the
// actions that make the other platform follow. Rules fire only on real
// transitions against the last synced state, so repeated and echoed events
// do nothing.
func decide(in Input) Decision {
	switch in.Event.Source {
	case SourceLeadSquared:
		return decideLeadSquared(in)
	case SourceLimeChat:
		return decideLimeChat(in)
	}
	return Decision{Outcome: OutcomeRejected, Detail: fmt.Sprintf("unknown source %q", in.Event.Source)}
}

func decideLeadSquared(in Input) Decision {
	ev, rec := in.Event, in.Event.Record
	if rec == nil || rec.ID == "" {
		return Decision{Outcome: OutcomeRejected, Detail: "event carries no record id"}
	}
	created := ev.Type == EventLeadCreated || ev.Type == EventOpportunityCreated
	if in.Link == nil {
		if !created {
			return Decision{Outcome: OutcomeUnlinked, Detail: fmt.Sprintf("%s %s was not created or linked by lsqbridge", rec.Kind, rec.ID)}
		}
		if why := in.Rules.skips(rec); why != "" {
			return Decision{Outcome: OutcomeIgnored, Detail: why}
		}
		return newLink(in)
	}
	l := in.Link
	if d, stop := gate(l); stop {
		return d
	}
	next := l.clone()
	next.LeadSquaredSeenAt = later(l.LeadSquaredSeenAt, ev.OccurredAt)
	r := result{next: next}
	at := ev.OccurredAt

	// With Before/After, only what changed counts; a flat snapshot counts
	// whole, except values our own unfinished writes are about to replace.
	snapshot := ev.Before == nil
	changed := func(f string) bool { return snapshot || slices.Contains(ev.Changed, f) }

	ownerField := "OwnerId"
	if rec.Kind == KindOpportunity {
		ownerField = "Owner"
	}
	if changed(ownerField) && !(snapshot && in.Open[ActSetOwner]) && rec.OwnerID != "" {
		r.ownerFromLeadSquared(in, rec, at)
	}

	var trans []transition
	repair := map[string]string{}
	for _, f := range in.Rules.WatchedFields(l.Kind) {
		v, ok := rec.Fields[f]
		if !ok || !changed(f) || (snapshot && in.Open[ActSetFields]) {
			continue
		}
		if known, ok := l.knownOf(writtenField(f)); ok && v == known && ev.Type == EventReconcile {
			// LeadSquared still holds what it was last known to hold: it
			// did not change. If the link moved on (our write was lost or
			// overwritten), write the link's value again.
			if cur := next.Fields[f]; cur != v && cur != "" {
				repair[f] = cur
			}
			continue
		}
		if !r.fresh("field:"+f, at) {
			continue
		}
		r.setKnown(writtenField(f), v)
		if next.Fields[f] != v {
			trans = append(trans, transition{field: f, from: next.Fields[f], to: v})
			next.Fields[f] = v
		}
	}
	if len(repair) > 0 {
		r.note("LeadSquared still shows values the link has moved on from; writing the link's again")
		r.add(Action{Kind: ActSetFields, Key: "repair-fields", Payload: SetFieldsPayload{Fields: repair}})
	}
	r.applyTransitions(in, trans)
	return r.decision(l)
}

// ownerFromLeadSquared follows a LeadSquared owner change to the agent.
func (r *result) ownerFromLeadSquared(in Input, rec *Record, at time.Time) {
	email := strings.ToLower(rec.OwnerEmail)
	if a, ok := in.Agents.ByLeadSquaredUser(rec.OwnerID); ok {
		email = a.Email
	}
	if email == "" {
		r.unmatched(fmt.Sprintf("LeadSquared user %s is not in the agent directory (no e-mail known)", rec.OwnerID))
		r.noteForAgents(in.Rules, "unmatched-owner:"+rec.OwnerID, noteOwnerUnknown(rec.Kind, rec.OwnerID))
		return
	}
	if in.Event.Before == nil && email == r.next.Written[writtenOwner].Known {
		// A snapshot showing the owner LeadSquared already had: no change
		// there. A reconcile read that finds the link moved on writes the
		// link's owner again (the write was lost or overwritten).
		if in.Event.Type == EventReconcile && email != r.next.OwnerEmail {
			r.note("LeadSquared still shows owner " + email + "; writing the link's owner again")
			r.ownerBackToLeadSquared(in)
		}
		return
	}
	defer r.setKnown(writtenOwner, email)
	if r.ownEcho(writtenOwner, email, "", at) {
		return
	}
	if email == r.next.OwnerEmail {
		// LeadSquared confirms the owner as of at: an older report from
		// either side is now stale.
		r.next.OwnerChangedAt = later(r.next.OwnerChangedAt, at)
		return
	}
	if !at.IsZero() && at.Before(r.next.OwnerChangedAt) {
		r.staleNote(fmt.Sprintf("owner change to %s is older than the last owner/agent change", email))
		// LeadSquared may still hold that older owner: write the current one back.
		r.ownerBackToLeadSquared(in)
		return
	}
	a, ok := in.Agents.ByEmail(email)
	if !ok || a.LimeChatAgentID == 0 {
		r.unmatched(fmt.Sprintf("owner %s has no LimeChat agent with that e-mail", email))
		r.noteForAgents(in.Rules, "unmatched-owner:"+email, noteOwnerWithoutAgent(rec.Kind, email))
		return
	}
	r.next.OwnerEmail = email
	r.next.OwnerChangedAt = later(r.next.OwnerChangedAt, at)
	r.add(Action{Kind: ActAssign, Key: "assign", Payload: AssignPayload{Email: email, AgentID: a.LimeChatAgentID}})
	if r.overwrote(writtenOwner, email, at) {
		// Our own owner write may have landed after this person's change:
		// write their choice back so both sides end on it.
		r.ownerBackToLeadSquared(in)
	}
}

// ownerBackToLeadSquared writes the link's owner to LeadSquared again.
func (r *result) ownerBackToLeadSquared(in Input) {
	if a, ok := in.Agents.ByEmail(r.next.OwnerEmail); ok && a.LeadSquaredUserID != "" {
		r.add(Action{Kind: ActSetOwner, Key: "owner-again", Payload: SetOwnerPayload{Email: a.Email, UserID: a.LeadSquaredUserID}})
	}
}

// ownerBackToLimeChat assigns the link's owner's agent in LimeChat again.
func (r *result) ownerBackToLimeChat(in Input) {
	if a, ok := in.Agents.ByEmail(r.next.OwnerEmail); ok && a.LimeChatAgentID != 0 {
		r.add(Action{Kind: ActAssign, Key: "assign-again", Payload: AssignPayload{Email: a.Email, AgentID: a.LimeChatAgentID}})
	}
}

func decideLimeChat(in Input) Decision {
	ev, t := in.Event, in.Event.Ticket
	if t == nil || t.ID == 0 {
		return Decision{Outcome: OutcomeRejected, Detail: "event carries no conversation id"}
	}
	if in.Link == nil {
		return Decision{Outcome: OutcomeUnlinked, Detail: fmt.Sprintf("ticket %d was not created or linked by lsqbridge", t.ID)}
	}
	l := in.Link
	if d, stop := gate(l); stop {
		return d
	}
	next := l.clone()
	next.LimeChatSeenAt = later(l.LimeChatSeenAt, ev.OccurredAt)
	if next.TicketID == 0 {
		next.TicketID = t.ID
	}
	r := result{next: next}
	at := ev.OccurredAt
	if ev.Type == EventConversationCreated {
		// Only lsqbridge creates linked tickets: this is our own create.
		return r.decision(l)
	}
	// A reconcile read carries every attribute; conversation_updated says
	// which ones changed (changed_attributes).
	snapshot := ev.Type == EventReconcile
	inFlight := in.Open[ActCreateTicket]

	if ev.AssigneeChanged || (snapshot && !inFlight && !in.Open[ActAssign]) {
		r.ownerFromLimeChat(in, t, at)
	}

	var added, removed, missing []string
	switch {
	case ev.LabelsChanged:
		if m, ok := r.labelEcho(t.Labels, at); ok {
			// Our own label write. People who changed labels between our
			// read and our write had their change undone by it: take their
			// change as theirs, and put it back on the ticket.
			read := splitSet(m.Prev)
			added, removed = diff(read, ev.PreviousLabels)
			r.undoLabelRace(added, removed)
			break
		}
		added, removed = diff(ev.PreviousLabels, t.Labels)
	case snapshot && !inFlight && !in.Open[ActAddLabels] && !in.Open[ActRemoveLabels]:
		if known, ok := l.knownSet(writtenLabels); ok {
			// Three-way: what people changed is the difference from the
			// labels LimeChat was last known to hold; a label the link has
			// that LimeChat lacks, and that nobody removed, was lost.
			added, removed = diff(known, t.Labels)
			for _, lb := range l.Labels {
				if !t.HasLabel(lb) && !slices.Contains(removed, lb) {
					missing = append(missing, lb)
				}
			}
		} else {
			added, removed = diff(l.Labels, t.Labels)
		}
		r.setKnownSet(writtenLabels, t.Labels)
	}
	if len(missing) > 0 {
		r.note("the ticket lacks labels the link has and nobody removed; adding them again")
		r.add(Action{Kind: ActAddLabels, Key: "repair-labels", Payload: AddLabelsPayload{Labels: missing}})
	}
	var newTags []string
	for _, lb := range removed {
		if r.fresh("label:"+lb, at) {
			next.Labels = slices.DeleteFunc(next.Labels, func(s string) bool { return s == lb })
		}
	}
	for _, lb := range added {
		if r.fresh("label:"+lb, at) && !slices.Contains(next.Labels, lb) {
			next.Labels = append(next.Labels, lb)
			newTags = append(newTags, lb)
		}
	}
	r.applyTags(in, newTags, at)
	return r.decision(l)
}

// undoLabelRace puts back on the ticket what people changed while a label
// write of ours was in flight: labels they added (our write dropped them)
// and labels they removed (our write brought them back).
func (r *result) undoLabelRace(added, removed []string) {
	if len(added) > 0 {
		r.note(fmt.Sprintf("labels %v added while our label write was in flight; adding them again", added))
		r.add(Action{Kind: ActAddLabels, Key: "race-add", Payload: AddLabelsPayload{Labels: added}})
	}
	if len(removed) > 0 {
		r.note(fmt.Sprintf("labels %v removed while our label write was in flight; removing them again", removed))
		r.add(Action{Kind: ActRemoveLabels, Key: "race-remove", Payload: RemoveLabelsPayload{Labels: removed}})
	}
}

// ownerFromLimeChat follows an assignee change to the LeadSquared owner.
func (r *result) ownerFromLimeChat(in Input, t *Ticket, at time.Time) {
	if t.AssigneeID == 0 {
		r.note("ticket unassigned; the LeadSquared owner is kept")
		return
	}
	a, ok := in.Agents.ByLimeChatAgent(t.AssigneeID)
	if !ok {
		r.unmatched(fmt.Sprintf("LimeChat agent %d is not in the agent directory (no e-mail known)", t.AssigneeID))
		r.noteForAgents(in.Rules, "unmatched-agent:"+strconv.FormatInt(t.AssigneeID, 10), noteAgentUnknown(r.next.Kind, t.AssigneeID, r.next.OwnerEmail))
		return
	}
	prev := ""
	if in.Event.AssigneeChanged {
		prev = strconv.FormatInt(in.Event.PreviousAssigneeID, 10)
	}
	if !in.Event.AssigneeChanged && a.Email == r.next.Written[writtenAssignee].Known {
		// A snapshot showing the agent LimeChat already had: no change
		// there; a reconcile read that finds the link moved on assigns the
		// link's owner again.
		if in.Event.Type == EventReconcile && a.Email != r.next.OwnerEmail {
			r.note("LimeChat still shows agent " + a.Email + "; assigning the link's owner again")
			r.ownerBackToLimeChat(in)
		}
		return
	}
	defer r.setKnown(writtenAssignee, a.Email)
	if r.ownEcho(writtenAssignee, a.Email, prev, at) {
		return
	}
	if a.Email == r.next.OwnerEmail {
		r.next.OwnerChangedAt = later(r.next.OwnerChangedAt, at)
		return
	}
	if !at.IsZero() && at.Before(r.next.OwnerChangedAt) {
		r.staleNote(fmt.Sprintf("agent change to %s is older than the last owner/agent change", a.Email))
		// LimeChat may still show that older agent: assign the current one again.
		r.ownerBackToLimeChat(in)
		return
	}
	if a.LeadSquaredUserID == "" {
		r.unmatched(fmt.Sprintf("agent %s has no LeadSquared user with that e-mail", a.Email))
		r.noteForAgents(in.Rules, "unmatched-agent:"+a.Email, noteAgentWithoutUser(r.next.Kind, a.Email, r.next.OwnerEmail))
		return
	}
	r.next.OwnerEmail = a.Email
	r.next.OwnerChangedAt = later(r.next.OwnerChangedAt, at)
	r.add(Action{Kind: ActSetOwner, Key: "owner", Payload: SetOwnerPayload{Email: a.Email, UserID: a.LeadSquaredUserID}})
	if r.overwrote(writtenAssignee, a.Email, at) {
		r.ownerBackToLimeChat(in)
	}
}

// gate stops events for unlinked or paused links.
func gate(l *Link) (Decision, bool) {
	switch {
	case l.State == LinkUnlinked:
		return Decision{Outcome: OutcomeUnlinked, Detail: "the link was unlinked"}, true
	case l.Paused:
		return Decision{Outcome: OutcomePaused, Detail: "link paused: " + l.PausedReason}, true
	}
	return Decision{}, false
}

// result accumulates a decision.
type result struct {
	next    *Link
	actions []Action
	unmatch []string
	notes   []string
	stale   []string
}

// fresh reports whether a change of attribute attr at time at is not older
// than the newest change of it already applied, and if so records it.
// Webhooks arrive out of order; per attribute, state never rolls back.
func (r *result) fresh(attr string, at time.Time) bool {
	if !at.IsZero() && at.Before(r.next.Seen[attr]) {
		r.stale = append(r.stale, attr)
		return false
	}
	r.saw(attr, at)
	return true
}

func (r *result) saw(attr string, at time.Time) {
	if r.next.Seen == nil {
		r.next.Seen = map[string]time.Time{}
	}
	if at.After(r.next.Seen[attr]) {
		r.next.Seen[attr] = at.UTC()
	}
}

func (r *result) staleNote(s string) { r.stale = append(r.stale, s) }

func (r *result) add(a Action)         { r.actions = append(r.actions, a) }
func (r *result) unmatched(s string)   { r.unmatch = append(r.unmatch, s) }
func (r *result) note(detail string)   { r.notes = append(r.notes, detail) }
func (r *result) details() []string    { return append(slices.Clone(r.unmatch), r.notes...) }
func (r *result) changed(l *Link) bool { return l == nil || !sameState(l, r.next) }

func (r *result) decision(prev *Link) Decision {
	d := Decision{Link: r.next, Actions: r.actions, Detail: strings.Join(r.details(), "; ")}
	switch {
	case len(r.actions) > 0 && len(r.unmatch) == 0 && len(r.stale) > 0 && !r.changed(prev):
		// The event lost to newer changes; its only actions write the
		// current state back to the side that reported the older one.
		d.Outcome = OutcomeStale
		d.Detail = "older than changes already applied: " + strings.Join(r.stale, ", ") + "; the current owner is written back"
	case len(r.actions) > 0:
		d.Outcome = OutcomeApplied
		if len(r.unmatch) > 0 {
			d.Outcome = OutcomeUnmatchedAgent
		}
	case len(r.unmatch) > 0:
		d.Outcome = OutcomeUnmatchedAgent
	case r.changed(prev):
		d.Outcome = OutcomeApplied
	case len(r.stale) > 0:
		d.Outcome = OutcomeStale
		d.Detail = "older than changes already applied: " + strings.Join(r.stale, ", ")
	default:
		d.Outcome = OutcomeEcho
	}
	return d
}

// sameState reports whether two link states differ in anything synced
// (seen-at timestamps aside).
func sameState(a, b *Link) bool {
	if a.OwnerEmail != b.OwnerEmail || !slices.Equal(a.Labels, b.Labels) || len(a.Fields) != len(b.Fields) {
		return false
	}
	for k, v := range a.Fields {
		if w, ok := b.Fields[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// diff returns what b adds to a and what it removes from a.
func diff(a, b []string) (added, removed []string) {
	for _, x := range b {
		if !slices.Contains(a, x) {
			added = append(added, x)
		}
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			removed = append(removed, x)
		}
	}
	return added, removed
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b.UTC()
	}
	return a
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
