package lsqfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/adapters/leadsquared/lsqfake"
	"github.com/lsqbridge/lsqbridge/service"
)

const (
	accessKey = "ak-test-123"
	secretKey = "sk-test-456"
)

var allEvents = []string{"lead-created", "lead-updated", "lead-owner-changed", "lead-stage-changed",
	"opportunity-created", "opportunity-updated", "opportunity-stage-changed"}

// clock is the fake's injected clock.
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

// delivery is a webhook the receiver got, parsed by the real parser.
type delivery struct {
	event  string
	header http.Header
	body   []byte
	events []service.Event
}

// env is a fake behind an httptest server, a client for it, and a webhook
// receiver with every event configured.
type env struct {
	fake   *lsqfake.Fake
	url    string
	client *leadsquared.Client
	clock  *clock
	user   service.User
	lead   service.Record

	mu  sync.Mutex
	got []delivery
}

func setup(t *testing.T, opts lsqfake.Options) *env {
	t.Helper()
	e := &env{clock: &clock{t: time.Date(2026, 7, 31, 5, 33, 50, 0, time.UTC)}}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		event := strings.TrimPrefix(r.URL.Path, "/hooks/")
		evs, err := leadsquared.ParseWebhook(event, r.Header, body)
		if err != nil {
			t.Errorf("webhook %s does not parse: %v: %s", event, err, body)
		}
		e.mu.Lock()
		e.got = append(e.got, delivery{event, r.Header.Clone(), body, evs})
		e.mu.Unlock()
		io.WriteString(w, `{"Status":"Success"}`)
	}))
	t.Cleanup(receiver.Close)

	opts.AccessKey, opts.SecretKey, opts.Now = accessKey, secretKey, e.clock.Now
	e.fake = lsqfake.New(opts)
	srv := httptest.NewServer(e.fake)
	t.Cleanup(srv.Close)
	t.Cleanup(e.fake.Close)
	e.url = srv.URL
	e.client = leadsquared.New(leadsquared.Config{BaseURL: srv.URL, AccessKey: accessKey, SecretKey: secretKey,
		Timeout: 5 * time.Second, RetryBackoff: time.Millisecond})
	for _, ev := range allEvents {
		e.fake.SetWebhook(ev, receiver.URL+"/hooks/"+ev, http.Header{"X-Lsqbridge-Token": {"tok"}})
	}
	e.user = e.fake.AddUser("meera@example.com", "Meera", "Nair")
	lead, err := e.fake.CreateLead(map[string]string{"FirstName": "Asha", "EmailAddress": "asha@example.com", "Phone": "+91-9988776655"})
	if err != nil {
		t.Fatal(err)
	}
	e.lead = lead
	e.take(t) // drop the setup's lead-created
	return e
}

// take waits for the sender to go idle and returns what arrived since last time.
func (e *env) take(t *testing.T) []delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.fake.Hooks().Wait(ctx); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	got := e.got
	e.got = nil
	return got
}

func eventNames(ds []delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.event)
	}
	return out
}

