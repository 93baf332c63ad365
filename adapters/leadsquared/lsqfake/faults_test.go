package lsqfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/service"
)

func TestRateLimitPerWindow(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusTooManyRequests, http.StatusForbidden, http.StatusOK} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			e := setup(t, lsqfake.Options{RatePer5s: 3, RateLimitStatus: status})
			ctx := context.Background()
			e.clock.t = time.Date(2026, 7, 31, 6, 0, 0, 0, time.UTC) // start of a window
			for window := 0; window < 2; window++ {
				for i := 0; i < 3; i++ {
					if _, err := e.client.GetLead(ctx, e.lead.ID); err != nil {
						t.Fatalf("window %d call %d: %v", window, i+1, err)
					}
					e.clock.Add(time.Second)
				}
				_, err := e.client.GetLead(ctx, e.lead.ID)
				var ae *leadsquared.APIError
				if !errors.As(err, &ae) || ae.StatusCode != status || ae.ExceptionType != "MXAPIRateLimitExceededException" || ae.Class() != service.ClassRateLimited || ae.Limit != 3 {
					t.Fatalf("window %d call 4: %v", window, err)
				}
				e.clock.Add(2 * time.Second) // next window
			}
		})
	}
}

func TestWebhookDeliveryFaults(t *testing.T) {
	t.Parallel()
	change := func(e *env, n int) {
		for i := 0; i < n; i++ {
			e.clock.Add(time.Second)
			if err := e.fake.SetLeadFields(e.lead.ID, map[string]string{"mx_Budget": strings.Repeat("1", i+1)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("dropped", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		e.fake.Hooks().SetFaults(fakehooks.Faults{DropRate: 1})
		change(e, 2)
		if got := e.take(t); len(got) != 0 {
			t.Fatalf("dropped webhooks arrived: %v", eventNames(got))
		}
		dropped := 0
		for _, r := range e.fake.Hooks().Results() {
			if r.Dropped {
				dropped++
			}
		}
		if dropped != 2 {
			t.Errorf("%d dropped, want 2", dropped)
		}
	})
	t.Run("duplicated", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		e.fake.Hooks().SetFaults(fakehooks.Faults{DuplicateRate: 1})
		change(e, 1)
		got := e.take(t)
		if len(got) != 2 || got[0].events[0].DedupKey != got[1].events[0].DedupKey {
			t.Fatalf("got %d deliveries", len(got))
		}
	})
	t.Run("reordered", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		hooks := e.fake.Hooks()
		hooks.SetManual(true)
		hooks.SetFaults(fakehooks.Faults{Reorder: true, Seed: 7})
		change(e, 8)
		if err := hooks.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := e.take(t)
		var times []time.Time
		for _, d := range got {
			times = append(times, d.events[0].OccurredAt)
		}
		if len(got) != 8 || slices.IsSortedFunc(times, func(a, b time.Time) int { return a.Compare(b) }) {
			t.Fatalf("%d deliveries, in order: %v", len(got), times)
		}
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		if len(slices.CompactFunc(times, time.Time.Equal)) != 8 {
			t.Errorf("source timestamps are not distinct: %v", times)
		}
	})
}

func TestTimeoutFaults(t *testing.T) {
	t.Parallel()
	for _, after := range []bool{false, true} {
		name := map[bool]string{false: "Timeout hangs before the effect", true: "TimeoutAfterEffect hangs after it"}[after]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, lsqfake.Options{})
			e.fake.SetFaults(lsqfake.Faults{Timeout: !after, TimeoutAfterEffect: after})
			c := leadsquared.New(leadsquared.Config{BaseURL: e.url, AccessKey: accessKey, SecretKey: secretKey, Timeout: 50 * time.Millisecond})
			_, err := c.CreateLead(context.Background(), map[string]string{"EmailAddress": "late@example.com"})
			if class, _ := service.ClassOf(err); class != service.ClassUncertain {
				t.Fatalf("err = %v (%v)", err, class)
			}
			created := slices.ContainsFunc(e.fake.Leads(), func(r service.Record) bool { return r.Field("EmailAddress") == "late@example.com" })
			if created != after {
				t.Errorf("lead created = %v, want %v", created, after)
			}
		})
	}
	t.Run("Close ends a hanging request", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		e.fake.SetFaults(lsqfake.Faults{Timeout: true})
		errc := make(chan error, 1)
		go func() { _, err := e.client.Users(context.Background()); errc <- err }()
		for e.fake.CallCount("Users.Get") == 0 {
			select {
			case err := <-errc:
				t.Fatalf("returned early: %v", err)
			case <-time.After(time.Millisecond):
			}
		}
		e.fake.Close()
		select {
		case err := <-errc:
			if err == nil {
				t.Error("hung call succeeded")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not end the hanging request")
		}
	})
}

func TestErrorFaults(t *testing.T) {
	t.Parallel()
	e := setup(t, lsqfake.Options{})
	e.fake.SetFaults(lsqfake.Faults{ErrorRate: 1})
	c := leadsquared.New(leadsquared.Config{BaseURL: e.url, AccessKey: accessKey, SecretKey: secretKey, Retries: -1})
	_, err := c.CreateLead(context.Background(), map[string]string{"EmailAddress": "x@example.com"})
	var ae *leadsquared.APIError
	// A create's 5xx is uncertain to the client: it cannot know nothing was
	// created. (The fake's ErrorRate does fail before any effect.)
	if !errors.As(err, &ae) || ae.StatusCode != 500 || ae.Class() != service.ClassUncertain {
		t.Fatalf("err = %v", err)
	}
	if len(e.fake.Leads()) != 1 {
		t.Error("a failed call had an effect")
	}
	e.fake.SetFaults(lsqfake.Faults{FailNext: 2})
	if _, err := c.Users(context.Background()); err == nil {
		t.Error("first of FailNext succeeded")
	}
	if _, err := c.Users(context.Background()); err == nil {
		t.Error("second of FailNext succeeded")
	}
	if _, err := c.Users(context.Background()); err != nil {
		t.Errorf("third call: %v", err)
	}
}

func TestAuthAndRecordedCalls(t *testing.T) {
	t.Parallel()
	e := setup(t, lsqfake.Options{})
	bad := leadsquared.New(leadsquared.Config{BaseURL: e.url, AccessKey: accessKey, SecretKey: "wrong"})
	_, err := bad.Users(context.Background())
	var ae *leadsquared.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 401 || ae.Class() != service.ClassPermanent {
		t.Fatalf("err = %v", err)
	}
	// Keys in the query string are not accepted (lsqbridge never sends them there) and not recorded.
	resp, err := http.Get(e.url + "/v2/UserManagement.svc/Users.Get?accessKey=" + accessKey + "&secretKey=" + secretKey)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("query-string keys got %d", resp.StatusCode)
	}
	if err := e.client.UpdateLead(context.Background(), e.lead.ID, map[string]string{"mx_City": "Goa"}); err != nil {
		t.Fatal(err)
	}
	calls := e.fake.Calls()
	raw, _ := json.Marshal(calls)
	if strings.Contains(string(raw), accessKey) || strings.Contains(string(raw), secretKey) {
		t.Errorf("calls record a key: %s", raw)
	}
	last := calls[len(calls)-1]
	if last.Method != http.MethodPost || last.Path != "/v2/LeadManagement.svc/Lead.Update" || last.Query.Get("leadId") != e.lead.ID ||
		!strings.Contains(string(last.Body), "mx_City") || !last.Time.Equal(e.clock.Now()) {
		t.Errorf("last call = %+v", last)
	}
}
