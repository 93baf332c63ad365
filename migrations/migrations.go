// Package migrations holds lsqbridge's schema as goose SQL files, embedded in
// the binary, and runs them through goose's Provider API with a Postgres
// session lock so that several replicas can start together safely.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// FS is the embedded migration files; sqlc reads the same files as its schema.
//
//go:embed *.sql
var FS embed.FS

// Runner applies and inspects migrations on one database.
type Runner struct {
	db       *sql.DB
	provider *goose.Provider
}

// NewRunner builds a runner over pool. Close releases the database/sql
// handle it opens on the pool (the pool itself stays open).
func NewRunner(pool *pgxpool.Pool) (*Runner, error) {
	db := stdlib.OpenDBFromPool(pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, FS, goose.WithSessionLocker(locker))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return &Runner{db: db, provider: p}, nil
}

// Close releases the runner's database handle.
func (r *Runner) Close() error { return r.db.Close() }

// Up applies every pending migration and returns what it applied.
func (r *Runner) Up(ctx context.Context) ([]*goose.MigrationResult, error) {
	res, err := r.provider.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate up: %w", err)
	}
	return res, nil
}

// Up applies every pending migration to the database behind pool, for
// callers that need no report of what ran (the sandbox, bench, tests).
func Up(ctx context.Context, pool *pgxpool.Pool) error {
	r, err := NewRunner(pool)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = r.Up(ctx)
	return err
}

// Down rolls back the newest applied migration.
func (r *Runner) Down(ctx context.Context) (*goose.MigrationResult, error) {
	res, err := r.provider.Down(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate down: %w", err)
	}
	return res, nil
}

// DownTo rolls back every migration newer than version (0 = all of them).
func (r *Runner) DownTo(ctx context.Context, version int64) ([]*goose.MigrationResult, error) {
	res, err := r.provider.DownTo(ctx, version)
	if err != nil {
		return res, fmt.Errorf("migrate down to %d: %w", version, err)
	}
	return res, nil
}

// Status lists every known migration and whether it is applied.
func (r *Runner) Status(ctx context.Context) ([]*goose.MigrationStatus, error) {
	st, err := r.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	return st, nil
}

// Version returns the database's current version and the newest one this
// binary knows.
func (r *Runner) Version(ctx context.Context) (current, latest int64, err error) {
	current, err = r.provider.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	srcs := r.provider.ListSources()
	if n := len(srcs); n > 0 {
		latest = srcs[n-1].Version
	}
	return current, latest, nil
}

// CheckCurrent returns an error naming the fix when the database is behind
// this binary's migrations. A schema newer than the binary is fine:
// migrations are additive (expand now, contract in a later release), so a
// binary keeps serving while a rolling deploy brings the newer one, which
// is what lets `migrate up` run before the rollout.
func (r *Runner) CheckCurrent(ctx context.Context) error {
	current, latest, err := r.Version(ctx)
	if err != nil {
		return err
	}
	if current < latest {
		return fmt.Errorf("database schema is at version %d but this build needs %d: run `lsqbridge migrate up`", current, latest)
	}
	return nil
}
