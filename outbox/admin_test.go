package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/outbox"
)

// adminFixture is a database holding, for integrations "a" and "b", one
// action in each status, keyed by "integration/status".
type adminFixture struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	admin *outbox.Admin
	ids   map[string]int64
}

func setupAdmin(t *testing.T) *adminFixture {
	t.Helper()
	f := &adminFixture{ctx: t.Context(), pool: dbtest.New(t), ids: map[string]int64{}}
	f.admin = outbox.NewAdmin(f.pool)
	statuses := []string{outbox.StatusPending, outbox.StatusDelivering, outbox.StatusDelivered, outbox.StatusSuperseded, outbox.StatusDead}
	for _, in := range []string{"a", "b"} {
		f.exec(t, `INSERT INTO integrations (id, name, lsq_host, lsq_access_key_sealed, lsq_secret_key_sealed,
			limechat_base_url, limechat_account_id, limechat_inbox_id, limechat_api_token_sealed, webhook_token_hash)
			VALUES ($1, 'n', 'h', '\x00', '\x00', 'u', 1, 1, '\x00', '\x00')`, in)
		var link int64
		if err := f.pool.QueryRow(f.ctx, `INSERT INTO links (integration_id, record_kind, record_id, lead_id, origin)
			VALUES ($1, 'lead', 'r', 'r', 'leadsquared') RETURNING id`, in).Scan(&link); err != nil {
			t.Fatal(err)
		}
		for _, s := range statuses {
			var id int64
			if err := f.pool.QueryRow(f.ctx, `INSERT INTO outbox (integration_id, link_id, kind, idempotency_key, status,
				attempts, outcome, last_error, delivered_at)
				VALUES ($1, $2, 'limechat.add_labels', $3, $3, 7, 'unknown', 'HTTP 500',
					CASE WHEN $3 IN ('delivered', 'superseded') THEN now() END) RETURNING id`, in, link, s).Scan(&id); err != nil {
				t.Fatal(err)
			}
			f.ids[in+"/"+s] = id
		}
	}
	return f
}

func (f *adminFixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(f.ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
}

func (f *adminFixture) keys(rows []outbox.Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s/%s", r.IntegrationID, r.Status))
	}
	return out
}

func TestAdminListFiltersByIntegrationStatusAndLimit(t *testing.T) {
	t.Parallel()
	f := setupAdmin(t)
	tests := []struct {
		name        string
		integration string
		statuses    []string
		limit       int
		want        []string
	}{
		{"one integration", "a", []string{"dead", "pending"}, 10, []string{"a/pending", "a/dead"}},
		{"all integrations", "", []string{"dead"}, 10, []string{"a/dead", "b/dead"}},
		{"limit keeps the oldest", "", []string{"dead", "pending"}, 3, []string{"a/pending", "a/dead", "b/pending"}},
		{"limit below one is one", "b", []string{"delivered", "superseded"}, 0, []string{"b/delivered"}},
		{"no statuses match nothing", "a", nil, 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := f.admin.List(f.ctx, tt.integration, tt.statuses, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.keys(rows); !slices.Equal(got, tt.want) {
				t.Errorf("List(%q, %v, %d) = %v, want %v", tt.integration, tt.statuses, tt.limit, got, tt.want)
			}
		})
	}
}

func TestAdminGetReturnsTheRowOrErrNotFound(t *testing.T) {
	t.Parallel()
	f := setupAdmin(t)
	r, err := f.admin.Get(f.ctx, "a", f.ids["a/delivered"])
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != f.ids["a/delivered"] || r.IntegrationID != "a" || r.Kind != "limechat.add_labels" || r.Status != "delivered" ||
		r.Outcome != "unknown" || r.Attempts != 7 || r.LastError != "HTTP 500" || r.DeliveredAt == nil || r.CreatedAt.IsZero() ||
		r.LinkID == 0 || string(r.Payload) != "{}" {
		t.Errorf("Get = %+v", r)
	}
	// Ids are per integration: b's action is not a's.
	if _, err := f.admin.Get(f.ctx, "a", f.ids["b/dead"]); !errors.Is(err, outbox.ErrNotFound) {
		t.Errorf("Get of another integration's action: err %v, want ErrNotFound", err)
	}
}

func TestAdminRetryAndDropChangeOnlyDeadOrPendingActions(t *testing.T) {
	t.Parallel()
	f := setupAdmin(t)
	type change func(context.Context, string, int64) (bool, error)
	tests := []struct {
		op          string
		do          change
		status      string
		want        bool
		wantStatus  string
		wantOutcome string
	}{
		{"retry", f.admin.Retry, "dead", true, "pending", ""},
		{"retry", f.admin.Retry, "pending", true, "pending", ""},
		{"retry", f.admin.Retry, "delivering", false, "delivering", "unknown"},
		{"retry", f.admin.Retry, "delivered", false, "delivered", "unknown"},
		{"drop", f.admin.Drop, "dead", true, "superseded", "dropped"},
		{"drop", f.admin.Drop, "pending", true, "superseded", "dropped"},
		{"drop", f.admin.Drop, "delivering", false, "delivering", "unknown"},
		{"drop", f.admin.Drop, "superseded", false, "superseded", "unknown"},
	}
	for _, tt := range tests {
		// Retry cases use integration a, drop cases b: each row changes once.
		in := map[string]string{"retry": "a", "drop": "b"}[tt.op]
		id := f.ids[in+"/"+tt.status]
		ok, err := tt.do(f.ctx, in, id)
		if err != nil || ok != tt.want {
			t.Errorf("%s %s action: (%v, %v), want (%v, nil)", tt.op, tt.status, ok, err, tt.want)
			continue
		}
		r, err := f.admin.Get(f.ctx, in, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tt.wantStatus || r.Outcome != tt.wantOutcome {
			t.Errorf("%s %s action: now %s/%q, want %s/%q", tt.op, tt.status, r.Status, r.Outcome, tt.wantStatus, tt.wantOutcome)
		}
		if tt.op == "retry" && tt.want && r.Attempts != 0 {
			t.Errorf("retry %s action: attempts %d, want a fresh budget", tt.status, r.Attempts)
		}
	}
	if ok, err := f.admin.Retry(f.ctx, "a", 999999); ok || err != nil {
		t.Errorf("retry of a missing action: (%v, %v), want (false, nil)", ok, err)
	}
}
