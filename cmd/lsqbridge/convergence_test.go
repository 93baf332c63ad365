package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/service"
)

// stepClock is the wall clock, except that no two readings are equal: both
// fakes share it, so every change on either platform has its own source
// time, ordered as the changes happened (as with NTP-synced platforms, but
// without ties).
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now().UTC()
	if !now.After(c.t.Add(time.Millisecond)) {
		now = c.t.Add(time.Millisecond)
	}
	c.t = now
	return c.t
}

// TestConvergence runs random human changes on both sides — owner/agent,
// fields, tags, stage — with webhooks delayed, duplicated and reordered, and
// checks each run ends with both platforms agreeing with the last human
// change, the outbox drained and no fuse tripped.
func TestConvergence(t *testing.T) {
	t.Parallel()
	const seeds = 200
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			defer func() {
				if t.Failed() {
					t.Logf("replay with: go test ./cmd/lsqbridge -run 'TestConvergence/seed=%d$' -v", seed)
				}
			}()
			runConvergence(t, seed)
		})
	}
}

var (
	people      = []string{"asha@acme.test", "ravi@acme.test", "meera@acme.test"}
	humanLabels = []string{"wants-callback", "quote-sent", "vip"}
	interests   = []string{"Villa", "Apartment", "Cottage"}
	stages      = []string{"New", "Hot", "Qualified"}
)

