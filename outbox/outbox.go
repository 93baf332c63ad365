// Package outbox is the transactional outbox: actions are enqueued in the
// same transaction as the state they follow from, and a Relay delivers them
// — per-link in order, links in parallel, many relay processes on one
// database — with leases, backoff, dead letters and wakeups. It knows
// nothing of LeadSquared or LimeChat: a Handler does the work.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/db"
)

// Status values of an outbox row.
const (
	StatusPending    = "pending"
	StatusDelivering = "delivering"
	StatusDelivered  = "delivered"
	StatusSuperseded = "superseded"
	StatusDead       = "dead"
)

// Outcomes an attempt leaves in a row's outcome column. Handlers and the
// relay set them; the SQL in queries/outbox.sql writes the same words
// (maybe_sent and crashed on a lease expiry, merged, dropped).
const (
	// NoteNotSent: the request certainly did not reach the platform (it
	// could not connect, or the platform refused it before acting: 429, 503).
	NoteNotSent = "not_sent"
	// NoteMaybeSent: the request may have reached the platform. A create
	// looks for its own result before creating again.
	NoteMaybeSent = "maybe_sent"
	// NoteUnknown: a Flow-builder event that may have been sent. It is
	// never sent again automatically: a person decides.
	NoteUnknown = "unknown"
	// NoteCrashed: the relay stopped mid-delivery MaxCrashes times.
	NoteCrashed = "crashed"
	// NoteGaveUp: transient failures lasted the whole retry window.
	NoteGaveUp = "gave up"
	// NoteMerged: folded into an earlier action of the same link.
	NoteMerged = "merged"
	// NoteDropped: a person dropped it (outbox drop).
	NoteDropped = "dropped"
)

// NewAction is an action to enqueue.
type NewAction struct {
	IntegrationID string
	LinkID        int64
	Kind          string
	Payload       any
	// IdempotencyKey makes a repeated enqueue a no-op and is passed to the
	// platform where it can carry one (activity notes, Flow-builder data).
	IdempotencyKey string
	// CausedBy is the inbound event the action follows from, if any.
	CausedBy int64
	// NotBefore delays the first attempt.
	NotBefore time.Time
	// Unordered puts the action outside its link's order: a dead action of
	// the link does not hold it, and it holds none of the link's actions
	// (a note about the link's state, not a change of it).
	Unordered bool
}

// Enqueue writes actions inside tx; it returns how many were new.
func Enqueue(ctx context.Context, tx pgx.Tx, actions []NewAction) (int, error) {
	q := db.New(tx)
	n := 0
	for _, a := range actions {
		payload, err := json.Marshal(a.Payload)
		if err != nil {
			return n, fmt.Errorf("encode %s payload: %w", a.Kind, err)
		}
		p := db.OutboxInsertParams{
			IntegrationID: a.IntegrationID, LinkID: a.LinkID, Kind: a.Kind, Payload: payload,
			IdempotencyKey: a.IdempotencyKey, Unordered: a.Unordered,
		}
		if a.CausedBy != 0 {
			p.CausedBy = &a.CausedBy
		}
		if !a.NotBefore.IsZero() {
			p.NextAttemptAt = &a.NotBefore
		}
		_, err = q.OutboxInsert(ctx, p)
		if db.IsNotFound(err) {
			continue // already enqueued under this key
		}
		if err != nil {
			return n, fmt.Errorf("enqueue %s: %w", a.Kind, err)
		}
		n++
	}
	return n, nil
}

// Action is a claimed row as a Handler sees it.
type Action struct {
	IntegrationID  string
	ID             int64
	LinkID         int64
	Kind           string
	Payload        []byte
	IdempotencyKey string
	CausedBy       int64
	// Attempts counts this one: 1 on the first delivery.
	Attempts int
	// LastError and LastOutcome describe the previous attempt, if any; a
	// handler uses them to look before it creates after an ambiguous failure.
	LastError   string
	LastOutcome string
	CreatedAt   time.Time
	// FirstFailedAt is when a transient failure of this action was first
	// recorded (zero if none): the retry window runs from it.
	FirstFailedAt time.Time
}

func fromRow(r db.Outbox) Action {
	a := Action{
		IntegrationID: r.IntegrationID, ID: r.ID, LinkID: r.LinkID, Kind: r.Kind, Payload: r.Payload,
		IdempotencyKey: r.IdempotencyKey, Attempts: int(r.Attempts), LastError: r.LastError,
		LastOutcome: r.Outcome, CreatedAt: r.CreatedAt,
	}
	if r.CausedBy != nil {
		a.CausedBy = *r.CausedBy
	}
	if r.FirstFailedAt != nil {
		a.FirstFailedAt = *r.FirstFailedAt
	}
	return a
}

// Verdict says how an attempt ended.
type Verdict int

// Verdicts a Handler returns.
const (
	// Delivered: the effect is made.
	Delivered Verdict = iota
	// Superseded: the action no longer matches the state it was meant to
	// set, so it was not sent.
	Superseded
	// Retry: try again later (backoff and RetryAfter apply). A failure that
	// may pass is retried until the relay's RetryFor has run out.
	Retry
	// Dead: never retry (the platform said the failure is permanent, or it
	// may already have acted); a person decides (outbox retry/drop). A dead
	// action holds its link's later actions until then.
	Dead
)

// Outcome is a Handler's report on one attempt.
type Outcome struct {
	Verdict Verdict
	// Err is the failure, for Retry and Dead; stored as last_error.
	Err error
	// Note is stored in the row's outcome column ("merged", "unknown", …).
	Note string
	// Result is stored as the row's result (JSON) when delivered.
	Result any
	// RetryAfter is the earliest next attempt the platform asked for.
	RetryAfter time.Duration
	// RateLimited gives the attempt back: the platform's limit, not the action, failed.
	RateLimited bool
	// Deferred gives the attempt back too: the action was not tried (its
	// integration's pace says later); it is not counted as a failure.
	Deferred bool
	// Finish runs in the transaction that records the outcome, for
	// write-backs such as the ticket id a create produced.
	Finish func(ctx context.Context, tx pgx.Tx) error
}

// Handler performs actions. It must be safe for concurrent use.
type Handler interface {
	Handle(ctx context.Context, a Action) Outcome
}
