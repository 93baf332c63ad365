package outbox_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/outbox"
)

// TestActionsEnqueuedWithoutAHeadAreDeliveredInOrder: rows an older
// binary enqueued without marking their link's head (is_head) are found by
// a running relay's sweep and delivered, each link's in order.
func TestActionsEnqueuedWithoutAHeadAreDeliveredInOrder(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	ls := b.links(3)
	for seq := range 3 {
		for _, l := range ls {
			b.exec(`INSERT INTO outbox (integration_id, link_id, kind, payload, idempotency_key)
				VALUES ('acme', $1, 'test.step', $2, $3)`, l, fmt.Sprintf(`{"seq": %d}`, seq), fmt.Sprintf("old:%d:%d", l, seq))
		}
	}
	if n, err := outbox.NewRelay(b.pool, b.h, outbox.Config{}).Drain(b.ctx); err != nil || n != 0 {
		t.Fatalf("drain before the sweep handled %d (%v), want 0: no row is a head yet", n, err)
	}
	ctx, cancel := context.WithCancel(b.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { outbox.NewRelay(b.pool, b.h, outbox.Config{PollInterval: 10 * time.Millisecond}).Run(ctx) })
	waitFor(t, 30*time.Second, func() bool {
		var open int
		_ = b.pool.QueryRow(b.ctx, "SELECT count(*) FROM outbox WHERE status <> 'delivered'").Scan(&open)
		return open == 0
	})
	cancel()
	wg.Wait()
	for _, l := range ls {
		if got := b.h.order(l); !slices.Equal(got, []int{0, 1, 2}) {
			t.Errorf("link %d delivered %v, want [0 1 2]", l, got)
		}
	}
}

// TestPruneDeletesOnlyFinishedActionsPastRetention: delivered and
// superseded actions older than the retention go; newer ones, and dead or
// waiting ones of any age (a person still has to act on those), stay.
func TestPruneDeletesOnlyFinishedActionsPastRetention(t *testing.T) {
	t.Parallel()
	b := setupRelay(t)
	l := b.links(1)[0]
	keep := map[string]bool{}
	for i, c := range []struct {
		status string
		age    string
		kept   bool
	}{
		{outbox.StatusDelivered, "8 days", false},
		{outbox.StatusSuperseded, "8 days", false},
		{outbox.StatusDelivered, "6 days", true},
		{outbox.StatusDead, "30 days", true},
		{outbox.StatusPending, "30 days", true},
	} {
		key := fmt.Sprintf("%s-%s-%d", c.status, c.age, i)
		b.exec(`INSERT INTO outbox (integration_id, link_id, kind, idempotency_key, status, created_at, delivered_at)
			VALUES ('acme', $1, 'test.step', $2, $3, now() - $4::interval,
				CASE WHEN $3 IN ('delivered', 'superseded') THEN now() - $4::interval END)`, l, key, c.status, c.age)
		keep[key] = c.kept
	}
	n, err := outbox.Prune(b.ctx, b.pool, outbox.Retention{Actions: 7 * 24 * time.Hour})
	check(t, err)
	if n != 2 {
		t.Errorf("pruned %d rows, want 2", n)
	}
	for key, kept := range keep {
		var there bool
		check(t, b.pool.QueryRow(b.ctx, "SELECT EXISTS (SELECT 1 FROM outbox WHERE idempotency_key = $1)", key).Scan(&there))
		if there != kept {
			t.Errorf("%s: kept %v, want %v", key, there, kept)
		}
	}
}
