package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// stubAuth admits like service.Integrations, over integrations in memory:
// each power's secret, the app key's link secret, a disabled flag and a
// link bucket.
type stubAuth struct {
	in       map[string]*service.Integration
	secrets  map[service.Power]string
	disabled map[string]bool
	// wait is what TakeAppLink answers; took counts its calls.
	wait time.Duration
	took int
}

func (s *stubAuth) lookup(id string) (*service.Integration, error) {
	in, ok := s.in[id]
	if !ok {
		return nil, &service.RefusedError{Reason: service.RefusedUnknownIntegration}
	}
	if s.disabled[id] {
		return nil, &service.RefusedError{Reason: service.RefusedDisabled}
	}
	return in, nil
}

func (s *stubAuth) Authenticate(_ context.Context, id string, p service.Power, secret string) (*service.Integration, error) {
	in, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	if secret == "" || secret != s.secrets[p] {
		return nil, &service.RefusedError{Reason: service.RefusedWrongCredential}
	}
	return in, nil
}

func (s *stubAuth) AuthenticateLink(_ context.Context, id string, ticket int64, exp, sig string, now time.Time) (*service.Integration, error) {
	in, err := s.lookup(id)
	if err != nil {
		return nil, err
	}
	if err := service.VerifyPage(in, ticket, exp, sig, now); errors.Is(err, service.ErrLinkInvalid) {
		return nil, &service.RefusedError{Reason: service.RefusedBadLink}
	} else if err != nil {
		return nil, err
	}
	return in, nil
}

func (s *stubAuth) TakeAppLink(context.Context, string, int) (time.Duration, error) {
	s.took++
	return s.wait, nil
}

// stubForms answers with fixed results and remembers the last submission.
type stubForms struct {
	form      *service.Form
	submitted *service.Submitted
	err       error
	last      service.Submission
}

func (s *stubForms) Form(context.Context, *service.Integration, int64) (*service.Form, error) {
	return s.form, s.err
}

func (s *stubForms) Submit(_ context.Context, _ *service.Integration, _ int64, sub service.Submission) (*service.Submitted, error) {
	s.last = sub
	return s.submitted, s.err
}

func (s *stubForms) Automate(context.Context, *service.Integration, service.Event, []byte) (service.AutomationResult, error) {
	return service.AutomationResult{Outcome: service.AutomationIgnored}, s.err
}

func (s *stubForms) CheckTicket(_ context.Context, _ *service.Integration, ticket int64) error {
	if ticket != 42 {
		return service.ErrTicketNotInInbox
	}
	return nil
}

var formsNow = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func testIntegration() *service.Integration {
	return &service.Integration{ID: "acme", LinkSecret: service.HashToken("link-secret"), LimeChatURL: "https://app.limechat.test/",
		Rules: service.Rules{Form: service.FormRules{OpportunityType: 12000, PageLinkTTL: service.Duration(time.Hour)}}}
}

func sampleForm() *service.Form {
	return &service.Form{IntegrationID: "acme", TicketID: 42, OpportunityType: 12000,
		Contact: service.FormContact{Name: "Priya <b>Shah</b>", Phone: "+919876543210"}, AgentEmail: "asha@acme.test", OwnerMatched: true,
		Fields: []service.FormField{
			{Schema: "mx_Custom_1", Label: "Opportunity Name", Type: "Text", Required: true, Options: []string{}, Value: "Priya"},
			{Schema: "Status", Label: "Status", Type: "Select", Required: true, Options: []string{"Open", "Won", "Lost"}, Value: "Open"},
			{Schema: "mx_Custom_4", Label: "Check-in", Type: "Date", Required: true, Options: []string{}, Value: "20/12/2026"},
		}}
}

// setupForms returns a server with the form routes over stubs.
func setupForms(t *testing.T) (*httptest.Server, *stubForms, *service.Integration) {
	srv, stub, _, in := setupFormsAuth(t)
	return srv, stub, in
}

const (
	appKey    = "lsqb_app_the-app-key"
	lcToken   = "lsqb_limechat_the-limechat-token"
	lsqToken  = "lsqb_leadsquared_the-leadsquared-token"
	autoToken = "lsqb_automation_the-automation-token"
)

