package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/service"
)

// TestBurstOfConcurrentEditsConverges is what people did to `make run`:
// many people change owners, agents, fields and labels of 100 linked leads
// on both platforms at once, while both platforms send their webhooks
// concurrently (in no particular order) and the relay delivers in the
// background. Once they stop and everything is delivered, every lead must
// agree on both platforms and in the link, and end on the last human change.
func TestBurstOfConcurrentEditsConverges(t *testing.T) {
	t.Parallel()
	const leads, changes, senders = 100, 3000, 16
	b := newBurst(t, leads)
	b.run(changes, senders)
	b.waitQuiet(3 * time.Minute)
	bad := b.disagreements()
	t.Logf("burst: %d leads, %d changes from %d senders in %s; %d webhooks posted; %d actions delivered; %d disagreements after quiet",
		leads, b.made, senders, b.took.Round(time.Millisecond), b.posted(), b.delivered(), len(bad))
	for _, d := range bad {
		t.Error(d)
	}
}

// burst drives a world whose relay runs in the background as in serve.
type burst struct {
	*world
	rng   *rand.Rand
	leads []burstLead
	made  int
	took  time.Duration
}

// burstLead is one lead, its ticket, and the last human change of each
// synced attribute, by source time (the fakes share one strictly
// increasing clock, so source times are the order the changes happened in).
type burstLead struct {
	mu       sync.Mutex
	id       string
	ticket   int64
	owner    string
	interest string
	labels   map[string]bool
	// history is the person's owner changes, with the platform's time of each.
	history []string
}

func newBurst(t *testing.T, n int) *burst {
	clock := &stepClock{}
	w := newWorld(t, withRelay, func(o *worldOptions) {
		o.Now = clock.Now
		o.RequestsPer5s = 100
	})
	for _, h := range []*fakehooks.Sender{w.LSQHooks, w.LCHooks} {
		h.SetWorkers(8)
	}
	b := &burst{world: w, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
	b.leads = make([]burstLead, n)
	for i := range b.leads {
		owner := people[i%len(people)]
		l := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
			"FirstName": fmt.Sprintf("Burst %d", i), "EmailAddress": fmt.Sprintf("burst%d@example.com", i),
			"Phone": fmt.Sprintf("+91-98%08d", i), "OwnerId": w.Users[owner].ID, "ProspectStage": "New",
		}))
		b.leads[i] = burstLead{id: l.ID, owner: owner, labels: map[string]bool{}}
	}
	b.waitQuiet(time.Minute)
	for i := range b.leads {
		b.leads[i].ticket = w.ticketOf(b.leads[i].id).ID
	}
	return b
}

