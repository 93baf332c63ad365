package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/cmd/internal/sandbox"
	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// otherSide is a second integration on a world's lsqbridge, with its own
// fakes on httptest servers. LimeChat calls about the conversations marked
// down answer 503, as a helpdesk shard that keeps failing would.
type otherSide struct {
	id     string
	in     *service.Integration
	LSQ    *lsqfake.Fake
	LC     *limechatfake.Fake
	lsqURL string
	hooks  []*fakehooks.Sender
	Users  map[string]service.User
	Agents map[string]service.User

	mu   sync.Mutex
	down map[int64]bool
}

// secondIntegration applies integration id with the demo rules and people
// on fresh fakes; lsqNow is its LeadSquared clock (time.Now when nil).
func (w *world) secondIntegration(id string, lsqNow func() time.Time) *otherSide {
	t := w.t
	t.Helper()
	x := &otherSide{id: id, Users: map[string]service.User{}, Agents: map[string]service.User{}, down: map[int64]bool{}}
	lsqHooks, lcHooks := fakehooks.New(nil), fakehooks.New(nil)
	x.hooks = []*fakehooks.Sender{lsqHooks, lcHooks}
	x.LSQ = lsqfake.New(lsqfake.Options{AccessKey: sandbox.LeadSquaredAccessKey, SecretKey: sandbox.LeadSquaredSecretKey, Hooks: lsqHooks, WebhookMillis: true, Now: lsqNow})
	x.LSQ.AddLeadField(service.FieldMeta{SchemaName: "mx_Callback_Requested", DisplayName: "Callback Requested", DataType: "Select", Options: []string{"Yes", "No"}})
	x.LC = limechatfake.New(limechatfake.Options{AccountID: 1, InboxID: 1, APIToken: sandbox.LimeChatToken,
		FlowBuilderAccountID: sandbox.FlowBuilderAccount, FlowBuilderKey: sandbox.FlowBuilderKey, Hooks: lcHooks})
	for _, p := range sandbox.DemoPeople() {
		x.Users[p.Email] = x.LSQ.AddUser(p.Email, p.First, p.Last)
		x.Agents[p.Email] = x.LC.AddAgent(p.First+" "+p.Last, p.Email)
	}
	lsqSrv := httptest.NewServer(x.LSQ)
	lcSrv := httptest.NewServer(http.HandlerFunc(x.serveLimeChat))
	x.lsqURL = lsqSrv.URL
	t.Cleanup(func() {
		for _, h := range x.hooks {
			h.Close()
		}
		x.LSQ.Close()
		x.LC.Close()
		lsqSrv.Close()
		lcSrv.Close()
	})
	cfg := &service.IntegrationConfig{
		ID: id, Name: "Second " + id,
		LeadSquared: service.LeadSquaredConfig{Host: lsqSrv.URL, AccessKey: sandbox.LeadSquaredAccessKey, SecretKey: sandbox.LeadSquaredSecretKey, RequestsPer5s: 25,
			IntegrationUserID: x.LSQ.APIUserID()},
		LimeChat:    service.LimeChatConfig{BaseURL: lcSrv.URL, AccountID: 1, InboxID: 1, APIToken: sandbox.LimeChatToken},
		FlowBuilder: service.FlowBuilderConfig{URL: lcSrv.URL, AccountID: sandbox.FlowBuilderAccount, Key: sandbox.FlowBuilderKey},
		Rules:       sandbox.DemoRules(),
		// The fakes listen on loopback.
		AllowLoopback: true,
	}
	check(t, cfg.Validate())
	res := must[service.ApplyResult](t)(w.App.Integrations.Apply(w.ctx, cfg))
	x.in = must[*service.Integration](t)(w.App.Integrations.Get(w.ctx, id))
	must[service.RefreshStats](t)(w.App.Agents.Refresh(w.ctx, x.in))
	hdr := http.Header{"X-Lsqbridge-Token": {res.Credentials.LeadSquared}}
	for _, ev := range leadsquared.WebhookEvents() {
		x.LSQ.SetWebhook(ev, w.URL+"/v1/webhooks/leadsquared/"+id+"/"+ev, hdr)
	}
	x.LC.SetWebhook(w.URL+"/v1/webhooks/limechat/"+id+"?token="+res.Credentials.LimeChat, nil, nil)
	return x
}

