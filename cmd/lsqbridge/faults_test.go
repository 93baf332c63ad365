package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/outbox"
	"github.com/lsqbridge/lsqbridge/service"
)

// shortBackoff is the relay's retry schedule shrunk for tests: the same
// shape (exponential with jitter, capped, retried by time), in milliseconds.
func shortBackoff(lease time.Duration) worldOption {
	return func(o *worldOptions) {
		o.App.TuneRelay = func(c *outbox.Config) {
			c.BaseBackoff, c.MaxBackoff, c.RetryFor, c.PollInterval = 20*time.Millisecond, 300*time.Millisecond, time.Hour, 50*time.Millisecond
			if lease > 0 {
				c.Lease = lease
			}
		}
	}
}

// createLeads makes n leads with phones and waits until each has its ticket.
func (w *world) createLeads(prefix string, n int) []string {
	w.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		rec := must[service.Record](w.t)(w.LSQ.CreateLead(map[string]string{
			"FirstName": fmt.Sprintf("%s %d", prefix, i), "EmailAddress": fmt.Sprintf("%s%d@example.com", strings.ToLower(prefix), i),
			"Phone": fmt.Sprintf("+91-97%08d", i), "OwnerId": w.Users[people[i%len(people)]].ID, "ProspectStage": "New",
		}))
		ids[i] = rec.ID
	}
	w.waitQuietly()
	return ids
}

// TestOutageLosesNoActionAndKillsNone: both platforms answer every call
// with an error for a long stretch (each waiting action fails many times,
// on the relay's retry schedule shrunk to milliseconds) while people keep
// changing things. When the platforms are back, every action is delivered,
// once, in its link's order, and none is dead.
func TestOutageLosesNoActionAndKillsNone(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withRelay, shortBackoff(0))
	leads := w.createLeads("Outage", 10)
	start := w.count("SELECT coalesce(max(id), 0) FROM outbox")
	flowBefore := len(w.LC.FlowEvents())

	w.LC.SetFaults(limechatfake.Faults{ErrorRate: 1})
	w.LSQ.SetFaults(lsqfake.Faults{ErrorRate: 1})
	for i, id := range leads {
		tk := w.ticketOf(id)
		check(t, w.LSQ.ChangeLeadOwner(id, w.Users[people[(i+1)%len(people)]].ID))
		check(t, w.LC.AddLabel(tk.ID, "wants-callback"))
		check(t, w.LSQ.SetLeadFields(id, map[string]string{"ProspectStage": "Qualified", "mx_Interest": "Villa"}))
	}
	// A long stretch: the action at the head of every link (the others
	// wait behind it, in order) has failed at least 6 times.
	check(t, w.LSQHooks.Wait(w.ctx))
	check(t, w.LCHooks.Wait(w.ctx))
	waitFor(t, time.Minute, "every link's head action to fail repeatedly", func() (bool, string) {
		heads := `FROM outbox o WHERE o.id > $1 AND o.status IN ('pending', 'delivering')
			AND NOT EXISTS (SELECT FROM outbox p WHERE p.link_id = o.link_id AND p.id < o.id AND p.status IN ('pending', 'delivering'))`
		n, short := w.count("SELECT count(*) "+heads, start), w.count("SELECT count(*) "+heads+" AND o.attempts < 6", start)
		return n == len(leads) && short == 0, fmt.Sprintf("%d of %d links' head actions have failed fewer than 6 times", short, n)
	})
	failed := w.count("SELECT coalesce(sum(attempts), 0) FROM outbox WHERE id > $1", start)
	lcCalls := len(w.LC.Calls())

	w.LC.SetFaults(limechatfake.Faults{})
	w.LSQ.SetFaults(lsqfake.Faults{})
	w.waitQuietly()

	if n := w.count("SELECT count(*) FROM outbox WHERE status = 'dead'"); n != 0 {
		t.Errorf("%d actions dead after the outage", n)
	}
	actions := w.count("SELECT count(*) FROM outbox WHERE id > $1", start)
	delivered := w.count("SELECT count(*) FROM outbox WHERE id > $1 AND status = 'delivered'", start)
	// Per-link order: within each link, actions were finished in id order.
	if n := w.count(`SELECT count(*) FROM outbox a JOIN outbox b ON a.integration_id = b.integration_id AND a.link_id = b.link_id
		AND a.id < b.id WHERE a.id > $1 AND a.delivered_at > b.delivered_at`, start); n != 0 {
		t.Errorf("%d pairs of one link's actions finished out of order", n)
	}
	// Once: one assignment call per delivered assign, one Flow-builder
	// event per delivered flow action, one label write per label action.
	assigns := 0
	for _, c := range w.LC.Calls()[lcCalls:] {
		if c.Method == http.MethodPost && strings.HasSuffix(c.Path, "/assignments") {
			assigns++
		}
	}
	if want := w.count("SELECT count(*) FROM outbox WHERE id > $1 AND kind = $2 AND status = 'delivered' AND outcome = ''", start, service.ActAssign); assigns != want {
		t.Errorf("%d assignment calls after the outage for %d delivered assign actions", assigns, want)
	}
	flows := w.LC.FlowEvents()[flowBefore:]
	keys := map[string]bool{}
	for _, e := range flows {
		k, _ := e.Data["idempotency_key"].(string)
		if keys[k] {
			t.Errorf("Flow-builder event %s received twice", k)
		}
		keys[k] = true
	}
	if want := w.count("SELECT count(*) FROM outbox WHERE id > $1 AND kind = $2 AND status = 'delivered'", start, service.ActFlowEvent); len(flows) != want || want != len(leads) {
		t.Errorf("%d Flow-builder events received, %d delivered actions, want one per lead (%d)", len(flows), want, len(leads))
	}
	for i, id := range leads {
		l, _ := w.LSQ.Lead(id)
		tk := w.ticketOf(id)
		want := people[(i+1)%len(people)]
		if tk.AssigneeID != w.agentID(want) || l.Field("mx_Callback_Requested") != "Yes" || !tk.HasLabel("interest-villa") {
			t.Errorf("lead %d after the outage: agent %d (want %s), mx_Callback_Requested %q, labels %v", i, tk.AssigneeID, want,
				l.Field("mx_Callback_Requested"), tk.Labels)
		}
	}
	t.Logf("outage: %d actions, %d failed attempts during it, %d delivered after, 0 dead, %d Flow-builder events each once", actions, failed, delivered, len(flows))
}

