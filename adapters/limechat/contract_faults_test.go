package limechat_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/limechat"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/service"
)

// seed creates a contact and one conversation carrying lsq_record_id=L-1.
func seed(t *testing.T, e env) (service.Contact, service.Ticket) {
	t.Helper()
	ctx := context.Background()
	ct := must(e.client.CreateContact(ctx, 3, service.Contact{Name: "Asha", Phone: "+919812345678"}))(t)
	tk := must(e.client.CreateConversation(ctx, service.NewConversation{InboxID: 3, ContactID: ct.ID, CustomAttributes: map[string]any{"lsq_record_id": "L-1"}}))(t)
	return ct, tk
}

func TestClientAgainstFakeErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name  string
		call  func(e env) error
		check func(t *testing.T, e env, err error)
	}{
		{"wrong token is 401 and leaks nothing", func(e env) error {
			bad := limechat.New(limechat.Config{BaseURL: e.url, HTTPClient: e.hc, AccountID: 12, APIToken: "wrong-SECRET"})
			_, err := bad.Agents(ctx)
			return err
		}, func(t *testing.T, _ env, err error) {
			ae := wantStatus(t, err, 401, service.ClassPermanent)
			if ae.Message != "Invalid Access Token" || strings.Contains(err.Error(), "SECRET") {
				t.Errorf("got %v", err)
			}
		}},
		{"wrong account is 401", func(e env) error {
			other := limechat.New(limechat.Config{BaseURL: e.url, HTTPClient: e.hc, AccountID: 13, APIToken: fakeToken})
			_, err := other.GetConversation(ctx, 1)
			return err
		}, func(t *testing.T, _ env, err error) { wantStatus(t, err, 401, service.ClassPermanent) }},
		{"wrong Flow-builder key is 401 and leaks nothing", func(e env) error {
			bad := limechat.NewFlowBuilder(limechat.FlowBuilderConfig{BaseURL: e.url, HTTPClient: e.hc, AccountID: fakeFBAccount, Key: "bad-SECRET"})
			return bad.SendEvent(ctx, service.FlowEvent{DistinctID: "d", Event: "e"})
		}, func(t *testing.T, e env, err error) {
			wantStatus(t, err, 401, service.ClassPermanent)
			if strings.Contains(err.Error(), "SECRET") || len(e.fake.FlowEvents()) != 0 {
				t.Errorf("got %v, events %v", err, e.fake.FlowEvents())
			}
		}},
		{"Flow-builder refuses a missing distinct_id", func(e env) error {
			return e.fb.SendEvent(ctx, service.FlowEvent{Event: "e"})
		}, func(t *testing.T, _ env, err error) { wantStatus(t, err, 422, service.ClassPermanent) }},
		{"FailNext: 5xx then success", func(e env) error {
			e.fake.SetFaults(limechatfake.Faults{FailNext: 2})
			_, err := e.client.GetConversation(ctx, 1)
			return err
		}, func(t *testing.T, e env, err error) {
			if err != nil {
				t.Fatalf("GetConversation after 2 failures: %v", err)
			}
			if n := countCalls(e, "GET", "/conversations/1"); n != 3 {
				t.Errorf("%d calls, want 3", n)
			}
		}},
		{"ErrorRate 1: 503 until retries run out", func(e env) error {
			e.fake.SetFaults(limechatfake.Faults{ErrorRate: 1})
			_, err := e.client.Labels(ctx, 1)
			return err
		}, func(t *testing.T, _ env, err error) { wantStatus(t, err, 503, service.ClassRetryable) }},
		{"rate limit: 429 with the rest of the minute", func(e env) error {
			e.fake.SetFaults(limechatfake.Faults{RatePerMinute: 1})
			if _, err := e.client.Labels(ctx, 1); err != nil {
				return fmt.Errorf("first call: %w", err)
			}
			_, err := e.client.Labels(ctx, 1)
			return err
		}, func(t *testing.T, _ env, err error) {
			// The clock stands at 12:00:30, so 30 seconds of the window are left.
			if ae := wantStatus(t, err, 429, service.ClassRateLimited); ae.RetryAfter() != 30*time.Second {
				t.Errorf("RetryAfter %v, want 30s", ae.RetryAfter())
			}
		}},
		{"Timeout: uncertain, nothing happened", func(e env) error {
			e.fake.SetFaults(limechatfake.Faults{Timeout: true})
			c := limechat.New(limechat.Config{BaseURL: e.url, HTTPClient: e.hc, AccountID: 12, APIToken: fakeToken, Timeout: 100 * time.Millisecond})
			_, err := c.SetLabels(ctx, 1, []string{"hot"})
			return err
		}, func(t *testing.T, e env, err error) {
			wantStatus(t, err, 0, service.ClassUncertain)
			if tk, _ := e.fake.Conversation(1); len(tk.Labels) != 0 {
				t.Errorf("labels %v, want none", tk.Labels)
			}
		}},
		{"TimeoutAfterEffect: uncertain, the create happened and can be found", func(e env) error {
			e.fake.SetFaults(limechatfake.Faults{TimeoutAfterEffect: true})
			c := limechat.New(limechat.Config{BaseURL: e.url, HTTPClient: e.hc, AccountID: 12, APIToken: fakeToken, Timeout: 100 * time.Millisecond})
			_, err := c.CreateConversation(ctx, service.NewConversation{InboxID: 3, ContactID: 1, CustomAttributes: map[string]any{"lsq_record_id": "L-2"}})
			return err
		}, func(t *testing.T, e env, err error) {
			wantStatus(t, err, 0, service.ClassUncertain)
			e.fake.SetFaults(limechatfake.Faults{})
			found := must(e.client.FindConversationsByAttribute(ctx, "lsq_record_id", "L-2"))(t)
			if len(found) != 1 || found[0].ID != 2 || countCalls(e, "POST", "/conversations") != 2 {
				t.Errorf("found %+v", found)
			}
		}},
		{"Flow-builder TimeoutAfterEffect: uncertain, sent exactly once", func(e env) error {
			e.fake.SetFaults(limechatfake.Faults{TimeoutAfterEffect: true})
			fb := limechat.NewFlowBuilder(limechat.FlowBuilderConfig{BaseURL: e.url, HTTPClient: e.hc, AccountID: fakeFBAccount, Key: fakeFBKey, Timeout: 100 * time.Millisecond})
			return fb.SendEvent(ctx, service.FlowEvent{DistinctID: "d", Event: "stage_won"})
		}, func(t *testing.T, e env, err error) {
			wantStatus(t, err, 0, service.ClassUncertain)
			if n := len(e.fake.FlowEvents()); n != 1 {
				t.Errorf("%d flow events, want 1", n)
			}
			var posts int
			for _, c := range e.fake.Calls() {
				if c.Path == "/api/v1/cvf-events" {
					posts++
				}
			}
			if posts != 1 {
				t.Errorf("%d cvf-events requests, want exactly 1", posts)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			seed(t, e)
			tc.check(t, e, tc.call(e))
		})
	}
}

