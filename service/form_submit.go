package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lsqbridge/lsqbridge/db"
)

// Submission is one submit of a ticket's opportunity form.
type Submission struct {
	// Values are field values by schema name. A field absent here keeps its
	// pre-filled value; "" clears it.
	Values map[string]string
	// Lists are values submitted as lists (JSON arrays), by schema name:
	// only multi-select fields take them.
	Lists map[string][]string
	// Note is the opportunity note (a default naming the ticket when empty).
	Note string
	// IdempotencyKey is the client's Idempotency-Key, "" for none: a repeat
	// with the same key returns the first answer and creates nothing.
	IdempotencyKey string
	// Origin is OriginForm (an agent, the default) or OriginAutomation.
	Origin string
}

// Submitted is a successful submission: the HTTP 201 body, replayed
// byte for byte for a repeat with the same Idempotency-Key.
type Submitted struct {
	OpportunityID string `json:"opportunity_id"`
	LeadID        string `json:"lead_id"`
	// TicketID is the ticket the opportunity is linked to; null while the
	// relay opens a new ticket (the submitting ticket was linked already).
	TicketID *int64 `json:"ticket_id"`
	LinkID   int64  `json:"link_id"`
	// State is the link's state: active or pending_ticket.
	State string `json:"state"`
	// OwnerEmail is the opportunity owner's e-mail ("" when the ticket's
	// agent has no LeadSquared user and no Owner was set).
	OwnerEmail string `json:"owner_email"`
	// LeadCreated is true when no lead had the contact's phone or e-mail.
	LeadCreated bool `json:"lead_created"`
	// Existing is true when LeadSquared's duplicate detection returned an
	// opportunity that already existed instead of creating one.
	Existing bool `json:"existing,omitempty"`
	// Replayed is true when this is the stored answer of an earlier
	// submission with the same key (nothing was done this time).
	Replayed bool `json:"-"`
}

// InProgressError answers a repeat whose first submission has not finished.
type InProgressError struct {
	Since time.Time
	// Stuck is true when it started long ago: it will not finish by itself.
	Stuck bool
}

func (e *InProgressError) Error() string {
	if e.Stuck {
		return fmt.Sprintf("a submission with this Idempotency-Key started at %s and never finished; "+
			"whether LeadSquared created the opportunity is unknown: check the lead before submitting again with a new key",
			e.Since.UTC().Format(time.RFC3339))
	}
	return "a submission with this Idempotency-Key is still in progress; send it again in a few seconds to get its answer"
}

// KeyReusedError answers an Idempotency-Key first used for another ticket.
type KeyReusedError struct{ TicketID int64 }

func (e *KeyReusedError) Error() string {
	return fmt.Sprintf("this Idempotency-Key was already used for ticket %d; use a new key for each submission", e.TicketID)
}

// FailedError is a submission that failed after LeadSquared may have
// acted on it. Its message is stored and replayed for the same key, so a
// retry cannot create a second opportunity.
type FailedError struct{ Message string }

func (e *FailedError) Error() string { return e.Message }

// Submission statuses (form_submissions.status).
const (
	submissionInProgress = "in_progress"
	submissionCreated    = "created"
	submissionFailed     = "failed"
)

// Submit validates a submission and, when it is valid, captures the
// opportunity in LeadSquared on the contact's lead (found by phone, then
// e-mail, else created), owned by the ticket's agent, and links it: to this
// ticket when it has no link yet, else to a new ticket the relay opens.
// Invalid values give a *ValidationError and create nothing.
func (f *Forms) Submit(ctx context.Context, in *Integration, ticketID int64, sub Submission) (*Submitted, error) {
	if in.Rules.Form.OpportunityType <= 0 {
		return nil, ErrFormNotConfigured
	}
	sub.Origin = cmp.Or(sub.Origin, OriginForm)
	key := submissionKey(sub)
	if key != "" {
		if res, done, err := f.replay(ctx, in, key, ticketID); done {
			return res, err
		}
	}
	c := f.platforms.For(in)
	meta, err := f.metadata(ctx, in, c.LeadSquared)
	if err != nil {
		return nil, err
	}
	tc, err := f.loadTicket(ctx, in, c.LimeChat, ticketID)
	if err != nil {
		return nil, err
	}
	form := buildForm(in, meta, tc)
	values, verr := checkForm(form, sub.Values, sub.Lists)
	if verr != nil {
		return nil, verr
	}
	return f.submitValid(ctx, in, c, tc, values, sub, key)
}

