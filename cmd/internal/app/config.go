package app

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is the service's own settings: environment variables, overridden by
// flags. It is read in cmd only and handed to constructors.
type Config struct {
	DatabaseURL  string
	Listen       string
	PublicURL    string
	MasterKey    string
	RelayWorkers int
	LogLevel     string
	// ReconcileEvery is the reconciler's period inside serve (0 = off).
	ReconcileEvery time.Duration
	// DBMaxConns sizes the connection pool: the relay's in-flight
	// deliveries, webhooks, the listener, the reconciler and form captures
	// all draw from it.
	DBMaxConns int
	// DBStatementTimeout and DBLockTimeout bound every statement and every
	// lock wait of the service's own connections, so a webhook never waits
	// unbounded behind another transaction (migrations are not bounded).
	DBStatementTimeout time.Duration
	DBLockTimeout      time.Duration
	// ShutdownTimeout bounds serve's exit after SIGTERM: HTTP drains and
	// the relay finishes (or hands back) its deliveries within it.
	ShutdownTimeout time.Duration
	// RelayLease is how long a claimed action is one relay's before another
	// may take it back (a relay that died mid-delivery): longer than any
	// delivery, which is bounded by it and by 45 s.
	RelayLease time.Duration
	// AllowLoopback lets integrations use platform URLs on loopback
	// addresses, over http:// too (the sandbox sets it; tests and local
	// fakes set LSQBRIDGE_ALLOW_LOOPBACK). Off, credentials go to public
	// https:// hosts only.
	AllowLoopback bool

	// envErrs are environment values that did not parse; Validate names them.
	envErrs []error
}

// Defaults of the settings above.
const (
	DefaultRelayWorkers     = 64
	DefaultDBMaxConns       = 32
	DefaultStatementTimeout = 30 * time.Second
	DefaultLockTimeout      = 5 * time.Second
	DefaultShutdownTimeout  = 15 * time.Second
	DefaultRelayLease       = 60 * time.Second
)

// ConfigFromEnv reads the settings from the environment; flags registered
// by BindDB and BindServe override them.
func ConfigFromEnv(getenv func(string) string) Config {
	var errs []error
	whole := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not a whole number", name, v))
		}
		return n
	}
	duration := func(name string, def time.Duration, example string) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not a duration like %s", name, v, example))
		}
		return d
	}
	loopback := false
	if v := getenv("LSQBRIDGE_ALLOW_LOOPBACK"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("LSQBRIDGE_ALLOW_LOOPBACK=%q is not true or false", v))
		}
		loopback = b
	}
	c := Config{
		DatabaseURL:        getenv("DATABASE_URL"),
		Listen:             cmp.Or(getenv("LSQBRIDGE_LISTEN"), "127.0.0.1:8080"),
		PublicURL:          getenv("LSQBRIDGE_PUBLIC_URL"),
		MasterKey:          getenv("LSQBRIDGE_MASTER_KEY"),
		RelayWorkers:       whole("LSQBRIDGE_RELAY_WORKERS", DefaultRelayWorkers),
		LogLevel:           cmp.Or(getenv("LSQBRIDGE_LOG_LEVEL"), "info"),
		ReconcileEvery:     duration("LSQBRIDGE_RECONCILE_EVERY", 10*time.Minute, "10m (0 turns it off)"),
		DBMaxConns:         whole("LSQBRIDGE_DB_MAX_CONNS", DefaultDBMaxConns),
		DBStatementTimeout: duration("LSQBRIDGE_DB_STATEMENT_TIMEOUT", DefaultStatementTimeout, "30s"),
		DBLockTimeout:      duration("LSQBRIDGE_DB_LOCK_TIMEOUT", DefaultLockTimeout, "5s"),
		ShutdownTimeout:    duration("LSQBRIDGE_SHUTDOWN_TIMEOUT", DefaultShutdownTimeout, "15s"),
		RelayLease:         duration("LSQBRIDGE_RELAY_LEASE", DefaultRelayLease, "60s"),
		AllowLoopback:      loopback,
	}
	c.envErrs = errs
	return c
}

// BindDB registers the flag every database command takes.
func (c *Config) BindDB(fs *flag.FlagSet) {
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "Postgres URL (env DATABASE_URL)")
}

// BindServe registers the flags of commands that run the HTTP server.
func (c *Config) BindServe(fs *flag.FlagSet) {
	c.BindDB(fs)
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to listen on (env LSQBRIDGE_LISTEN)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "URL the platforms reach this service at (env LSQBRIDGE_PUBLIC_URL)")
	fs.IntVar(&c.RelayWorkers, "relay-workers", c.RelayWorkers, "outbox deliveries in flight at once (env LSQBRIDGE_RELAY_WORKERS)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (env LSQBRIDGE_LOG_LEVEL)")
	fs.DurationVar(&c.ReconcileEvery, "reconcile-every", c.ReconcileEvery, "reconciler period, 0 to turn it off (env LSQBRIDGE_RECONCILE_EVERY)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", c.DBMaxConns, "database connections at most (env LSQBRIDGE_DB_MAX_CONNS)")
	fs.DurationVar(&c.DBStatementTimeout, "db-statement-timeout", c.DBStatementTimeout, "longest statement (env LSQBRIDGE_DB_STATEMENT_TIMEOUT)")
	fs.DurationVar(&c.DBLockTimeout, "db-lock-timeout", c.DBLockTimeout, "longest wait for a row or advisory lock (env LSQBRIDGE_DB_LOCK_TIMEOUT)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "exit within this after SIGTERM (env LSQBRIDGE_SHUTDOWN_TIMEOUT)")
	fs.DurationVar(&c.RelayLease, "relay-lease", c.RelayLease, "how long a claimed action is this process's (env LSQBRIDGE_RELAY_LEASE)")
}

// WebhookBase is where the platforms send webhooks: the public URL, or the
// listen address when none is set.
func (c *Config) WebhookBase() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	host := c.Listen
	if strings.HasPrefix(host, ":") {
		host = "localhost" + host
	}
	return "http://" + host
}

// Validate names each missing setting the command needs.
func (c *Config) Validate(needDB, needKey bool) error {
	errs := append([]error(nil), c.envErrs...)
	if needDB && c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL is not set (or pass --database-url), e.g. postgres://postgres@127.0.0.1:5432/lsqbridge"))
	}
	if needKey && c.MasterKey == "" {
		errs = append(errs, errors.New("LSQBRIDGE_MASTER_KEY is not set: 32 bytes as 64 hex characters (generate one with `openssl rand -hex 32`)"))
	}
	if c.RelayWorkers < 1 {
		errs = append(errs, fmt.Errorf("relay workers must be at least 1, got %d", c.RelayWorkers))
	}
	if c.DBMaxConns < 4 {
		errs = append(errs, fmt.Errorf("LSQBRIDGE_DB_MAX_CONNS must be at least 4 (listener, relay, webhooks, reconciler), got %d", c.DBMaxConns))
	}
	for name, d := range map[string]time.Duration{"LSQBRIDGE_DB_STATEMENT_TIMEOUT": c.DBStatementTimeout,
		"LSQBRIDGE_DB_LOCK_TIMEOUT": c.DBLockTimeout, "LSQBRIDGE_SHUTDOWN_TIMEOUT": c.ShutdownTimeout, "LSQBRIDGE_RELAY_LEASE": c.RelayLease} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", name, d))
		}
	}
	return errors.Join(errs...)
}
