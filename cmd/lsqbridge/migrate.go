package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/migrations"
	"github.com/lsqbridge/lsqbridge/service"
)

// openPool connects to the configured database and checks it answers.
// Its connections carry the statement and lock timeouts, so nothing the
// service does waits unbounded; migrate uses openMigrationPool instead.
func (e *env) openPool() (*pgxpool.Pool, error) {
	return e.connect(true)
}

// openMigrationPool connects without the statement timeout: a migration
// may rightly take longer than any request.
func (e *env) openMigrationPool() (*pgxpool.Pool, error) {
	return e.connect(false)
}

func (e *env) connect(bounded bool) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(e.cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	pcfg.MaxConns = int32(max(e.cfg.DBMaxConns, 4))
	if bounded {
		rt := pcfg.ConnConfig.RuntimeParams
		if _, set := rt["statement_timeout"]; !set && e.cfg.DBStatementTimeout > 0 {
			rt["statement_timeout"] = strconv.FormatInt(e.cfg.DBStatementTimeout.Milliseconds(), 10)
		}
		if _, set := rt["lock_timeout"]; !set && e.cfg.DBLockTimeout > 0 {
			rt["lock_timeout"] = strconv.FormatInt(e.cfg.DBLockTimeout.Milliseconds(), 10)
		}
	}
	pool, err := pgxpool.NewWithConfig(e.ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(e.ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database does not answer: %w", err)
	}
	return pool, nil
}

func cmdMigrate(e *env, args []string) error {
	fs := e.flagSet("migrate")
	e.cfg.bindDB(fs)
	to := fs.Int64("to", -1, "with down: roll back to this version (0 = everything)")
	if len(args) == 0 {
		return errors.New("usage: lsqbridge migrate up|down|status|version [--database-url URL] [--to N]")
	}
	sub := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := e.cfg.Validate(true, false); err != nil {
		return err
	}
	pool, err := e.openMigrationPool()
	if err != nil {
		return err
	}
	defer pool.Close()
	r, err := migrations.NewRunner(pool)
	if err != nil {
		return err
	}
	defer r.Close()

	switch sub {
	case "up":
		res, err := r.Up(e.ctx)
		for _, m := range res {
			fmt.Fprintf(e.stdout, "applied %s (%s)\n", m.Source.Path, m.Duration)
		}
		if err != nil {
			return err
		}
		if len(res) == 0 {
			fmt.Fprintln(e.stdout, "schema already current")
		}
	case "down":
		if *to >= 0 {
			res, err := r.DownTo(e.ctx, *to)
			for _, m := range res {
				fmt.Fprintf(e.stdout, "rolled back %s\n", m.Source.Path)
			}
			return err
		}
		m, err := r.Down(e.ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "rolled back %s\n", m.Source.Path)
	case "status":
		st, err := r.Status(e.ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
		for _, s := range st {
			at := "-"
			if !s.AppliedAt.IsZero() {
				at = s.AppliedAt.UTC().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Source.Version, s.State, at, s.Source.Path)
		}
		return tw.Flush()
	case "version":
		cur, latest, err := r.Version(e.ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "database version %d, this build's newest %d\n", cur, latest)
	default:
		return fmt.Errorf("unknown migrate command %q (want up, down, status or version)", sub)
	}
	return nil
}

// openIntegrations checks the settings a command that opens integration
// secrets needs, and returns the pool and the integration store over it.
func (e *env) openIntegrations() (*pgxpool.Pool, *service.Integrations, error) {
	if err := e.cfg.Validate(true, true); err != nil {
		return nil, nil, err
	}
	sealer, err := service.NewSealer(e.cfg.MasterKey)
	if err != nil {
		return nil, nil, err
	}
	pool, err := e.openPool()
	if err != nil {
		return nil, nil, err
	}
	return pool, service.NewIntegrations(pool, sealer), nil
}

// migrateUp applies pending migrations (the sandbox's own database).
func migrateUp(ctx context.Context, pool *pgxpool.Pool) error {
	r, err := migrations.NewRunner(pool)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = r.Up(ctx)
	return err
}