func setupFormsAuth(t *testing.T) (*httptest.Server, *stubForms, *stubAuth, *service.Integration) {
	t.Helper()
	in := testIntegration()
	off := testIntegration()
	off.ID = "off"
	stub := &stubForms{form: sampleForm()}
	auth := &stubAuth{in: map[string]*service.Integration{"acme": in, "off": off}, disabled: map[string]bool{"off": true},
		secrets: map[service.Power]string{service.PowerApp: appKey, service.PowerLimeChat: lcToken,
			service.PowerLeadSquared: lsqToken, service.PowerAutomation: autoToken}}
	f := &Forms{Integrations: auth, Service: stub, Now: func() time.Time { return formsNow }}
	srv := httptest.NewServer(New(Config{Forms: f}))
	t.Cleanup(srv.Close)
	return srv, stub, auth, in
}

// linkHeaders are a signed link's parts as the page's script sends them.
func linkHeaders(pl service.PageLink) map[string]string {
	return map[string]string{headerLinkExpires: strconv.FormatInt(pl.Expires.Unix(), 10), headerLinkSignature: pl.Signature}
}

func send(t *testing.T, method, u string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestFormRoutesTakeOnlyTheirOwnCredential(t *testing.T) {
	t.Parallel()
	srv, _, _, in := setupFormsAuth(t)
	pl := service.SignPage(in, 42, formsNow)
	exp := strconv.FormatInt(pl.Expires.Unix(), 10)
	stale := service.SignPage(in, 42, formsNow.Add(-2*time.Hour))
	staleExp := strconv.FormatInt(stale.Expires.Unix(), 10)
	form := "/v1/integrations/acme/tickets/42/opportunity-form"
	const refused = `{"error":"not authorized"}`
	tests := []struct {
		name   string
		path   string
		header map[string]string
		status int
		says   string
	}{
		{"form: no credentials", form, nil, 401, refused},
		{"form: signed link headers", form, linkHeaders(pl), 200, `"mx_Custom_4"`},
		{"form: signed link query", form + "?exp=" + exp + "&sig=" + pl.Signature, nil, 200, `"mx_Custom_4"`},
		{"form: expired link", form, linkHeaders(stale), 403, "expired"},
		{"form: link of another ticket", "/v1/integrations/acme/tickets/43/opportunity-form", linkHeaders(pl), 401, refused},
		{"form: the app key", form, map[string]string{headerAppKey: appKey}, 401, refused},
		{"form: a webhook token header", form, map[string]string{headerToken: lcToken}, 401, refused},
		{"form: a webhook token query", form + "?token=" + lcToken, nil, 401, refused},
		{"form: unknown integration", "/v1/integrations/nope/tickets/42/opportunity-form", linkHeaders(pl), 401, refused},
		{"form: disabled integration", "/v1/integrations/off/tickets/42/opportunity-form", linkHeaders(pl), 401, refused},
		{"link: app key", form + "/link", map[string]string{headerAppKey: appKey}, 200, `"path"`},
		{"link: wrong app key", form + "/link", map[string]string{headerAppKey: "guess"}, 401, refused},
		{"link: a signed link cannot renew itself", form + "/link", linkHeaders(pl), 401, refused},
		{"link: webhook token", form + "/link", map[string]string{headerToken: lsqToken}, 401, refused},
		{"link: webhook token query", form + "/link?token=" + lcToken, nil, 401, refused},
		{"link: a ticket outside the inbox", "/v1/integrations/acme/tickets/7/opportunity-form/link", map[string]string{headerAppKey: appKey}, 404, "LimeChat inbox"},
		{"page: no signature", form + "/page", nil, 401, "not authorized"},
		{"page: expired link", form + "/page?exp=" + staleExp + "&sig=" + stale.Signature, nil, 403, "expired"},
		{"page: signed link", form + "/page?exp=" + exp + "&sig=" + pl.Signature, nil, 200, "Check-in"},
		{"dashboard config: app key", "/v1/integrations/acme/dashboard-app/config", map[string]string{headerAppKey: appKey}, 200, `{"limechat_origin":"https://app.limechat.test"}`},
		{"dashboard config: LimeChat token", "/v1/integrations/acme/dashboard-app/config?token=" + lcToken, nil, 401, refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := send(t, http.MethodGet, srv.URL+tt.path, tt.header, "")
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.says) {
				t.Errorf("GET %s = %d %s; want %d saying %q", tt.path, resp.StatusCode, body, tt.status, tt.says)
			}
		})
	}
}

