package limechat

import (
	"context"
	"net/http"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// This file lists every helpdesk client method once, with a canned success
// answer, the request it must send and the result it must return. The
// scenarios in client_test.go run each of them through every failure mode.

const (
	testToken   = "tok-7f3c9a-DO-NOT-LEAK"
	testAccount = 7
	accountPath = "/api/v1/accounts/7"
)

// methodCase is one client method under test.
type methodCase struct {
	name      string
	method    string
	path      string // under accountPath
	query     string // expected raw query, "" for none
	ok        string // success body
	call      func(context.Context, *Client) (any, error)
	want      any
	wantBody  string // expected request body (compact JSON), "" for none
	wantWrite bool   // the method changes state (decode failures are uncertain)
}

const restContact = `{"id":5,"name":"Asha Rao","email":"asha@example.com","phone_number":"+919812345678","identifier":"lead-L-1","thumbnail":"","custom_attributes":{"city":"Pune"},"additional_attributes":{},"created_at":1717240000}`

const restConversation = `{"meta":{"sender":` + restContact + `,"channel":"Channel::Api",
 "assignee":{"id":3,"account_id":7,"name":"Ravi K","available_name":"Ravi","email":"ravi@example.com","confirmed":true,"role":"agent"},"hmac_verified":false},
 "id":42,"messages":[{"id":9,"content":"New lead","account_id":7}],"account_id":7,"uuid":"u-1","inbox_id":1,"status":"open",
 "labels":["hot"],"custom_attributes":{"lsq_record_id":"L-1"},"updated_at":1717243200.123456,"timestamp":1717243100,"created_at":1717243000}`

var (
	wantContact = service.Contact{ID: 5, Name: "Asha Rao", Email: "asha@example.com", Phone: "+919812345678", Identifier: "lead-L-1", CustomAttributes: map[string]any{"city": "Pune"}}
	wantTicket  = service.Ticket{
		ID: 42, AccountID: 7, InboxID: 1, Status: "open", AssigneeID: 3, AssigneeEmail: "ravi@example.com",
		Labels: []string{"hot"}, CustomAttributes: map[string]any{"lsq_record_id": "L-1"}, Contact: wantContact,
		UpdatedAt: time.Unix(1717243200, 123456000).UTC(),
	}
)

func methodCases() []methodCase {
	return []methodCase{
		{
			name: "SearchContacts", method: http.MethodGet, path: "/contacts/search", query: "page=1&q=%2B919812345678",
			ok: `{"meta":{"count":1,"current_page":"1"},"payload":[` + restContact + `]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.SearchContacts(ctx, "+919812345678")
			},
			want: []service.Contact{wantContact},
		},
		{
			name: "Contact", method: http.MethodGet, path: "/contacts/5",
			ok:   `{"payload":` + restContact + `}`,
			call: func(ctx context.Context, c *Client) (any, error) { return c.Contact(ctx, 5) },
			want: wantContact,
		},
		{
			name: "CreateContact", method: http.MethodPost, path: "/contacts", wantWrite: true,
			ok: `{"payload":{"contact":` + restContact + `,"contact_inbox":{"inbox":{"id":1},"source_id":"s-1"}}}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateContact(ctx, 1, service.Contact{Name: "Asha Rao", Email: "asha@example.com", Phone: "+919812345678", Identifier: "lead-L-1", CustomAttributes: map[string]any{"city": "Pune"}})
			},
			want:     wantContact,
			wantBody: `{"inbox_id":1,"name":"Asha Rao","email":"asha@example.com","phone_number":"+919812345678","identifier":"lead-L-1","custom_attributes":{"city":"Pune"}}`,
		},
		{
			name: "CreateConversation", method: http.MethodPost, path: "/conversations", wantWrite: true,
			ok: restConversation,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateConversation(ctx, service.NewConversation{InboxID: 1, ContactID: 5, AssigneeID: 3, Status: "open", CustomAttributes: map[string]any{"lsq_record_id": "L-1"}, Message: "New lead"})
			},
			want:     wantTicket,
			wantBody: `{"inbox_id":1,"contact_id":5,"assignee_id":3,"status":"open","custom_attributes":{"lsq_record_id":"L-1"},"message":{"content":"New lead"}}`,
		},
		{
			name: "GetConversation", method: http.MethodGet, path: "/conversations/42",
			ok:   restConversation,
			call: func(ctx context.Context, c *Client) (any, error) { return c.GetConversation(ctx, 42) },
			want: wantTicket,
		},
		{
			name: "FindConversationsByAttribute", method: http.MethodPost, path: "/conversations/filter", query: "page=1",
			ok: `{"meta":{"mine_count":0,"unassigned_count":0,"all_count":1},"payload":[` + restConversation + `]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.FindConversationsByAttribute(ctx, "lsq_record_id", "L-1")
			},
			want:     []service.Ticket{wantTicket},
			wantBody: `{"payload":[{"attribute_key":"lsq_record_id","filter_operator":"equal_to","values":["L-1"],"query_operator":null}]}`,
		},
		{
			name: "Assign", method: http.MethodPost, path: "/conversations/42/assignments", wantWrite: true,
			ok:       `{"id":3,"email":"ravi@example.com","name":"Ravi K"}`,
			call:     func(ctx context.Context, c *Client) (any, error) { return nil, c.Assign(ctx, 42, 3) },
			wantBody: `{"assignee_id":3}`,
		},
		{
			name: "Assign/unassign", method: http.MethodPost, path: "/conversations/42/assignments", wantWrite: true,
			ok:       `null`,
			call:     func(ctx context.Context, c *Client) (any, error) { return nil, c.Assign(ctx, 42, 0) },
			wantBody: `{"assignee_id":null}`,
		},
		{
			name: "Labels", method: http.MethodGet, path: "/conversations/42/labels",
			ok:   `{"payload":["hot","vip"]}`,
			call: func(ctx context.Context, c *Client) (any, error) { return c.Labels(ctx, 42) },
			want: []string{"hot", "vip"},
		},
		{
			name: "SetLabels", method: http.MethodPost, path: "/conversations/42/labels", wantWrite: true,
			ok:       `{"payload":["hot","vip"]}`,
			call:     func(ctx context.Context, c *Client) (any, error) { return c.SetLabels(ctx, 42, []string{"hot", "vip"}) },
			want:     []string{"hot", "vip"},
			wantBody: `{"labels":["hot","vip"]}`,
		},
		{
			name: "SetLabels/clear", method: http.MethodPost, path: "/conversations/42/labels", wantWrite: true,
			ok:       `{"payload":[]}`,
			call:     func(ctx context.Context, c *Client) (any, error) { return c.SetLabels(ctx, 42, nil) },
			want:     []string{},
			wantBody: `{"labels":[]}`,
		},
		{
			name: "SetCustomAttributes", method: http.MethodPost, path: "/conversations/42/custom_attributes", wantWrite: true,
			ok: `{"custom_attributes":{"lsq_record_id":"L-1","score":3}}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.SetCustomAttributes(ctx, 42, map[string]any{"lsq_record_id": "L-1", "score": 3})
			},
			wantBody: `{"custom_attributes":{"lsq_record_id":"L-1","score":3}}`,
		},
		{
			name: "Agents", method: http.MethodGet, path: "/agents",
			ok: `[{"id":3,"account_id":7,"availability_status":"online","confirmed":true,"email":"ravi@example.com","available_name":"Ravi","name":"Ravi K","role":"agent"},
			      {"id":4,"account_id":7,"confirmed":false,"email":"new@example.com","name":"New Hire","role":"administrator"}]`,
			call: func(ctx context.Context, c *Client) (any, error) { return c.Agents(ctx) },
			want: []service.User{
				{ID: "3", Email: "ravi@example.com", Name: "Ravi K", Active: true},
				{ID: "4", Email: "new@example.com", Name: "New Hire"},
			},
		},
	}
}
