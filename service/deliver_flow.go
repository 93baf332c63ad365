package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// flowPhone completes a Flow-builder event whose record had no usable phone
// from the ticket's contact. An event that still has none is never sent
// (Flow-builder messages the customer at that number): it goes dead with
// outcome not_sent and says why.
func (x *delivery) flowPhone(ctx context.Context, p *FlowEventPayload) (outbox.Outcome, bool) {
	cc := x.in.Rules.Phone.DefaultCountryCode
	why := "the record has no phone or mobile number"
	if p.PhoneProblem != "" {
		why = "the record's number cannot be used: " + p.PhoneProblem
	}
	if x.link.TicketID != 0 {
		t, err := x.c.LimeChat.GetConversation(ctx, x.link.TicketID)
		if err != nil {
			o := x.failed(ctx, "read the ticket's contact for its phone", err, false)
			if o.Verdict == outbox.Retry {
				o.Note = outbox.NoteNotSent // the event itself was not sent
			}
			return o, false
		}
		d, err := PhoneDigits(t.Contact.Phone, cc)
		switch {
		case err != nil:
			why = fmt.Sprintf("%s, and its ticket's contact's number cannot be used: %v", why, err)
		case d == "":
			why += ", nor has its ticket's contact"
		default:
			p.Phone = d
			return outbox.Outcome{}, true
		}
	} else {
		why += ", and it has no ticket"
	}
	return outbox.Outcome{Verdict: outbox.Dead, Note: outbox.NoteNotSent,
		Err: errors.New("no phone for this record: " + why + "; the Flow-builder event was not sent")}, false
}

// FlowEventCounts reports, of one record's Flow-builder events, how many
// named event were delivered and how many are still to send. `lsqbridge
// uat` counts with it where Flow-builder cannot be asked what it received.
func FlowEventCounts(ctx context.Context, pool *pgxpool.Pool, integration string, kind RecordKind, recordID, event string) (delivered, open int, err error) {
	n, err := db.New(pool).OutboxFlowEventCounts(ctx, db.OutboxFlowEventCountsParams{
		IntegrationID: integration, RecordKind: string(kind), RecordID: recordID, Kind: ActFlowEvent, Event: event,
	})
	if err != nil {
		return 0, 0, fmt.Errorf("count the Flow-builder events of %s %s: %w", kind, recordID, err)
	}
	return int(n.Delivered), int(n.Open), nil
}
