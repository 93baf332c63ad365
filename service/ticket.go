package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/db"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// createTicket opens the LimeChat ticket of a link: contact found or
// created, conversation with the record id as a custom attribute, assigned
// to the owner's agent, labelled. On a retry it first looks for the
// conversation a previous attempt may have created.
func (x *delivery) createTicket(ctx context.Context) outbox.Outcome {
	p, err := decode[CreateTicketPayload](x.a)
	if err != nil {
		return outbox.Outcome{Verdict: outbox.Dead, Err: err}
	}
	if x.link.TicketID != 0 {
		// The ticket exists (a previous attempt made it, or its webhook
		// named it first): what may be missing is its labels.
		cur, err := x.c.LimeChat.Labels(ctx, x.link.TicketID)
		if err != nil {
			return x.failed(ctx, "read labels of the ticket", err, false)
		}
		labels, err := x.labelTicket(ctx, x.link.TicketID, cur)
		if err != nil {
			return x.failed(ctx, "label the ticket", err, false)
		}
		return outbox.Outcome{Verdict: outbox.Delivered, Note: "ticket already recorded", Result: map[string]any{"ticket_id": x.link.TicketID},
			Finish: x.rememberLabels(labels)}
	}
	var ticket Ticket
	found := false
	if x.a.Attempts > 1 {
		ts, err := x.c.LimeChat.FindConversationsByAttribute(ctx, "lsq_record_id", p.RecordID)
		if err != nil {
			return x.failed(ctx, "look for a created ticket", err, false)
		}
		for _, t := range ts {
			if id, _ := t.CustomAttributes["lsq_record_id"].(string); id != p.RecordID {
				continue // never take another record's (or a customer's) conversation
			}
			if t.InboxID == 0 || t.InboxID == x.in.LimeChatInboxID {
				ticket, found = t, true
				break
			}
		}
	}
	if !found {
		if p.Phone == "" && p.Email == "" && p.LeadID != "" {
			// The contact comes from the lead: one LeadSquared call, paced.
			if o, ok := x.pace(ctx); !ok {
				return o
			}
		}
		contact, err := x.contact(ctx, &p)
		if err != nil {
			return x.failed(ctx, "find or create contact", err, false)
		}
		agentID := int64(0)
		if a, ok := x.agent(ctx, x.link.OwnerEmail); ok {
			agentID = a.LimeChatAgentID
		}
		ticket, err = x.c.LimeChat.CreateConversation(ctx, NewConversation{
			InboxID: x.in.LimeChatInboxID, ContactID: contact.ID, AssigneeID: agentID, Status: "open",
			CustomAttributes: p.CustomAttributes,
		})
		if err != nil {
			return x.failed(ctx, "create conversation", err, false)
		}
		ticket.Contact = contact
	}
	sent := time.Now()
	record := both(x.setTicket(ticket, sent), x.noteOpenedUnassigned(ticket))
	labels, err := x.labelTicket(ctx, ticket.ID, ticket.Labels)
	if err != nil {
		// The ticket exists; record it so the retry only labels.
		o := x.failed(ctx, "label new ticket", err, false)
		o.Finish = record
		return o
	}
	note := "created"
	if found {
		note = "found after an ambiguous attempt"
	}
	return outbox.Outcome{Verdict: outbox.Delivered, Note: note,
		Result: map[string]any{"ticket_id": ticket.ID, "contact_id": ticket.Contact.ID},
		Finish: both(record, x.rememberLabels(labels))}
}

// noteOpenedUnassigned tells the new ticket's agents why it is unassigned
// when the record has an owner (who has no LimeChat agent), once the
// ticket exists to carry the note (notes.go).
func (x *delivery) noteOpenedUnassigned(t Ticket) func(context.Context, pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error {
		if !x.in.Rules.NotesOn() || x.link.OwnerEmail == "" || t.AssigneeID != 0 {
			return nil
		}
		return enqueueNote(ctx, tx, x.in.ID, x.link.ID, x.a.CausedBy, "unmatched-owner:"+x.link.OwnerEmail,
			noteOpenedUnassigned(x.link.Kind, x.link.OwnerEmail))
	}
}

