package outbox

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db"
)

// ErrNotFound is returned by Admin.Get when the integration has no action
// with that id, so callers can tell "no such action" from a failed read
// without seeing pgx.
var ErrNotFound = errors.New("outbox action not found")

// Admin is what a person needs to handle actions the relay gave up on or
// keeps failing: list them, look one up, retry or drop it. It exists so
// the command line can do that without touching the generated db package
// (house style: only service and outbox see db rows). Its errors are the
// database's, unwrapped, for the caller to wrap with what it was doing.
type Admin struct {
	pool *pgxpool.Pool
	q    *db.Queries
}

// NewAdmin returns an Admin over pool.
func NewAdmin(pool *pgxpool.Pool) *Admin {
	return &Admin{pool: pool, q: db.New(pool)}
}

// Row is one outbox action as an operator sees it.
type Row struct {
	IntegrationID string
	ID            int64
	LinkID        int64
	Kind          string
	Status        string
	// Outcome is the note of the last attempt or of how the action ended
	// ("unknown" when an attempt failed after it may have reached the
	// platform, "dropped", "merged", …).
	Outcome  string
	Attempts int
	// NextAttemptAt matters only while the action is pending.
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	// DeliveredAt is when the action finished (delivered or superseded);
	// nil until then.
	DeliveredAt *time.Time
	Payload     []byte
}

func rowFromDB(r db.Outbox) Row {
	return Row{
		IntegrationID: r.IntegrationID, ID: r.ID, LinkID: r.LinkID, Kind: r.Kind, Status: r.Status,
		Outcome: r.Outcome, Attempts: int(r.Attempts), NextAttemptAt: r.NextAttemptAt, LastError: r.LastError,
		CreatedAt: r.CreatedAt, DeliveredAt: r.DeliveredAt, Payload: r.Payload,
	}
}

// List returns up to limit actions in the given statuses, oldest first, of
// one integration or, when integration is "", of all. A limit below 1
// counts as 1; no statuses match nothing.
func (a *Admin) List(ctx context.Context, integration string, statuses []string, limit int) ([]Row, error) {
	p := db.OutboxListParams{Statuses: statuses, MaxRows: int32(min(max(limit, 1), math.MaxInt32))}
	if integration != "" {
		p.IntegrationID = &integration
	}
	rows, err := a.q.OutboxList(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]Row, len(rows))
	for i, r := range rows {
		out[i] = rowFromDB(r)
	}
	return out, nil
}

// Get returns one action, or ErrNotFound.
func (a *Admin) Get(ctx context.Context, integration string, id int64) (Row, error) {
	r, err := a.q.OutboxGet(ctx, db.OutboxGetParams{IntegrationID: integration, ID: id})
	if db.IsNotFound(err) {
		return Row{}, ErrNotFound
	}
	if err != nil {
		return Row{}, err
	}
	return rowFromDB(r), nil
}

// Retry gives a dead or pending action a fresh attempt budget, due now. It
// reports false when the action is in neither state any more (a relay took
// or finished it meanwhile), so callers never retry a delivering or
// finished action. It does not look at the outcome: refusing to resend an
// action that may already have reached the platform is the caller's call.
func (a *Admin) Retry(ctx context.Context, integration string, id int64) (bool, error) {
	n, err := a.q.OutboxRetry(ctx, db.OutboxRetryParams{IntegrationID: integration, ID: id})
	return n == 1, err
}

// Drop finishes a dead or pending action without delivering it (status
// superseded, outcome "dropped"). Like Retry, it reports false when the
// action was in neither state.
func (a *Admin) Drop(ctx context.Context, integration string, id int64) (bool, error) {
	var dropped bool
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		row, err := q.OutboxGet(ctx, db.OutboxGetParams{IntegrationID: integration, ID: id})
		if db.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		// Lock the link: the next action becomes its head (see OutboxPromote).
		ids, links := []string{integration}, []int64{row.LinkID}
		if err := q.LinksLock(ctx, db.LinksLockParams{IntegrationIds: ids, LinkIds: links}); err != nil {
			return err
		}
		n, err := q.OutboxDrop(ctx, db.OutboxDropParams{IntegrationID: integration, ID: id})
		if err != nil || n == 0 {
			return err
		}
		dropped = true
		return q.OutboxPromote(ctx, db.OutboxPromoteParams{IntegrationIds: ids, LinkIds: links})
	})
	return dropped, err
}
