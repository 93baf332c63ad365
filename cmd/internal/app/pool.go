package app

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/migrations"
	"github.com/lsqbridge/lsqbridge/service"
)

// OpenPool connects to the configured database and checks it answers. Its
// connections carry the statement and lock timeouts, so nothing the service
// does waits unbounded; migrations use OpenMigrationPool instead.
func OpenPool(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	return connect(ctx, cfg, true)
}

// OpenMigrationPool connects without the statement timeout: a migration
// may rightly take longer than any request.
func OpenMigrationPool(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	return connect(ctx, cfg, false)
}

func connect(ctx context.Context, cfg Config, bounded bool) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	pcfg.MaxConns = int32(max(cfg.DBMaxConns, 4))
	if bounded {
		rt := pcfg.ConnConfig.RuntimeParams
		if _, set := rt["statement_timeout"]; !set && cfg.DBStatementTimeout > 0 {
			rt["statement_timeout"] = strconv.FormatInt(cfg.DBStatementTimeout.Milliseconds(), 10)
		}
		if _, set := rt["lock_timeout"]; !set && cfg.DBLockTimeout > 0 {
			rt["lock_timeout"] = strconv.FormatInt(cfg.DBLockTimeout.Milliseconds(), 10)
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database does not answer: %w", err)
	}
	return pool, nil
}

// OpenIntegrations checks the settings a command that opens integration
// secrets needs, and returns the pool and the integration store over it.
func OpenIntegrations(ctx context.Context, cfg Config) (*pgxpool.Pool, *service.Integrations, error) {
	if err := cfg.Validate(true, true); err != nil {
		return nil, nil, err
	}
	sealer, err := service.NewSealer(cfg.MasterKey)
	if err != nil {
		return nil, nil, err
	}
	pool, err := OpenPool(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return pool, service.NewIntegrations(pool, sealer), nil
}

// SchemaCurrent checks the database's schema version against this build's.
func SchemaCurrent(ctx context.Context, pool *pgxpool.Pool) error {
	r, err := migrations.NewRunner(pool)
	if err != nil {
		return err
	}
	defer r.Close()
	return r.CheckCurrent(ctx)
}

// MigrateUp applies pending migrations (the sandbox's own database).
func MigrateUp(ctx context.Context, pool *pgxpool.Pool) error { return migrations.Up(ctx, pool) }
