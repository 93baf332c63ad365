package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/db"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// capture finds or creates the lead, then, in one transaction holding the
// ticket's and the lead's locks, captures the opportunity and writes its
// link, the follow-up actions and the submission's answer. LeadSquared
// fires opportunity-created for the capture; that webhook takes the same
// lead lock, so it waits for this commit and finds the link (an echo)
// instead of opening a second ticket. It returns how many actions it
// enqueued.
func (f *Forms) capture(ctx context.Context, in *Integration, c Clients, tc *ticketContext, values map[string]string, sub Submission, key string) (*Submitted, int, error) {
	leadID, leadCreated, err := findOrCreateLead(ctx, c.LeadSquared, tc.contact, in.Rules.Phone.DefaultCountryCode, tc.ownerID)
	if err != nil {
		return nil, 0, err
	}
	var created *Record
	if leadCreated {
		// What LeadSquared made of it (its default stage, owner…): the
		// lead's link starts from it, so its lead-created webhook is an echo.
		if rec, err := c.LeadSquared.GetLead(ctx, leadID); err == nil {
			created = &rec
		} else {
			f.log.Warn("read the lead the form created", "integration", in.ID, "lead", leadID, "err", err)
		}
	}
	fields := map[string]string{}
	for k, v := range values {
		if v != "" {
			fields[k] = v
		}
	}
	if tc.ownerID != "" {
		fields["Owner"] = tc.ownerID
	}
	note := cmp.Or(sub.Note, fmt.Sprintf("Opened from LimeChat ticket %d (lsqbridge, %s)", tc.ticket.ID, sub.Origin))

	var res *Submitted
	var actions int
	captured := ""
	// One connection for the whole capture (a second one from the pool
	// while this one waits could starve the pool under concurrent submits).
	// Its session holds the ticket's and the lead's locks around the
	// transaction, so the submission's lead can be committed first, under
	// the lead lock: should the transaction not commit after LeadSquared
	// acted, the opportunity-created webhook (which takes the same lead
	// lock) finds the submission and links this ticket (sync.go).
	conn, err := f.pool.Acquire(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("database connection: %w", err)
	}
	defer conn.Release()
	unlock, err := sessionLocks(ctx, conn.Conn(), sessionLock{ticketLockKey(in.ID, tc.ticket.ID), lockTicket}, sessionLock{leadLockKey(in.ID, leadID), lockLead})
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	if key != "" {
		if err := db.New(conn).FormSubmissionSetLead(ctx, db.FormSubmissionSetLeadParams{IntegrationID: in.ID, IdempotencyKey: key, LeadID: leadID}); err != nil {
			return nil, 0, fmt.Errorf("record submission lead: %w", err)
		}
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		q := db.New(tx)
		// Checked again under the ticket lock: another submission may have
		// just linked this ticket.
		linked, err := ticketLinked(ctx, q, in, tc)
		if err != nil {
			return err
		}
		if leadCreated {
			// A ticket of no record yet becomes the new lead's too
			// (form_lead.go); the opportunity below shares it.
			n, err := claimFormLead(ctx, tx, in, leadID, tc, sub.Origin, !linked, created)
			if err != nil {
				return err
			}
			actions += n
		}
		cr, err := c.LeadSquared.CaptureOpportunity(ctx, OpportunityCapture{
			LeadID: leadID, TypeCode: in.Rules.Form.OpportunityType, Note: note, Fields: fields,
		})
		if err != nil {
			return &captureFailure{err: fmt.Errorf("capture the opportunity in LeadSquared: %w", err), keep: mayHaveActed(err)}
		}
		captured = cr.OpportunityID
		leadID = cmp.Or(cr.LeadID, leadID)

		if !cr.Created {
			// LeadSquared's duplicate detection returned an existing one.
			row, err := q.LinkGetByRecord(ctx, db.LinkGetByRecordParams{IntegrationID: in.ID, RecordKind: string(KindOpportunity), RecordID: cr.OpportunityID})
			if err == nil {
				res = submittedFromRow(row, leadCreated)
				res.Existing = true
				return finishSubmission(ctx, q, in, key, res)
			}
			if !db.IsNotFound(err) {
				return fmt.Errorf("read link of opportunity %s: %w", cr.OpportunityID, err)
			}
		}
		l, newTags := newFormLink(in, tc, values, cr.OpportunityID, leadID, linked, sub.Origin, f.now())
		row, err := q.LinkInsert(ctx, insertParams(in.ID, l))
		if err != nil {
			return fmt.Errorf("insert link of opportunity %s: %w", cr.OpportunityID, err)
		}
		l.ID = row.ID
		rows := formActions(in, l, tc, values, newTags)
		n, err := outbox.Enqueue(ctx, tx, rows)
		if err != nil {
			return err
		}
		actions += n
		res = submittedFromRow(row, leadCreated)
		res.Existing = !cr.Created
		return finishSubmission(ctx, q, in, key, res)
	})
	if err != nil {
		var cf *captureFailure
		if !errors.As(err, &cf) && captured != "" {
			err = &captureFailure{keep: true, err: fmt.Errorf(
				"opportunity %s was created in LeadSquared but could not be linked to ticket %d (%v); "+
					"its opportunity-created webhook links it to this ticket", captured, tc.ticket.ID, err)}
		}
		return nil, 0, err
	}
	return res, actions, nil
}

