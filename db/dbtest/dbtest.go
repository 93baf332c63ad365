// Package dbtest gives each test its own real Postgres database, cloned from
// a template that has every migration applied (cloning takes a fraction of a
// second; migrating per test would take seconds).
//
// Cloning and dropping are serialised inside Postgres (about 0.7 s a test
// here, whatever the parallelism), so a database whose test has ended is
// emptied and handed to the next test of the same process instead: its
// connections are ended, its schema is compared with the template's, and
// every table is truncated with its sequences restarted. A database whose
// schema a test changed (a migration, a grant) is dropped as before. At any
// moment each test still has a database no other test uses, in the state
// a fresh clone would have.
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
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

	// free holds this process's emptied databases, ready for the next test;
	// schema is a template clone's fingerprint (see fingerprintSQL).
	freeMu sync.Mutex
	free   []string
	schema string
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
	sweep(ctx, conn, admin)
	return name
}

// testPrefix starts the name of every test database; the creating
// process's id follows.
const testPrefix = "lsqbridge_test_"

// sweep drops the test databases that processes which have ended kept for
// reuse. It runs once per process, and only against a server on this
// machine, where a process id tells whether their owner still runs.
func sweep(ctx context.Context, conn *pgx.Conn, admin string) {
	if u, err := url.Parse(admin); err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
		return
	}
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE $1", strings.ReplaceAll(testPrefix, "_", `\_`)+"%")
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, testPrefix), "_", 2)[0])
		if err != nil || processRuns(pid) {
			continue
		}
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
}

// processRuns reports whether a process with this id runs on this machine.
func processRuns(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

func migrate(ctx context.Context, u string) error {
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		return err
	}
	defer pool.Close()
	return migrations.Up(ctx, pool)
}

func create(t testing.TB, tmpl string) string {
	t.Helper()
	admin := server(t)
	recyclable := tmpl != "template0"
	if recyclable {
		if name := takeFree(); name != "" {
			t.Cleanup(func() { release(t, admin, name) })
			return withDatabase(admin, name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("dbtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := fmt.Sprintf("%s%d_%s", testPrefix, os.Getpid(), hex.EncodeToString(b))
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
	// Tests end no commit by crashing Postgres, so none needs to wait for
	// its commit to reach the disk: on a shared machine those flushes were
	// most of the suite's time.
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" SET synchronous_commit = off"); err != nil {
		t.Fatalf("dbtest: configure test database: %v", err)
	}
	if recyclable {
		freeMu.Lock()
		known := schema != ""
		freeMu.Unlock()
		if !known {
			// The first clone of the process, untouched: the template's schema.
			if fp, err := fingerprint(ctx, withDatabase(admin, name)); err == nil {
				freeMu.Lock()
				schema = fp
				freeMu.Unlock()
			}
		}
		t.Cleanup(func() { release(t, admin, name) })
	} else {
		t.Cleanup(func() { drop(t, admin, name) })
	}
	return withDatabase(admin, name)
}

func takeFree() string {
	freeMu.Lock()
	defer freeMu.Unlock()
	if len(free) == 0 {
		return ""
	}
	name := free[len(free)-1]
	free = free[:len(free)-1]
	return name
}

// release empties the database of a test that ended and keeps it for the
// next test, or drops it when it cannot be put back as a clone would be.
func release(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := empty(ctx, admin, name); err != nil {
		drop(t, admin, name)
		return
	}
	freeMu.Lock()
	free = append(free, name)
	freeMu.Unlock()
}

// empty ends every connection to the database, checks that its schema is
// still the template's and truncates every table but goose's.
func empty(ctx context.Context, admin, name string) error {
	freeMu.Lock()
	want := schema
	freeMu.Unlock()
	if want == "" {
		return fmt.Errorf("template schema unknown")
	}
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for {
		var left int
		if err := c.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid()`, name).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	db, err := pgx.Connect(ctx, withDatabase(admin, name))
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	if fp, err := fingerprintOf(ctx, db); err != nil || fp != want {
		return fmt.Errorf("schema changed by the test")
	}
	var tables string
	if err := db.QueryRow(ctx, `SELECT coalesce(string_agg(format('%I.%I', n.nspname, c.relname), ', '), '')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		AND n.nspname NOT LIKE 'pg\_%' AND c.relname <> 'goose_db_version'`).Scan(&tables); err != nil {
		return err
	}
	if tables != "" {
		if _, err := db.Exec(ctx, "TRUNCATE "+tables+" RESTART IDENTITY CASCADE"); err != nil {
			return err
		}
	}
	// Sequences no table owns are not restarted by TRUNCATE.
	_, err = db.Exec(ctx, `DO $$ DECLARE s record; BEGIN
		FOR s IN SELECT format('%I.%I', n.nspname, c.relname) AS q FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind = 'S' AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
			AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
		LOOP EXECUTE 'ALTER SEQUENCE ' || s.q || ' RESTART'; END LOOP; END $$`)
	return err
}

// fingerprintSQL digests what a test could change in a database besides
// its rows: relations and their columns, defaults, grants, indexes,
// constraints, views, functions, triggers, enums, extensions, schemas,
// database settings and the migrations goose recorded.
const fingerprintSQL = `WITH ns AS (
	SELECT oid, nspname, nspacl FROM pg_namespace
	WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_%')
SELECT md5(coalesce(string_agg(x, E'\n' ORDER BY x), '')) FROM (
	SELECT format('ns %s %s', nspname, nspacl) FROM ns
	UNION ALL SELECT format('rel %s %s %s %s', ns.nspname, c.relname, c.relkind, c.relacl)
		FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
	UNION ALL SELECT format('col %s %s %s %s %s', c.oid::regclass, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns ON ns.oid = c.relnamespace
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attnum > 0 AND NOT a.attisdropped
	UNION ALL SELECT 'idx ' || pg_get_indexdef(i.indexrelid)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN ns ON ns.oid = c.relnamespace
	UNION ALL SELECT format('con %s %s', co.conrelid::regclass, pg_get_constraintdef(co.oid))
		FROM pg_constraint co JOIN ns ON ns.oid = co.connamespace
	UNION ALL SELECT format('view %s %s', c.oid::regclass, pg_get_viewdef(c.oid))
		FROM pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('v', 'm')
	UNION ALL SELECT format('fn %s %s %s', p.oid::regprocedure, md5(p.prosrc), p.proacl)
		FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
	UNION ALL SELECT 'trg ' || pg_get_triggerdef(tg.oid) FROM pg_trigger tg WHERE NOT tg.tgisinternal
	UNION ALL SELECT format('enum %s %s', e.enumtypid::regtype, e.enumlabel) FROM pg_enum e
	UNION ALL SELECT 'ext ' || extname || ' ' || extversion FROM pg_extension
	UNION ALL SELECT format('set %s %s', s.setrole, s.setconfig) FROM pg_db_role_setting s
		WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
	UNION ALL SELECT format('goose %s %s', version_id, is_applied) FROM goose_db_version
) f(x)`

func fingerprint(ctx context.Context, u string) (string, error) {
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	return fingerprintOf(ctx, c)
}

func fingerprintOf(ctx context.Context, c *pgx.Conn) (string, error) {
	var fp string
	err := c.QueryRow(ctx, fingerprintSQL).Scan(&fp)
	return fp, err
}

func drop(t testing.TB, admin, name string) {
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
