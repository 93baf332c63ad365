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

type stubIntegrations map[string]*service.Integration

func (s stubIntegrations) Get(_ context.Context, id string) (*service.Integration, error) {
	if in, ok := s[id]; ok {
		return in, nil
	}
	return nil, service.ErrIntegrationNotFound
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

var formsNow = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func testIntegration() *service.Integration {
	return &service.Integration{ID: "acme", TokenHash: service.HashToken("the-token"), LimeChatURL: "https://app.limechat.test/",
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
	t.Helper()
	in := testIntegration()
	stub := &stubForms{form: sampleForm()}
	f := &Forms{Integrations: stubIntegrations{"acme": in}, Service: stub, Now: func() time.Time { return formsNow }}
	srv := httptest.NewServer(New(Config{Forms: f}))
	t.Cleanup(srv.Close)
	return srv, stub, in
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

func TestFormRoutesAuthenticateByTokenSignedLinkOrAppKey(t *testing.T) {
	t.Parallel()
	srv, _, in := setupForms(t)
	pl := service.SignPage(in, 42, formsNow)
	exp := strconv.FormatInt(pl.Expires.Unix(), 10)
	stale := service.SignPage(in, 42, formsNow.Add(-2*time.Hour))
	staleExp := strconv.FormatInt(stale.Expires.Unix(), 10)
	linkHeaders := func(exp, sig string) map[string]string {
		return map[string]string{headerLinkExpires: exp, headerLinkSignature: sig}
	}
	form := "/v1/integrations/acme/tickets/42/opportunity-form"
	tests := []struct {
		name   string
		path   string
		header map[string]string
		status int
		says   string
	}{
		{"no credentials", form, nil, 401, "X-Lsqbridge-Token"},
		{"wrong token", form, map[string]string{"X-Lsqbridge-Token": "nope"}, 401, "wrong integration token"},
		{"token header", form, map[string]string{"X-Lsqbridge-Token": "the-token"}, 200, `"mx_Custom_4"`},
		{"token query", form + "?token=the-token", nil, 200, `"mx_Custom_4"`},
		{"signed link headers", form, linkHeaders(exp, pl.Signature), 200, `"mx_Custom_4"`},
		{"expired link", form, linkHeaders(staleExp, stale.Signature), 403, "expired"},
		{"link of another ticket", "/v1/integrations/acme/tickets/43/opportunity-form", linkHeaders(exp, pl.Signature), 403, "not valid"},
		{"app key is not enough for the form", form, map[string]string{headerAppKey: service.DashboardAppKey(in)}, 401, "X-Lsqbridge-Token"},
		{"unknown integration", "/v1/integrations/nope/tickets/42/opportunity-form", nil, 404, "unknown integration"},
		{"link by token", form + "/link", map[string]string{"X-Lsqbridge-Token": "the-token"}, 200, "dashboard_app_url"},
		{"link by app key", form + "/link", map[string]string{headerAppKey: service.DashboardAppKey(in)}, 200, `"path"`},
		{"link by wrong app key", form + "/link", map[string]string{headerAppKey: "guess"}, 403, "Dashboard App key"},
		{"a signed link cannot renew itself", form + "/link", linkHeaders(exp, pl.Signature), 401, "X-Lsqbridge-Token"},
		{"token query not accepted for links", form + "/link?token=the-token", nil, 401, "X-Lsqbridge-Token"},
		{"page without signature", form + "/page", nil, 401, "X-Lsqbridge-Token"},
		{"page with expired link", form + "/page?exp=" + staleExp + "&sig=" + stale.Signature, nil, 403, "expired"},
		{"page with signed link", form + "/page?exp=" + exp + "&sig=" + pl.Signature, nil, 200, "Check-in"},
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
			h := map[string]string{"X-Lsqbridge-Token": "the-token", "Content-Type": "application/json"}
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
	srv, stub, _ := setupForms(t)
	stub.submitted = &service.Submitted{OpportunityID: "opp-1", State: "pending_ticket", Replayed: true}
	resp, body := send(t, http.MethodPost, srv.URL+"/v1/integrations/acme/tickets/42/opportunity-form",
		map[string]string{"X-Lsqbridge-Token": "the-token", "Idempotency-Key": "abc-123"},
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
		map[string]string{"X-Lsqbridge-Token": "the-token"}, "")
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
	if strings.Contains(body, "the-token") {
		t.Error("the page carries the integration token")
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
		{"/v1/integrations/acme/dashboard-app", "text/html", 200, `data-origin="https://app.limechat.test"`},
	}
	for _, tt := range tests {
		resp, body := send(t, http.MethodGet, srv.URL+tt.path, nil, "")
		if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType) || !strings.Contains(body, tt.says) {
			t.Errorf("GET %s = %d %s %.80q; want %d %s saying %q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status, tt.contentType, tt.says)
		}
	}
}

func TestFormSubmitPassesListsForMultiSelects(t *testing.T) {
	t.Parallel()
	srv, stub, _ := setupForms(t)
	stub.submitted = &service.Submitted{OpportunityID: "opp-1"}
	hdr := map[string]string{"X-Lsqbridge-Token": "the-token"}
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
	f := &Forms{Integrations: stubIntegrations{"acme": in}, Service: &stubForms{form: form}, Now: func() time.Time { return formsNow }}
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