func countCalls(e env, method, suffix string) int {
	n := 0
	for _, c := range e.fake.Calls() {
		if c.Method == method && strings.HasSuffix(c.Path, "/api/v1/accounts/12"+suffix) {
			n++
		}
	}
	return n
}

func TestClientPagesThroughFake(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	for i := range 20 {
		ct := must(e.client.CreateContact(ctx, 3, service.Contact{Name: fmt.Sprintf("Pager %02d", i), Phone: fmt.Sprintf("+9198000000%02d", i)}))(t)
		if _, err := e.client.CreateConversation(ctx, service.NewConversation{InboxID: 3, ContactID: ct.ID, CustomAttributes: map[string]any{"campaign": "diwali"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.CreateConversation(ctx, service.NewConversation{InboxID: 3, ContactID: ct.ID, CustomAttributes: map[string]any{"campaign": "diwali"}}); err != nil {
			t.Fatal(err)
		}
	}
	contacts := must(e.client.SearchContacts(ctx, "Pager"))(t)
	if len(contacts) != 20 {
		t.Errorf("%d contacts over two pages of 15, want 20", len(contacts))
	}
	convs := must(e.client.FindConversationsByAttribute(ctx, "campaign", "diwali"))(t)
	seen := map[int64]bool{}
	for _, c := range convs {
		seen[c.ID] = true
	}
	if len(convs) != 40 || len(seen) != 40 {
		t.Errorf("%d conversations (%d distinct) over two pages of 25, want 40", len(convs), len(seen))
	}
	if n := countCalls(e, "POST", "/conversations/filter"); n != 2 {
		t.Errorf("%d filter calls, want 2", n)
	}
}