// serveLimeChat answers 503 for conversations marked down, else the fake.
func (x *otherSide) serveLimeChat(rw http.ResponseWriter, r *http.Request) {
	parts := strings.Split(r.URL.Path, "/")
	for i, p := range parts {
		if p != "conversations" || i+1 >= len(parts) {
			continue
		}
		id, err := strconv.ParseInt(parts[i+1], 10, 64)
		x.mu.Lock()
		down := err == nil && x.down[id]
		x.mu.Unlock()
		if down {
			http.Error(rw, "<html><body>503 Service Unavailable</body></html>", http.StatusServiceUnavailable)
			return
		}
	}
	x.LC.ServeHTTP(rw, r)
}

func (x *otherSide) setDown(ticket int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.down[ticket] = true
}

func (x *otherSide) ticketOf(t *testing.T, recordID string) service.Ticket {
	t.Helper()
	for _, c := range x.LC.Conversations() {
		if c.CustomAttributes["lsq_record_id"] == recordID {
			return c
		}
	}
	t.Fatalf("record %s of %s has no ticket", recordID, x.id)
	return service.Ticket{}
}

// senders are every fake webhook sender of the world and the other sides.
func (w *world) senders(xs ...*otherSide) []*fakehooks.Sender {
	out := []*fakehooks.Sender{w.LSQHooks, w.LCHooks}
	for _, x := range xs {
		out = append(out, x.hooks...)
	}
	return out
}

func (w *world) waitHooks(xs ...*otherSide) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
	defer cancel()
	for _, h := range w.senders(xs...) {
		if err := h.Wait(ctx); err != nil {
			w.t.Fatal(err)
		}
	}
}

// settleAll delivers webhooks of every side and drains relay r until quiet.
func (w *world) settleAll(r *outbox.Relay, xs ...*otherSide) {
	w.t.Helper()
	for range 100 {
		w.waitHooks(xs...)
		n, err := r.Drain(w.ctx)
		if err != nil {
			w.t.Fatal(err)
		}
		pending := 0
		for _, h := range w.senders(xs...) {
			pending += h.Pending()
		}
		if n == 0 && pending == 0 {
			return
		}
	}
	w.t.Fatal("did not settle")
}

// meeting holds each relay's first action until every relay has one, so
// the relays really deliver side by side rather than one after the other.
type meeting struct {
	need int
	mu   sync.Mutex
	seen map[string]bool
	all  chan struct{}
}

func (m *meeting) arrive(name string) error {
	m.mu.Lock()
	if !m.seen[name] {
		m.seen[name] = true
		if len(m.seen) == m.need {
			close(m.all)
		}
	}
	m.mu.Unlock()
	select {
	case <-m.all:
		return nil
	case <-time.After(20 * time.Second):
		return errors.New("the other relay never claimed an action")
	}
}

// namedHandler records which relay handled each action.
type namedHandler struct {
	name string
	h    outbox.Handler
	meet *meeting
	mu   *sync.Mutex
	by   map[int64][]string
}

func (n *namedHandler) Handle(ctx context.Context, a outbox.Action) outbox.Outcome {
	if err := n.meet.arrive(n.name); err != nil {
		return outbox.Outcome{Verdict: outbox.Retry, Err: err, Note: "not_sent"}
	}
	n.mu.Lock()
	n.by[a.ID] = append(n.by[a.ID], n.name)
	n.mu.Unlock()
	return n.h.Handle(ctx, a)
}

