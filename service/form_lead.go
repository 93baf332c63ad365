package service

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/db"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// claimFormLead links a lead the opportunity form created. The lead was
// created through the integration, so it is synced like any other: when
// the submitting ticket belongs to no record yet (share), the lead's link
// takes that ticket — the customer's conversation — and the opportunity
// captured on the lead shares it (a ticket may belong to one lead and one
// opportunity: shared.go). Its owner, stage and field changes then reach
// the ticket, and the ticket's agent and tags reach the lead. When the
// ticket belongs to a record already, the lead is recorded known but
// ticketless (state unlinked, origin form), as before: the customer's
// conversation exists, so its lead-created webhook must not open another.
//
// If that webhook got in first, its link is waiting for a ticket of its
// own: it takes this one instead (share), or is retired (not share); its
// create_ticket is cancelled either way. created is the lead as read back
// after its creation (nil when that read failed). It returns how many
// actions it enqueued.
func claimFormLead(ctx context.Context, tx pgx.Tx, in *Integration, leadID string, tc *ticketContext, origin string, share bool, created *Record) (int, error) {
	q := db.New(tx)
	row, err := q.LinkLockByRecord(ctx, db.LinkLockByRecordParams{IntegrationID: in.ID, RecordKind: string(KindLead), RecordID: leadID})
	switch {
	case db.IsNotFound(err):
		if !share {
			l := &Link{Kind: KindLead, RecordID: leadID, LeadID: leadID, ContactID: tc.contact.ID, State: LinkUnlinked,
				Origin: origin, Fields: map[string]string{}, Labels: []string{}}
			if _, err := q.LinkInsert(ctx, insertParams(in.ID, l)); err != nil && !db.IsNotFound(err) {
				return 0, fmt.Errorf("record lead %s: %w", leadID, err)
			}
			return 0, nil
		}
		l, tags := formLeadLink(ctx, q, in, leadID, tc, origin, created)
		ins, err := q.LinkInsert(ctx, insertParams(in.ID, l))
		if err != nil {
			return 0, fmt.Errorf("link lead %s to ticket %d: %w", leadID, tc.ticket.ID, err)
		}
		return formLeadTags(ctx, tx, in, ins.ID, tags)
	case err != nil:
		return 0, fmt.Errorf("read link of lead %s: %w", leadID, err)
	}
	if row.Origin != OriginLeadSquared || row.State != LinkPendingTicket || row.TicketID != nil {
		return 0, nil
	}
	if _, err := q.FormSupersedeCreateTicket(ctx, db.FormSupersedeCreateTicketParams{IntegrationID: in.ID, LinkID: row.ID}); err != nil {
		return 0, fmt.Errorf("cancel ticket of lead %s: %w", leadID, err)
	}
	if !share {
		if _, err := q.FormLeadLinkRetire(ctx, db.FormLeadLinkRetireParams{IntegrationID: in.ID, ID: row.ID}); err != nil {
			return 0, fmt.Errorf("retire link of lead %s: %w", leadID, err)
		}
		return 0, nil
	}
	l, tags := formLeadLink(ctx, q, in, leadID, tc, origin, created)
	if _, err := q.LinkAdoptTicket(ctx, db.LinkAdoptTicketParams{IntegrationID: in.ID, ID: row.ID, TicketID: &tc.ticket.ID,
		ContactID: ptrInt(tc.contact.ID), Origin: origin, OwnerEmail: l.OwnerEmail, OwnerChangedAt: ptrTime(l.OwnerChangedAt),
		Labels: l.Labels, Written: jsonObject(l.Written), LimechatSeenAt: ptrTime(l.LimeChatSeenAt)}); err != nil {
		return 0, fmt.Errorf("link lead %s to ticket %d: %w", leadID, tc.ticket.ID, err)
	}
	return formLeadTags(ctx, tx, in, row.ID, tags)
}

// formLeadLink is the new lead's link on the submitting ticket: its watched
// fields as LeadSquared created them, owned by the ticket's agent (the lead was created with that
// agent's LeadSquared user as owner) or else LeadSquared's owner, with the
// ticket's labels plus those its field values earn (tags to add).
func formLeadLink(ctx context.Context, q *db.Queries, in *Integration, leadID string, tc *ticketContext, origin string, created *Record) (*Link, []string) {
	now := time.Now().UTC()
	l := &Link{Kind: KindLead, RecordID: leadID, LeadID: leadID, TicketID: tc.ticket.ID, ContactID: tc.contact.ID,
		State: LinkActive, Origin: origin, Fields: map[string]string{}, Labels: slices.Clone(tc.ticket.Labels),
		Written: map[string]Written{}, Seen: map[string]time.Time{}, LimeChatSeenAt: tc.ticket.UpdatedAt}
	lsqOwner := ""
	if created != nil {
		l.LeadSquaredSeenAt = created.ModifiedOn
		for _, f := range in.Rules.WatchedFields(KindLead) {
			if v, ok := created.Fields[f]; ok {
				l.Fields[f] = v
				l.Seen["field:"+f] = created.ModifiedOn
				l.Written[writtenField(f)] = Written{Known: v}
			}
		}
		lsqOwner = strings.ToLower(created.OwnerEmail)
		if r, err := q.AgentGetByLeadSquaredUser(ctx, db.AgentGetByLeadSquaredUserParams{IntegrationID: in.ID, LsqUserID: &created.OwnerID}); err == nil {
			lsqOwner = r.Email
		}
	}
	// The ticket's agent owns it (they are opening it; it was created with
	// their LeadSquared user when they have one); with no agent, whoever
	// LeadSquared made the owner does.
	l.OwnerEmail = tc.agentEmail
	if l.OwnerEmail == "" {
		l.OwnerEmail = lsqOwner
	}
	l.OwnerChangedAt = now
	if lsqOwner != "" {
		l.Written[writtenOwner] = Written{Known: lsqOwner}
	}
	if tc.agentEmail != "" {
		l.Written[writtenAssignee] = Written{Known: tc.agentEmail}
	}
	l.Written[writtenLabels] = Written{Set: sortedCopy(tc.ticket.Labels), HasSet: true}
	var tags []string
	for _, ft := range in.Rules.FieldTags {
		if (ft.Record == "" || ft.Record == KindLead) && l.Fields[ft.Field] != "" && (ft.Value == "" || ft.Value == l.Fields[ft.Field]) &&
			!slices.Contains(l.Labels, ft.Tag) {
			l.Labels = append(l.Labels, ft.Tag)
			tags = append(tags, ft.Tag)
		}
	}
	return l, tags
}

// formLeadTags enqueues the labels the new lead's values earn.
func formLeadTags(ctx context.Context, tx pgx.Tx, in *Integration, linkID int64, tags []string) (int, error) {
	if len(tags) == 0 {
		return 0, nil
	}
	return outbox.Enqueue(ctx, tx, []outbox.NewAction{{IntegrationID: in.ID, LinkID: linkID, Kind: ActAddLabels,
		Payload: AddLabelsPayload{Labels: tags}, IdempotencyKey: "form:lead" + strconv.FormatInt(linkID, 10) + ":labels"}})
}
