package service

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lsqbridge/lsqbridge/db"
)

// Advisory lock namespaces: the seed each kind of key is hashed with
// (queries/locks.sql), so that the kinds never collide. Every lock of one
// kind must use the same namespace: they are named once, here.
const (
	// lockLead serialises webhooks and opportunity form captures on one
	// lead of one integration (leadLockKey).
	lockLead int64 = 42
	// lockTicket serialises the form submissions of one ticket (ticketLockKey).
	lockTicket int64 = 43
	// lockReconciler lets one process at a time run reconcile passes.
	lockReconciler int64 = 727275
)

// leadLockKey names the advisory lock of one lead.
func leadLockKey(integration, leadID string) string { return integration + ":" + leadID }

// LockLead takes a transaction-scoped advisory lock on one lead of one
// integration. Webhook application and the opportunity form both take it,
// so a webhook about an opportunity the form is creating waits for the
// form's link instead of opening a second ticket.
func LockLead(ctx context.Context, tx pgx.Tx, integration, leadID string) error {
	if leadID == "" {
		return nil
	}
	if err := db.New(tx).LockXact(ctx, db.LockXactParams{Key: leadLockKey(integration, leadID), Namespace: lockLead}); err != nil {
		return fmt.Errorf("lock lead %s: %w", leadID, err)
	}
	return nil
}

// sessionLock is one session-level advisory lock to take.
type sessionLock struct {
	key       string
	namespace int64
}

// sessionLocks takes session-level advisory locks on conn, in order, and
// returns their release. They conflict with the transaction-level locks of
// the same keys (LockLead), and end with the session if the process dies.
func sessionLocks(ctx context.Context, conn *pgx.Conn, locks ...sessionLock) (func(), error) {
	q := db.New(conn)
	var held []sessionLock
	release := func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for i := len(held) - 1; i >= 0; i-- {
			_ = q.UnlockSession(uctx, db.UnlockSessionParams{Key: held[i].key, Namespace: held[i].namespace})
		}
	}
	for _, l := range locks {
		if err := q.LockSession(ctx, db.LockSessionParams{Key: l.key, Namespace: l.namespace}); err != nil {
			release()
			return nil, fmt.Errorf("lock %s: %w", l.key, err)
		}
		held = append(held, l)
	}
	return release, nil
}
