package limechatfake_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/adapters/limechat"
	"github.com/lsqbridge/lsqbridge/adapters/limechat/limechatfake"
	"github.com/lsqbridge/lsqbridge/service"
)

const (
	token     = "api-token-SECRET"
	fbAccount = "fb-1"
	fbKey     = "fb-key-SECRET"
	hookToken = "hook-token"
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

// delivery is one webhook the receiver got.
type delivery struct {
	path   string
	header http.Header
	body   []byte
}

// receiver is the webhook endpoint the fake posts to.
type receiver struct {
	mu  sync.Mutex
	got []delivery
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, delivery{path: req.URL.Path, header: req.Header.Clone(), body: body})
	r.mu.Unlock()
}

type env struct {
	fake   *limechatfake.Fake
	client *limechat.Client
	url    string
	hc     *http.Client
	clock  *clock
	hooks  *fakehooks.Sender
	recv   *receiver
	// hookURL is the receiver's base URL; the account webhook posts to
	// hookURL+"/hook", the automation webhook to hookURL+"/automation".
	hookURL string
}

// setup starts a fake and a webhook receiver; the account webhook is
// configured (signed when secret is not empty).
func setup(t *testing.T, secret []byte) env {
	t.Helper()
	recv := &receiver{}
	hookSrv := httptest.NewServer(recv)
	t.Cleanup(hookSrv.Close)
	hooks := fakehooks.New(hookSrv.Client())
	t.Cleanup(hooks.Close)

	clk := &clock{t: time.Date(2024, 6, 1, 12, 0, 30, 0, time.UTC)}
	fake := limechatfake.New(limechatfake.Options{
		AccountID: 12, InboxID: 3, APIToken: token,
		FlowBuilderAccountID: fbAccount, FlowBuilderKey: fbKey,
		Now: clk.Now, Hooks: hooks,
	})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	t.Cleanup(fake.Close)
	fake.SetWebhook(hookSrv.URL+"/hook", http.Header{"X-Lsqbridge-Token": {hookToken}}, secret)
	return env{
		fake:    fake,
		client:  limechat.New(limechat.Config{BaseURL: srv.URL, AccountID: 12, APIToken: token, HTTPClient: srv.Client(), Timeout: 2 * time.Second}),
		url:     srv.URL,
		hc:      srv.Client(),
		clock:   clk,
		hooks:   hooks,
		recv:    recv,
		hookURL: hookSrv.URL,
	}
}

// take waits until the sender is idle and returns (and forgets) what the
// receiver got so far.
func (e env) take(t *testing.T) []delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.hooks.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	e.recv.mu.Lock()
	defer e.recv.mu.Unlock()
	got := e.recv.got
	e.recv.got = nil
	return got
}

// parse turns deliveries into normalized events, failing on any error.
func parse(t *testing.T, ds []delivery) []service.Event {
	t.Helper()
	var out []service.Event
	for _, d := range ds {
		evs, err := limechat.ParseWebhook(d.header, d.body)
		if err != nil {
			t.Fatalf("fake sent a webhook the parser refuses: %v\n%s", err, d.body)
		}
		out = append(out, evs...)
	}
	return out
}

// rawChanges returns the changed_attributes keys of a delivery, in order.
func rawChanges(t *testing.T, d delivery) []string {
	t.Helper()
	var p struct {
		Changed []map[string]json.RawMessage `json:"changed_attributes"`
	}
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range p.Changed {
		for k := range c {
			keys = append(keys, k)
		}
	}
	return keys
}

// eventName returns a delivery's "event" field.
func eventName(t *testing.T, d delivery) string {
	t.Helper()
	var p struct {
		Event string `json:"event"`
	}
	if err := json.Unmarshal(d.body, &p); err != nil {
		t.Fatal(err)
	}
	return p.Event
}

func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

// newTicket creates an agent, a contact and a conversation through the API
// and discards the resulting webhooks.
func newTicket(t *testing.T, e env) (agentID int64, ticket service.Ticket) {
	t.Helper()
	ctx := context.Background()
	e.fake.AddAgent("Ravi Kumar", "ravi@example.com")
	ct := must(e.client.CreateContact(ctx, 3, service.Contact{Name: "Asha", Phone: "+919812345678"}))(t)
	tk := must(e.client.CreateConversation(ctx, service.NewConversation{InboxID: 3, ContactID: ct.ID}))(t)
	e.take(t)
	return 1, tk
}

// rawResponse is an answer to rawRequest.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// rawRequest sends a request as given, for checking the fake's wire shapes.
func rawRequest(t *testing.T, e env, method, path, body string, header http.Header) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

func helpdeskAuth(tok string) http.Header { return http.Header{"api_access_token": {tok}} }