// TestTwoRelaysKeepPerLinkOrder enqueues five label actions on each of six
// links and lets two relays (two pools) deliver them at once. Each ticket
// must see its label writes in enqueue order, every action exactly once.
func TestTwoRelaysKeepPerLinkOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var leads []string
	for i := range 6 {
		l := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
			"FirstName": fmt.Sprintf("Order%d", i), "EmailAddress": fmt.Sprintf("order%d@example.com", i), "OwnerId": w.Users["asha@acme.test"].ID,
		}))
		leads = append(leads, l.ID)
	}
	w.settle()
	start := len(w.LC.Calls())

	// The actions: labels step-1 … step-5 per link, as rules would add them
	// one event at a time (the link's labels already include them).
	steps := []string{"step-1", "step-2", "step-3", "step-4", "step-5"}
	tx, err := w.pool.Begin(w.ctx)
	check(t, err)
	for _, rec := range leads {
		var linkID int64
		check(t, tx.QueryRow(w.ctx, "UPDATE links SET labels = labels || $1::text[] WHERE record_id = $2 RETURNING id", steps, rec).Scan(&linkID))
		var acts []outbox.NewAction
		for k, s := range steps {
			acts = append(acts, outbox.NewAction{IntegrationID: "demo", LinkID: linkID, Kind: service.ActAddLabels,
				Payload: service.AddLabelsPayload{Labels: []string{s}}, IdempotencyKey: fmt.Sprintf("order:%d:%d", linkID, k)})
		}
		_, err := outbox.Enqueue(w.ctx, tx, acts)
		check(t, err)
	}
	check(t, tx.Commit(w.ctx))

	var mu sync.Mutex
	by := map[int64][]string{}
	meet := &meeting{need: 2, seen: map[string]bool{}, all: make(chan struct{})}
	pools := []*pgxpool.Pool{w.pool, w.secondPool()}
	var relays []*outbox.Relay
	for i, p := range pools {
		h := &namedHandler{name: fmt.Sprintf("relay%d", i+1), h: newDeliverer(t, p), meet: meet, mu: &mu, by: by}
		relays = append(relays, outbox.NewRelay(p, h, outbox.Config{Workers: 3}))
	}
	total := 0
	for range 20 {
		n := w.drainTogether(relays)
		if n[0]+n[1] == 0 {
			break
		}
		total += n[0] + n[1]
	}
	if total != len(leads)*len(steps) {
		t.Errorf("the relays handled %d actions, want %d", total, len(leads)*len(steps))
	}
	handled := map[string]int{}
	for id, names := range by {
		if len(names) != 1 {
			t.Errorf("action %d was handled by %v, want exactly once", id, names)
		}
		handled[names[0]]++
	}
	if handled["relay1"] == 0 || handled["relay2"] == 0 {
		t.Errorf("actions per relay %v: both relays should have delivered", handled)
	}
	t.Logf("actions per relay: %v", handled)

	// Each ticket's label writes, in the order LimeChat received them.
	writes := map[string][][]string{}
	for _, c := range w.LC.Calls()[start:] {
		if c.Method != http.MethodPost || !strings.HasSuffix(c.Path, "/labels") {
			continue
		}
		var body struct{ Labels []string }
		check(t, json.Unmarshal(c.Body, &body))
		writes[c.Path] = append(writes[c.Path], body.Labels)
	}
	for _, rec := range leads {
		tk := w.ticketOf(rec)
		got := writes[fmt.Sprintf("/api/v1/accounts/1/conversations/%d/labels", tk.ID)]
		if len(got) != len(steps) {
			t.Errorf("ticket %d got %d label writes, want %d: %v", tk.ID, len(got), len(steps), got)
			continue
		}
		for k, labels := range got {
			if want := steps[:k+1]; !slices.Equal(labels[len(labels)-len(want):], want) {
				t.Errorf("ticket %d write %d = %v; want it to end with %v (per-link order)", tk.ID, k+1, labels, want)
			}
		}
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE kind = $1 AND (status <> 'delivered' OR attempts <> 1)", service.ActAddLabels); n != 0 {
		t.Errorf("%d label actions not delivered on their first attempt", n)
	}
}