// TestDatabaseConnectionsKilledUnderLoad terminates every connection the
// service holds, several times, while people make changes and webhooks
// flow. The service recovers without a restart: every webhook it answered
// with a 2xx is stored, every action is delivered, nothing stays delivering.
func TestDatabaseConnectionsKilledUnderLoad(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withRelay, shortBackoff(time.Second))
	leads := w.createLeads("Dbkill", 12)
	tickets := make([]int64, len(leads))
	for i, id := range leads {
		tickets[i] = w.ticketOf(id).ID
	}
	admin := w.adminPool()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // people
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			i := n % len(leads)
			var err error
			switch n % 3 {
			case 0:
				err = w.LSQ.ChangeLeadOwner(leads[i], w.Users[people[n%len(people)]].ID)
			case 1:
				err = w.LC.AssignAgent(tickets[i], w.agentID(people[(n+1)%len(people)]))
			default:
				err = w.LSQ.SetLeadFields(leads[i], map[string]string{"mx_Interest": interests[n%len(interests)]})
			}
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(2 * time.Millisecond) // a person's pace, not a wait for a result
		}
	}()
	killed := 0
	for range 5 {
		// Let some load through, then cut every connection of the database.
		waitFor(t, 30*time.Second, "webhooks to flow", func() (bool, string) {
			n := len(w.LSQHooks.Results()) + len(w.LCHooks.Results())
			return n > (killed+1)*40, fmt.Sprintf("%d webhooks sent", n)
		})
		var n int
		check(t, admin.QueryRow(w.ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid()`, w.pool.Config().ConnConfig.Database).Scan(&n))
		killed += n
	}
	close(stop)
	wg.Wait()
	w.waitQuietly()

	acked, lost := 0, 0
	for _, h := range [][]fakeResult{results(w.LSQHooks), results(w.LCHooks)} {
		for _, r := range h {
			if r.status/100 != 2 {
				continue
			}
			acked++
			var stored bool
			check(t, w.pool.QueryRow(w.ctx, "SELECT EXISTS (SELECT FROM inbound_events WHERE raw = $1)", r.body).Scan(&stored))
			if !stored {
				lost++
			}
		}
	}
	if lost != 0 {
		t.Errorf("%d of %d acknowledged webhooks are not stored", lost, acked)
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE status IN ('delivering', 'dead')"); n != 0 {
		t.Errorf("%d actions delivering or dead after recovery", n)
	}
	// And it still works: a change now syncs.
	check(t, w.LSQ.ChangeLeadOwner(leads[0], w.Users["meera@acme.test"].ID))
	check(t, w.LSQ.ChangeLeadOwner(leads[0], w.Users["ravi@acme.test"].ID))
	w.waitQuietly()
	if tk := w.ticketOf(leads[0]); tk.AssigneeID != w.agentID("ravi@acme.test") {
		t.Errorf("after the faults a new owner change did not sync: agent %d%s", tk.AssigneeID, w.timeline(leads[0]))
	}
	t.Logf("outcomes: %v; paused links %d", w.outcomes(), w.count("SELECT count(*) FROM links WHERE paused_at IS NOT NULL"))
	t.Logf("database: %d connections terminated in 5 rounds; %d webhooks acknowledged, %d lost; %d actions delivered, %d superseded by later changes; 0 delivering",
		killed, acked, lost, w.count("SELECT count(*) FROM outbox WHERE status = 'delivered'"), w.count("SELECT count(*) FROM outbox WHERE status = 'superseded'"))
}

type fakeResult struct {
	status int
	body   []byte
}

func results(s *fakehooks.Sender) []fakeResult {
	var out []fakeResult
	for _, r := range s.Results() {
		if !r.Dropped {
			out = append(out, fakeResult{r.Status, r.Delivery.Body})
		}
	}
	return out
}

// adminPool is a second pool on the test database, for faults.
func (w *world) adminPool() *pgxpool.Pool {
	w.t.Helper()
	p, err := pgxpool.New(context.Background(), w.dbURL())
	check(w.t, err)
	w.t.Cleanup(p.Close)
	return p
}
