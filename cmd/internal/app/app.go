// Package app assembles lsqbridge: the settings (Config), the database pool,
// the service's parts wired together (App: the HTTP handler, the relay, the
// reconciler and the background workers) and the outbound HTTP client every
// platform client shares. cmd/lsqbridge runs it; the sandbox and the
// end-to-end tests start it in-process.
package app

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
	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// App is a wired lsqbridge: HTTP handler plus background workers. Serve runs it.
type App struct {
	// Handler serves every route; a caller may wrap it before Serve.
	Handler http.Handler
	// Registry holds every metric the process exports (served on /metrics).
	Registry *prometheus.Registry

	Integrations *service.Integrations
	Agents       *service.AgentDirectory
	Sync         *service.Sync
	Relay        *outbox.Relay
	Reconciler   *service.Reconciler

	log     *slog.Logger
	pool    *pgxpool.Pool
	opts    Options
	workers []func(ctx context.Context)
	// shutdownTimeout bounds Serve's exit (Config.ShutdownTimeout).
	shutdownTimeout time.Duration
}

// Options adjust an App for tests and tools that drive parts of it themselves.
type Options struct {
	// NoRelay leaves delivery to the caller (tests and bench drive the
	// relay with Relay.Drain).
	NoRelay bool
	// AfterAttempt is the relay's crash hook (outbox.Config.AfterAttempt).
	AfterAttempt func(outbox.Action, outbox.Outcome) bool
	// TuneRelay adjusts the relay's settings before it is built (short
	// backoffs for an outage).
	TuneRelay func(*outbox.Config)
}

// New wires lsqbridge over pool.
func New(ctx context.Context, cfg Config, pool *pgxpool.Pool, log *slog.Logger, opts Options) (*App, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a := &App{log: log, pool: pool, opts: opts, shutdownTimeout: cfg.ShutdownTimeout, Registry: reg}
	hcfg := httpapi.Config{
		Logger:   log,
		Registry: reg,
		Ready: func(ctx context.Context) error {
			if err := pool.Ping(ctx); err != nil {
				return fmt.Errorf("database unreachable: %w", err)
			}
			return SchemaCurrent(ctx, pool)
		},
	}
	if err := a.wire(cfg, reg, &hcfg); err != nil {
		return nil, err
	}
	a.Handler = httpapi.New(hcfg)
	return a, nil
}

// Run is `lsqbridge serve`: it connects, refuses a schema other than this
// build's, wires the app and serves on cfg.Listen until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	pool, err := OpenPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := SchemaCurrent(ctx, pool); err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	a, err := New(ctx, cfg, pool, log, Options{})
	if err != nil {
		return err
	}
	WarnLegacyCredentials(ctx, a.Integrations, log)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return a.Serve(ctx, ln)
}

// Serve runs the HTTP server and the workers until ctx ends, then shuts
// down within the configured ShutdownTimeout: the relay stops claiming and
// HTTP stops accepting at once, in-flight requests and deliveries get most
// of the time to finish, and deliveries still running then are cancelled
// and handed back to the queue.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.Handler,
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
	limit := cmp.Or(a.shutdownTimeout, DefaultShutdownTimeout)
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
