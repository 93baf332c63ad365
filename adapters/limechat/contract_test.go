package limechat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/limechat"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/service"
)

// These contract tests run the clients against limechatfake, so the two
// independent readings of Chatwoot's wire shapes (the client's decoding,
// the fake's rendering) must agree.

const (
	fakeToken     = "fake-token-SECRET"
	fakeFBAccount = "fb-9"
	fakeFBKey     = "fb-key-SECRET"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	fake   *limechatfake.Fake
	client *limechat.Client
	fb     *limechat.FlowBuilder
	url    string
	hc     *http.Client
	clock  *clock
}

func setup(t *testing.T) env {
	t.Helper()
	clk := &clock{t: time.Date(2024, 6, 1, 12, 0, 30, 0, time.UTC)}
	fake := limechatfake.New(limechatfake.Options{
		AccountID: 12, InboxID: 3, APIToken: fakeToken,
		FlowBuilderAccountID: fakeFBAccount, FlowBuilderKey: fakeFBKey, Now: clk.Now,
	})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	t.Cleanup(fake.Close) // runs first: ends hangs so srv.Close can return
	return env{
		fake:   fake,
		client: limechat.New(limechat.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), AccountID: 12, APIToken: fakeToken, Timeout: 2 * time.Second}),
		fb:     limechat.NewFlowBuilder(limechat.FlowBuilderConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), AccountID: fakeFBAccount, Key: fakeFBKey, Timeout: 2 * time.Second}),
		url:    srv.URL,
		hc:     srv.Client(),
		clock:  clk,
	}
}

// must(call())(t) returns call's value, failing the test on its error.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func wantStatus(t *testing.T, err error, status int, class service.ErrorClass) *limechat.APIError {
	t.Helper()
	var ae *limechat.APIError
	if !errors.As(err, &ae) || ae.StatusCode != status || ae.Class() != class {
		t.Fatalf("got %v, want HTTP %d %v", err, status, class)
	}
	return ae
}

