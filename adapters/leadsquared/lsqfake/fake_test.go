package lsqfake_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