// TestLinkRouteIsRateLimitedBeforeItLooksAtTheTicket: a key over its rate
// gets 429 with Retry-After, whatever ticket it asks for.
func TestLinkRouteIsRateLimitedBeforeItLooksAtTheTicket(t *testing.T) {
	t.Parallel()
	srv, _, auth, _ := setupFormsAuth(t)
	auth.wait = 1500 * time.Millisecond
	for _, ticket := range []string{"42", "7"} {
		resp, body := send(t, http.MethodGet, srv.URL+"/v1/integrations/acme/tickets/"+ticket+"/opportunity-form/link", map[string]string{headerAppKey: appKey}, "")
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, "retry in 2s") {
			t.Errorf("ticket %s over the rate = %d %s (Retry-After %q); want 429 and Retry-After 2", ticket, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	if auth.took != 2 {
		t.Errorf("%d link tokens taken, want 2", auth.took)
	}
	// A refused key takes nothing from the bucket.
	send(t, http.MethodGet, srv.URL+"/v1/integrations/acme/tickets/42/opportunity-form/link", map[string]string{headerAppKey: "guess"}, "")
	if auth.took != 2 {
		t.Errorf("a wrong key took a link token")
	}
}

func TestFormSubmitMapsServiceAnswersToHTTP(t *testing.T) {
	t.Parallel()
	ticket := int64(42)
	ok := &service.Submitted{OpportunityID: "opp-1", LeadID: "lead-1", TicketID: &ticket, LinkID: 7, State: "active"}
	tests := []struct {
		name      string
		key, body string
		submitted *service.Submitted
		err       error
		status    int
		says      string
	}{
		{"created", "k1", `{"fields":{"mx_Custom_4":"2026-12-20"}}`, ok, nil, 201, `"opportunity_id":"opp-1"`},
		{"invalid", "k1", `{"fields":{}}`, nil, &service.ValidationError{Fields: map[string]string{"mx_Custom_4": "Check-in must be a date written YYYY-MM-DD"}}, 422,
			`{"errors":{"mx_Custom_4":"Check-in must be a date written YYYY-MM-DD"}}`},
		{"in progress", "k1", `{}`, nil, &service.InProgressError{Since: formsNow}, 409, "still in progress"},
		{"key of another ticket", "k1", `{}`, nil, &service.KeyReusedError{TicketID: 9}, 409, "ticket 9"},
		{"failed after capture", "k1", `{}`, nil, &service.FailedError{Message: "opportunity X was created but not linked"}, 502, "not linked"},
		{"not configured", "", `{}`, nil, service.ErrFormNotConfigured, 404, "form.opportunity_type"},
		{"internal", "", `{}`, nil, errors.New("connection reset by database"), 500, "internal error"},
		{"bad key", "has space", `{}`, ok, nil, 400, "Idempotency-Key"},
		{"unknown body key", "", `{"values":{}}`, ok, nil, 400, "fields"},
		{"object value", "", `{"fields":{"a":{"b":1}}}`, ok, nil, 400, "field a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, stub, _ := setupForms(t)
			stub.submitted, stub.err = tt.submitted, tt.err
			srvIn := testIntegration()
			h := linkHeaders(service.SignPage(srvIn, 42, formsNow))
			h["Content-Type"] = "application/json"
			if tt.key != "" {
				h["Idempotency-Key"] = tt.key
			}
			resp, body := send(t, http.MethodPost, srv.URL+"/v1/integrations/acme/tickets/42/opportunity-form", h, tt.body)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.says) {
				t.Errorf("POST = %d %s; want %d saying %q", resp.StatusCode, body, tt.status, tt.says)
			}
			if strings.Contains(body, "connection reset") {
				t.Errorf("an internal error leaked: %s", body)
			}
		})
	}
}