// TestClientAgainstFake exercises every client method against the fake and
// checks that the fake saw every route.
func TestClientAgainstFake(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()

	agent := e.fake.AddAgent("Ravi Kumar", "Ravi@Example.com")
	agents := must(e.client.Agents(ctx))(t)
	if len(agents) != 1 || agents[0] != (service.User{ID: agent.ID, Email: "ravi@example.com", Name: "Ravi Kumar", Active: true}) {
		t.Fatalf("Agents = %+v", agents)
	}
	agentID := int64(1)

	// Contacts.
	in := service.Contact{Name: "Asha Rao", Email: "asha@example.com", Phone: "+919812345678", Identifier: "lead-L-1", CustomAttributes: map[string]any{"city": "Pune"}}
	ct := must(e.client.CreateContact(ctx, 3, in))(t)
	in.ID = ct.ID
	if !sameContact(ct, in) {
		t.Fatalf("CreateContact = %+v", ct)
	}
	for _, dup := range []struct {
		c    service.Contact
		attr string
	}{
		{service.Contact{Name: "Other", Email: "ASHA@example.com"}, "email"},
		{service.Contact{Name: "Other", Phone: "+919812345678"}, "phone_number"},
		{service.Contact{Name: "Other", Phone: "919800000000"}, "phone_number"},
	} {
		_, err := e.client.CreateContact(ctx, 3, dup.c)
		if ae := wantStatus(t, err, 422, service.ClassPermanent); !slices.Equal(ae.Attributes, []string{dup.attr}) {
			t.Errorf("duplicate %+v: attributes %v", dup.c, ae.Attributes)
		}
	}
	for _, q := range []string{"+919812345678", "asha@example.com", "Asha"} {
		if got := must(e.client.SearchContacts(ctx, q))(t); len(got) != 1 || !sameContact(got[0], in) {
			t.Errorf("SearchContacts(%q) = %+v", q, got)
		}
	}
	if got := must(e.client.Contact(ctx, ct.ID))(t); !sameContact(got, in) {
		t.Errorf("Contact = %+v", got)
	}
	_, err := e.client.Contact(ctx, 999)
	if !errors.Is(err, service.ErrNotFound) {
		t.Errorf("Contact(999) = %v, want ErrNotFound", err)
	}

	// Conversations.
	tk := must(e.client.CreateConversation(ctx, service.NewConversation{
		InboxID: 3, ContactID: ct.ID, AssigneeID: agentID, CustomAttributes: map[string]any{"lsq_record_id": "L-1"}, Message: "New lead",
	}))(t)
	if tk.ID != 1 || tk.AccountID != 12 || tk.InboxID != 3 || tk.Status != "open" || tk.AssigneeID != agentID ||
		tk.AssigneeEmail != "ravi@example.com" || tk.CustomAttributes["lsq_record_id"] != "L-1" || !sameContact(tk.Contact, in) || tk.UpdatedAt.IsZero() {
		t.Fatalf("CreateConversation = %+v", tk)
	}
	second := must(e.client.CreateConversation(ctx, service.NewConversation{InboxID: 3, ContactID: ct.ID, Status: "pending"}))(t)
	if second.ID != 2 || second.Status != "pending" || second.AssigneeID != 0 {
		t.Errorf("second conversation = %+v", second)
	}
	_, err = e.client.CreateConversation(ctx, service.NewConversation{InboxID: 3, ContactID: 999})
	wantStatus(t, err, 404, service.ClassPermanent)

	got := must(e.client.GetConversation(ctx, 1))(t)
	if want, _ := e.fake.Conversation(1); !sameTicket(got, want) {
		t.Errorf("GetConversation\n got %+v\nwant %+v", got, want)
	}
	_, err = e.client.GetConversation(ctx, 999)
	if !errors.Is(err, service.ErrNotFound) {
		t.Errorf("GetConversation(999) = %v", err)
	}
	if found := must(e.client.FindConversationsByAttribute(ctx, "lsq_record_id", "L-1"))(t); len(found) != 1 || found[0].ID != 1 {
		t.Errorf("Find L-1 = %+v", found)
	}
	if found := must(e.client.FindConversationsByAttribute(ctx, "lsq_record_id", "nope"))(t); len(found) != 0 {
		t.Errorf("Find nope = %+v", found)
	}

	// Assignments: 0 unassigns, an unknown agent unassigns too (Chatwoot's quirk).
	for _, step := range []struct{ assign, want int64 }{{0, 0}, {agentID, agentID}, {999, 0}, {agentID, agentID}} {
		if err := e.client.Assign(ctx, 1, step.assign); err != nil {
			t.Fatalf("Assign(%d): %v", step.assign, err)
		}
		if got := must(e.client.GetConversation(ctx, 1))(t); got.AssigneeID != step.want {
			t.Errorf("after Assign(%d): assignee %d, want %d", step.assign, got.AssigneeID, step.want)
		}
	}
	wantStatus(t, e.client.Assign(ctx, 999, 1), 404, service.ClassPermanent)

	// Labels: set replaces the whole list.
	if got := must(e.client.SetLabels(ctx, 1, []string{"hot", "vip"}))(t); !slices.Equal(got, []string{"hot", "vip"}) {
		t.Errorf("SetLabels = %v", got)
	}
	if got := must(e.client.SetLabels(ctx, 1, []string{"vip", "new"}))(t); !slices.Equal(got, []string{"vip", "new"}) {
		t.Errorf("SetLabels replace = %v", got)
	}
	if got := must(e.client.Labels(ctx, 1))(t); !slices.Equal(got, []string{"vip", "new"}) {
		t.Errorf("Labels = %v", got)
	}
	if got := must(e.client.SetLabels(ctx, 1, nil))(t); len(got) != 0 {
		t.Errorf("SetLabels(nil) = %v", got)
	}

	// Custom attributes: set replaces the whole hash.
	if err := e.client.SetCustomAttributes(ctx, 1, map[string]any{"lsq_record_id": "L-1", "score": 3}); err != nil {
		t.Fatal(err)
	}
	if err := e.client.SetCustomAttributes(ctx, 1, map[string]any{"score": 4}); err != nil {
		t.Fatal(err)
	}
	if got := must(e.client.GetConversation(ctx, 1))(t); fmt.Sprint(got.CustomAttributes) != "map[score:4]" {
		t.Errorf("custom attributes = %v", got.CustomAttributes)
	}

	// Messages: a private note, listed back.
	note := must(e.client.PostMessage(ctx, 1, service.NewMessage{Content: "note [lsqbridge k1]", Private: true}))(t)
	if msgs := must(e.client.Messages(ctx, 1, 20))(t); len(msgs) == 0 || msgs[len(msgs)-1] != note || !note.Private || !note.Outgoing {
		t.Errorf("Messages = %+v, want the note %+v last", msgs, note)
	}

	// Flow-builder.
	ev := service.FlowEvent{DistinctID: "L-1", Phone: "919812345678", Event: "lead_qualified", Data: map[string]any{"name": "Asha"}}
	if err := e.fb.SendEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.FlowEvents(); len(got) != 1 || got[0].Event != "lead_qualified" || got[0].Data["name"] != "Asha" || got[0].Phone != ev.Phone {
		t.Errorf("FlowEvents = %+v", got)
	}

	// Every route the client uses was served.
	routes := map[string]*regexp.Regexp{
		"search":     regexp.MustCompile(`^GET /api/v1/accounts/12/contacts/search$`),
		"contact":    regexp.MustCompile(`^GET /api/v1/accounts/12/contacts/\d+$`),
		"create ct":  regexp.MustCompile(`^POST /api/v1/accounts/12/contacts$`),
		"create cv":  regexp.MustCompile(`^POST /api/v1/accounts/12/conversations$`),
		"get cv":     regexp.MustCompile(`^GET /api/v1/accounts/12/conversations/\d+$`),
		"filter":     regexp.MustCompile(`^POST /api/v1/accounts/12/conversations/filter$`),
		"assign":     regexp.MustCompile(`^POST /api/v1/accounts/12/conversations/\d+/assignments$`),
		"labels":     regexp.MustCompile(`^GET /api/v1/accounts/12/conversations/\d+/labels$`),
		"set labels": regexp.MustCompile(`^POST /api/v1/accounts/12/conversations/\d+/labels$`),
		"custom":     regexp.MustCompile(`^POST /api/v1/accounts/12/conversations/\d+/custom_attributes$`),
		"message":    regexp.MustCompile(`^POST /api/v1/accounts/12/conversations/\d+/messages$`),
		"messages":   regexp.MustCompile(`^GET /api/v1/accounts/12/conversations/\d+/messages$`),
		"agents":     regexp.MustCompile(`^GET /api/v1/accounts/12/agents$`),
		"flow event": regexp.MustCompile(`^POST /api/v1/cvf-events$`),
	}
	for name, re := range routes {
		if !slices.ContainsFunc(e.fake.Calls(), func(c limechatfake.Call) bool { return re.MatchString(c.Method + " " + c.Path) }) {
			t.Errorf("route %s was never called", name)
		}
	}
}

func sameContact(a, b service.Contact) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Email == b.Email && a.Phone == b.Phone && a.Identifier == b.Identifier &&
		fmt.Sprint(a.CustomAttributes) == fmt.Sprint(b.CustomAttributes)
}

func sameTicket(a, b service.Ticket) bool {
	return a.ID == b.ID && a.AccountID == b.AccountID && a.InboxID == b.InboxID && a.Status == b.Status &&
		a.AssigneeID == b.AssigneeID && a.AssigneeEmail == b.AssigneeEmail && slices.Equal(a.Labels, b.Labels) &&
		fmt.Sprint(a.CustomAttributes) == fmt.Sprint(b.CustomAttributes) && sameContact(a.Contact, b.Contact) && a.UpdatedAt.Equal(b.UpdatedAt)
}
