package httpapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lsqbridge/lsqbridge/adapters/httpapi/openapitest"
)

// registeredOperations walks the router with every optional part present
// and lists each route × method as "METHOD /path/{param}".
func registeredOperations(t *testing.T) []string {
	t.Helper()
	h := New(Config{Registry: prometheus.NewRegistry(), Webhooks: &Webhooks{}, Forms: &Forms{}})
	r, ok := h.(*mux.Router)
	if !ok {
		t.Fatalf("New returns %T, want *mux.Router", h)
	}
	var out []string
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s registers no methods: every route must name them", tpl)
			return nil
		}
		for _, m := range methods {
			out = append(out, openapitest.Operation(m, tpl))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestOpenAPIDocumentsEveryRouteAndNothingElse(t *testing.T) {
	t.Parallel()
	spec, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(spec.Version(), "3.1") {
		t.Errorf("docs/openapi.yaml is OpenAPI %s, want 3.1", spec.Version())
	}
	routes := registeredOperations(t)
	documented := spec.Operations()
	for _, op := range routes {
		if !slices.Contains(documented, op) {
			t.Errorf("the router registers %s; docs/openapi.yaml does not document it", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(routes, op) {
			t.Errorf("docs/openapi.yaml documents %s; the router has no such route", op)
		}
	}
	if len(routes) < 15 {
		t.Errorf("walked only %d operations: %v", len(routes), routes)
	}
	if !t.Failed() {
		t.Logf("%d operations registered, all documented and nothing else", len(routes))
	}
}

// TestOpenAPICheckCatchesAnswersOffTheDocument makes sure the exchange
// check can fail: answers the document does not allow are reported.
func TestOpenAPICheckCatchesAnswersOffTheDocument(t *testing.T) {
	t.Parallel()
	spec, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	json := http.Header{"Content-Type": {"application/json"}}
	linkHeaders := http.Header{"Content-Type": {"application/json"}, "X-Lsqbridge-Link-Expires": {"1800000000"}, "X-Lsqbridge-Link-Signature": {"s"}}
	created := []byte(`{"opportunity_id":"o","lead_id":"l","ticket_id":4,"link_id":1,"state":"active","owner_email":"","lead_created":false}`)
	cases := []struct {
		name string
		x    openapitest.Exchange
		ok   bool
	}{
		{"healthz as served", openapitest.Exchange{Method: "GET", URL: "/healthz", Status: 200, RespHdr: json, Resp: []byte(`{"status":"ok"}`)}, true},
		{"healthz with an undocumented status", openapitest.Exchange{Method: "GET", URL: "/healthz", Status: 418, RespHdr: json, Resp: []byte(`{"status":"ok"}`)}, false},
		{"healthz with a body off the schema", openapitest.Exchange{Method: "GET", URL: "/healthz", Status: 200, RespHdr: json, Resp: []byte(`{"status":5}`)}, false},
		{"healthz as text", openapitest.Exchange{Method: "GET", URL: "/healthz", Status: 200, RespHdr: http.Header{"Content-Type": {"text/plain"}}, Resp: []byte(`ok`)}, false},
		{"undocumented route", openapitest.Exchange{Method: "GET", URL: "/v1/nothing", Status: 200, RespHdr: json, Resp: []byte(`{}`)}, false},
		{"form submit with an unknown key", openapitest.Exchange{Method: "POST", URL: "/v1/integrations/acme/tickets/4/opportunity-form",
			Header: linkHeaders, Body: []byte(`{"fieldz":{}}`),
			Status: 201, RespHdr: json, Resp: []byte(`{"opportunity_id":"o","lead_id":"l","ticket_id":4,"link_id":1,"state":"active","owner_email":"","lead_created":false}`)}, false},
		{"LeadSquared webhook accepted with a body that is not JSON", openapitest.Exchange{Method: "POST", URL: "/v1/webhooks/leadsquared/acme/lead-updated",
			Header: http.Header{"Content-Type": {"application/json"}, "X-Lsqbridge-Token": {"t"}}, Body: []byte(`{"Prospect`),
			Status: 200, RespHdr: json, Resp: []byte(`{"Status":"Success","StatusReason":"[applied]"}`)}, false},
		{"LeadSquared webhook refused (200, Status Error) for a body that is not JSON", openapitest.Exchange{Method: "POST", URL: "/v1/webhooks/leadsquared/acme/lead-updated",
			Header: http.Header{"Content-Type": {"application/json"}, "X-Lsqbridge-Token": {"t"}}, Body: []byte(`{"Prospect`),
			Status: 200, RespHdr: json, Resp: []byte(`{"Status":"Error","StatusReason":"not JSON"}`)}, true},
		{"form submit with a webhook token instead of a link", openapitest.Exchange{Method: "POST", URL: "/v1/integrations/acme/tickets/4/opportunity-form",
			Header: http.Header{"Content-Type": {"application/json"}, "X-Lsqbridge-Token": {"t"}}, Body: []byte(`{"fields":{}}`),
			Status: 201, RespHdr: json, Resp: created}, false},
		{"form submit as served", openapitest.Exchange{Method: "POST", URL: "/v1/integrations/acme/tickets/4/opportunity-form",
			Header: linkHeaders, Body: []byte(`{"fields":{"mx_Custom_4":"2026-12-20","n":2,"tags":["a","b"]}}`),
			Status: 201, RespHdr: http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}},
			Resp: []byte(`{"opportunity_id":"o","lead_id":"l","ticket_id":null,"link_id":1,"state":"pending_ticket","owner_email":"","lead_created":false}`)}, true},
	}
	for _, c := range cases {
		problems := spec.Check(c.x)
		if c.ok && len(problems) > 0 {
			t.Errorf("%s: reported %v, want no problem", c.name, problems)
		}
		if !c.ok && len(problems) == 0 {
			t.Errorf("%s: no problem reported", c.name)
		}
		if !c.ok {
			t.Logf("%s: %s", c.name, strings.Join(problems, "; "))
		}
	}
}

// TestOpenAPIRecorderKeepsWhatTheRouterAnswered checks the recording
// middleware the end-to-end tests use, on the real router.
func TestOpenAPIRecorderKeepsWhatTheRouterAnswered(t *testing.T) {
	t.Parallel()
	spec, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	var rec openapitest.Recorder
	srv := httptest.NewServer(rec.Wrap(New(Config{Registry: prometheus.NewRegistry(), Forms: &Forms{}})))
	defer srv.Close()
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/v1/assets/form.js", "/v1/assets/form.css", "/v1/assets/nope.txt", "/no-such-route"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Head(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close() // waits for the handlers: a client can have its answer before the recorder has it
	xs := rec.Exchanges()
	if len(xs) != 8 {
		t.Fatalf("recorded %d exchanges, want 8", len(xs))
	}
	for _, x := range xs {
		if x.Route == "" {
			if x.URL != "/no-such-route" {
				t.Errorf("%s: no route noted", x)
			}
			continue
		}
		if problems := spec.Check(x); len(problems) > 0 {
			t.Errorf("%s: %s", x, strings.Join(problems, "\n  "))
		}
	}
}
