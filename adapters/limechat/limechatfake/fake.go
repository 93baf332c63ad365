// Package limechatfake is a stateful, in-memory LimeChat for tests and the
// sandbox: the helpdesk's Chatwoot Application API subset lsqbridge uses,
// the Flow-builder custom-events API, and the account and automation
// webhooks Chatwoot sends, including the echo of the fake's own API writes.
//
// It is as strict and odd as the platform: labels and custom attributes are
// replaced wholesale, unknown agents silently unassign, duplicate contacts
// are refused with 422, webhook assignees carry no e-mail, messages (and
// private notes) touch their conversation without a webhook, a customer
// writing to a closed conversation opens a new one, and webhooks go
// out through a fakehooks.Sender that can drop, duplicate, delay and reorder
// them. Faults (latency, 5xx, 429, hangs) are injected with SetFaults.
//
// One http.Handler serves both hosts: /api/v1/accounts/{id}/… (helpdesk,
// header api_access_token) and /api/v1/cvf-events (Flow-builder, headers
// x-limechat-uat and x-fb-account-id). Serve it with httptest.NewServer or
// http.Server: a hang ends by aborting the connection.
package limechatfake

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/service"
)

// Options configures a Fake.
type Options struct {
	// AccountID is the only account (default 1).
	AccountID int64
	// InboxID is the account's API inbox, created automatically (default 1).
	InboxID int64
	// APIToken must be sent in api_access_token; anything else gets
	// 401 {"error":"Invalid Access Token"}. Empty accepts any non-empty token.
	APIToken string
	// FlowBuilderAccountID and FlowBuilderKey must be sent in
	// x-fb-account-id and x-limechat-uat on /api/v1/cvf-events, else 401.
	// Empty ones accept any non-empty header value.
	FlowBuilderAccountID string
	FlowBuilderKey       string
	// Now is the clock for timestamps, signatures and the rate-limit window
	// (time.Now when nil).
	Now func() time.Time
	// Hooks sends the webhooks; nil creates one, which Close stops.
	Hooks *fakehooks.Sender
}

// Call is one request the fake received, for inspection. Headers (and so
// tokens) are not kept.
type Call struct {
	Method string
	Path   string
	Query  string
	Body   []byte
	// Time is when the fake received it, by its clock.
	Time time.Time
}

// Fake is the in-memory LimeChat. Create it with New; it is safe for
// concurrent use.
type Fake struct {
	opts      Options
	now       func() time.Time
	hooks     *fakehooks.Sender
	ownHooks  bool
	mux       *http.ServeMux
	closed    chan struct{}
	closeOnce sync.Once

	mu sync.Mutex
	// state
	contacts      map[int64]*contact
	conversations map[int64]*conversation
	agents        map[int64]*agent
	nextContact   int64
	nextConv      int64
	nextAgent     int64
	nextMessage   int64
	flowEvents    []service.FlowEvent
	calls         []Call
	// webhooks
	webhook    *target
	automation *target
	ids        *rand.Rand
	// faults
	faults      Faults
	rng         *rand.Rand
	windowStart time.Time
	windowCount int
}

