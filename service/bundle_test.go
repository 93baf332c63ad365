package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/db/dbtest"
	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// person is someone on both platforms, matched by e-mail.
type person struct {
	email string
	user  string // LeadSquared user id
	agent int64  // LimeChat agent id
}

var (
	asha  = person{"asha@acme.test", "u-asha", 11}
	ravi  = person{"ravi@acme.test", "u-ravi", 12}
	meera = person{"meera@acme.test", "u-meera", 13}
)

// apiUser is the LeadSquared user whose keys lsqbridge uses.
const apiUser = "u-api"

// testRules: leads are synced; a Hot stage tags the ticket; a
// wants-callback tag sets a lead field.
func testRules() service.Rules {
	return service.Rules{
		Sync:      service.SyncRules{Leads: true, InitialLabels: []string{"leadsquared"}},
		FieldTags: []service.FieldTagRule{{Record: service.KindLead, Field: "ProspectStage", Value: "Hot", Tag: "hot-lead"}},
		TagFields: []service.TagFieldRule{{Tag: "wants-callback", Record: service.KindLead, Set: map[string]string{"mx_Callback": "Yes"}}},
		Fuse:      service.FuseRules{MaxActionsPerMinute: 100},
		Phone:     service.PhoneRules{DefaultCountryCode: "91"},
	}
}

// testBundle is one integration on its own database, with the sync
// engine, a relay delivering through the service's Deliverer, and the
// reconciler, all talking to stub platforms.
type testBundle struct {
	t          *testing.T
	ctx        context.Context
	pool       *pgxpool.Pool
	in         *service.Integration
	sync       *service.Sync
	relay      *outbox.Relay
	reconciler *service.Reconciler
	clock      *clock
	lsq        *stubLeadSquared
	lc         *stubLimeChat
}

const testMasterKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := t.Context()
	pool := dbtest.New(t)
	sealer, err := service.NewSealer(testMasterKey)
	check(t, err)
	integrations := service.NewIntegrations(pool, sealer)
	_, err = integrations.Apply(ctx, &service.IntegrationConfig{ID: "acme", Name: "Acme",
		LeadSquared: service.LeadSquaredConfig{Host: "https://api.leadsquared.test", AccessKey: "ak", SecretKey: "sk",
			RequestsPer5s: 100, IntegrationUserID: apiUser},
		LimeChat: service.LimeChatConfig{BaseURL: "https://limechat.test", AccountID: 1, InboxID: 7, APIToken: "token"},
		Rules:    testRules()})
	check(t, err)
	in, err := integrations.Get(ctx, "acme")
	check(t, err)

	c := &clock{}
	b := &testBundle{t: t, ctx: ctx, pool: pool, in: in, clock: c, lsq: newStubLeadSquared(c, apiUser), lc: newStubLimeChat(c, 7)}
	for _, p := range []person{asha, ravi, meera} {
		name := strings.SplitN(p.email, "@", 2)[0]
		b.lsq.users = append(b.lsq.users, service.User{ID: p.user, Email: p.email, Name: name, Active: true})
		b.lc.agents = append(b.lc.agents, service.User{ID: fmt.Sprint(p.agent), Email: p.email, Name: name, Active: true})
	}
	platforms := stubPlatforms{lsq: b.lsq, lc: b.lc}
	dir := service.NewAgentDirectory(pool, platforms, nil, nil, 0)
	_, err = dir.Refresh(ctx, in)
	check(t, err)
	b.sync = service.NewSync(pool, service.SyncConfig{Agents: dir})
	b.relay = outbox.NewRelay(pool, service.NewDeliverer(pool, integrations, platforms, nil, nil).WithDirectory(dir), outbox.Config{})
	b.reconciler = service.NewReconciler(pool, b.sync, platforms, nil, nil)
	return b
}

var deliveries atomic.Int64

// apply applies one event as a webhook delivery would.
func (b *testBundle) apply(ev service.Event) service.Result {
	b.t.Helper()
	if ev.DedupKey == "" {
		ev.DedupKey = fmt.Sprintf("delivery-%d", deliveries.Add(1))
	}
	raw, err := json.Marshal(ev)
	check(b.t, err)
	res, err := b.sync.Apply(b.ctx, b.in, ev, raw)
	check(b.t, err)
	return res
}

// drain delivers every action that is due.
func (b *testBundle) drain() {
	b.t.Helper()
	_, err := b.relay.Drain(b.ctx)
	check(b.t, err)
}

// makeDue makes every waiting action due now instead of after its backoff.
func (b *testBundle) makeDue() {
	b.t.Helper()
	b.exec("UPDATE outbox SET next_attempt_at = now() WHERE status = 'pending'")
}