// TestFailingLinkDelaysNoOtherLink makes LimeChat answer 503 for one ticket
// of a second integration, forever. Round after round, two relays retry
// that link's action (the oldest due) and deliver every other link's
// actions, of both integrations, in the same drain; a later action of the
// failing link waits behind its head.
func TestFailingLinkDelaysNoOtherLink(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	x := w.secondIntegration("east", nil)
	// With phones: round 3's campaign messages the customer at that number
	// (an event with no number is never sent).
	newLead := func(lsq *lsqfake.Fake, name, phone string, owner service.User) string {
		return must[service.Record](t)(lsq.CreateLead(map[string]string{"FirstName": name, "EmailAddress": name + "@example.com",
			"Phone": phone, "OwnerId": owner.ID})).ID
	}
	bad := newLead(x.LSQ, "bad", "+91-9800000001", x.Users["asha@acme.test"])
	goodEast := newLead(x.LSQ, "goodeast", "+91-9800000002", x.Users["ravi@acme.test"])
	goodDemo := newLead(w.LSQ, "gooddemo", "+91-9800000003", w.Users["asha@acme.test"])
	w.settleAll(w.App.Relay, x)
	x.setDown(x.ticketOf(t, bad).ID)
	// One worker each: a relay that waited on its oldest action would
	// deliver nothing else.
	relays := w.twoRelays(outbox.Config{Workers: 1})

	rounds := []struct {
		fields map[string]string
		done   func() bool
	}{
		{map[string]string{"mx_Interest": "Villa"}, func() bool {
			return x.ticketOf(t, goodEast).HasLabel("interest-villa") && w.ticketOf(goodDemo).HasLabel("interest-villa")
		}},
		{map[string]string{"ProspectStage": "Hot"}, func() bool {
			return x.ticketOf(t, goodEast).HasLabel("hot-lead") && w.ticketOf(goodDemo).HasLabel("hot-lead")
		}},
		{map[string]string{"ProspectStage": "Qualified"}, func() bool {
			return len(x.LC.FlowEvents()) == 1 && len(w.LC.FlowEvents()) == 1
		}},
	}
	for i, r := range rounds {
		round := i + 1
		if round == 1 {
			// The failing link's action is the oldest in the outbox.
			check(t, x.LSQ.SetLeadFields(bad, r.fields))
			x.waitHooksOf(t)
		} else {
			w.makeDue() // its backoff has passed
		}
		if round == 2 {
			check(t, x.LSQ.SetLeadFields(bad, r.fields)) // queued behind the failing head
		}
		check(t, x.LSQ.SetLeadFields(goodEast, r.fields))
		check(t, w.LSQ.SetLeadFields(goodDemo, r.fields))
		w.drainTogether(relays, x)
		if !r.done() {
			t.Errorf("round %d: the healthy links' actions were not delivered while one link fails", round)
		}
		var head actionRow
		check(t, w.pool.QueryRow(w.ctx, `SELECT o.status, o.outcome, o.last_error, o.attempts FROM outbox o
			JOIN links l ON l.integration_id = o.integration_id AND l.id = o.link_id
			WHERE l.integration_id = 'east' AND l.record_id = $1 AND o.kind <> $2 ORDER BY o.id LIMIT 1`, bad, service.ActCreateTicket).
			Scan(&head.Status, &head.Outcome, &head.LastError, &head.Attempts))
		if head.Status != outbox.StatusPending || head.Attempts != round || !strings.Contains(head.LastError, "HTTP 503") {
			t.Errorf("round %d: failing head = %+v, want pending after %d attempts with the 503", round, head, round)
		}
		if n := w.count(`SELECT count(*) FROM outbox o JOIN links l ON l.integration_id = o.integration_id AND l.id = o.link_id
			WHERE l.record_id = $1 AND o.attempts > 0 AND o.kind <> $2`, bad, service.ActCreateTicket); n != 1 {
			t.Errorf("round %d: %d actions of the failing link were tried; only its head may be", round, n)
		}
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE status IN ('pending','delivering','dead') AND integration_id = 'demo'"); n != 0 {
		t.Errorf("%d demo actions unfinished", n)
	}
}

func (x *otherSide) waitHooksOf(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, h := range x.hooks {
		check(t, h.Wait(ctx))
	}
}

