package limechatfake_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/limechat"
	"github.com/lsqbridge/lsqbridge/service"
)

func TestSignedWebhooksVerify(t *testing.T) {
	t.Parallel()
	secret := []byte("whsec-fake")
	e := setup(t, secret)
	agentID, tk := newTicket(t, e)
	if err := e.client.Assign(context.Background(), tk.ID, agentID); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.AddLabel(tk.ID, "hot"); err != nil {
		t.Fatal(err)
	}
	ds := e.take(t)
	if len(ds) != 2 {
		t.Fatalf("%d deliveries, want 2", len(ds))
	}
	ids := map[string]bool{}
	for _, d := range ds {
		if err := limechat.VerifySignature(secret, d.header, d.body, e.clock.Now(), time.Minute); err != nil {
			t.Errorf("signature does not verify: %v", err)
		}
		if err := limechat.VerifySignature([]byte("other"), d.header, d.body, e.clock.Now(), time.Minute); err == nil {
			t.Error("verifies with the wrong secret")
		}
		if d.header.Get("X-Lsqbridge-Token") != hookToken || d.header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", d.header)
		}
		ids[d.header.Get(limechat.HeaderDelivery)] = true
	}
	if len(ids) != 2 || ids[""] {
		t.Errorf("delivery ids %v, want two distinct", ids)
	}
	// The delivery id becomes the dedup key.
	for i, ev := range parse(t, ds) {
		if ev.DedupKey != ds[i].header.Get(limechat.HeaderDelivery) {
			t.Errorf("dedup key %q", ev.DedupKey)
		}
	}
}

func TestUnsignedWebhooksLikeOlderBuilds(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	newTicket(t, e)
	if _, err := e.fake.CreateConversationByPerson(service.Contact{Phone: "+919800000001"}); err != nil {
		t.Fatal(err)
	}
	ds := e.take(t)
	if len(ds) != 1 {
		t.Fatalf("%d deliveries", len(ds))
	}
	for _, h := range []string{limechat.HeaderSignature, limechat.HeaderTimestamp, limechat.HeaderDelivery} {
		if ds[0].header.Get(h) != "" {
			t.Errorf("unsigned webhook has %s", h)
		}
	}
}

func TestAutomationWebhook(t *testing.T) {
	t.Parallel()
	e := setup(t, []byte("whsec"))
	e.fake.SetAutomationWebhook(e.hookURL+"/automation", http.Header{"X-Lsqbridge-Token": {hookToken}})
	tk := must(e.fake.CreateConversationByPerson(service.Contact{Name: "Asha", Phone: "+919812345678"}))(t)
	ds := e.take(t)
	i := slices.IndexFunc(ds, func(d delivery) bool { return d.path == "/automation" })
	if len(ds) != 2 || i < 0 {
		t.Fatalf("deliveries %+v", ds)
	}
	auto := ds[i]
	if eventName(t, auto) != "automation_event.conversation_created" || bytes.Contains(auto.body, []byte("changed_attributes")) {
		t.Errorf("automation body %s", auto.body)
	}
	for _, h := range []string{limechat.HeaderSignature, limechat.HeaderTimestamp, limechat.HeaderDelivery} {
		if auto.header.Get(h) != "" {
			t.Errorf("automation webhook has %s", h)
		}
	}
	evs := parse(t, []delivery{auto})
	if evs[0].Type != service.EventAutomation || evs[0].Automation != "conversation_created" || evs[0].Ticket.ID != tk.ID {
		t.Errorf("events %+v", evs)
	}
	// Updates do not trigger the conversation_created rule.
	if err := e.fake.AddLabel(tk.ID, "x"); err != nil {
		t.Fatal(err)
	}
	if ds := e.take(t); len(ds) != 1 || ds[0].path != "/hook" {
		t.Errorf("after update: %+v", ds)
	}
	// Removing the webhooks stops deliveries.
	e.fake.SetAutomationWebhook("", nil)
	e.fake.SetWebhook("", nil, nil)
	if _, err := e.fake.CreateConversationByPerson(service.Contact{Phone: "+919800000002"}); err != nil {
		t.Fatal(err)
	}
	if ds := e.take(t); len(ds) != 0 {
		t.Errorf("%d deliveries after removing the webhooks", len(ds))
	}
}

func TestWebhookDeliveryFaults(t *testing.T) {
	t.Parallel()
	t.Run("dropped", func(t *testing.T) {
		t.Parallel()
		e := setup(t, nil)
		_, tk := newTicket(t, e)
		e.hooks.SetFaults(fakehooks.Faults{DropRate: 1})
		for _, l := range []string{"a", "b", "c"} {
			if err := e.fake.AddLabel(tk.ID, l); err != nil {
				t.Fatal(err)
			}
		}
		if ds := e.take(t); len(ds) != 0 {
			t.Errorf("%d delivered, want all dropped", len(ds))
		}
		dropped := 0
		for _, r := range e.hooks.Results() {
			if r.Dropped {
				dropped++
			}
		}
		if dropped != 3 {
			t.Errorf("%d dropped results, want 3", dropped)
		}
		// The state changed all the same: only the notification was lost.
		if got, _ := e.fake.Conversation(tk.ID); !slices.Equal(got.Labels, []string{"a", "b", "c"}) {
			t.Errorf("labels %v", got.Labels)
		}
	})
	t.Run("duplicated", func(t *testing.T) {
		t.Parallel()
		e := setup(t, []byte("whsec"))
		_, tk := newTicket(t, e)
		e.hooks.SetFaults(fakehooks.Faults{DuplicateRate: 1})
		if err := e.fake.AddLabel(tk.ID, "a"); err != nil {
			t.Fatal(err)
		}
		evs := parse(t, e.take(t))
		if len(evs) != 2 || evs[0].DedupKey != evs[1].DedupKey {
			t.Errorf("events %+v, want the same delivery twice", evs)
		}
	})
	t.Run("reordered", func(t *testing.T) {
		t.Parallel()
		e := setup(t, nil)
		_, tk := newTicket(t, e)
		e.hooks.SetManual(true)
		e.hooks.SetFaults(fakehooks.Faults{Reorder: true, Seed: 3})
		labels := []string{"a", "b", "c", "d", "e", "f"}
		for _, l := range labels {
			if err := e.fake.AddLabel(tk.ID, l); err != nil {
				t.Fatal(err)
			}
		}
		if n := e.hooks.Pending(); n != len(labels) {
			t.Fatalf("%d pending, want %d", n, len(labels))
		}
		if err := e.hooks.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		evs := parse(t, e.take(t))
		var order []int
		for _, ev := range evs {
			order = append(order, len(ev.Ticket.Labels))
		}
		sorted := slices.Sorted(slices.Values(order))
		if !slices.Equal(sorted, []int{1, 2, 3, 4, 5, 6}) || slices.Equal(order, sorted) {
			t.Errorf("delivery order by label count %v, want a shuffle of 1..6", order)
		}
		// Out-of-order deliveries are still ordered by their updated_at.
		slices.SortFunc(evs, func(a, b service.Event) int { return a.OccurredAt.Compare(b.OccurredAt) })
		for i, ev := range evs {
			if len(ev.Ticket.Labels) != i+1 {
				t.Errorf("by updated_at, event %d has %d labels", i, len(ev.Ticket.Labels))
			}
		}
	})
}