// finishSubmission stores the answer in the same transaction as the link,
// so a stored answer always describes a link that exists.
func finishSubmission(ctx context.Context, q *db.Queries, in *Integration, key string, res *Submitted) error {
	if key == "" {
		return nil
	}
	body, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = q.FormSubmissionFinish(ctx, db.FormSubmissionFinishParams{
		Status: submissionCreated, Response: body, IntegrationID: in.ID, IdempotencyKey: key,
	})
	if err != nil {
		return fmt.Errorf("record submission answer: %w", err)
	}
	return nil
}

func submittedFromRow(r db.Link, leadCreated bool) *Submitted {
	return &Submitted{
		OpportunityID: r.RecordID, LeadID: r.LeadID, TicketID: r.TicketID, LinkID: r.ID,
		State: r.State, OwnerEmail: r.OwnerEmail, LeadCreated: leadCreated,
	}
}

// ticketLinked reports whether the ticket already belongs to a record: a
// link has it, or lsqbridge opened it for a record (its custom attribute
// lsq_record_id) and the relay has not recorded it in the link yet.
func ticketLinked(ctx context.Context, q *db.Queries, in *Integration, tc *ticketContext) (bool, error) {
	id := tc.ticket.ID
	_, err := q.LinkGetByTicket(ctx, db.LinkGetByTicketParams{IntegrationID: in.ID, TicketID: &id})
	switch {
	case err == nil:
		return true, nil
	case !db.IsNotFound(err):
		return false, fmt.Errorf("read link of ticket %d: %w", id, err)
	}
	_, rid := ticketRecord(&tc.ticket)
	return rid != "", nil
}

// findOrCreateLead returns the contact's lead: by phone, then e-mail, else
// a new one (created reports which). The phone is completed with the
// integration's default country code (countryCode); one that cannot be is
// not used.
func findOrCreateLead(ctx context.Context, lsq LeadSquared, ct Contact, countryCode, ownerID string) (id string, created bool, err error) {
	phone, _ := PhoneDigits(ct.Phone, countryCode)
	find := func() (string, error) {
		if phone != "" {
			// RetrieveLeadByPhoneNumber documents digits only (no "+", spaces
			// or hyphens); LeadSquared stores "+91-98…", LimeChat "+9198…".
			// Then the national number alone: a lead typed in LeadSquared
			// without its country code.
			for _, q := range []string{phone, NationalDigits(phone, countryCode)} {
				if q == "" {
					continue
				}
				r, err := lsq.FindLeadByPhone(ctx, q)
				if err == nil {
					return r.ID, nil
				}
				if !errors.Is(err, ErrNotFound) {
					return "", fmt.Errorf("look up the lead by phone: %w", err)
				}
			}
		}
		if ct.Email != "" {
			r, err := lsq.FindLeadByEmail(ctx, ct.Email)
			if err == nil {
				return r.ID, nil
			}
			if !errors.Is(err, ErrNotFound) {
				return "", fmt.Errorf("look up the lead by e-mail: %w", err)
			}
		}
		return "", nil
	}
	if id, err = find(); err != nil || id != "" {
		return id, false, err
	}
	fields := map[string]string{}
	if ownerID != "" {
		// Owned by the ticket's agent, who is opening it.
		fields["OwnerId"] = ownerID
	}
	first, last := splitName(ct.Name)
	for k, v := range map[string]string{"FirstName": first, "LastName": last, "EmailAddress": ct.Email,
		"Phone": LeadSquaredPhone(ct.Phone, countryCode)} {
		if v != "" {
			fields[k] = v
		}
	}
	id, err = lsq.CreateLead(ctx, fields)
	if err != nil {
		// E-mail and phone are unique: someone may have created the lead
		// since we looked (MXDuplicateEntryException). Look once more.
		if again, ferr := find(); ferr == nil && again != "" {
			return again, false, nil
		}
		return "", false, fmt.Errorf("create the lead in LeadSquared: %w", err)
	}
	return id, true, nil
}