// TestRateLimitedIntegrationPausesAlone: the second integration's
// LeadSquared answers MXAPIRateLimitExceededException (HTTP 200, as it
// sometimes does). Its LeadSquared actions pause — for every relay, through
// integrations.lsq_paused_until — while the demo integration's LeadSquared
// actions, and its own LimeChat actions, keep being delivered.
func TestRateLimitedIntegrationPausesAlone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// A frozen LeadSquared clock: its 5-second rate window never rolls over.
	frozen := time.Now().UTC()
	x := w.secondIntegration("busy", func() time.Time { return frozen })
	busyLead := must[service.Record](t)(x.LSQ.CreateLead(map[string]string{"FirstName": "Busy", "EmailAddress": "busy@example.com", "OwnerId": x.Users["asha@acme.test"].ID})).ID
	busyOther := must[service.Record](t)(x.LSQ.CreateLead(map[string]string{"FirstName": "Other", "EmailAddress": "other@example.com", "OwnerId": x.Users["asha@acme.test"].ID})).ID
	demoLead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Calm", "EmailAddress": "calm@example.com", "OwnerId": w.Users["asha@acme.test"].ID})).ID
	w.settleAll(w.App.Relay, x)

	check(t, x.LC.AddLabel(x.ticketOf(t, busyLead).ID, "wants-callback"))
	check(t, w.LC.AddLabel(w.ticketOf(demoLead).ID, "wants-callback"))
	x.LSQ.SetRateLimit(1, http.StatusOK)
	// Spend the window's one call.
	lsq := leadsquared.New(leadsquared.Config{BaseURL: x.lsqURL, AccessKey: sandbox.LeadSquaredAccessKey, SecretKey: sandbox.LeadSquaredSecretKey})
	must[[]service.User](t)(lsq.Users(w.ctx))

	relays := w.twoRelays(outbox.Config{Workers: 2})
	w.drainTogether(relays, x)
	paused := func(id string) bool {
		var p bool
		check(t, w.pool.QueryRow(w.ctx, "SELECT coalesce(lsq_paused_until > now(), false) FROM integrations WHERE id = $1", id).Scan(&p))
		return p
	}
	if !paused("busy") || paused("demo") {
		t.Fatalf("paused: busy %v demo %v; want only busy paused", paused("busy"), paused("demo"))
	}
	if l, _ := w.LSQ.Lead(demoLead); l.Field("mx_Callback_Requested") != "Yes" {
		t.Errorf("the demo integration's update was not delivered while busy is rate-limited")
	}
	a := w.rowByKind("busy", busyLead, service.ActSetFields)
	if a.Status != outbox.StatusPending || a.Attempts != 0 || !strings.Contains(a.LastError, "MXAPIRateLimitExceededException") {
		t.Errorf("busy set_fields = %+v, want pending, its attempt given back, the rate-limit error kept", a)
	}

	// While paused: busy's update is due again but not claimed by either
	// relay (no call reaches its LeadSquared); demo's LeadSquared work and
	// busy's LimeChat work on another link go on (on the same link it would
	// wait: per-link order holds across platforms).
	w.makeDue()
	calls := len(x.LSQ.Calls())
	check(t, w.LC.AddLabel(w.ticketOf(demoLead).ID, "quote-sent"))
	check(t, x.LSQ.SetLeadFields(busyOther, map[string]string{"mx_Interest": "Villa"}))
	w.drainTogether(relays, x)
	if n := len(x.LSQ.Calls()) - calls; n != 0 {
		t.Errorf("%d calls reached the paused integration's LeadSquared", n)
	}
	if a := w.rowByKind("busy", busyLead, service.ActSetFields); a.Status != outbox.StatusPending || a.Attempts != 0 {
		t.Errorf("busy set_fields while paused = %+v, want untouched", a)
	}
	if n := len(w.LSQ.Activities(demoLead)); n != 1 {
		t.Errorf("demo activity count = %d, want 1 posted while busy is paused", n)
	}
	if !x.ticketOf(t, busyOther).HasLabel("interest-villa") {
		t.Errorf("busy's LimeChat action waited for its LeadSquared pause")
	}

	// The window passes: a relay process started now (its pacer holds no
	// pause; the two above would wait theirs out) delivers the update.
	x.LSQ.SetRateLimit(0, 0)
	_, err := w.pool.Exec(w.ctx, "UPDATE integrations SET lsq_paused_until = now() WHERE id = 'busy'")
	check(t, err)
	w.settleAll(newRelay(t, w.pool, outbox.Config{}), x)
	if l, _ := x.LSQ.Lead(busyLead); l.Field("mx_Callback_Requested") != "Yes" {
		t.Errorf("busy's update was not delivered after the pause")
	}
}

