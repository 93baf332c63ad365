package main

import (
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/service"
)

func cmdServe(e *env, args []string) error {
	fs := e.flagSet("serve")
	e.cfg.BindServe(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := e.cfg.Validate(true, true); err != nil {
		return err
	}
	return app.Run(e.ctx, e.cfg, app.NewLogger(e.stderr, e.cfg.LogLevel))
}

func cmdMigrate(e *env, args []string) error {
	fs := e.flagSet("migrate")
	e.cfg.BindDB(fs)
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
	pool, err := app.OpenMigrationPool(e.ctx, e.cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	return app.Migrate(e.ctx, pool, e.stdout, sub, *to)
}

// openPool connects to the configured database (app.OpenPool).
func (e *env) openPool() (*pgxpool.Pool, error) { return app.OpenPool(e.ctx, e.cfg) }

// openIntegrations opens the pool and the integration store (app.OpenIntegrations).
func (e *env) openIntegrations() (*pgxpool.Pool, *service.Integrations, error) {
	return app.OpenIntegrations(e.ctx, e.cfg)
}
