// Package lsqfake is a stateful, in-memory LeadSquared for tests and the
// sandbox: an http.Handler answering the REST calls lsqbridge's client makes,
// under the same /v2/<Service>.svc/<Method> paths and in LeadSquared's shapes,
// quirks included — errors as {"Status":"Error","ExceptionType":"MX…"} with
// HTTP 500 (or 200 on request), rate limits per 5-second window answered as
// 429, 403 or 200, unique EmailAddress and Phone (Phone as the exact string),
// values stored as strings, no webhook for Lead.Update without
// postUpdatedLead=true, a new opportunity on every Capture.
//
// It also plays the people using LeadSquared's UI (the person API: AddUser,
// CreateLead, ChangeLeadOwner, SetLeadFields, CreateOpportunity,
// UpdateOpportunity), sends LeadSquared's webhooks through a
// *fakehooks.Sender, injects faults (latency, 5xx, timeouts before or after
// the effect) and records every call for inspection.
//
// Where the reference is silent the fake guesses, strictly: API creates
// (Lead.Create, a lead made by Capture) fire lead-created; unknown schema
// names and bad owners are MXInvalidInputException; webhook dates carry
// seconds only ("2019-04-22 13:00:09"), so two changes in one second share a
// source timestamp (Options.WebhookMillis changes that); the Capture answer
// carries no lead id; the bulk opportunity-activity answer is
// {"Response":[{"ProspectActivityId"}]} like the lead bulk call; activities
// posted on an opportunity are listed by the lead's ProspectActivity Retrieve;
// a dependent dropdown's metadata (the Stage, depending on Status) lists its
// options per parent value in DependentOptionSet as [{"Parent","Options"}];
// a multi-select value is stored as sent (lsqbridge sends "Pool;Spa") and a
// DateTime must be "YYYY-MM-DD HH:MM:SS"; dropdown values, the Stage's
// included, are stored even when not an option, as LeadSquared does. What
// each guess rests on is in docs/leadsquared.md.
package lsqfake

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/fakehooks"
	"github.com/lsqbridge/lsqbridge/service"
)

// Date layouts the fake writes: API reads carry milliseconds, webhooks carry
// seconds (as LeadSquared's do) unless Options.WebhookMillis is set.
const (
	apiLayout     = "2006-01-02 15:04:05.000"
	hookLayout    = "2006-01-02 15:04:05"
	requestLayout = "2006-01-02 15:04:05"
)

// Options configures a Fake. The zero value works: no keys are required then.
type Options struct {
	// AccessKey and SecretKey are the x-LSQ-AccessKey / x-LSQ-SecretKey
	// headers every call must carry (keys in the query string are not
	// accepted: lsqbridge never sends them there). Wrong keys get 401.
	AccessKey, SecretKey string
	// RatePer5s is the account's calls per fixed 5-second window of Now; 0 = unlimited.
	RatePer5s int
	// RateLimitStatus is the HTTP status of a rate-limit answer: 429 (default),
	// 403 or 200. The body is always the MXAPIRateLimitExceededException JSON.
	RateLimitStatus int
	// ErrorsAs200 makes validation errors answer HTTP 200 with "Status":"Error"
	// (as some tenants do) instead of 500.
	ErrorsAs200 bool
	// Now is the clock for timestamps and rate windows; time.Now when nil.
	Now func() time.Time
	// Hooks sends the webhooks; a new automatic Sender when nil (closed by Close).
	Hooks *fakehooks.Sender
	// OpportunityType is the one opportunity type's code (default 12000),
	// OpportunityTypeName its name (default "Booking"), OpportunityFields its
	// fields (default DefaultOpportunityFields()).
	OpportunityType     int
	OpportunityTypeName string
	OpportunityFields   []service.FieldMeta
	// LeadFields replaces DefaultLeadFields() as the lead metadata.
	LeadFields []service.FieldMeta
	// OpportunityDuplicateDetection makes Capture report a duplicate (and
	// create nothing) when the lead already has an Open opportunity of the
	// type. Off by default: LeadSquared creates one on every call.
	OpportunityDuplicateDetection bool
	// APIUserEmail is the e-mail of the user whose keys call the API
	// (default api@lsqfake.test); API writes carry its id as ModifiedBy.
	APIUserEmail string
	// WebhookMillis makes webhook dates carry milliseconds like API reads.
	WebhookMillis bool
}