func TestFormSubmitPassesValuesKeyAndReplayMarker(t *testing.T) {
	t.Parallel()
	srv, stub, in := setupForms(t)
	stub.submitted = &service.Submitted{OpportunityID: "opp-1", State: "pending_ticket", Replayed: true}
	h := linkHeaders(service.SignPage(in, 42, formsNow))
	h["Idempotency-Key"] = "abc-123"
	resp, body := send(t, http.MethodPost, srv.URL+"/v1/integrations/acme/tickets/42/opportunity-form", h,
		`{"fields":{"mx_Custom_6":2,"mx_Custom_1":"Trip","mx_Custom_5":null,"VIP":true},"note":"hi"}`)
	if resp.StatusCode != 201 || resp.Header.Get("Idempotent-Replayed") != "true" || !strings.Contains(body, `"ticket_id":null`) {
		t.Errorf("POST = %d %s (replayed %q); want 201, replayed, ticket_id null", resp.StatusCode, body, resp.Header.Get("Idempotent-Replayed"))
	}
	want := map[string]string{"mx_Custom_6": "2", "mx_Custom_1": "Trip", "mx_Custom_5": "", "VIP": "true"}
	if fmt.Sprint(stub.last.Values) != fmt.Sprint(want) || stub.last.IdempotencyKey != "abc-123" || stub.last.Note != "hi" {
		t.Errorf("submission = %+v, want values %v, key abc-123, note hi", stub.last, want)
	}
}

func TestFormPageIsFramableByLimeChatAndShowsTheStrictDateFormat(t *testing.T) {
	t.Parallel()
	srv, _, _ := setupForms(t)
	resp, body := send(t, http.MethodGet, srv.URL+"/v1/integrations/acme/tickets/42/opportunity-form/link",
		map[string]string{headerAppKey: appKey}, "")
	var link struct {
		Path, URL string
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(body), &link); err != nil || resp.StatusCode != 200 {
		t.Fatalf("link = %d %s", resp.StatusCode, body)
	}
	if !strings.HasPrefix(link.URL, srv.URL+"/v1/integrations/acme/tickets/42/opportunity-form/page?") || link.ExpiresAt != "2026-11-26T11:00:00Z" {
		t.Errorf("link %+v; want an absolute page URL expiring after the page_link_ttl", link)
	}
	u, _ := url.Parse(link.Path)
	resp, body = send(t, http.MethodGet, srv.URL+link.Path, nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("page = %d %s", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'self' https://app.limechat.test") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q: want frame-ancestors allowing LimeChat and scripts from lsqbridge only", csp)
	}
	if resp.Header.Get("X-Frame-Options") != "" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("X-Frame-Options %q, Referrer-Policy %q: the page must be framable and never leak its link",
			resp.Header.Get("X-Frame-Options"), resp.Header.Get("Referrer-Policy"))
	}
	for _, part := range []string{
		`id="f-mx_Custom_4" name="mx_Custom_4" data-field type="text" value="20/12/2026"`,
		`placeholder="YYYY-MM-DD"`,
		`<option value="Open" selected>Open</option>`,
		`id="err-mx_Custom_4"`,
		`data-exp="` + u.Query().Get("exp") + `" data-sig="` + u.Query().Get("sig") + `"`,
		`Priya &lt;b&gt;Shah&lt;/b&gt;`,
		`<script src="/v1/assets/form.js"></script>`,
	} {
		if !strings.Contains(body, part) {
			t.Errorf("page lacks %q", part)
		}
	}
	if strings.Contains(body, appKey) {
		t.Error("the page carries the Dashboard App key")
	}
}

func TestFormAssetsAndDashboardApp(t *testing.T) {
	t.Parallel()
	srv, _, _ := setupForms(t)
	tests := []struct {
		path, contentType string
		status            int
		says              string
	}{
		{"/v1/assets/form.js", "text/javascript", 200, "Idempotency-Key"},
		{"/v1/assets/dashboard.js", "text/javascript", 200, "chatwoot-dashboard-app:fetch-info"},
		{"/v1/assets/form.css", "text/css", 200, ".error"},
		{"/v1/assets/form.html", "application/json", 404, "no such asset"},
		{"/v1/assets/nope.js", "application/json", 404, "no such asset"},
		{"/v1/integrations/acme/dashboard-app", "text/html", 200, `<script src="/v1/assets/dashboard.js"></script>`},
	}
	for _, tt := range tests {
		resp, body := send(t, http.MethodGet, srv.URL+tt.path, nil, "")
		if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType) || !strings.Contains(body, tt.says) {
			t.Errorf("GET %s = %d %s %.80q; want %d %s saying %q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status, tt.contentType, tt.says)
		}
	}
	// The Dashboard App page is the same for every id: it tells nobody
	// which integrations exist or are disabled.
	_, acme := send(t, http.MethodGet, srv.URL+"/v1/integrations/acme/dashboard-app", nil, "")
	for _, id := range []string{"nope", "off"} {
		if _, other := send(t, http.MethodGet, srv.URL+"/v1/integrations/"+id+"/dashboard-app", nil, ""); other != acme {
			t.Errorf("the Dashboard App page of %s differs from acme's", id)
		}
	}
}