func runConvergence(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	clock := &stepClock{}
	w := newWorld(t, func(o *worldOptions) { o.Now = clock.Now })
	faults := fakehooks.Faults{DuplicateRate: 0.3, Reorder: true, Seed: seed}
	for _, h := range []*fakehooks.Sender{w.LSQHooks, w.LCHooks} {
		h.SetManual(true)
		h.SetFaults(faults)
	}
	owner := people[rng.IntN(len(people))]
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Conv", "EmailAddress": fmt.Sprintf("c%d@example.com", seed), "Phone": fmt.Sprintf("+91-90000%05d", seed),
		"OwnerId": w.Users[owner].ID, "ProspectStage": "New",
	}))
	w.settleShuffled(rng)
	tk := w.ticketOf(lead.ID)

	lastOwner := owner
	lastLabel := map[string]bool{}
	lastInterest, lastStage := "", "New"
	steps := 6 + rng.IntN(6)
	for range steps {
		switch rng.IntN(5) {
		case 0:
			to := people[rng.IntN(len(people))]
			if cur, _ := w.LSQ.Lead(lead.ID); cur.OwnerID == w.Users[to].ID {
				continue // saving the same owner changes nothing
			}
			lastOwner = to
			check(t, w.LSQ.ChangeLeadOwner(lead.ID, w.Users[to].ID))
		case 1:
			to := people[rng.IntN(len(people))]
			cur, _ := w.LC.Conversation(tk.ID)
			if cur.AssigneeID == w.agentID(to) {
				continue // no change, no webhook: not a human change
			}
			lastOwner = to
			check(t, w.LC.AssignAgent(tk.ID, w.agentID(to)))
		case 2:
			lastInterest = interests[rng.IntN(len(interests))]
			check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"mx_Interest": lastInterest}))
		case 3:
			lastStage = stages[rng.IntN(len(stages))]
			check(t, w.LSQ.SetLeadFields(lead.ID, map[string]string{"ProspectStage": lastStage}))
		case 4:
			l := humanLabels[rng.IntN(len(humanLabels))]
			cur, _ := w.LC.Conversation(tk.ID)
			if cur.HasLabel(l) {
				check(t, w.LC.RemoveLabel(tk.ID, l))
				lastLabel[l] = false
			} else {
				check(t, w.LC.AddLabel(tk.ID, l))
				lastLabel[l] = true
			}
		}
		// Interleave: sometimes deliver some webhooks, sometimes run the relay.
		if rng.IntN(2) == 0 {
			w.deliverSome(rng)
		}
		if rng.IntN(3) == 0 {
			if _, err := w.App.Relay.Drain(w.ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.settleShuffled(rng)

	gotLead, _ := w.LSQ.Lead(lead.ID)
	gotTicket, _ := w.LC.Conversation(tk.ID)
	if gotLead.OwnerID != w.Users[lastOwner].ID {
		t.Errorf("LeadSquared owner = %s, want %s (last human change)", gotLead.OwnerID, lastOwner)
	}
	if gotTicket.AssigneeID != w.agentID(lastOwner) {
		t.Errorf("LimeChat agent = %s, want %s (last human change)", w.agentEmail(gotTicket.AssigneeID), lastOwner)
	}
	if lastInterest != "" && gotLead.Field("mx_Interest") != lastInterest {
		t.Errorf("mx_Interest = %q, want %q", gotLead.Field("mx_Interest"), lastInterest)
	}
	if gotLead.Field("ProspectStage") != lastStage {
		t.Errorf("ProspectStage = %q, want %q", gotLead.Field("ProspectStage"), lastStage)
	}
	for l, want := range lastLabel {
		if gotTicket.HasLabel(l) != want {
			t.Errorf("label %s present = %v, want %v (labels %v)", l, !want, want, gotTicket.Labels)
		}
	}
	if lastLabel["wants-callback"] && gotLead.Field("mx_Callback_Requested") != "Yes" {
		t.Errorf("wants-callback was added but mx_Callback_Requested = %q", gotLead.Field("mx_Callback_Requested"))
	}
	if lastInterest == "Villa" && !gotTicket.HasLabel("interest-villa") {
		t.Errorf("mx_Interest is Villa but the ticket lacks interest-villa: %v", gotTicket.Labels)
	}
	// lsqbridge's own record agrees with both platforms.
	var linkOwner string
	var linkLabels []string
	if err := w.pool.QueryRow(w.ctx, "SELECT owner_email, labels FROM links WHERE record_id = $1", lead.ID).Scan(&linkOwner, &linkLabels); err != nil {
		t.Fatal(err)
	}
	slices.Sort(linkLabels)
	want := slices.Clone(gotTicket.Labels)
	slices.Sort(want)
	if linkOwner != lastOwner || !slices.Equal(linkLabels, want) {
		t.Errorf("link says owner %s labels %v; platforms say %s %v", linkOwner, linkLabels, lastOwner, want)
	}
	if n := w.count("SELECT count(*) FROM outbox WHERE status IN ('pending','delivering','dead')"); n != 0 {
		t.Errorf("%d actions left undelivered", n)
	}
	if n := w.count("SELECT count(*) FROM links WHERE paused_at IS NOT NULL"); n != 0 {
		t.Errorf("the loop fuse tripped")
	}
	if n := len(w.LC.Conversations()); n != 1 {
		t.Errorf("%d conversations, want 1", n)
	}
}

func (w *world) agentEmail(id int64) string {
	for e := range w.Agents {
		if w.agentID(e) == id {
			return e
		}
	}
	return fmt.Sprintf("agent#%d", id)
}

// deliverSome posts a random part of the queued webhooks of both platforms,
// in random order, and leaves the rest queued (delayed).
func (w *world) deliverSome(rng *rand.Rand) {
	w.t.Helper()
	for _, h := range []*fakehooks.Sender{w.LSQHooks, w.LCHooks} {
		q := h.TakeQueued()
		rng.Shuffle(len(q), func(i, j int) { q[i], q[j] = q[j], q[i] })
		n := rng.IntN(len(q) + 1)
		for _, d := range q[:n] {
			w.post(d)
		}
		for _, d := range q[n:] {
			h.Requeue(d)
		}
	}
}

func (w *world) post(d fakehooks.Delivery) {
	w.t.Helper()
	req, err := http.NewRequestWithContext(w.ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header = d.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		w.t.Errorf("webhook %s answered %d", d.URL, resp.StatusCode)
	}
}

// settleShuffled delivers every queued webhook (shuffled, with duplicates)
// and drains the relay until nothing is left anywhere.
func (w *world) settleShuffled(rng *rand.Rand) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
	defer cancel()
	for range 200 {
		posted := 0
		for _, h := range []*fakehooks.Sender{w.LSQHooks, w.LCHooks} {
			q := h.TakeQueued()
			rng.Shuffle(len(q), func(i, j int) { q[i], q[j] = q[j], q[i] })
			for _, d := range q {
				w.post(d)
			}
			posted += len(q)
		}
		n, err := w.App.Relay.Drain(ctx)
		if err != nil {
			w.t.Fatal(err)
		}
		if n == 0 && posted == 0 && w.LSQHooks.Pending() == 0 && w.LCHooks.Pending() == 0 {
			return
		}
	}
	w.t.Fatal("did not settle")
}