// labelTicket adds the link's labels (as the link has them now: rules may
// have added some since the action was enqueued) to the ticket's current
// ones; the labels API replaces the whole list.
func (x *delivery) labelTicket(ctx context.Context, ticketID int64, cur []string) ([]string, error) {
	union := slices.Clone(cur)
	for _, l := range x.link.Labels {
		if !slices.Contains(union, l) {
			union = append(union, l)
		}
	}
	if len(union) == len(cur) {
		return cur, nil
	}
	return union, x.writeLabels(ctx, ticketID, cur, union)
}

// both runs two write-backs, in order.
func both(a, b func(context.Context, pgx.Tx) error) func(context.Context, pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error {
		if err := a(ctx, tx); err != nil {
			return err
		}
		return b(ctx, tx)
	}
}

// setTicket records the ticket in the link, and the assignee we set.
func (x *delivery) setTicket(t Ticket, sent time.Time) func(context.Context, pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error {
		q := db.New(tx)
		var contact *int64
		if t.Contact.ID != 0 {
			contact = &t.Contact.ID
		}
		err := q.LinkSetTicket(ctx, db.LinkSetTicketParams{IntegrationID: x.in.ID, ID: x.link.ID, TicketID: &t.ID, ContactID: contact})
		if err != nil {
			return fmt.Errorf("record ticket %d: %w", t.ID, err)
		}
		if x.link.OwnerEmail != "" {
			// The create assigns without a conversation_updated echo.
			return x.recordWrite(writtenAssignee, x.link.OwnerEmail, "", sent, true)(ctx, tx)
		}
		return nil
	}
}

// contact finds the record's person in LimeChat by phone, then e-mail, or
// creates them. Opportunities carry no contact details, so their lead is read.
func (x *delivery) contact(ctx context.Context, p *CreateTicketPayload) (Contact, error) {
	if p.Phone == "" && p.Email == "" && p.LeadID != "" {
		// (createTicket took a LeadSquared token for this read.)
		lead, err := x.c.LeadSquared.GetLead(ctx, p.LeadID)
		if err != nil {
			return Contact{}, fmt.Errorf("read lead %s: %w", p.LeadID, err)
		}
		p.Email = lead.Field("EmailAddress")
		p.Phone = ContactPhone(firstNonEmpty(lead.Field("Mobile"), lead.Field("Phone")), x.in.Rules.Phone.DefaultCountryCode)
		if name := strings.TrimSpace(lead.Field("FirstName") + " " + lead.Field("LastName")); name != "" {
			p.Name = name
		}
	}
	if c, ok, err := x.findContact(ctx, p.Phone, p.Email); err != nil || ok {
		return c, err
	}
	name := firstNonEmpty(p.Name, p.Email, p.Phone, "LeadSquared "+string(p.RecordKind)+" "+p.RecordID)
	c, err := x.c.LimeChat.CreateContact(ctx, x.in.LimeChatInboxID, Contact{
		Name: name, Email: p.Email, Phone: p.Phone,
		CustomAttributes: map[string]any{"lsq_lead_id": p.LeadID},
	})
	if err != nil {
		// A concurrent create (or a lost answer) made it already: find it.
		if found, ok, ferr := x.findContact(ctx, p.Phone, p.Email); ferr == nil && ok {
			return found, nil
		}
		return Contact{}, err
	}
	return c, nil
}

func (x *delivery) findContact(ctx context.Context, phone, email string) (Contact, bool, error) {
	for _, q := range []string{phone, email} {
		if q == "" {
			continue
		}
		cs, err := x.c.LimeChat.SearchContacts(ctx, q)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Contact{}, false, err
		}
		for _, c := range cs {
			if (phone != "" && digits(c.Phone) == digits(phone)) || (email != "" && strings.EqualFold(c.Email, email)) {
				return c, true, nil
			}
		}
	}
	return Contact{}, false, nil
}
