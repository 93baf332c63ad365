package limechatfake_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/limechat"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/service"
)

func TestRatePerMinuteFollowsTheInjectedClock(t *testing.T) {
	t.Parallel()
	e := setup(t, nil) // clock at 12:00:30
	e.fake.SetFaults(limechatfake.Faults{RatePerMinute: 2})
	get := func() rawResponse {
		return rawRequest(t, e, "GET", "/api/v1/accounts/12/agents", "", helpdeskAuth(token))
	}
	for i := range 2 {
		if r := get(); r.status != 200 {
			t.Fatalf("call %d: %d", i, r.status)
		}
	}
	r := get()
	if r.status != 429 || r.header.Get("Retry-After") != "30" || string(r.body) != "Retry later\n" {
		t.Errorf("third call: %d Retry-After %q body %q", r.status, r.header.Get("Retry-After"), r.body)
	}
	e.clock.Advance(20 * time.Second) // 12:00:50, same window
	if r := get(); r.status != 429 || r.header.Get("Retry-After") != "10" {
		t.Errorf("later in the window: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	e.clock.Advance(10 * time.Second) // 12:01:00, a new window
	if r := get(); r.status != 200 {
		t.Errorf("next window: %d", r.status)
	}
	// The client reports it as rate limited with the wait.
	get()
	_, err := limechat.New(limechat.Config{BaseURL: e.url, AccountID: 12, APIToken: token, HTTPClient: e.hc}).Agents(context.Background())
	if class, after := service.ClassOf(err); class != service.ClassRateLimited || after != 60*time.Second {
		t.Errorf("client: %v (%v, %v)", err, class, after)
	}
}

func TestTimeoutHasNoEffect(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	agentID, tk := newTicket(t, e)
	e.fake.SetFaults(limechatfake.Faults{Timeout: true})
	c := limechat.New(limechat.Config{BaseURL: e.url, AccountID: 12, APIToken: token, HTTPClient: e.hc, Timeout: 100 * time.Millisecond})
	err := c.Assign(context.Background(), tk.ID, agentID)
	if class, _ := service.ClassOf(err); class != service.ClassUncertain {
		t.Fatalf("got %v (%v), want uncertain", err, class)
	}
	if got, _ := e.fake.Conversation(tk.ID); got.AssigneeID != 0 {
		t.Errorf("assignee %d: the hung request had an effect", got.AssigneeID)
	}
	if ds := e.take(t); len(ds) != 0 {
		t.Errorf("%d webhooks from a request that had no effect", len(ds))
	}
}

func TestTimeoutAfterEffectHasEffect(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	agentID, tk := newTicket(t, e)
	e.fake.SetFaults(limechatfake.Faults{TimeoutAfterEffect: true})
	c := limechat.New(limechat.Config{BaseURL: e.url, AccountID: 12, APIToken: token, HTTPClient: e.hc, Timeout: 100 * time.Millisecond})
	err := c.Assign(context.Background(), tk.ID, agentID)
	if class, _ := service.ClassOf(err); class != service.ClassUncertain {
		t.Fatalf("got %v (%v), want uncertain", err, class)
	}
	if got, _ := e.fake.Conversation(tk.ID); got.AssigneeID != agentID {
		t.Errorf("assignee %d, want the effect to have happened", got.AssigneeID)
	}
	if evs := parse(t, e.take(t)); len(evs) != 1 || !evs[0].AssigneeChanged {
		t.Errorf("events %+v, want the echo", evs)
	}
}

func TestCloseEndsHangs(t *testing.T) {
	t.Parallel()
	fake := limechatfake.New(limechatfake.Options{APIToken: token})
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	fake.SetFaults(limechatfake.Faults{Timeout: true})
	done := make(chan error, 1)
	go func() {
		// No client timeout: only Close can end this request.
		_, err := limechat.New(limechat.Config{BaseURL: srv.URL, AccountID: 1, APIToken: token, HTTPClient: srv.Client(), Timeout: time.Hour}).Agents(context.Background())
		done <- err
	}()
	<-arrived
	fake.Close() // whether the handler hangs already or is about to, it must end

	select {
	case err := <-done:
		if class, _ := service.ClassOf(err); class != service.ClassUncertain {
			t.Errorf("got %v (%v), want uncertain", err, class)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the hang")
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	e.fake.SetFaults(limechatfake.Faults{Latency: 30 * time.Millisecond})
	start := time.Now()
	if r := rawRequest(t, e, "GET", "/api/v1/accounts/12/agents", "", helpdeskAuth(token)); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("answered in %v, want at least 30ms", d)
	}
}

func TestErrorRateIsRepeatable(t *testing.T) {
	t.Parallel()
	pattern := func() []int {
		e := setup(t, nil)
		e.fake.SetFaults(limechatfake.Faults{ErrorRate: 0.5, Seed: 42})
		var got []int
		for range 20 {
			r := rawRequest(t, e, "GET", "/api/v1/accounts/12/agents", "", helpdeskAuth(token))
			got = append(got, r.status)
			if r.status == 503 && r.header.Get("Content-Type") != "text/html" {
				t.Errorf("503 content type %q", r.header.Get("Content-Type"))
			}
		}
		return got
	}
	a, b := pattern(), pattern()
	if !slices.Equal(a, b) || !slices.Contains(a, 503) || !slices.Contains(a, 200) {
		t.Errorf("patterns %v and %v, want equal mixes of 200 and 503", a, b)
	}
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	e.fake.SetFaults(limechatfake.Faults{FailNext: 2})
	var got []int
	for range 3 {
		got = append(got, rawRequest(t, e, "GET", "/api/v1/accounts/12/agents", "", helpdeskAuth(token)).status)
	}
	if !slices.Equal(got, []int{500, 500, 200}) {
		t.Errorf("statuses %v", got)
	}
	// The client retries through them.
	e.fake.SetFaults(limechatfake.Faults{FailNext: 2})
	if _, err := e.client.Agents(context.Background()); err != nil {
		t.Errorf("client: %v", err)
	}
	var ae *limechat.APIError
	e.fake.SetFaults(limechatfake.Faults{FailNext: 3})
	if _, err := e.client.Agents(context.Background()); !errors.As(err, &ae) || ae.StatusCode != http.StatusInternalServerError {
		t.Errorf("client after 3 failures: %v", err)
	}
}
