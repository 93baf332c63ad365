package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/service"
)

// TestSharedPacerIsOneBucketForEveryProcess: two pacers (two relay
// processes) on one database share the integration's plan limit.
func TestSharedPacerIsOneBucketForEveryProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	if _, err := pool.Exec(ctx, `INSERT INTO integrations (id, name, lsq_host, lsq_access_key_sealed, lsq_secret_key_sealed,
		limechat_base_url, limechat_account_id, limechat_inbox_id, limechat_api_token_sealed, webhook_token_hash)
		VALUES ('acme', 'Acme', 'https://x', '\x00', '\x00', 'https://y', 1, 1, '\x00', '\x00')`); err != nil {
		t.Fatal(err)
	}
	a, b := service.NewSharedPacer(pool), service.NewSharedPacer(pool)
	granted := 0
	for i := range 6 {
		p := a
		if i%2 == 1 {
			p = b
		}
		if p.Take(ctx, "acme", 5) == 0 {
			granted++
		}
	}
	if granted != 1 {
		t.Fatalf("two processes got %d calls at once from a 5-per-5s plan, want 1 between them (calls are spaced, not burst)", granted)
	}
	if wait := b.Take(ctx, "acme", 5); wait <= 0 || wait > 1100*time.Millisecond {
		t.Errorf("next call must wait about a second (5 calls per 5.1 s), got %s", wait)
	}
	// A rate-limit pause set by any relay holds every process: no call is
	// granted until it ends, and each process learns of it at its next look
	// at the integration's row (a token's spacing at most).
	if _, err := pool.Exec(ctx, "UPDATE integrations SET lsq_paused_until = now() + interval '5 seconds', lsq_tokens = NULL WHERE id = 'acme'"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		wait := a.Take(ctx, "acme", 5)
		if wait == 0 {
			t.Fatal("a paused integration got a call")
		}
		if wait >= 3*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("paused integration: wait %s, want about 5s", wait)
		}
		time.Sleep(min(wait, 100*time.Millisecond))
	}
}