func TestLeadUpdateEcho(t *testing.T) {
	t.Parallel()
	e := setup(t, lsqfake.Options{})
	ctx := context.Background()

	if err := e.client.UpdateLead(ctx, e.lead.ID, map[string]string{"mx_City": "Goa", "ProspectStage": "Customer", "OwnerId": e.user.ID}); err != nil {
		t.Fatal(err)
	}
	if got := e.take(t); len(got) != 0 {
		t.Fatalf("Lead.Update without postUpdatedLead fired %v", eventNames(got))
	}
	if l, _ := e.fake.Lead(e.lead.ID); l.Field("mx_City") != "Goa" || l.ModifiedBy != e.fake.APIUserID() {
		t.Errorf("lead after update = %+v", l)
	}

	// The same write with postUpdatedLead=true fires like a person's change.
	req, _ := http.NewRequest(http.MethodPost, e.url+"/v2/LeadManagement.svc/Lead.Update?leadId="+e.lead.ID+"&postUpdatedLead=true",
		strings.NewReader(`[{"Attribute":"mx_City","Value":"Panaji"},{"Attribute":"ProspectStage","Value":"Opportunity"}]`))
	req.Header.Set("x-LSQ-AccessKey", accessKey)
	req.Header.Set("x-LSQ-SecretKey", secretKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := e.take(t)
	if names := eventNames(got); !slices.Equal(names, []string{"lead-updated", "lead-stage-changed"}) {
		t.Fatalf("fired %v", names)
	}
	ev := got[0].events[0]
	if !slices.Equal(ev.Changed, []string{"ProspectStage", "mx_City"}) || ev.Before["mx_City"] != "Goa" || ev.Record.Field("mx_City") != "Panaji" {
		t.Errorf("event = %+v", ev)
	}
	if got[0].header.Get("X-Lsqbridge-Token") != "tok" {
		t.Error("custom header not sent")
	}
}

func TestPersonChangesFireWebhooks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		act         func(e *env) error
		wantEvents  []string
		wantChanged []string
	}{
		{"create lead", func(e *env) error {
			_, err := e.fake.CreateLead(map[string]string{"FirstName": "Kiran", "Phone": "+91-9000000001"})
			return err
		}, []string{"lead-created"}, nil},
		{"change owner", func(e *env) error {
			u := e.fake.AddUser("ravi@example.com", "Ravi", "Kumar")
			return e.fake.ChangeLeadOwner(e.lead.ID, u.ID)
		}, []string{"lead-updated", "lead-owner-changed"}, []string{"OwnerId", "OwnerIdEmailAddress", "OwnerIdName"}},
		{"change stage", func(e *env) error {
			return e.fake.SetLeadFields(e.lead.ID, map[string]string{"ProspectStage": "Customer"})
		}, []string{"lead-updated", "lead-stage-changed"}, []string{"ProspectStage"}},
		{"change a field", func(e *env) error {
			return e.fake.SetLeadFields(e.lead.ID, map[string]string{"mx_Interest": "Villa"})
		}, []string{"lead-updated"}, []string{"mx_Interest"}},
		{"create opportunity", func(e *env) error {
			_, err := e.fake.CreateOpportunity(e.lead.ID, map[string]string{"mx_Custom_1": "Goa", "mx_Custom_4": "2026-08-14"})
			return err
		}, []string{"opportunity-created"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, lsqfake.Options{})
			e.clock.Add(time.Minute)
			if err := tt.act(e); err != nil {
				t.Fatal(err)
			}
			got := e.take(t)
			if names := eventNames(got); !slices.Equal(names, tt.wantEvents) {
				t.Fatalf("fired %v, want %v", names, tt.wantEvents)
			}
			for _, d := range got {
				ev := d.events[0]
				if !slices.Equal(ev.Changed, tt.wantChanged) {
					t.Errorf("%s: Changed = %v, want %v", d.event, ev.Changed, tt.wantChanged)
				}
				if ev.OccurredAt.IsZero() || ev.Record.ModifiedBy == e.fake.APIUserID() {
					t.Errorf("%s: record %+v at %v", d.event, ev.Record, ev.OccurredAt)
				}
				if ev.Record.Kind == service.KindLead && ev.Record.OwnerEmail == "" {
					t.Errorf("%s: lead without OwnerIdEmailAddress", d.event)
				}
			}
		})
	}
}

