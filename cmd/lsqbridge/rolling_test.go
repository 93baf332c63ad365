package main

import (
	"io/fs"
	"net/http"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/lsqbridge/lsqbridge/migrations"
	"github.com/lsqbridge/lsqbridge/service"
)

// futureMigration is what the next release might add: new columns with
// defaults, a new table and a new audit view (expand; nothing removed).
const futureMigration = `-- +goose Up
ALTER TABLE links ADD COLUMN future_note text NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN future_priority integer NOT NULL DEFAULT 0;
ALTER TABLE inbound_events ADD COLUMN future_flag boolean;
ALTER TABLE integrations ADD COLUMN future_setting jsonb NOT NULL DEFAULT '{}';
CREATE TABLE future_things (integration_id text NOT NULL, id bigint NOT NULL, PRIMARY KEY (integration_id, id));
CREATE VIEW audit.future_summary AS SELECT count(*) AS links FROM links;

-- +goose Down
DROP VIEW audit.future_summary;
DROP TABLE future_things;
ALTER TABLE integrations DROP COLUMN future_setting;
ALTER TABLE inbound_events DROP COLUMN future_flag;
ALTER TABLE outbox DROP COLUMN future_priority;
ALTER TABLE links DROP COLUMN future_note;
`

// TestOldBinaryKeepsServingAfterANewerMigration is a rolling deploy: the
// next release's migration runs while this build serves. This build stays
// ready and keeps doing every flow on the newer schema.
func TestOldBinaryKeepsServingAfterANewerMigration(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withRelay)
	asha, ravi := w.Users["asha@acme.test"], w.Users["ravi@acme.test"]
	before := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Before", "EmailAddress": "before@example.com", "OwnerId": asha.ID}))
	w.waitQuietly()

	// The next release's `migrate up`, with its own (newer) migration set.
	next := fstest.MapFS{"99990001_next_release.sql": {Data: []byte(futureMigration)}}
	entries, err := fs.ReadDir(migrations.FS, ".")
	check(t, err)
	for _, e := range entries {
		b, err := fs.ReadFile(migrations.FS, e.Name())
		check(t, err)
		next[e.Name()] = &fstest.MapFile{Data: b}
	}
	db := stdlib.OpenDBFromPool(w.pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, next)
	check(t, err)
	if _, err := p.Up(w.ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := p.GetDBVersion(w.ctx); err != nil || v != 99990001 {
		t.Fatalf("schema version %d (%v) after the next release's migration", v, err)
	}

	resp, err := http.Get(w.URL + "/readyz")
	check(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz on a schema newer than this build = %d, want 200 (ready)", resp.StatusCode)
	}
	// Every flow still works: a new lead gets its ticket, owner and agent
	// follow each other, a tag sets a field.
	after := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "After", "EmailAddress": "after@example.com", "OwnerId": asha.ID}))
	w.waitQuietly()
	tk := w.ticketOf(after.ID)
	check(t, w.LSQ.ChangeLeadOwner(before.ID, ravi.ID))
	check(t, w.LC.AssignAgent(tk.ID, w.agentID("meera@acme.test")))
	check(t, w.LC.AddLabel(tk.ID, "wants-callback"))
	w.waitQuietly()
	if got := w.ticketOf(before.ID); got.AssigneeID != w.agentID("ravi@acme.test") {
		t.Errorf("owner change on the newer schema: ticket agent %d, want Ravi", got.AssigneeID)
	}
	if l, _ := w.LSQ.Lead(after.ID); l.OwnerID != w.Users["meera@acme.test"].ID || l.Field("mx_Callback_Requested") != "Yes" {
		t.Errorf("agent change and tag on the newer schema: owner %s, mx_Callback_Requested %q", l.OwnerID, l.Field("mx_Callback_Requested"))
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE status NOT IN ('delivered', 'superseded')"); n != 0 {
		t.Errorf("%d actions not delivered on the newer schema", n)
	}
}

// waitQuietly waits for webhooks and the background relay to finish.
func (w *world) waitQuietly() {
	w.t.Helper()
	(&burst{world: w}).waitQuiet(3 * time.Minute) // a bound for a loaded machine, not a wait
}