// submissionKey is the stored idempotency key: origin-scoped so an agent's
// key can never collide with an automation's.
func submissionKey(sub Submission) string {
	if sub.IdempotencyKey == "" {
		return ""
	}
	return sub.Origin + ":" + sub.IdempotencyKey
}

// submitValid claims the key (a committed in_progress row, so a concurrent
// duplicate is refused instead of capturing twice), captures and links.
func (f *Forms) submitValid(ctx context.Context, in *Integration, c Clients, tc *ticketContext, values map[string]string, sub Submission, key string) (*Submitted, error) {
	if key != "" {
		_, err := f.q.FormSubmissionStart(ctx, db.FormSubmissionStartParams{
			IntegrationID: in.ID, IdempotencyKey: key, TicketID: tc.ticket.ID, Origin: sub.Origin,
		})
		if db.IsNotFound(err) {
			res, _, err := f.replay(ctx, in, key, tc.ticket.ID)
			return res, err
		}
		if err != nil {
			return nil, fmt.Errorf("record submission: %w", err)
		}
	}
	res, actions, err := f.capture(ctx, in, c, tc, values, sub, key)
	if err != nil {
		return nil, f.failed(ctx, in, key, err)
	}
	if actions > 0 {
		f.notify()
	}
	f.log.Info("opportunity form submitted", "integration", in.ID, "ticket", tc.ticket.ID, "origin", sub.Origin,
		"opportunity", res.OpportunityID, "lead", res.LeadID, "link", res.LinkID, "state", res.State)
	return res, nil
}

// replay answers a key seen before; done is false when the key is new.
func (f *Forms) replay(ctx context.Context, in *Integration, key string, ticketID int64) (res *Submitted, done bool, err error) {
	row, err := f.q.FormSubmissionGet(ctx, db.FormSubmissionGetParams{IntegrationID: in.ID, IdempotencyKey: key})
	if db.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("read submission: %w", err)
	}
	if row.TicketID != ticketID {
		return nil, true, &KeyReusedError{TicketID: row.TicketID}
	}
	switch row.Status {
	case submissionInProgress:
		return nil, true, &InProgressError{Since: row.CreatedAt, Stuck: f.now().Sub(row.CreatedAt) > f.stuck}
	case submissionCreated:
		var s Submitted
		if err := json.Unmarshal(row.Response, &s); err != nil {
			return nil, true, fmt.Errorf("decode stored answer: %w", err)
		}
		s.Replayed = true
		return &s, true, nil
	}
	var b struct{ Error string }
	_ = json.Unmarshal(row.Response, &b)
	return nil, true, &FailedError{Message: cmp.Or(b.Error, "the first submission with this key failed")}
}

// captureFailure is a failed capture; keep is true when LeadSquared may
// have created the opportunity, so the key must stay used.
type captureFailure struct {
	err  error
	keep bool
}

func (e *captureFailure) Error() string { return e.err.Error() }
func (e *captureFailure) Unwrap() error { return e.err }

// failed settles the key of a failed submission: freed when nothing can
// have been created (the client may retry with it), else stored as failed.
func (f *Forms) failed(ctx context.Context, in *Integration, key string, err error) error {
	ctx = context.WithoutCancel(ctx)
	var cf *captureFailure
	if !errors.As(err, &cf) || !cf.keep {
		if key != "" {
			if rerr := f.q.FormSubmissionRelease(ctx, db.FormSubmissionReleaseParams{IntegrationID: in.ID, IdempotencyKey: key}); rerr != nil {
				f.log.Error("free submission key", "integration", in.ID, "err", rerr)
			}
		}
		return err
	}
	f.log.Error("opportunity form submission failed after LeadSquared may have acted", "integration", in.ID, "err", err)
	if key != "" {
		body, _ := json.Marshal(map[string]string{"error": cf.Error()})
		if _, ferr := f.q.FormSubmissionFinish(ctx, db.FormSubmissionFinishParams{
			Status: submissionFailed, Response: body, IntegrationID: in.ID, IdempotencyKey: key,
		}); ferr != nil {
			f.log.Error("record failed submission", "integration", in.ID, "err", ferr)
		}
	}
	return &FailedError{Message: cf.Error()}
}

// mayHaveActed reports whether a failed LeadSquared call may still have
// taken effect: the request was sent and no answer came back.
func mayHaveActed(err error) bool {
	class, _ := ClassOf(err)
	return class == ClassUncertain
}

// ticketLockKey names the advisory lock serialising one ticket's submissions.
func ticketLockKey(integration string, ticketID int64) string {
	return integration + ":ticket:" + strconv.FormatInt(ticketID, 10)
}