func TestOpportunityWritesFireWebhooks(t *testing.T) {
	t.Parallel()
	e := setup(t, lsqfake.Options{})
	ctx := context.Background()
	res, err := e.client.CaptureOpportunity(ctx, service.OpportunityCapture{LeadID: e.lead.ID, TypeCode: 12000,
		Fields: map[string]string{"mx_Custom_1": "Goa villa", "Status": "Open", "mx_Custom_2": "New", "mx_Custom_4": "2026-08-14"}})
	if err != nil {
		t.Fatal(err)
	}
	got := e.take(t)
	if names := eventNames(got); !slices.Equal(names, []string{"opportunity-created"}) {
		t.Fatalf("capture fired %v", names)
	}
	if r := got[0].events[0].Record; r.ID != res.OpportunityID || r.LeadID != e.lead.ID || r.OpportunityType != 12000 {
		t.Errorf("created record = %+v", r)
	}
	acts := e.fake.Activities(e.lead.ID)
	if !slices.ContainsFunc(acts, func(a service.Activity) bool { return a.ID == res.OpportunityID }) {
		t.Errorf("no opportunity-captured activity on the lead: %+v", acts)
	}

	e.clock.Add(time.Minute)
	if err := e.client.UpdateOpportunity(ctx, res.OpportunityID, map[string]string{"mx_Custom_7": "65000"}); err != nil {
		t.Fatal(err)
	}
	if names := eventNames(e.take(t)); !slices.Equal(names, []string{"opportunity-updated"}) {
		t.Fatalf("field update fired %v", names)
	}
	e.clock.Add(time.Minute)
	if err := e.client.UpdateOpportunity(ctx, res.OpportunityID, map[string]string{"mx_Custom_2": "Reachable"}); err != nil {
		t.Fatal(err)
	}
	got = e.take(t)
	if names := eventNames(got); !slices.Equal(names, []string{"opportunity-updated", "opportunity-stage-changed"}) {
		t.Fatalf("stage update fired %v", names)
	}
	ev := got[1].events[0]
	if ev.Before["mx_Custom_2"] != "New" || ev.Record.Field("mx_Custom_2") != "Reachable" || !slices.Equal(ev.Changed, []string{"mx_Custom_2"}) {
		t.Errorf("stage event = %+v", ev)
	}
	if err := e.fake.UpdateOpportunity(res.OpportunityID, map[string]string{"Status": "Won"}); err != nil {
		t.Fatal(err)
	}
	if names := eventNames(e.take(t)); !slices.Equal(names, []string{"opportunity-updated", "opportunity-stage-changed"}) {
		t.Fatalf("person status change fired %v", names)
	}
}

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
	if !errors.As(err, &ae) || ae.StatusCode != 500 || ae.Class() != service.ClassRetryable {
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

func TestStoreQuirks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("ModifiedOn strictly increases with a frozen clock", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		var last time.Time
		for i := 0; i < 3; i++ {
			if err := e.client.UpdateLead(ctx, e.lead.ID, map[string]string{"mx_City": "Goa"}); err != nil {
				t.Fatal(err)
			}
			l, _ := e.client.GetLead(ctx, e.lead.ID)
			if !l.ModifiedOn.After(last) || !strings.HasSuffix(l.Field("ModifiedOn"), l.ModifiedOn.Format(".000")) {
				t.Fatalf("ModifiedOn %v (%s) not after %v", l.ModifiedOn, l.Field("ModifiedOn"), last)
			}
			last = l.ModifiedOn
		}
	})
	t.Run("phones unique as strings, found by digits", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		_, err := e.client.CreateLead(ctx, map[string]string{"Phone": "+91-9988776655"})
		if !isException(err, "MXDuplicateEntryException") {
			t.Fatalf("same phone: %v", err)
		}
		// Another format is not a duplicate to LeadSquared: it creates a second lead.
		id, err := e.client.CreateLead(ctx, map[string]string{"Phone": "9988776655", "Mobile": "+91 99887 76655"})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Second)
		if err := e.client.UpdateLead(ctx, id, map[string]string{"mx_City": "Goa"}); err != nil {
			t.Fatal(err)
		}
		l, err := e.client.FindLeadByPhone(ctx, "919988776655")
		if err != nil || l.ID != id {
			t.Errorf("by phone = %v, %v; want the most recently active %s", l.ID, err, id)
		}
		if l, _ := e.fake.Lead(e.lead.ID); l.Field("Phone") != "+91-9988776655" {
			t.Errorf("phone stored as %q", l.Field("Phone"))
		}
	})
	t.Run("Capture creates one opportunity per call unless dedup is on", func(t *testing.T) {
		t.Parallel()
		for _, dedup := range []bool{false, true} {
			e := setup(t, lsqfake.Options{OpportunityDuplicateDetection: dedup})
			c := service.OpportunityCapture{LeadID: e.lead.ID, TypeCode: 12000,
				Fields: map[string]string{"mx_Custom_1": "x", "Status": "Open", "mx_Custom_4": "2026-08-14"}}
			first, err1 := e.client.CaptureOpportunity(ctx, c)
			second, err2 := e.client.CaptureOpportunity(ctx, c)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			opps, _ := e.client.OpportunitiesOfLead(ctx, e.lead.ID, 12000)
			if dedup && (len(opps) != 1 || second.Created || second.OpportunityID != first.OpportunityID) {
				t.Errorf("dedup: %d opportunities, second %+v", len(opps), second)
			}
			if !dedup && (len(opps) != 2 || !second.Created || second.OpportunityID == first.OpportunityID) {
				t.Errorf("no dedup: %d opportunities, second %+v", len(opps), second)
			}
		}
	})
	t.Run("capture by e-mail creates the lead and fires lead-created", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		res, err := e.client.CaptureOpportunity(ctx, service.OpportunityCapture{LeadFields: map[string]string{"EmailAddress": "new@example.com", "FirstName": "N"},
			TypeCode: 12000, Fields: map[string]string{"mx_Custom_1": "x", "Status": "Open", "mx_Custom_4": "2026-08-14"}})
		if err != nil {
			t.Fatal(err)
		}
		l, err := e.client.FindLeadByEmail(ctx, "new@example.com")
		if err != nil || res.LeadID != l.ID {
			t.Errorf("capture lead %q, lead by e-mail %q (%v)", res.LeadID, l.ID, err)
		}
		if names := eventNames(e.take(t)); !slices.Equal(names, []string{"lead-created", "opportunity-created"}) {
			t.Errorf("fired %v", names)
		}
	})
	t.Run("RecentlyModified follows LastModifiedOn", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		e.clock.Add(time.Hour)
		mark := e.clock.Now()
		if _, err := e.client.PostLeadActivity(ctx, e.lead.ID, service.Activity{EventCode: 201, Note: "x"}); err != nil {
			t.Fatal(err)
		}
		recs, err := e.client.RecentlyModifiedLeads(ctx, mark, mark.Add(time.Second))
		if err != nil || len(recs) != 1 || recs[0].ID != e.lead.ID {
			t.Fatalf("recent = %+v, %v", recs, err)
		}
		if !recs[0].ModifiedOn.Before(mark) {
			t.Errorf("an activity moved ModifiedOn: %v", recs[0].ModifiedOn)
		}
		if recs, _ := e.client.RecentlyModifiedLeads(ctx, mark.Add(time.Minute), mark.Add(time.Hour)); len(recs) != 0 {
			t.Errorf("outside the window: %+v", recs)
		}
	})
	t.Run("inactive users are not found and cannot own", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		if err := e.fake.DeactivateUser(e.user.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.UserByEmail(ctx, e.user.Email); !errors.Is(err, service.ErrNotFound) {
			t.Errorf("inactive by e-mail: %v", err)
		}
		if err := e.client.UpdateLead(ctx, e.lead.ID, map[string]string{"OwnerId": e.user.ID}); !isException(err, "MXInvalidInputException") {
			t.Errorf("owner inactive: %v", err)
		}
		users, _ := e.client.Users(ctx)
		if i := slices.IndexFunc(users, func(u service.User) bool { return u.ID == e.user.ID }); i < 0 || users[i].Active {
			t.Errorf("users = %+v", users)
		}
	})
	t.Run("opportunity activity needs a user's e-mail", func(t *testing.T) {
		t.Parallel()
		e := setup(t, lsqfake.Options{})
		o, err := e.fake.CreateOpportunity(e.lead.ID, map[string]string{"mx_Custom_1": "x", "mx_Custom_4": "2026-08-14"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.PostOpportunityActivity(ctx, o.ID, service.Activity{EventCode: 208, OwnerEmail: "stranger@example.com"}); !isException(err, "MXInvalidActivityFieldsException") {
			t.Errorf("stranger: %v", err)
		}
		id, err := e.client.PostOpportunityActivity(ctx, o.ID, service.Activity{EventCode: 208, Note: "idem-key-1", OwnerEmail: e.user.Email})
		if err != nil {
			t.Fatal(err)
		}
		acts, _ := e.client.LeadActivities(ctx, e.lead.ID, 208)
		if len(acts) != 1 || acts[0].ID != id || acts[0].Note != "idem-key-1" || acts[0].OwnerEmail != e.user.Email {
			t.Errorf("lead activities = %+v", acts)
		}
	})
}

func isException(err error, exception string) bool {
	var ae *leadsquared.APIError
	return errors.As(err, &ae) && ae.ExceptionType == exception
}