// TestTransientFailuresAreRetriedForTheWholeWindow: a failure that may pass
// (HTTP 503) is retried however many attempts it takes (each made due by
// SQL, not by waiting out the backoff) until the retry window since its
// first failure has run out, then it is dead with its last error; a
// permanent one (HTTP 404) is dead at once.
func TestTransientFailuresAreRetriedForTheWholeWindow(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	x := w.secondIntegration("flaky", nil)
	down := must[service.Record](t)(x.LSQ.CreateLead(map[string]string{"FirstName": "Down", "EmailAddress": "down@example.com", "OwnerId": x.Users["asha@acme.test"].ID})).ID
	gone := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Gone", "EmailAddress": "gone@example.com", "OwnerId": w.Users["asha@acme.test"].ID})).ID
	w.settleAll(w.App.Relay, x)
	x.setDown(x.ticketOf(t, down).ID)
	// The demo ticket was deleted in LimeChat: its calls answer 404.
	_, err := w.pool.Exec(w.ctx, "UPDATE links SET ticket_id = 987654 WHERE record_id = $1", gone)
	check(t, err)

	check(t, x.LSQ.SetLeadFields(down, map[string]string{"mx_Interest": "Villa"}))
	check(t, w.LSQ.SetLeadFields(gone, map[string]string{"mx_Interest": "Villa"}))
	relays := w.twoRelays(outbox.Config{Workers: 2, RetryFor: time.Hour, BaseBackoff: time.Hour, MaxBackoff: time.Hour})
	for round := 1; round <= 12; round++ {
		w.drainTogether(relays, x)
		if a := w.rowByKind("flaky", down, service.ActAddLabels); a.Status != outbox.StatusPending || a.Attempts != round {
			t.Fatalf("round %d: %+v, want pending after %d attempts (the window has not run out)", round, a, round)
		}
		g := w.rowByKind("demo", gone, service.ActAddLabels)
		if g.Status != outbox.StatusDead || g.Attempts != 1 || !strings.Contains(g.LastError, "HTTP 404") {
			t.Errorf("round %d: 404 action = %+v, want dead after its one attempt", round, g)
		}
		w.makeDue()
	}
	// The window since the first failure runs out: the next failure is the last.
	_, err = w.pool.Exec(w.ctx, "UPDATE outbox SET first_failed_at = now() - interval '61 minutes' WHERE integration_id = 'flaky' AND first_failed_at IS NOT NULL")
	check(t, err)
	w.drainTogether(relays, x)
	if a := w.rowByKind("flaky", down, service.ActAddLabels); a.Status != outbox.StatusDead || a.Attempts != 13 ||
		!strings.Contains(a.LastError, "retrying for 1h0m0s") || !strings.Contains(a.LastError, "HTTP 503") {
		t.Errorf("after the window: %+v, want dead with the last error", a)
	}
}

// TestSupersededActionsAreNotSent: the owner changes twice before the
// relays run. The first assignment no longer matches the link's owner and
// is superseded, never sent; LeadSquared likewise never receives the
// intermediate owner of two agent changes (folded into one update).
func TestSupersededActionsAreNotSent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	asha, ravi, meera := w.Users["asha@acme.test"], w.Users["ravi@acme.test"], w.Users["meera@acme.test"]
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{"FirstName": "Twice", "EmailAddress": "twice@example.com", "OwnerId": asha.ID})).ID
	w.settle()
	relays := w.twoRelays(outbox.Config{Workers: 2})
	lcStart, lsqStart := len(w.LC.Calls()), len(w.LSQ.Calls())

	check(t, w.LSQ.ChangeLeadOwner(lead, ravi.ID))
	check(t, w.LSQ.ChangeLeadOwner(lead, meera.ID))
	w.drainTogether(relays)
	var assigned []int64
	for _, c := range w.LC.Calls()[lcStart:] {
		if c.Method == http.MethodPost && strings.HasSuffix(c.Path, "/assignments") {
			var b struct {
				AssigneeID int64 `json:"assignee_id"`
			}
			check(t, json.Unmarshal(c.Body, &b))
			assigned = append(assigned, b.AssigneeID)
		}
	}
	if !slices.Equal(assigned, []int64{w.agentID("meera@acme.test")}) {
		t.Errorf("assignments sent %v, want only Meera's (%d)", assigned, w.agentID("meera@acme.test"))
	}
	var statuses []string
	rows, err := w.pool.Query(w.ctx, "SELECT status || ':' || outcome FROM outbox WHERE kind = $1 ORDER BY id", service.ActAssign)
	check(t, err)
	for rows.Next() {
		var s string
		check(t, rows.Scan(&s))
		statuses = append(statuses, s)
	}
	check(t, rows.Err())
	if len(statuses) != 2 || statuses[0] != "superseded:owner changed again before delivery" || !strings.HasPrefix(statuses[1], "delivered") {
		t.Errorf("assign actions %v, want the first superseded and the second delivered", statuses)
	}

	tk := w.ticketOf(lead)
	check(t, w.LC.AssignAgent(tk.ID, w.agentID("ravi@acme.test")))
	check(t, w.LC.AssignAgent(tk.ID, w.agentID("asha@acme.test")))
	w.drainTogether(relays)
	for _, c := range w.LSQ.Calls()[lsqStart:] {
		if strings.HasSuffix(c.Path, "Lead.Update") && strings.Contains(string(c.Body), ravi.ID) {
			t.Errorf("LeadSquared was sent the superseded owner Ravi: %s", c.Body)
		}
	}
	if l, _ := w.LSQ.Lead(lead); l.OwnerID != asha.ID {
		t.Errorf("lead owner = %s, want Asha (the last agent change)", l.OwnerID)
	}
	w.settle()
	assertQuiet(t, w)
}