func (b *testBundle) exec(sql string, args ...any) {
	b.t.Helper()
	_, err := b.pool.Exec(b.ctx, sql, args...)
	check(b.t, err)
}

func (b *testBundle) count(sql string, args ...any) int {
	b.t.Helper()
	var n int
	check(b.t, b.pool.QueryRow(b.ctx, sql, args...).Scan(&n))
	return n
}

// leadCreated is a salesperson creating a lead owned by owner, and its
// created webhook.
func (b *testBundle) leadCreated(id string, owner person, fields map[string]string) service.Result {
	b.t.Helper()
	rec := b.lsq.PersonCreatesLead(id, owner.user, fields)
	return b.apply(service.Event{Source: service.SourceLeadSquared, Type: service.EventLeadCreated, Record: &rec, OccurredAt: rec.ModifiedOn})
}

// linkedLead is a lead whose ticket lsqbridge opened (its actions
// delivered); the platforms' call logs start after it.
func (b *testBundle) linkedLead(id string, owner person) link {
	b.t.Helper()
	b.leadCreated(id, owner, map[string]string{"FirstName": "Priya", "EmailAddress": id + "@customer.test", "Mobile": "98765 43210"})
	b.drain()
	l := b.link(id)
	if l.TicketID == 0 {
		b.t.Fatalf("lead %s has no ticket after its created webhook and a drain: %+v", id, l)
	}
	b.lsq.forgetCalls()
	b.lc.forgetCalls()
	return l
}

// lsqChange is a salesperson changing a lead, and its updated webhook
// (Before and After, as LeadSquared sends it).
func (b *testBundle) lsqChange(id string, fields map[string]string) service.Event {
	b.t.Helper()
	before, after := b.lsq.PersonChangesLead(id, "u-salesperson", fields)
	ev := service.Event{Source: service.SourceLeadSquared, Type: service.EventLeadUpdated, Record: &after,
		OccurredAt: after.ModifiedOn, Before: map[string]string{}}
	for f := range fields {
		ev.Before[f] = before.Fields[f]
		ev.Changed = append(ev.Changed, f)
	}
	return ev
}

// lcAssigned is LimeChat's conversation_updated webhook for an assignee
// change from prev to the ticket's current agent.
func lcAssigned(t service.Ticket, prev int64) service.Event {
	return service.Event{Source: service.SourceLimeChat, Type: service.EventConversationUpdated, Ticket: &t,
		OccurredAt: t.UpdatedAt, AssigneeChanged: true, PreviousAssigneeID: prev}
}

// link is a link's row as support would read it.
type link struct {
	ID, TicketID, ContactID int64
	State, Owner            string
	Labels                  []string
	Written                 map[string]service.Written
}

func (b *testBundle) link(recordID string) link {
	b.t.Helper()
	var l link
	var ticket, contact *int64
	var written []byte
	check(b.t, b.pool.QueryRow(b.ctx, `SELECT id, ticket_id, contact_id, state, owner_email, labels, written
		FROM links WHERE integration_id = 'acme' AND record_id = $1`, recordID).
		Scan(&l.ID, &ticket, &contact, &l.State, &l.Owner, &l.Labels, &written))
	if ticket != nil {
		l.TicketID = *ticket
	}
	if contact != nil {
		l.ContactID = *contact
	}
	check(b.t, json.Unmarshal(written, &l.Written))
	return l
}

// action is an outbox row as support would read it.
type action struct {
	ID                          int64
	Kind, Status, Outcome, Last string
	Attempts                    int
	Payload, Result             string
	FirstFailed                 bool
}

// actions returns a link's actions, oldest first; kinds, when given, keep
// only those.
func (b *testBundle) actions(linkID int64, kinds ...string) []action {
	b.t.Helper()
	if kinds == nil {
		kinds = []string{}
	}
	rows, err := b.pool.Query(b.ctx, `SELECT id, kind, status, outcome, last_error, attempts, payload::text,
		coalesce(result::text, ''), first_failed_at IS NOT NULL
		FROM outbox WHERE integration_id = 'acme' AND link_id = $1 AND (cardinality($2::text[]) = 0 OR kind = ANY($2))
		ORDER BY id`, linkID, kinds)
	check(b.t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (action, error) {
		var a action
		err := r.Scan(&a.ID, &a.Kind, &a.Status, &a.Outcome, &a.Last, &a.Attempts, &a.Payload, &a.Result, &a.FirstFailed)
		return a, err
	})
	check(b.t, err)
	return out
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// jsonEq reports whether two JSON texts hold the same value.
func jsonEq(t testing.TB, got, want string) bool {
	t.Helper()
	var g, w any
	check(t, json.Unmarshal([]byte(got), &g))
	check(t, json.Unmarshal([]byte(want), &w))
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return string(gb) == string(wb)
}