// New returns a Fake with one inbox and no agents, contacts or conversations.
func New(opts Options) *Fake {
	if opts.AccountID == 0 {
		opts.AccountID = 1
	}
	if opts.InboxID == 0 {
		opts.InboxID = 1
	}
	f := &Fake{
		opts:          opts,
		now:           opts.Now,
		hooks:         opts.Hooks,
		closed:        make(chan struct{}),
		contacts:      map[int64]*contact{},
		conversations: map[int64]*conversation{},
		agents:        map[int64]*agent{},
		ids:           rand.New(rand.NewPCG(7, 11)),
		rng:           rand.New(rand.NewPCG(1, 1)),
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.hooks == nil {
		f.hooks = fakehooks.New(nil)
		f.ownHooks = true
	}
	f.routes()
	return f
}

func (f *Fake) routes() {
	m := http.NewServeMux()
	const acct = "/api/v1/accounts/{account}"
	m.HandleFunc("GET "+acct+"/contacts/search", f.helpdesk(f.handleSearchContacts))
	m.HandleFunc("GET "+acct+"/contacts/{id}", f.helpdesk(f.handleGetContact))
	m.HandleFunc("POST "+acct+"/contacts", f.helpdesk(f.handleCreateContact))
	m.HandleFunc("POST "+acct+"/conversations", f.helpdesk(f.handleCreateConversation))
	m.HandleFunc("POST "+acct+"/conversations/filter", f.helpdesk(f.handleFilterConversations))
	m.HandleFunc("GET "+acct+"/conversations/{id}", f.helpdesk(f.handleGetConversation))
	m.HandleFunc("POST "+acct+"/conversations/{id}/assignments", f.helpdesk(f.handleAssign))
	m.HandleFunc("GET "+acct+"/conversations/{id}/labels", f.helpdesk(f.handleGetLabels))
	m.HandleFunc("POST "+acct+"/conversations/{id}/labels", f.helpdesk(f.handleSetLabels))
	m.HandleFunc("POST "+acct+"/conversations/{id}/custom_attributes", f.helpdesk(f.handleSetCustomAttributes))
	m.HandleFunc("POST "+acct+"/conversations/{id}/messages", f.helpdesk(f.handleCreateMessage))
	m.HandleFunc("GET "+acct+"/conversations/{id}/messages", f.helpdesk(f.handleListMessages))
	m.HandleFunc("GET "+acct+"/agents", f.helpdesk(f.handleAgents))
	m.HandleFunc("POST /api/v1/cvf-events", f.handleFlowEvent)
	m.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { writeNotFound(w) })
	f.mux = m
}

// ServeHTTP records the call, applies the injected faults, then serves it.
// With TimeoutAfterEffect the effect (state change, webhooks) happens and
// the answer never comes.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "Request body too large"})
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Time: f.now()})
	f.mu.Unlock()

	faults, ok := f.applyFaults(w, r)
	if !ok {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	buf := &bufferedResponse{header: http.Header{}}
	f.mux.ServeHTTP(buf, r)
	if faults.TimeoutAfterEffect {
		f.hang(r)
	}
	buf.copyTo(w)
}

// Close ends every hanging request and stops the webhook sender if the fake
// created it. Safe to call more than once.
func (f *Fake) Close() {
	f.closeOnce.Do(func() {
		close(f.closed)
		if f.ownHooks {
			f.hooks.Close()
		}
	})
}

// Hooks returns the sender the fake's webhooks go through, to set its
// faults or mode and to Wait for deliveries.
func (f *Fake) Hooks() *fakehooks.Sender { return f.hooks }

// Calls returns every request received so far, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Call, len(f.calls))
	for i, c := range f.calls {
		c.Body = bytes.Clone(c.Body)
		out[i] = c
	}
	return out
}

// helpdesk wraps a helpdesk handler with Chatwoot's checks: the access
// token first, then the account in the path.
func (f *Fake) helpdesk(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.Header.Get("api_access_token")
		if tok == "" || (f.opts.APIToken != "" && tok != f.opts.APIToken) {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Invalid Access Token"})
			return
		}
		if r.PathValue("account") != strconv.FormatInt(f.opts.AccountID, 10) {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "You are not authorized to access this account"})
			return
		}
		h(w, r)
	}
}

// timestamp returns the fake's now, in UTC, to the microsecond (Postgres precision).
func (f *Fake) timestamp() time.Time { return f.now().UTC().Truncate(time.Microsecond) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeNotFound is Chatwoot's answer to a missing record.
func writeNotFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{"error": "Resource could not be found"})
}

// writeUnprocessable is Chatwoot's validation error shape.
func writeUnprocessable(w http.ResponseWriter, message string, attributes ...string) {
	if attributes == nil {
		attributes = []string{}
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": message, "attributes": attributes})
}

// decodeBody reads a JSON request body, answering 400 like Rails when it
// is not JSON.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil && err != io.EOF {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Invalid JSON in request body"})
		return false
	}
	return true
}

// pathID parses the {id} path value; false answers 404 like Rails.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeNotFound(w)
		return 0, false
	}
	return id, true
}

// bufferedResponse holds a handler's answer so the fake can do the work and
// then decide not to answer (TimeoutAfterEffect).
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for k, vs := range b.header {
		w.Header()[k] = vs
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
