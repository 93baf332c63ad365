// Package dbtest gives each test its own real Postgres database, cloned from
// a template that has every migration applied (cloning takes milliseconds;
// migrating per test would take seconds).
//
// Postgres is found in this order: TEST_DATABASE_URL; a server on
// 127.0.0.1:5432 (user postgres); testcontainers-go's Postgres module when a
// Docker engine answers. Otherwise the test fails and says how to provide one.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/lsqbridge/lsqbridge/migrations"
)

const localURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error

	templateMu   sync.Mutex
	templateName string
)

// New returns a pool on a fresh, fully migrated database that is dropped
// when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	u := NewURL(t)
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatalf("dbtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NewURL returns the URL of a fresh, fully migrated database that is dropped
// when the test ends, for tests that start the service as a process.
func NewURL(t testing.TB) string {
	t.Helper()
	tmpl := template(t)
	return create(t, tmpl)
}

// NewEmptyURL returns the URL of a fresh database with no schema at all.
func NewEmptyURL(t testing.TB) string {
	t.Helper()
	server(t)
	return create(t, "template0")
}

// AdminURL returns the URL of the server's maintenance database, for tests
// that need to act as a superuser (creating roles, say).
func AdminURL(t testing.TB) string {
	t.Helper()
	return server(t)
}

func server(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() { serverURL, serverErr = findServer() })
	if serverErr != nil {
		t.Fatalf("dbtest: no Postgres for tests: %v\n"+
			"Provide one: set TEST_DATABASE_URL=postgres://user@host:port/db, or run Postgres on 127.0.0.1:5432 "+
			"(user postgres, trust auth; `make test` starts the local cluster), or start a Docker engine for testcontainers.", serverErr)
	}
	return serverURL
}

func findServer() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		if err := ping(ctx, u); err != nil {
			return "", fmt.Errorf("TEST_DATABASE_URL does not answer: %w", err)
		}
		return u, nil
	}
	localErr := ping(ctx, localURL)
	if localErr == nil {
		return localURL, nil
	}
	u, err := startContainer()
	if err != nil {
		return "", fmt.Errorf("127.0.0.1:5432 does not answer (%v) and testcontainers failed (%v)", localErr, err)
	}
	return u, nil
}

func startContainer() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Fail fast when no Docker engine answers instead of waiting on pulls.
	if _, err := testcontainers.NewDockerClientWithOpts(ctx); err != nil {
		return "", fmt.Errorf("no Docker engine: %w", err)
	}
	c, err := tcpostgres.Run(ctx, "postgres:15-alpine",
		tcpostgres.WithUsername("postgres"), tcpostgres.WithPassword("postgres"),
		tcpostgres.BasicWaitStrategies())
	if err != nil {
		return "", err
	}
	// The container lives as long as the test process; Ryuk reaps it after.
	return c.ConnectionString(ctx, "sslmode=disable")
}

func ping(ctx context.Context, u string) error {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// template makes sure a database with every migration applied exists and
// returns its name. Its name carries a hash of the migration files, so a
// changed migration gets a new template; an advisory lock keeps parallel test
// processes (one per package) from building it twice.
func template(t testing.TB) string {
	t.Helper()
	templateMu.Lock()
	defer templateMu.Unlock()
	if templateName != "" {
		return templateName
	}
	admin := server(t)
	name := "lsqbridge_tmpl_" + migrationsHash()[:16]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("dbtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(727274)"); err != nil {
		t.Fatalf("dbtest: lock: %v", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(727274)") //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1 AND datistemplate)", name).Scan(&exists); err != nil {
		t.Fatalf("dbtest: look for template: %v", err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Fatalf("dbtest: drop half-built template: %v", err)
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Fatalf("dbtest: create template: %v", err)
		}
		if err := migrate(ctx, withDatabase(admin, name)); err != nil {
			t.Fatalf("dbtest: migrate template: %v", err)
		}
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH is_template true"); err != nil {
			t.Fatalf("dbtest: mark template: %v", err)
		}
	}
	templateName = name
	return name
}

func migrate(ctx context.Context, u string) error {
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		return err
	}
	defer pool.Close()
	r, err := migrations.NewRunner(pool)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = r.Up(ctx)
	return err
}

func create(t testing.TB, tmpl string) string {
	t.Helper()
	admin := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("dbtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "lsqbridge_test_" + hex.EncodeToString(b)
	// Cloning fails while anyone else is connected to the template; retry briefly.
	for attempt := 0; ; attempt++ {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tmpl}.Sanitize())
		if err == nil || attempt == 50 {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil {
		t.Fatalf("dbtest: create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

func withDatabase(u, name string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Path = "/" + name
	return p.String()
}

func migrationsHash() string {
	h := sha256.New()
	names, _ := fs.Glob(migrations.FS, "*.sql")
	sort.Strings(names)
	for _, n := range names {
		b, _ := fs.ReadFile(migrations.FS, n)
		h.Write([]byte(n))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}
