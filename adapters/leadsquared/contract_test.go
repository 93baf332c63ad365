package leadsquared_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/service"
)

// clock is a settable clock for the fake.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeBackend is a fake with one user, one lead owned by them, one
// opportunity and one chat activity on the lead: the same world the canned
// answers describe, with the fake's own ids.
type fakeBackend struct {
	fake   *lsqfake.Fake
	url    string
	clock  *clock
	client *leadsquared.Client
	world  world
}

func newFakeBackend(t *testing.T, opts lsqfake.Options) *fakeBackend {
	t.Helper()
	clk := &clock{t: time.Date(2026, 7, 31, 5, 33, 50, 0, time.UTC)}
	opts.AccessKey, opts.SecretKey, opts.Now = testAccessKey, testSecretKey, clk.Now
	fake := lsqfake.New(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	t.Cleanup(fake.Close) // runs first: ends hanging requests
	b := &fakeBackend{fake: fake, url: srv.URL, clock: clk, client: newClient(srv.URL, 5*time.Second)}

	u := fake.AddUser("meera@example.com", "Meera", "Nair")
	lead, err := fake.CreateLead(map[string]string{"FirstName": "Asha", "EmailAddress": "asha@example.com",
		"Phone": "+91-9988776655", "OwnerId": u.ID, "mx_Budget": "25000"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	opp, err := fake.CreateOpportunity(lead.ID, map[string]string{"mx_Custom_1": "Goa villa", "mx_Custom_2": "New",
		"mx_Custom_4": "2026-08-14", "Owner": u.ID})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	if _, err := b.client.PostLeadActivity(context.Background(), lead.ID, service.Activity{EventCode: 201, Note: "hello from chat",
		Fields: map[string]string{"mx_Custom_1": "ticket 42"}}); err != nil {
		t.Fatal(err)
	}
	b.world = world{LeadID: lead.ID, LeadEmail: "asha@example.com", LeadPhone: "+91-9988776655",
		OppID: opp.ID, OppType: 12000, UserID: u.ID, UserEmail: u.Email,
		From: clk.Now().Add(-time.Hour), To: clk.Now().Add(time.Hour)}
	return b
}

// TestClientAgainstFake runs every client method of the shared suite
// against lsqfake: the client and the fake agree on the wire shapes.
func TestClientAgainstFake(t *testing.T) {
	t.Parallel()
	for _, mc := range methodCases {
		t.Run(mc.name, func(t *testing.T) {
			t.Parallel()
			b := newFakeBackend(t, lsqfake.Options{})
			before := b.fake.CallCount(mc.path)
			got, err := mc.call(context.Background(), b.client, b.world)
			if err != nil {
				t.Fatal(err)
			}
			mc.check(t, b.world, got)
			if n := b.fake.CallCount(mc.path) - before; n < 1 {
				t.Errorf("the fake saw %d calls of %s", n, mc.path)
			}
		})
	}
}

// TestClientErrorFormsAgainstFake makes the fake fail every method in the
// ways it can — 5xx then success, the three rate-limit forms, a timeout, a
// cancelled context — and checks the client classifies them as it does
// against the canned servers.
func TestClientErrorFormsAgainstFake(t *testing.T) {
	t.Parallel()
	for _, mc := range methodCases {
		t.Run(mc.name+"/5xx then success", func(t *testing.T) {
			t.Parallel()
			b := newFakeBackend(t, lsqfake.Options{})
			b.fake.SetFaults(lsqfake.Faults{FailNext: 1})
			before := b.fake.CallCount(mc.path)
			got, err := mc.call(context.Background(), b.client, b.world)
			if creates[mc.name] {
				if n := b.fake.CallCount(mc.path) - before; err == nil || n != 1 {
					t.Fatalf("create after a 5xx: err %v, %d calls; want the error and no second send", err, n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			mc.check(t, b.world, got)
			if n := b.fake.CallCount(mc.path) - before; n < 2 {
				t.Errorf("%d calls, want a retry", n)
			}
		})
		for _, status := range []int{429, 403, 200} {
			t.Run(mc.name+"/rate limited "+http.StatusText(status), func(t *testing.T) {
				t.Parallel()
				b := newFakeBackend(t, lsqfake.Options{})
				b.fake.SetRateLimit(1, status)
				if _, err := b.client.Users(context.Background()); err != nil {
					t.Fatal(err) // uses the window's one call
				}
				_, err := mc.call(context.Background(), b.client, b.world)
				var ae *leadsquared.APIError
				if !errors.As(err, &ae) || ae.StatusCode != status || ae.Limit != 1 {
					t.Fatalf("err = %v", err)
				}
				if class, after := service.ClassOf(err); class != service.ClassRateLimited || after < 5*time.Second {
					t.Errorf("class %v after %v", class, after)
				}
			})
		}
		t.Run(mc.name+"/timeout is uncertain", func(t *testing.T) {
			t.Parallel()
			b := newFakeBackend(t, lsqfake.Options{})
			b.fake.SetFaults(lsqfake.Faults{Timeout: true})
			before := b.fake.CallCount(mc.path)
			_, err := mc.call(context.Background(), newClient(b.url, 50*time.Millisecond), b.world)
			if class, _ := service.ClassOf(err); class != service.ClassUncertain {
				t.Fatalf("err = %v, class %v", err, class)
			}
			if n := b.fake.CallCount(mc.path) - before; n != 1 {
				t.Errorf("%d calls, want 1 (no retry after an uncertain failure)", n)
			}
		})
		t.Run(mc.name+"/cancelled", func(t *testing.T) {
			t.Parallel()
			b := newFakeBackend(t, lsqfake.Options{})
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := mc.call(ctx, b.client, b.world); !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestClientValidationErrorsAgainstFake checks LeadSquared's validation
// errors as the fake answers them: MX… as HTTP 500 (or 200 when the tenant
// does that), permanent, never retried.
func TestClientValidationErrorsAgainstFake(t *testing.T) {
	t.Parallel()
	for _, as200 := range []bool{false, true} {
		b := newFakeBackend(t, lsqfake.Options{ErrorsAs200: as200})
		wantStatus := 500
		if as200 {
			wantStatus = 200
		}
		ctx := context.Background()
		tests := []struct {
			name, exception, path string
			call                  func() error
		}{
			{"duplicate e-mail", "MXDuplicateEntryException", "Lead.Create", func() error {
				_, err := b.client.CreateLead(ctx, map[string]string{"EmailAddress": b.world.LeadEmail})
				return err
			}},
			{"unknown attribute", "MXInvalidInputException", "Lead.Update", func() error {
				return b.client.UpdateLead(ctx, b.world.LeadID, map[string]string{"mx_Nope": "x"})
			}},
			{"missing mandatory opportunity field", "MXInvalidActivityFieldsException", "Capture", func() error {
				_, err := b.client.CaptureOpportunity(ctx, service.OpportunityCapture{LeadID: b.world.LeadID, TypeCode: 12000,
					Fields: map[string]string{"mx_Custom_1": "x", "Status": "Open"}})
				return err
			}},
			{"stage value in Status", "MXInvalidActivityFieldsException", "Update", func() error {
				return b.client.UpdateOpportunity(ctx, b.world.OppID, map[string]string{"Status": "Reachable"})
			}},
		}
		for _, tt := range tests {
			before := b.fake.CallCount(tt.path)
			err := tt.call()
			var ae *leadsquared.APIError
			if !errors.As(err, &ae) || ae.ExceptionType != tt.exception || ae.StatusCode != wantStatus || ae.Class() != service.ClassPermanent {
				t.Errorf("as200=%v %s: err = %v", as200, tt.name, err)
			}
			if n := b.fake.CallCount(tt.path) - before; n != 1 {
				t.Errorf("as200=%v %s: %d calls, want 1", as200, tt.name, n)
			}
		}
	}
}
