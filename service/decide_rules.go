package service

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// applyTags runs the tag rules for labels newly added to the ticket.
func (r *result) applyTags(in Input, tags []string, at time.Time) {
	set := map[string]string{}
	var trans []transition
	for _, tag := range tags {
		for _, tf := range in.Rules.TagFields {
			if tf.Tag != tag || (tf.Record != "" && tf.Record != r.next.Kind) {
				continue
			}
			keys := make([]string, 0, len(tf.Set))
			for f := range tf.Set {
				keys = append(keys, f)
			}
			sort.Strings(keys)
			for _, f := range keys {
				v := tf.Set[f]
				if r.next.Fields[f] == v {
					continue
				}
				trans = append(trans, transition{field: f, from: r.next.Fields[f], to: v})
				r.next.Fields[f] = v
				r.saw("field:"+f, at)
				set[f] = v
			}
		}
		for _, tn := range in.Rules.TagNotes {
			// A rule without a kind predates kinds (apply now refuses it)
			// and keeps its old meaning: both kinds.
			if tn.Tag == tag && (tn.Record == "" || tn.Record == r.next.Kind) {
				r.add(Action{Kind: ActPostActivity, Key: "activity:" + tag, Payload: PostActivityPayload{EventCode: tn.ActivityEvent, Note: tn.Note, Tag: tag}})
			}
		}
	}
	if len(set) > 0 {
		r.add(Action{Kind: ActSetFields, Key: "fields", Payload: SetFieldsPayload{Fields: set}})
	}
	// A field a tag set counts as a change of that field: its own field
	// tags and campaigns follow, exactly as if a person had changed it.
	r.applyTransitions(in, trans)
}

type transition struct{ field, from, to string }

// applyTransitions runs field→tag rules and campaigns on real changes.
func (r *result) applyTransitions(in Input, trans []transition) {
	var tags []string
	for _, tr := range trans {
		if tr.to == "" {
			continue
		}
		for _, ft := range in.Rules.FieldTags {
			if ft.Field != tr.field || (ft.Record != "" && ft.Record != r.next.Kind) || (ft.Value != "" && ft.Value != tr.to) {
				continue
			}
			if !slices.Contains(r.next.Labels, ft.Tag) && !slices.Contains(tags, ft.Tag) {
				tags = append(tags, ft.Tag)
			}
		}
		for _, c := range in.Rules.Campaigns {
			if c.Record != r.next.Kind || c.Field != tr.field || c.To != tr.to || (c.From != "" && c.From != tr.from) {
				continue
			}
			r.add(Action{Kind: ActFlowEvent, Key: "flow:" + c.Event + ":" + tr.field + "=" + tr.to, Payload: r.flowPayload(c, in.Rules.Phone.DefaultCountryCode)})
		}
	}
	if len(tags) > 0 {
		r.next.Labels = append(r.next.Labels, tags...)
		r.add(Action{Kind: ActAddLabels, Key: "labels", Payload: AddLabelsPayload{Labels: tags}})
	}
}

func (r *result) flowPayload(c CampaignRule, cc string) FlowEventPayload {
	data := map[string]any{}
	for name, field := range c.Data {
		data[name] = r.next.Fields[field]
	}
	data["record_kind"] = string(r.next.Kind)
	data["record_id"] = r.next.RecordID
	p := FlowEventPayload{Event: c.Event, DistinctID: r.next.LeadID, Data: data}
	phone, err := PhoneDigits(firstNonEmpty(r.next.Fields["Mobile"], r.next.Fields["Phone"]), cc)
	if err != nil {
		p.PhoneProblem = err.Error()
	}
	p.Phone = phone
	return p
}

