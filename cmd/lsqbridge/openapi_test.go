package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/adapters/httpapi/openapitest"
	"github.com/lsqbridge/lsqbridge/service"
)

// checkOpenAPI is every test world's recorder: it keeps each exchange
// lsqbridge answers during the test and, once the test and its sandbox
// have ended, checks every routed one against docs/openapi.yaml (answers
// always; requests when they were accepted).
func checkOpenAPI(t testing.TB) func(http.Handler) http.Handler {
	t.Helper()
	spec, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	rec := &openapitest.Recorder{}
	// Registered before the world's own clean-ups, so it runs after them:
	// the server has stopped and every exchange is recorded.
	t.Cleanup(func() {
		if n := checkExchanges(t, spec, rec.Exchanges()); n > 0 {
			t.Logf("docs/openapi.yaml: %d recorded exchanges checked", n)
		}
	})
	return rec.Wrap
}

// checkExchanges checks each routed exchange against the document and
// returns how many it checked.
func checkExchanges(t testing.TB, spec *openapitest.Spec, xs []openapitest.Exchange) int {
	t.Helper()
	checked := 0
	for _, x := range xs {
		if x.Route == "" {
			continue // the router's 404/405 for paths no route has
		}
		checked++
		if problems := spec.Check(x); len(problems) > 0 {
			t.Errorf("docs/openapi.yaml: %s:\n  %s", x, strings.Join(problems, "\n  "))
		}
	}
	return checked
}

// TestOpenAPIEndToEndCoversEveryOperation drives every documented
// operation through the sandbox, with accepted and refused requests, and
// checks each exchange against docs/openapi.yaml; it fails when an
// operation went unexercised.
func TestOpenAPIEndToEndCoversEveryOperation(t *testing.T) {
	t.Parallel()
	spec, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	seen := &openapitest.Recorder{}
	// Checked once the world has stopped (registered first, this clean-up
	// runs last): its server has then finished every exchange.
	t.Cleanup(func() {
		xs := seen.Exchanges()
		checked := checkExchanges(t, spec, xs)
		var exercised []string
		for _, x := range xs {
			if op := x.Operation(); op != "" && !slices.Contains(exercised, op) {
				exercised = append(exercised, op)
			}
		}
		for _, op := range spec.Operations() {
			if !slices.Contains(exercised, op) {
				t.Errorf("%s was not exercised", op)
			}
		}
		t.Logf("%d exchanges checked against docs/openapi.yaml, covering all %d documented operations", checked, len(spec.Operations()))
	})
	w := newWorld(t, withAutomation, func(o *worldOptions) { o.WrapBridge = seen.Wrap })
	app := map[string]string{"X-Lsqbridge-App-Key": w.Creds.App}

	// LeadSquared and LimeChat webhooks, sent by the fakes as the platforms would.
	lead := must[service.Record](t)(w.LSQ.CreateLead(map[string]string{
		"FirstName": "Ira", "LastName": "Sen", "EmailAddress": "ira@example.com", "Phone": "+919800011122",
		"OwnerId": w.Users["ravi@acme.test"].ID,
	}))
	w.settle()
	check(t, w.LC.AssignAgent(w.ticketOf(lead.ID).ID, w.agentID("meera@acme.test")))
	w.settle()
	// A customer writing in: the automation rule's webhook (incomplete form).
	tk := w.customerTicket(service.Contact{Name: "Ira Sen", Phone: "+919800011122"},
		map[string]any{"check_in": "2026-12-20", "check_out": "2026-12-24"}, "asha@acme.test")

	// The Dashboard App, its link, the form's JSON API and the agent page.
	if a := w.call(http.MethodGet, "/v1/integrations/demo/dashboard-app/config", app, nil); a.status != http.StatusOK {
		t.Errorf("GET dashboard-app/config = %d %s", a.status, a.body)
	}
	if a := w.call(http.MethodGet, "/v1/integrations/demo/dashboard-app/config", nil, nil); a.status != http.StatusUnauthorized {
		t.Errorf("GET dashboard-app/config without the key = %d %s", a.status, a.body)
	}
	link := w.call(http.MethodGet, formPath(tk.ID)+"/link", app, nil)
	var l struct{ Path string }
	link.decode(t, &l)
	if a := w.call(http.MethodGet, l.Path, nil, nil); a.status != http.StatusOK {
		t.Errorf("GET page = %d %s", a.status, a.body)
	}
	if a := w.call(http.MethodGet, formPath(tk.ID)+"/page?exp=1&sig=bad", nil, nil); a.status != http.StatusUnauthorized {
		t.Errorf("GET page with a bad link = %d", a.status)
	}
	if a := w.call(http.MethodGet, formPath(tk.ID), w.formAuth(tk.ID), nil); a.status != http.StatusOK {
		t.Errorf("GET form = %d %s", a.status, a.body)
	}
	if a := w.call(http.MethodGet, formPath(tk.ID), nil, nil); a.status != http.StatusUnauthorized {
		t.Errorf("GET form without credentials = %d %s", a.status, a.body)
	}
	if a := w.submitForm(tk.ID, "", map[string]string{"mx_Custom_4": "20/12/2026"}); a.status != http.StatusUnprocessableEntity {
		t.Errorf("submit with a bad date = %d %s", a.status, a.body)
	}
	if a := w.submitForm(tk.ID, "e2e-1", map[string]string{"mx_Custom_2": "Qualified"}); a.status != http.StatusCreated {
		t.Errorf("submit = %d %s", a.status, a.body)
	}
	for _, p := range []string{"/v1/integrations/demo/dashboard-app", "/v1/assets/form.js", "/v1/assets/form.css", "/v1/assets/dashboard.js"} {
		if a := w.call(http.MethodGet, p, nil, nil); a.status != http.StatusOK {
			t.Errorf("GET %s = %d", p, a.status)
		}
	}

	// Refusals on the webhook routes.
	if a := w.call(http.MethodPost, "/v1/webhooks/leadsquared/demo/lead-updated", map[string]string{"X-Lsqbridge-Token": "wrong"}, map[string]any{}); a.status != http.StatusUnauthorized {
		t.Errorf("LeadSquared webhook with a wrong token = %d", a.status)
	}
	if a := w.call(http.MethodPost, "/v1/webhooks/limechat/demo", map[string]string{"X-Lsqbridge-Token": w.Creds.LimeChat}, []int{1}); a.status != http.StatusBadRequest {
		t.Errorf("LimeChat webhook with an array = %d %s", a.status, a.body)
	}
	if a := w.call(http.MethodPost, "/v1/webhooks/limechat/demo/automation", map[string]string{"X-Lsqbridge-Token": w.Creds.LimeChat}, map[string]any{"event": "automation_event.conversation_created"}); a.status != http.StatusUnauthorized {
		t.Errorf("automation webhook with the LimeChat credential = %d %s", a.status, a.body)
	}

	// Operations.
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/healthz"}, {http.MethodHead, "/healthz"}, {http.MethodGet, "/readyz"}, {http.MethodHead, "/readyz"},
		{http.MethodGet, "/metrics"}, {http.MethodHead, "/v1/webhooks/leadsquared/demo/lead-created"},
	} {
		if a := w.call(r.method, r.path, nil, nil); a.status != http.StatusOK {
			t.Errorf("%s %s = %d", r.method, r.path, a.status)
		}
	}

	w.settle()
}
