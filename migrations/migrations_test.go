package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/migrations"
)

func TestUpDownUpOnFreshDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbtest.NewEmptyURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	r, err := migrations.NewRunner(pool)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	if err := r.CheckCurrent(ctx); err == nil {
		t.Fatal("CheckCurrent on an empty database: want an error naming `migrate up`")
	}
	up, err := r.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(up) < 2 {
		t.Fatalf("applied %d migrations, want every one", len(up))
	}
	assertTables(t, pool, true)
	if err := r.CheckCurrent(ctx); err != nil {
		t.Fatalf("after up: %v", err)
	}

	if _, err := r.DownTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	assertTables(t, pool, false)
	cur, _, err := r.Version(ctx)
	if err != nil || cur != 0 {
		t.Fatalf("version after down to zero = %d, %v; want 0", cur, err)
	}

	if _, err := r.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	assertTables(t, pool, true)
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.State != "applied" {
			t.Errorf("migration %d is %s after up", s.Source.Version, s.State)
		}
	}
}

func assertTables(t *testing.T, pool *pgxpool.Pool, want bool) {
	t.Helper()
	for _, rel := range []string{"integrations", "agents", "links", "inbound_events", "outbox", "audit.links"} {
		var ok bool
		if err := pool.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", rel).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if ok != want {
			t.Errorf("relation %s exists = %v, want %v", rel, ok, want)
		}
	}
}