// newLink creates the link for a record LeadSquared just created, and the
// actions that open its ticket.
func newLink(in Input) Decision {
	rec := in.Event.Record
	kind := rec.Kind
	l := &Link{
		Kind: kind, RecordID: rec.ID, LeadID: firstNonEmpty(rec.LeadID, rec.ID), State: LinkPendingTicket,
		Origin: OriginLeadSquared, Fields: map[string]string{}, Labels: []string{},
		Written: map[string]Written{}, Seen: map[string]time.Time{},
		LeadSquaredSeenAt: in.Event.OccurredAt.UTC(),
	}
	for _, f := range in.Rules.WatchedFields(kind) {
		if v, ok := rec.Fields[f]; ok {
			l.Fields[f] = v
		}
	}
	r := result{next: l}
	for f, v := range l.Fields {
		r.saw("field:"+f, in.Event.OccurredAt)
		r.setKnown(writtenField(f), v)
	}
	email := strings.ToLower(rec.OwnerEmail)
	if a, ok := in.Agents.ByLeadSquaredUser(rec.OwnerID); ok {
		email = a.Email
	}
	// (The ticket's agents are told why it is unassigned once it exists:
	// see noteOpenedUnassigned.)
	switch a, ok := in.Agents.ByEmail(email); {
	case email == "" && rec.OwnerID != "":
		r.unmatched(fmt.Sprintf("LeadSquared user %s is not in the agent directory; the ticket is opened unassigned", rec.OwnerID))
	case email != "" && (!ok || a.LimeChatAgentID == 0):
		r.unmatched(fmt.Sprintf("owner %s has no LimeChat agent with that e-mail; the ticket is opened unassigned", email))
		l.OwnerEmail = email
	case email != "":
		l.OwnerEmail = email
	}
	l.OwnerChangedAt = in.Event.OccurredAt.UTC()
	if l.OwnerEmail != "" {
		r.setKnown(writtenOwner, l.OwnerEmail)
	}

	labels := slices.Clone(in.Rules.Sync.InitialLabels)
	// Field tags for the values the record was created with.
	var trans []transition
	for _, f := range in.Rules.WatchedFields(kind) {
		if v := l.Fields[f]; v != "" {
			trans = append(trans, transition{field: f, to: v})
		}
	}
	for _, tr := range trans {
		for _, ft := range in.Rules.FieldTags {
			if ft.Field == tr.field && (ft.Record == "" || ft.Record == kind) && (ft.Value == "" || ft.Value == tr.to) && !slices.Contains(labels, ft.Tag) {
				labels = append(labels, ft.Tag)
			}
		}
	}
	l.Labels = labels

	attrs := map[string]any{"lsq_record_id": rec.ID, "lsq_record_kind": string(kind), "lsq_lead_id": l.LeadID}
	for schema, key := range in.Rules.Sync.TicketFields {
		if v := rec.Fields[schema]; v != "" {
			attrs[key] = v
		}
	}
	name := strings.TrimSpace(rec.Field("FirstName") + " " + rec.Field("LastName"))
	if kind == KindOpportunity && name == "" {
		name = rec.Field("mx_Custom_1")
	}
	r.add(Action{Kind: ActCreateTicket, Key: "ticket", Payload: CreateTicketPayload{
		RecordKind: kind, RecordID: rec.ID, LeadID: l.LeadID, Name: name,
		Email: rec.Field("EmailAddress"), Phone: ContactPhone(firstNonEmpty(rec.Field("Mobile"), rec.Field("Phone")), in.Rules.Phone.DefaultCountryCode),
		AgentEmail: l.OwnerEmail, Labels: labels, CustomAttributes: attrs,
	}})
	d := r.decision(nil)
	d.Create = true
	if d.Outcome == OutcomeEcho {
		d.Outcome = OutcomeApplied
	}
	return d
}

// skips says why a created record gets no ticket, "" when it gets one.
func (r *Rules) skips(rec *Record) string {
	switch rec.Kind {
	case KindLead:
		if !r.Sync.Leads {
			return "leads are not synced for this integration (sync.leads is false)"
		}
	case KindOpportunity:
		if !r.Sync.Opportunities {
			return "opportunities are not synced for this integration (sync.opportunities is false)"
		}
		if len(r.Sync.OpportunityTypes) > 0 && !slices.Contains(r.Sync.OpportunityTypes, rec.OpportunityType) {
			return fmt.Sprintf("opportunity type %d is not in sync.opportunity_types", rec.OpportunityType)
		}
	default:
		return fmt.Sprintf("unknown record kind %q", rec.Kind)
	}
	return ""
}
