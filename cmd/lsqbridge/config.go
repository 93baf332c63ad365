package main

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
// flags. It is read here only and handed to constructors.
type Config struct {
	DatabaseURL  string
	Listen       string
	PublicURL    string
	MasterKey    string
	RelayWorkers int
	LogLevel     string
	// ReconcileEvery is the reconciler's period inside serve (0 = off).
	ReconcileEvery time.Duration
	// AllowLoopback lets integrations use platform URLs on loopback
	// addresses, over http:// too (the sandbox sets it; tests and local
	// fakes set LSQBRIDGE_ALLOW_LOOPBACK). Off, credentials go to public
	// https:// hosts only.
	AllowLoopback bool

	// envErrs are environment values that did not parse; Validate names them.
	envErrs []error
}

// envConfig reads the environment; flags registered by bind override it.
func envConfig(getenv func(string) string) Config {
	var errs []error
	workers := 0
	if v := getenv("LSQBRIDGE_RELAY_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("LSQBRIDGE_RELAY_WORKERS=%q is not a whole number", v))
		}
		workers = n
	}
	every := 10 * time.Minute
	if v := getenv("LSQBRIDGE_RECONCILE_EVERY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("LSQBRIDGE_RECONCILE_EVERY=%q is not a duration like 10m (0 turns it off)", v))
		}
		every = d
	}
	loopback := false
	if v := getenv("LSQBRIDGE_ALLOW_LOOPBACK"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("LSQBRIDGE_ALLOW_LOOPBACK=%q is not true or false", v))
		}
		loopback = b
	}
	return Config{
		AllowLoopback:  loopback,
		DatabaseURL:    getenv("DATABASE_URL"),
		Listen:         cmp.Or(getenv("LSQBRIDGE_LISTEN"), "127.0.0.1:8080"),
		PublicURL:      getenv("LSQBRIDGE_PUBLIC_URL"),
		MasterKey:      getenv("LSQBRIDGE_MASTER_KEY"),
		RelayWorkers:   cmp.Or(workers, 4),
		LogLevel:       cmp.Or(getenv("LSQBRIDGE_LOG_LEVEL"), "info"),
		ReconcileEvery: every,
		envErrs:        errs,
	}
}

// bindDB registers the flag every database command takes.
func (c *Config) bindDB(fs *flag.FlagSet) {
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "Postgres URL (env DATABASE_URL)")
}

// bindServe registers the flags of commands that run the HTTP server.
func (c *Config) bindServe(fs *flag.FlagSet) {
	c.bindDB(fs)
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to listen on (env LSQBRIDGE_LISTEN)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "URL the platforms reach this service at (env LSQBRIDGE_PUBLIC_URL)")
	fs.IntVar(&c.RelayWorkers, "relay-workers", c.RelayWorkers, "concurrent outbox deliveries (env LSQBRIDGE_RELAY_WORKERS)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (env LSQBRIDGE_LOG_LEVEL)")
	fs.DurationVar(&c.ReconcileEvery, "reconcile-every", c.ReconcileEvery, "reconciler period, 0 to turn it off (env LSQBRIDGE_RECONCILE_EVERY)")
}

// publicURL is where webhooks should be sent; it defaults to the listen address.
func (c *Config) publicURL() string {
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
	return errors.Join(errs...)
}