// Call is one request the fake received. Keys are never recorded.
type Call struct {
	Method string
	Path   string
	Query  url.Values
	Body   []byte
	Time   time.Time
}

// Fake is an in-memory LeadSquared. Create it with New; it is safe for
// concurrent use.
type Fake struct {
	opts     Options
	now      func() time.Time
	hooks    *fakehooks.Sender
	ownHooks bool
	done     chan struct{}
	closing  sync.Once

	mu            sync.Mutex
	seq           int
	autoID        int
	apiUser       string
	users         []*user
	leads         map[string]*record
	leadOrder     []string
	opps          map[string]*record
	oppOrder      []string
	activities    map[string][]activity
	leadMeta      []service.FieldMeta
	oppMeta       []service.FieldMeta
	activityTypes map[int]string
	webhooks      map[string]webhook
	calls         []Call
	leadUpdates   int

	ratePer5s   int
	rateStatus  int
	rateWindow  int64
	windowCalls int

	faults   Faults
	failNext int
	rng      *rand.Rand
}

// record is a stored lead or opportunity: every value a string, as in LeadSquared.
type record struct {
	fields       map[string]string
	modified     time.Time
	lastModified time.Time
}

// webhook is one configured webhook.
type webhook struct {
	url    string
	header http.Header
}

// reply is a handler's answer, written after the fault checks.
type reply struct {
	status int
	body   any
}

// New returns a Fake with one user (the API user), the default lead and
// opportunity metadata, and the default activity types.
func New(opts Options) *Fake {
	f := &Fake{
		opts:       opts,
		now:        opts.Now,
		hooks:      opts.Hooks,
		done:       make(chan struct{}),
		leads:      map[string]*record{},
		opps:       map[string]*record{},
		activities: map[string][]activity{},
		webhooks:   map[string]webhook{},
		ratePer5s:  opts.RatePer5s,
		rateStatus: opts.RateLimitStatus,
		rng:        rand.New(rand.NewPCG(1, 2)),
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.hooks == nil {
		f.hooks = fakehooks.New(nil)
		f.ownHooks = true
	}
	if f.opts.OpportunityType == 0 {
		f.opts.OpportunityType = 12000
	}
	if f.opts.OpportunityTypeName == "" {
		f.opts.OpportunityTypeName = "Booking"
	}
	f.oppMeta = opts.OpportunityFields
	if f.oppMeta == nil {
		f.oppMeta = DefaultOpportunityFields()
	}
	f.leadMeta = opts.LeadFields
	if f.leadMeta == nil {
		f.leadMeta = DefaultLeadFields()
	}
	f.activityTypes = map[int]string{
		201:                    "WhatsApp Conversation",
		208:                    "Opportunity Note",
		3002:                   "Stage Change",
		f.opts.OpportunityType: f.opts.OpportunityTypeName,
	}
	email := opts.APIUserEmail
	if email == "" {
		email = "api@lsqfake.test"
	}
	f.apiUser = f.addUserLocked(email, "API", "User", "Administrator").ID
	return f
}

// Hooks returns the sender the fake posts its webhooks through, so tests can
// switch it to manual mode, set drop/duplicate/reorder faults, Wait or Flush.
func (f *Fake) Hooks() *fakehooks.Sender { return f.hooks }

// Close ends every hanging request and, when the fake made its own Sender,
// closes it. Close an httptest.Server wrapping the fake after this.
func (f *Fake) Close() {
	f.closing.Do(func() {
		close(f.done)
		if f.ownHooks {
			f.hooks.Close()
		}
	})
}

// SetWebhook configures the webhook for event ("lead-created",
// "lead-updated", "lead-owner-changed", "lead-stage-changed",
// "opportunity-created", "opportunity-updated", "opportunity-stage-changed")
// to POST to url with header added (LeadSquared's custom headers). An empty
// url removes it.
func (f *Fake) SetWebhook(event, url string, header http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if url == "" {
		delete(f.webhooks, event)
		return
	}
	f.webhooks[event] = webhook{url: url, header: header.Clone()}
}

// ServeHTTP answers one LeadSquared API call.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		return
	}
	f.record(r, body)

	if !f.authorized(r) {
		writeJSON(w, reply{http.StatusUnauthorized, errorBody("", "Invalid access key or secret key")})
		return
	}
	rt, ok := routes[strings.ToLower(strings.TrimPrefix(r.URL.Path, "/v2/"))]
	if !ok {
		http.Error(w, "Endpoint not found.", http.StatusNotFound)
		return
	}
	if r.Method != rt.method {
		http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		return
	}
	if rep, limited := f.rateLimited(); limited {
		writeJSON(w, rep)
		return
	}
	fault := f.nextFault()
	if fault.latency > 0 && !f.wait(r.Context(), fault.latency) {
		return
	}
	if fault.fail {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "<html><body><h1>500 Internal Server Error</h1></body></html>")
		return
	}
	if fault.timeout {
		f.hang(r.Context())
		return
	}
	if r.Method == http.MethodPost && len(bytes.TrimSpace(body)) > 0 &&
		!strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/json") {
		writeJSON(w, reply{http.StatusBadRequest, errorBody("", "Content-Type must be application/json")})
		return
	}

	f.mu.Lock()
	rep := rt.handle(f, r.URL.Query(), body)
	f.mu.Unlock()

	if fault.timeoutAfter {
		f.hang(r.Context())
		return
	}
	writeJSON(w, rep)
}