// run makes changes human changes from senders goroutines at once.
func (b *burst) run(changes, senders int) {
	t := b.t
	var wg sync.WaitGroup
	work := make(chan int)
	start := time.Now()
	for s := range senders {
		rng := rand.New(rand.NewPCG(b.rng.Uint64(), uint64(s)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if err := b.change(&b.leads[rng.IntN(len(b.leads))], rng); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	for i := range changes {
		work <- i
	}
	close(work)
	wg.Wait()
	b.made, b.took = changes, time.Since(start)
}

// change makes one random human change to a lead. The lead's own lock
// keeps "the last change" well defined; other leads change meanwhile.
func (b *burst) change(l *burstLead, rng *rand.Rand) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch rng.IntN(4) {
	case 0:
		// A person changes the owner they see; if the sync changed it
		// under their eyes, their save is no change of theirs.
		to := people[rng.IntN(len(people))]
		cur, _ := b.LSQ.Lead(l.id)
		if cur.OwnerID == b.Users[to].ID {
			return nil // saving the same owner is no change
		}
		err := b.LSQ.ChangeLeadOwnerFrom(l.id, cur.OwnerID, b.Users[to].ID)
		if errors.Is(err, lsqfake.ErrChanged) {
			return nil
		}
		if err == nil {
			l.owner = to
			after, _ := b.LSQ.Lead(l.id)
			l.history = append(l.history, fmt.Sprintf("LeadSquared %s at %s", to, after.ModifiedOn.Format("15:04:05.000000")))
		}
		return err
	case 1:
		to := people[rng.IntN(len(people))]
		cur, _ := b.LC.Conversation(l.ticket)
		if cur.AssigneeID == b.agentID(to) {
			return nil
		}
		err := b.LC.AssignAgentFrom(l.ticket, cur.AssigneeID, b.agentID(to))
		if errors.Is(err, limechatfake.ErrChanged) {
			return nil
		}
		if err == nil {
			l.owner = to
			after, _ := b.LC.Conversation(l.ticket)
			l.history = append(l.history, fmt.Sprintf("LimeChat %s at %s", to, after.UpdatedAt.Format("15:04:05.000000")))
		}
		return err
	case 2:
		l.interest = interests[rng.IntN(len(interests))]
		return b.LSQ.SetLeadFields(l.id, map[string]string{"mx_Interest": l.interest})
	default:
		lb := humanLabels[rng.IntN(len(humanLabels))]
		cur, _ := b.LC.Conversation(l.ticket)
		if cur.HasLabel(lb) {
			l.labels[lb] = false
			return b.LC.RemoveLabel(l.ticket, lb)
		}
		l.labels[lb] = true
		return b.LC.AddLabel(l.ticket, lb)
	}
}

// waitQuiet waits until both platforms have sent every webhook and the
// outbox holds nothing left to do, twice in a row (a delivery may cause a
// webhook, which may cause an action).
func (b *burst) waitQuiet(limit time.Duration) {
	t := b.t
	ctx, cancel := context.WithTimeout(b.ctx, limit)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	quiet := 0
	for quiet < 2 {
		check(t, b.LSQHooks.Wait(ctx))
		check(t, b.LCHooks.Wait(ctx))
		b.App.Relay.Wake()
		if b.count("SELECT count(*) FROM outbox WHERE status IN ('pending', 'delivering')") == 0 &&
			b.LSQHooks.Pending() == 0 && b.LCHooks.Pending() == 0 {
			quiet++
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			var open string
			_ = b.pool.QueryRow(b.ctx, "SELECT coalesce(string_agg(kind || ' ' || status || ' ' || last_error, '; '), '') FROM (SELECT * FROM outbox WHERE status IN ('pending','delivering') LIMIT 5) o").Scan(&open)
			t.Fatalf("not quiet after %s: still open: %s", limit, open)
		case <-tick.C:
		}
	}
}

// disagreements lists every lead whose platforms, link or last human change disagree.
func (b *burst) disagreements() []string {
	var out []string
	for i := range b.leads {
		l := &b.leads[i]
		lead, _ := b.LSQ.Lead(l.id)
		tk, _ := b.LC.Conversation(l.ticket)
		lsqOwner := b.userEmail(lead.OwnerID)
		agent := b.agentEmail(tk.AssigneeID)
		var linkOwner string
		var linkLabels []string
		check(b.t, b.pool.QueryRow(b.ctx, "SELECT owner_email, labels FROM links WHERE record_id = $1", l.id).Scan(&linkOwner, &linkLabels))
		switch {
		case lsqOwner != agent || agent != linkOwner:
			out = append(out, fmt.Sprintf("lead %s: LeadSquared owner %s, LimeChat agent %s, link %s (last human change: %s)%s", l.id, lsqOwner, agent, linkOwner, l.owner, b.timeline(l.id)))
		case agent != l.owner:
			out = append(out, fmt.Sprintf("lead %s: both sides say %s but the last human change was to %s (people: %s)%s", l.id, agent, l.owner,
				strings.Join(l.history, "; "), b.timeline(l.id)))
		}
		if l.interest != "" && lead.Field("mx_Interest") != l.interest {
			out = append(out, fmt.Sprintf("lead %s: mx_Interest %q, last set to %q", l.id, lead.Field("mx_Interest"), l.interest))
		}
		if lead.Field("mx_Interest") == "Villa" && !tk.HasLabel("interest-villa") {
			out = append(out, fmt.Sprintf("lead %s: mx_Interest is Villa but the ticket lacks interest-villa: %v", l.id, tk.Labels))
		}
		for lb, want := range l.labels {
			if tk.HasLabel(lb) != want {
				out = append(out, fmt.Sprintf("lead %s: label %s present = %v, last human change says %v%s", l.id, lb, !want, want, b.timeline(l.id)))
			}
		}
		if tk.HasLabel("wants-callback") && lead.Field("mx_Callback_Requested") != "Yes" {
			out = append(out, fmt.Sprintf("lead %s: ticket has wants-callback but mx_Callback_Requested = %q", l.id, lead.Field("mx_Callback_Requested")))
		}
		slices.Sort(linkLabels)
		want := slices.Clone(tk.Labels)
		slices.Sort(want)
		if !slices.Equal(linkLabels, want) {
			out = append(out, fmt.Sprintf("lead %s: link labels %v, ticket labels %v", l.id, linkLabels, want))
		}
	}
	if n := b.count("SELECT count(*) FROM outbox WHERE status = 'dead'"); n != 0 {
		out = append(out, fmt.Sprintf("%d actions dead", n))
	}
	if n := b.count("SELECT count(*) FROM links WHERE paused_at IS NOT NULL"); n != 0 {
		out = append(out, fmt.Sprintf("%d links paused by the loop fuse", n))
	}
	return out
}

func (w *world) userEmail(id string) string {
	for e, u := range w.Users {
		if u.ID == id {
			return e
		}
	}
	return "user " + id
}

func (b *burst) posted() int {
	return len(b.LSQHooks.Results()) + len(b.LCHooks.Results())
}

func (b *burst) delivered() int {
	return b.count("SELECT count(*) FROM outbox WHERE status = 'delivered'")
}

// timeline renders a link's inbound events and actions in order, for a
// failure message.
func (w *world) timeline(recordID string) string {
	rows, err := w.pool.Query(w.ctx, `
		SELECT x.at, x.line FROM (
		  SELECT e.received_at AS at, format('in  #%s %s %s %s occurred=%s detail=%s payload=%s', e.id, e.source, e.event_type, e.outcome,
		         coalesce(to_char(e.occurred_at, 'HH24:MI:SS.US'), '-'), e.detail, left(coalesce(e.payload::text, ''), 0)) AS line
		  FROM inbound_events e LEFT JOIN links l ON l.integration_id = e.integration_id AND l.id = e.link_id
		  WHERE l.record_id = $1 OR (e.link_id IS NULL AND strpos(convert_from(coalesce(e.raw, ''), 'UTF8'), $1) > 0)
		  UNION ALL
		  SELECT o.created_at, format('out #%s %s %s %s/%s attempts=%s caused_by=%s delivered=%s err=%s', o.id, o.kind, o.payload, o.status, o.outcome,
		         o.attempts, o.caused_by, coalesce(to_char(o.delivered_at, 'HH24:MI:SS.US'), '-'), o.last_error)
		  FROM outbox o JOIN links l ON l.integration_id = o.integration_id AND l.id = o.link_id WHERE l.record_id = $1
		  UNION ALL
		  SELECT now(), format('link owner=%s changed=%s written=%s seen=%s', l.owner_email, to_char(l.owner_changed_at, 'HH24:MI:SS.US'), l.written, l.seen)
		  FROM links l WHERE l.record_id = $1) x ORDER BY x.at`, recordID)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for _, c := range w.LSQ.Calls() {
		if c.Query.Get("leadId") == recordID {
			fmt.Fprintf(&b, "\n  %s lsq %s %s", c.Time.Format("15:04:05.000000"), c.Path, c.Body)
		}
	}
	var ticket int64
	_ = w.pool.QueryRow(w.ctx, "SELECT coalesce(ticket_id, 0) FROM links WHERE record_id = $1", recordID).Scan(&ticket)
	for _, c := range w.LC.Calls() {
		if ticket != 0 && strings.Contains(c.Path, fmt.Sprintf("/conversations/%d/", ticket)) && c.Method == http.MethodPost {
			fmt.Fprintf(&b, "\n  %s lc %s %s", c.Time.Format("15:04:05.000000"), c.Path, c.Body)
		}
	}
	for _, r := range w.LCHooks.Results() {
		if ticket != 0 && strings.Contains(string(r.Delivery.Body), fmt.Sprintf(`"id":%d,`, ticket)) && strings.Contains(string(r.Delivery.Body), "changed_attributes") {
			var body struct {
				Changed []map[string]struct {
					Prev any `json:"previous_value"`
					Cur  any `json:"current_value"`
				} `json:"changed_attributes"`
				UpdatedAt any `json:"updated_at"`
			}
			_ = json.Unmarshal(r.Delivery.Body, &body)
			var at any
			for _, c := range body.Changed {
				if v, ok := c["updated_at"]; ok {
					at = v.Cur
				}
			}
			for _, c := range body.Changed {
				for _, k := range []string{"label_list", "assignee_id"} {
					if v, ok := c[k]; ok {
						fmt.Fprintf(&b, "\n  lc webhook %s %v -> %v (%v) status %d", k, v.Prev, v.Cur, at, r.Status)
					}
				}
			}
		}
	}
	for _, h := range []*fakehooks.Sender{w.LSQHooks, w.LCHooks} {
		for _, r := range h.Results() {
			if r.Status != 200 && !r.Dropped && strings.Contains(string(r.Delivery.Body), recordID) {
				fmt.Fprintf(&b, "\n  webhook %s answered %d %v", r.Delivery.URL, r.Status, r.Err)
			}
		}
	}
	for rows.Next() {
		var at time.Time
		var line string
		if err := rows.Scan(&at, &line); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "\n  %s %s", at.Format("15:04:05.000000"), line)
	}
	return b.String()
}