// newFormLink is the new opportunity's link: this ticket's when it had none
// (active), else one waiting for the relay to open its ticket. Its fields
// snapshot holds the watched values just captured, so the capture's
// opportunity-created webhook compares equal (an echo). newTags are the
// field-tag rule labels its values earn that the ticket lacks.
func newFormLink(in *Integration, tc *ticketContext, values map[string]string, oppID, leadID string, linked bool, origin string, now time.Time) (*Link, []string) {
	l := &Link{
		Kind: KindOpportunity, RecordID: oppID, LeadID: leadID, ContactID: tc.contact.ID, Origin: origin,
		Fields: map[string]string{}, Labels: []string{}, Written: map[string]Written{},
	}
	if tc.ownerID != "" {
		l.OwnerEmail, l.OwnerChangedAt = tc.agentEmail, now.UTC()
	}
	for _, f := range in.Rules.WatchedFields(KindOpportunity) {
		if v := values[f]; v != "" {
			l.Fields[f] = v
		}
	}
	var tags []string
	for _, ft := range in.Rules.FieldTags {
		if (ft.Record == "" || ft.Record == KindOpportunity) && l.Fields[ft.Field] != "" &&
			(ft.Value == "" || ft.Value == l.Fields[ft.Field]) && !slices.Contains(tags, ft.Tag) {
			tags = append(tags, ft.Tag)
		}
	}
	if linked {
		l.State = LinkPendingTicket
		l.Labels = slices.Clone(in.Rules.Sync.InitialLabels)
		for _, t := range tags {
			if !slices.Contains(l.Labels, t) {
				l.Labels = append(l.Labels, t)
			}
		}
		return l, nil
	}
	l.State, l.TicketID, l.LimeChatSeenAt = LinkActive, tc.ticket.ID, tc.ticket.UpdatedAt
	l.Labels = slices.Clone(tc.ticket.Labels)
	var added []string
	for _, t := range tags {
		if !slices.Contains(l.Labels, t) {
			l.Labels = append(l.Labels, t)
			added = append(added, t)
		}
	}
	return l, added
}

// formActions are the follow-up actions of a new form link: open its ticket
// when it is pending, or label this ticket with what its values earn.
func formActions(in *Integration, l *Link, tc *ticketContext, values map[string]string, newTags []string) []outbox.NewAction {
	prefix := "form:link" + strconv.FormatInt(l.ID, 10) + ":"
	if l.State == LinkPendingTicket {
		attrs := map[string]any{"lsq_record_id": l.RecordID, "lsq_record_kind": string(KindOpportunity), "lsq_lead_id": l.LeadID}
		for schema, key := range in.Rules.Sync.TicketFields {
			if v := values[schema]; v != "" {
				attrs[key] = v
			}
		}
		return []outbox.NewAction{{
			IntegrationID: in.ID, LinkID: l.ID, Kind: ActCreateTicket, IdempotencyKey: prefix + "ticket",
			Payload: CreateTicketPayload{
				RecordKind: KindOpportunity, RecordID: l.RecordID, LeadID: l.LeadID,
				Name: cmp.Or(tc.contact.Name, values["mx_Custom_1"]), Email: tc.contact.Email,
				Phone:      ContactPhone(tc.contact.Phone, in.Rules.Phone.DefaultCountryCode),
				AgentEmail: l.OwnerEmail, Labels: l.Labels, CustomAttributes: attrs,
			},
		}}
	}
	if len(newTags) == 0 {
		return nil
	}
	return []outbox.NewAction{{
		IntegrationID: in.ID, LinkID: l.ID, Kind: ActAddLabels, IdempotencyKey: prefix + "labels",
		Payload: AddLabelsPayload{Labels: newTags},
	}}
}