// record keeps the call without the keys.
func (f *Fake) record(r *http.Request, body []byte) {
	q := url.Values{}
	for k, v := range r.URL.Query() {
		if !strings.EqualFold(k, "accessKey") && !strings.EqualFold(k, "secretKey") {
			q[k] = v
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Method: r.Method, Path: r.URL.Path, Query: q, Body: bytes.Clone(body), Time: f.now()})
}

// authorized compares the key headers in constant time.
func (f *Fake) authorized(r *http.Request) bool {
	if f.opts.AccessKey == "" && f.opts.SecretKey == "" {
		return true
	}
	ak := subtle.ConstantTimeCompare([]byte(r.Header.Get("x-LSQ-AccessKey")), []byte(f.opts.AccessKey))
	sk := subtle.ConstantTimeCompare([]byte(r.Header.Get("x-LSQ-SecretKey")), []byte(f.opts.SecretKey))
	return ak&sk == 1
}

// wait pauses for d; false when the request or the fake ended first.
func (f *Fake) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-f.done:
	}
	return false
}

// hang blocks until the request's context ends or the fake is closed.
func (f *Fake) hang(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-f.done:
	}
}

// errorBody is LeadSquared's error shape.
func errorBody(exceptionType, message string) map[string]any {
	b := map[string]any{"Status": "Error", "ExceptionMessage": message}
	if exceptionType != "" {
		b["ExceptionType"] = exceptionType
	}
	return b
}

// mxError is a validation error: HTTP 500, or 200 with Options.ErrorsAs200.
func (f *Fake) mxError(exceptionType, format string, args ...any) reply {
	status := http.StatusInternalServerError
	if f.opts.ErrorsAs200 {
		status = http.StatusOK
	}
	return reply{status, errorBody(exceptionType, fmt.Sprintf(format, args...))}
}

// ok is a 200 answer.
func ok(body any) reply { return reply{http.StatusOK, body} }

// success is {"Status":"Success","Message":{…}}.
func success(message map[string]any) reply {
	return ok(map[string]any{"Status": "Success", "Message": message})
}

// writeJSON writes a reply.
func writeJSON(w http.ResponseWriter, rep reply) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rep.status)
	json.NewEncoder(w).Encode(rep.body)
}

// newID returns a GUID-shaped id; prefix tells the kind apart when debugging.
func (f *Fake) newID(prefix uint32) string {
	f.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012d", prefix, f.seq)
}

// ID prefixes.
const (
	prefixUser     = 0x05e40000
	prefixLead     = 0x1ead0000
	prefixOpp      = 0x0bb00000
	prefixActivity = 0xac700000
)

// stamp returns a timestamp after prev: now at millisecond precision, or
// prev + 1ms when the clock has not moved past it.
func (f *Fake) stamp(prev time.Time) time.Time {
	t := f.now().UTC().Truncate(time.Millisecond)
	if !t.After(prev) {
		t = prev.Add(time.Millisecond)
	}
	return t
}
