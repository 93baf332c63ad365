package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lsqbridge/lsqbridge/adapters/httpapi"
	"github.com/lsqbridge/lsqbridge/migrations"
	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

func cmdServe(e *env, args []string) error {
	fs := e.flagSet("serve")
	e.cfg.bindServe(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := e.cfg.Validate(true, true); err != nil {
		return err
	}
	log := newLogger(e.stderr, e.cfg.LogLevel)
	pool, err := e.openPool()
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := schemaCurrent(e.ctx, pool); err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	app, err := newApp(e.ctx, e.cfg, pool, log)
	if err != nil {
		return err
	}
	warnLegacyCredentials(e.ctx, app.integrations, log) // integration.go
	ln, err := net.Listen("tcp", e.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return app.serve(e.ctx, ln)
}

// schemaCurrent checks the database's schema version against this build's.
func schemaCurrent(ctx context.Context, pool *pgxpool.Pool) error {
	r, err := migrations.NewRunner(pool)
	if err != nil {
		return err
	}
	defer r.Close()
	return r.CheckCurrent(ctx)
}

// app is a running lsqbridge: HTTP server plus background workers.
type app struct {
	log     *slog.Logger
	pool    *pgxpool.Pool
	handler http.Handler
	workers []func(ctx context.Context)
	// registry holds every metric the process exports (served on /metrics).
	registry *prometheus.Registry

	integrations *service.Integrations
	agents       *service.AgentDirectory
	sync         *service.Sync
	relay        *outbox.Relay
	reconciler   *service.Reconciler
	// noRelay leaves delivery to the caller (tests drive the relay).
	noRelay bool
	// afterAttempt is the relay's crash hook (tests).
	afterAttempt func(outbox.Action, outbox.Outcome) bool
	// shutdownTimeout bounds serve's exit (Config.ShutdownTimeout).
	shutdownTimeout time.Duration
	// relayTune adjusts the relay's settings before it is built (tests:
	// short backoffs for an outage).
	relayTune func(*outbox.Config)
}

// appOption adjusts an app before it is wired (tests).
type appOption func(*app)

func newApp(ctx context.Context, cfg Config, pool *pgxpool.Pool, log *slog.Logger, opts ...appOption) (*app, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a := &app{log: log, pool: pool, shutdownTimeout: cfg.ShutdownTimeout, registry: reg}
	for _, o := range opts {
		o(a)
	}
	hcfg := httpapi.Config{
		Logger:   log,
		Registry: reg,
		Ready: func(ctx context.Context) error {
			if err := pool.Ping(ctx); err != nil {
				return fmt.Errorf("database unreachable: %w", err)
			}
			return schemaCurrent(ctx, pool)
		},
	}
	if err := a.wire(ctx, cfg, reg, &hcfg); err != nil {
		return nil, err
	}
	a.handler = httpapi.New(hcfg)
	return a, nil
}

// serve runs the HTTP server and the workers until ctx ends, then shuts
// down within the configured ShutdownTimeout: the relay stops claiming and
// HTTP stops accepting at once, in-flight requests and deliveries get most
// of the time to finish, and deliveries still running then are cancelled
// and handed back to the queue.
func (a *app) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		runAll(wctx, a.workers)
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("lsqbridge serving", "addr", ln.Addr().String())

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	limit := cmp.Or(a.shutdownTimeout, defaultShutdownTimeout)
	a.log.Info("shutting down", "within", limit.String())
	sctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	stopWorkers() // first: no new claims while HTTP drains
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Shutdown(sctx) }()
	if serr := <-httpDone; serr != nil && err == nil {
		srv.Close()
		err = fmt.Errorf("HTTP requests still running at the shutdown limit: %w", serr)
	}
	select {
	case <-done:
	case <-sctx.Done():
		if err == nil {
			err = fmt.Errorf("workers still running at the shutdown limit (%s)", limit)
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	a.log.Info("stopped", "err", err)
	return err
}

// runAll runs each worker in its own goroutine and waits for all of them.
func runAll(ctx context.Context, workers []func(context.Context)) {
	done := make(chan struct{}, len(workers))
	for _, w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			w(ctx)
		}()
	}
	for range workers {
		<-done
	}
}
