package limechatfake_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/service"
)

// TestWireShapes checks the fake's raw answers against Chatwoot's shapes,
// including its error bodies.
func TestWireShapes(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	newTicket(t, e)
	fb := http.Header{"x-fb-account-id": {fbAccount}, "x-limechat-uat": {fbKey}}
	cases := []struct {
		name       string
		method     string
		path       string
		body       string
		header     http.Header
		wantStatus int
		wantBody   string // exact JSON, compacted; "" skips the check
	}{
		{"no token", "GET", "/api/v1/accounts/12/agents", "", nil, 401, `{"error":"Invalid Access Token"}`},
		{"wrong token", "GET", "/api/v1/accounts/12/agents", "", helpdeskAuth("nope"), 401, `{"error":"Invalid Access Token"}`},
		{"other account", "GET", "/api/v1/accounts/13/agents", "", helpdeskAuth(token), 401, `{"error":"You are not authorized to access this account"}`},
		{"missing conversation", "GET", "/api/v1/accounts/12/conversations/99", "", helpdeskAuth(token), 404, `{"error":"Resource could not be found"}`},
		{"non-numeric id", "GET", "/api/v1/accounts/12/conversations/abc", "", helpdeskAuth(token), 404, `{"error":"Resource could not be found"}`},
		{"unknown route", "GET", "/api/v1/accounts/12/nothing", "", helpdeskAuth(token), 404, `{"error":"Resource could not be found"}`},
		{"wrong method", "DELETE", "/api/v1/accounts/12/agents", "", helpdeskAuth(token), 404, ""},
		{"bad JSON", "POST", "/api/v1/accounts/12/contacts", "{", helpdeskAuth(token), 400, ""},
		{"duplicate phone", "POST", "/api/v1/accounts/12/contacts", `{"name":"X","phone_number":"+919812345678"}`, helpdeskAuth(token), 422,
			`{"attributes":["phone_number"],"message":"Phone number has already been taken"}`},
		{"unknown inbox", "POST", "/api/v1/accounts/12/contacts", `{"inbox_id":9,"name":"X"}`, helpdeskAuth(token), 404, ""},
		{"invalid status", "POST", "/api/v1/accounts/12/conversations", `{"inbox_id":3,"contact_id":1,"status":"closed"}`, helpdeskAuth(token), 422, ""},
		{"filter operator", "POST", "/api/v1/accounts/12/conversations/filter", `{"payload":[{"attribute_key":"k","filter_operator":"contains","values":["v"]}]}`, helpdeskAuth(token), 422, ""},
		{"labels", "GET", "/api/v1/accounts/12/conversations/1/labels", "", helpdeskAuth(token), 200, `{"payload":[]}`},
		{"unassign answers null", "POST", "/api/v1/accounts/12/conversations/1/assignments", `{"assignee_id":null}`, helpdeskAuth(token), 200, `null`},
		{"custom attributes", "POST", "/api/v1/accounts/12/conversations/1/custom_attributes", `{"custom_attributes":{"a":1}}`, helpdeskAuth(token), 200, `{"custom_attributes":{"a":1}}`},
		{"flow event", "POST", "/api/v1/cvf-events", `{"distinct_id":"d","phone":"91","event":"stage_won","data":{"x":1}}`, fb, 200, `{"status":"ok"}`},
		{"flow event without headers", "POST", "/api/v1/cvf-events", `{"distinct_id":"d","event":"e"}`, nil, 401, ""},
		{"flow event with wrong key", "POST", "/api/v1/cvf-events", `{"distinct_id":"d","event":"e"}`, http.Header{"x-fb-account-id": {fbAccount}, "x-limechat-uat": {"x"}}, 401, ""},
		{"flow event with a space", "POST", "/api/v1/cvf-events", `{"distinct_id":"d","event":"stage won"}`, fb, 422, ""},
		{"flow event without distinct_id", "POST", "/api/v1/cvf-events", `{"event":"e"}`, fb, 422, ""},
	}
	for _, tc := range cases {
		r := rawRequest(t, e, tc.method, tc.path, tc.body, tc.header)
		if r.status != tc.wantStatus {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, r.status, tc.wantStatus, r.body)
			continue
		}
		if tc.wantBody != "" {
			var got bytes.Buffer
			if err := json.Compact(&got, r.body); err != nil || got.String() != tc.wantBody {
				t.Errorf("%s: body %s, want %s", tc.name, r.body, tc.wantBody)
			}
		}
	}
	if got := e.fake.FlowEvents(); len(got) != 1 || got[0].DistinctID != "d" || got[0].Phone != "91" || got[0].Event != "stage_won" || got[0].Data["x"] != 1.0 {
		t.Errorf("flow events %+v", got)
	}
	// No call record carries a credential.
	for _, c := range e.fake.Calls() {
		all := c.Method + c.Path + c.Query + string(c.Body)
		if strings.Contains(all, token) || strings.Contains(all, fbKey) {
			t.Errorf("call record holds a credential: %+v", c)
		}
	}
}

// TestAssigneeShapes: the REST conversation has meta.assignee with e-mail
// (absent when unassigned); the webhook has one without e-mail (null when
// unassigned) and an account id only inside messages.
func TestAssigneeShapes(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	tk := must(e.fake.CreateConversationByPerson(service.Contact{Name: "Asha", Phone: "+919812345678"}))(t)
	e.fake.AddAgent("Ravi", "ravi@example.com")

	type meta struct {
		Meta struct {
			Assignee *map[string]any `json:"assignee"`
		} `json:"meta"`
		AccountID *int64 `json:"account_id"`
		Messages  []struct {
			AccountID int64 `json:"account_id"`
		} `json:"messages"`
	}
	read := func(b []byte) (m meta, raw map[string]any) {
		t.Helper()
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(b, &raw)
		return m, raw
	}

	r := rawRequest(t, e, "GET", "/api/v1/accounts/12/conversations/1", "", helpdeskAuth(token))
	_, raw := read(r.body)
	if _, present := raw["meta"].(map[string]any)["assignee"]; present {
		t.Errorf("REST unassigned conversation has meta.assignee: %s", r.body)
	}
	ds := e.take(t)
	m, raw := read(ds[0].body)
	if v, present := raw["meta"].(map[string]any)["assignee"]; !present || v != nil {
		t.Errorf("webhook unassigned meta.assignee = %v (present %v), want null", v, present)
	}
	if m.AccountID != nil || len(m.Messages) != 1 || m.Messages[0].AccountID != 12 {
		t.Errorf("webhook account ids: top %v, messages %+v", m.AccountID, m.Messages)
	}

	if err := e.fake.AssignAgent(tk.ID, 1); err != nil {
		t.Fatal(err)
	}
	r = rawRequest(t, e, "GET", "/api/v1/accounts/12/conversations/1", "", helpdeskAuth(token))
	if m, _ := read(r.body); m.Meta.Assignee == nil || (*m.Meta.Assignee)["email"] != "ravi@example.com" {
		t.Errorf("REST assignee %s", r.body)
	}
	ds = e.take(t)
	if m, _ := read(ds[0].body); m.Meta.Assignee == nil || (*m.Meta.Assignee)["email"] != nil || (*m.Meta.Assignee)["id"] != 1.0 {
		t.Errorf("webhook assignee %s", ds[0].body)
	}
}