func TestFormSubmitPassesListsForMultiSelects(t *testing.T) {
	t.Parallel()
	srv, stub, in := setupForms(t)
	stub.submitted = &service.Submitted{OpportunityID: "opp-1"}
	hdr := linkHeaders(service.SignPage(in, 42, formsNow))
	u := srv.URL + "/v1/integrations/acme/tickets/42/opportunity-form"
	resp, body := send(t, http.MethodPost, u, hdr, `{"fields":{"mx_Custom_8":["Pool","Spa"],"mx_Custom_9":[],"Status":"Won"}}`)
	if resp.StatusCode != 201 {
		t.Fatalf("POST = %d %s", resp.StatusCode, body)
	}
	if fmt.Sprint(stub.last.Lists) != "map[mx_Custom_8:[Pool Spa] mx_Custom_9:[]]" || fmt.Sprint(stub.last.Values) != "map[Status:Won]" {
		t.Errorf("submission lists %v values %v; want the lists apart from the values", stub.last.Lists, stub.last.Values)
	}
	if resp, body := send(t, http.MethodPost, u, hdr, `{"fields":{"mx_Custom_8":[1,2]}}`); resp.StatusCode != 400 || !strings.Contains(body, "list of strings") {
		t.Errorf("a list of numbers = %d %s, want 400", resp.StatusCode, body)
	}
}

func TestFormPageRendersMultiSelectDateTimeAndDependentStage(t *testing.T) {
	t.Parallel()
	in := testIntegration()
	form := sampleForm()
	form.Fields = append(form.Fields,
		service.FormField{Schema: "mx_Custom_2", Label: "Stage", Type: "Select", Options: []string{"New", "Qualified"}, Value: "New",
			ParentField: "Status", OptionsByParent: map[string][]string{"Open": {"New", "Qualified"}, "Won": {"Booked"}}},
		service.FormField{Schema: "mx_Custom_8", Label: "Amenities", Type: service.TypeMultiSelect, Options: []string{"Pool", "Spa"}, Value: "Spa;Gym"},
		service.FormField{Schema: "mx_Custom_9", Label: "Arrival", Type: service.TypeDateTime, Options: []string{}, Value: "2026-12-20 09:30:00"},
		service.FormField{Schema: "mx_Custom_10", Label: "Source", Type: "Select", Options: []string{}, Value: "Walk-in"},
	)
	auth := &stubAuth{in: map[string]*service.Integration{"acme": in}, secrets: map[service.Power]string{service.PowerApp: appKey}}
	f := &Forms{Integrations: auth, Service: &stubForms{form: form}, Now: func() time.Time { return formsNow }}
	srv := httptest.NewServer(New(Config{Forms: f}))
	t.Cleanup(srv.Close)
	pl := service.SignPage(in, 42, formsNow)
	resp, body := send(t, http.MethodGet, srv.URL+"/v1/integrations/acme/tickets/42/opportunity-form/page?exp="+
		strconv.FormatInt(pl.Expires.Unix(), 10)+"&sig="+pl.Signature, nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("page = %d %s", resp.StatusCode, body)
	}
	for _, part := range []string{
		`data-depends-on="Status"`,
		`data-options="{&#34;Open&#34;:[&#34;New&#34;,&#34;Qualified&#34;],&#34;Won&#34;:[&#34;Booked&#34;]}"`,
		`<option value="New" selected>New</option><option value="Qualified">Qualified</option>`,
		`id="f-mx_Custom_8" name="mx_Custom_8" data-field aria-describedby="err-mx_Custom_8"`,
		`multiple size="3"`,
		`<option value="Pool">Pool</option><option value="Spa" selected>Spa</option><option value="Gym" selected data-unlisted>Gym (not an option)</option>`,
		`name="mx_Custom_9" data-field type="text" value="2026-12-20 09:30:00"`,
		`data-datetime`,
		`id="hint-mx_Custom_9"`,
		`name="mx_Custom_10" data-field type="text" value="Walk-in"`,
	} {
		if !strings.Contains(body, part) {
			t.Errorf("page lacks %q", part)
		}
	}
	if n := strings.Count(body, `multiple size=`); n != 1 {
		t.Errorf("%d multi-selects on the page, want 1", n)
	}
}
