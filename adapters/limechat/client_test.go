package limechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

func newTestClient(srv *scripted, timeout time.Duration) *Client {
	return New(Config{BaseURL: srv.url + "/", AccountID: testAccount, APIToken: testToken, Timeout: timeout, HTTPClient: srv.client})
}

// sameJSON compares values by their JSON form (times as RFC 3339, maps sorted).
func sameJSON(t *testing.T, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("result\n got %s\nwant %s", g, w)
	}
}

func asAPIError(t *testing.T, err error) *APIError {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *APIError", err, err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error text leaks the token: %q", err.Error())
	}
	return ae
}

// TestClientMethods runs every method through every answer the platform
// may give.
func TestClientMethods(t *testing.T) {
	t.Parallel()
	for _, mc := range methodCases() {
		t.Run(mc.name, func(t *testing.T) {
			t.Parallel()
			for _, sc := range scenarios() {
				if sc.name == "unreadable success body" && mc.want == nil {
					continue // the method reads no answer body: nothing to garble
				}
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					sc.run(t, mc)
				})
			}
		})
	}
}

type scenario struct {
	name string
	run  func(t *testing.T, mc methodCase)
}

func scenarios() []scenario {
	return []scenario{
		{"success", func(t *testing.T, mc methodCase) {
			srv := newScripted(t, reply{body: mc.ok, header: map[string]string{"Content-Type": "application/json"}})
			got, err := mc.call(context.Background(), newTestClient(srv, time.Second))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			sameJSON(t, got, mc.want)
			reqs := srv.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != mc.method || r.Path != accountPath+mc.path || r.Query != mc.query {
				t.Errorf("request %s %s?%s, want %s %s?%s", r.Method, r.Path, r.Query, mc.method, accountPath+mc.path, mc.query)
			}
			if r.Header.Get("api_access_token") != testToken {
				t.Errorf("api_access_token header = %q", r.Header.Get("api_access_token"))
			}
			if string(r.Body) != mc.wantBody {
				t.Errorf("body\n got %s\nwant %s", r.Body, mc.wantBody)
			}
		}},
		{"401 is permanent", func(t *testing.T, mc methodCase) {
			srv := newScripted(t, reply{status: 401, body: `{"error":"Invalid Access Token"}`})
			_, err := mc.call(context.Background(), newTestClient(srv, time.Second))
			ae := asAPIError(t, err)
			if ae.StatusCode != 401 || ae.Class() != service.ClassPermanent || ae.Message != "Invalid Access Token" || errors.Is(err, service.ErrNotFound) {
				t.Errorf("got %+v class %v", ae, ae.Class())
			}
			if n := len(srv.requests()); n != 1 {
				t.Errorf("%d requests, want 1 (no retry)", n)
			}
		}},
		{"404 wraps ErrNotFound", func(t *testing.T, mc methodCase) {
			srv := newScripted(t, reply{status: 404, body: `{"error":"Resource could not be found"}`})
			_, err := mc.call(context.Background(), newTestClient(srv, time.Second))
			ae := asAPIError(t, err)
			if !errors.Is(err, service.ErrNotFound) || ae.Class() != service.ClassPermanent || ae.Message != "Resource could not be found" {
				t.Errorf("got %v class %v", err, ae.Class())
			}
		}},
		{"422 carries message and attributes", func(t *testing.T, mc methodCase) {
			srv := newScripted(t, reply{status: 422, body: `{"message":"Email has already been taken","attributes":["email"]}`})
			_, err := mc.call(context.Background(), newTestClient(srv, time.Second))
			ae := asAPIError(t, err)
			if ae.Class() != service.ClassPermanent || ae.Message != "Email has already been taken" || len(ae.Attributes) != 1 || ae.Attributes[0] != "email" {
				t.Errorf("got %+v", ae)
			}
		}},
		{"429 with long Retry-After returns at once", func(t *testing.T, mc methodCase) {
			srv := newScripted(t, reply{status: 429, header: map[string]string{"Retry-After": "30"}, body: "Retry later\n"})
			_, err := mc.call(context.Background(), newTestClient(srv, time.Second))
			class, after := service.ClassOf(err)
			if class != service.ClassRateLimited || after != 30*time.Second {
				t.Errorf("class %v after %v, want rate_limited 30s (%v)", class, after, err)
			}
			if n := len(srv.requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		}},
		{"429 with HTTP-date Retry-After", func(t *testing.T, mc methodCase) {
			date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
			srv := newScripted(t, reply{status: 429, header: map[string]string{"Retry-After": date}})
			_, err := mc.call(context.Background(), newTestClient(srv, time.Second))
			class, after := service.ClassOf(err)
			if class != service.ClassRateLimited || after < 80*time.Second || after > 90*time.Second {
				t.Errorf("class %v after %v, want rate_limited ~90s", class, after)
			}
		}},
		{"429 with short Retry-After is retried", func(t *testing.T, mc methodCase) {
			srv := newScripted(t, reply{status: 429, header: map[string]string{"Retry-After": "0"}}, reply{body: mc.ok})
			got, err := mc.call(context.Background(), newTestClient(srv, time.Second))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			sameJSON(t, got, mc.want)
			if n := len(srv.requests()); n != 2 {
				t.Errorf("%d requests, want 2", n)
			}
		}},
		{"5xx then success", func(t *testing.T, mc methodCase) {
			srv := newScripted(t,
				reply{status: 503, body: "<html>Service Unavailable</html>"},
				reply{status: 500, body: `{"error":"Internal Server Error"}`},
				reply{body: mc.ok})
			got, err := mc.call(context.Background(), newTestClient(srv, time.Second))
			if strings.HasPrefix(mc.name, "Create") {
				// A create that reached the server is never sent twice in
				// one call: the 5xx may have created it.
				if err == nil || len(srv.requests()) != 1 {
					t.Fatalf("create after a 5xx: err %v, %d requests; want the error and 1 request", err, len(srv.requests()))
				}
				return
			}
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			sameJSON(t, got, mc.want)
			if n := len(srv.requests()); n != 3 {
				t.Errorf("%d requests, want 3", n)
			}
		}},
		{"5xx until retries run out", func(t *testing.T, mc methodCase) {
			srv := newScripted(t, reply{status: 502, body: "Bad Gateway"})
			_, err := mc.call(context.Background(), newTestClient(srv, time.Second))
			ae := asAPIError(t, err)
			wantClass, want := service.ClassRetryable, 1+defaultRetries
			if strings.HasPrefix(mc.name, "Create") {
				// It may have been created before the failure.
				wantClass, want = service.ClassUncertain, 1
			}
			if ae.Class() != wantClass || ae.StatusCode != 502 || ae.Message != "Bad Gateway" {
				t.Errorf("got %+v class %v", ae, ae.Class())
			}
			if n := len(srv.requests()); n != want {
				t.Errorf("%d requests, want %d", n, want)
			}
		}},
		{"context cancelled before the call", func(t *testing.T, mc methodCase) {
			srv := newScripted(t, reply{body: mc.ok})
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := mc.call(ctx, newTestClient(srv, time.Second))
			asAPIError(t, err)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v does not wrap context.Canceled", err)
			}
			if n := len(srv.requests()); n != 0 {
				t.Errorf("%d requests, want 0", n)
			}
		}},
		{"context cancelled while waiting for the answer", func(t *testing.T, mc methodCase) {
			srv := newScripted(t, reply{hang: true})
			ctx, cancel := context.WithCancel(context.Background())
			go func() { <-srv.arrived; cancel() }()
			_, err := mc.call(ctx, newTestClient(srv, 10*time.Second))
			ae := asAPIError(t, err)
			if !errors.Is(err, context.Canceled) || ae.Class() != service.ClassUncertain {
				t.Errorf("got %v class %v, want context.Canceled and uncertain", err, ae.Class())
			}
		}},
		{"no answer after the request was written is uncertain and not retried", func(t *testing.T, mc methodCase) {
			srv := newScripted(t, reply{hang: true})
			_, err := mc.call(context.Background(), newTestClient(srv, 100*time.Millisecond))
			ae := asAPIError(t, err)
			if ae.Class() != service.ClassUncertain || ae.StatusCode != 0 {
				t.Errorf("got %v class %v, want uncertain", err, ae.Class())
			}
			if n := len(srv.requests()); n != 1 {
				t.Errorf("%d requests, want exactly 1", n)
			}
		}},
		{"failure before the request left is retried", func(t *testing.T, mc methodCase) {
			var attempts atomic.Int32
			hc := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
				attempts.Add(1)
				return nil, errors.New("dial tcp: connection refused")
			})}
			c := New(Config{BaseURL: "http://limechat.invalid", AccountID: testAccount, APIToken: testToken, HTTPClient: hc})
			_, err := mc.call(context.Background(), c)
			ae := asAPIError(t, err)
			if ae.Class() != service.ClassRetryable || attempts.Load() != 1+defaultRetries {
				t.Errorf("class %v after %d attempts, want retryable after %d", ae.Class(), attempts.Load(), 1+defaultRetries)
			}
		}},
		{"unreadable success body", func(t *testing.T, mc methodCase) {
			srv := newScripted(t, reply{body: `{"payload":`})
			_, err := mc.call(context.Background(), New(Config{BaseURL: srv.url, HTTPClient: srv.client, AccountID: testAccount, APIToken: testToken, Retries: -1}))
			ae := asAPIError(t, err)
			want := service.ClassRetryable
			if mc.wantWrite {
				want = service.ClassUncertain
			}
			if ae.Class() != want {
				t.Errorf("class %v, want %v (%v)", ae.Class(), want, err)
			}
		}},
	}
}

// TestTokenNeverInErrors makes every kind of failure while the server
// echoes the token back, and checks no error text contains it.
func TestTokenNeverInErrors(t *testing.T) {
	t.Parallel()
	echo := `{"error":"token ` + testToken + ` is not valid"}`
	cases := []struct {
		name    string
		replies []reply
		timeout time.Duration
	}{
		{"401 echoing the token", []reply{{status: 401, body: echo}}, time.Second},
		{"422 echoing the token", []reply{{status: 422, body: `{"message":"` + testToken + `","attributes":["` + testToken + `"]}`}}, time.Second},
		{"500 plain text echoing the token", []reply{{status: 500, body: "boom " + testToken}}, time.Second},
		{"429", []reply{{status: 429, header: map[string]string{"Retry-After": "60"}, body: testToken}}, time.Second},
		{"bad JSON echoing the token", []reply{{body: `{"payload":"` + testToken}}, time.Second},
		{"hang", []reply{{hang: true}}, 50 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, mc := range methodCases() {
				srv := newScripted(t, tc.replies...)
				_, err := mc.call(context.Background(), New(Config{BaseURL: srv.url, HTTPClient: srv.client, AccountID: testAccount, APIToken: testToken, Timeout: tc.timeout, Retries: -1}))
				if err == nil {
					continue // methods that ignore the body succeed on bad JSON
				}
				if strings.Contains(err.Error(), testToken) {
					t.Errorf("%s: error leaks the token: %q", mc.name, err.Error())
				}
			}
		})
	}
}

func TestPagingReadsEveryPage(t *testing.T) {
	t.Parallel()
	contact := func(id string) string { return `{"id":` + id + `,"name":"c` + id + `"}` }
	conv := func(id string) string {
		return `{"id":` + id + `,"inbox_id":1,"status":"open","custom_attributes":{"k":"v"}}`
	}
	t.Run("contacts", func(t *testing.T) {
		t.Parallel()
		srv := newScripted(t,
			reply{body: `{"meta":{"count":3,"current_page":"1"},"payload":[` + contact("1") + `,` + contact("2") + `]}`},
			reply{body: `{"meta":{"count":3,"current_page":"2"},"payload":[` + contact("3") + `]}`})
		got, err := newTestClient(srv, time.Second).SearchContacts(context.Background(), "c")
		if err != nil || len(got) != 3 || got[2].ID != 3 {
			t.Fatalf("got %+v, %v", got, err)
		}
		if reqs := srv.requests(); len(reqs) != 2 || reqs[1].Query != "page=2&q=c" {
			t.Errorf("requests %+v", reqs)
		}
	})
	t.Run("conversations", func(t *testing.T) {
		t.Parallel()
		srv := newScripted(t,
			reply{body: `{"meta":{"all_count":3},"payload":[` + conv("9") + `,` + conv("8") + `]}`},
			reply{body: `{"meta":{"all_count":3},"payload":[` + conv("7") + `]}`})
		got, err := newTestClient(srv, time.Second).FindConversationsByAttribute(context.Background(), "k", "v")
		if err != nil || len(got) != 3 || got[2].ID != 7 {
			t.Fatalf("got %+v, %v", got, err)
		}
		if reqs := srv.requests(); len(reqs) != 2 || reqs[1].Query != "page=2" {
			t.Errorf("requests %+v", reqs)
		}
	})
	t.Run("conversations the filter did not apply to are left out", func(t *testing.T) {
		t.Parallel()
		// Chatwoot ignores a condition on an attribute the account has not
		// defined and answers every conversation.
		other := `{"id":5,"inbox_id":1,"status":"open","custom_attributes":{"k":"w"}}`
		none := `{"id":4,"inbox_id":1,"status":"open"}`
		srv := newScripted(t, reply{body: `{"meta":{"all_count":3},"payload":[` + other + `,` + conv("6") + `,` + none + `]}`})
		got, err := newTestClient(srv, time.Second).FindConversationsByAttribute(context.Background(), "k", "v")
		if err != nil || len(got) != 1 || got[0].ID != 6 {
			t.Fatalf("got %+v, %v; want only conversation 6", got, err)
		}
	})
	t.Run("a server ignoring page stops at the page limit", func(t *testing.T) {
		t.Parallel()
		srv := newScripted(t, reply{body: `{"meta":{"count":1000},"payload":[` + contact("1") + `]}`})
		got, err := newTestClient(srv, time.Second).SearchContacts(context.Background(), "c")
		if err != nil || len(got) != maxPages {
			t.Fatalf("got %d contacts, %v; want %d", len(got), err, maxPages)
		}
	})
}

func TestContextEndsDuringBackoff(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var attempts atomic.Int32
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		attempts.Add(1)
		cancel() // the context ends right after the 500 arrives, before any retry
		return &http.Response{StatusCode: 500, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"error":"Internal Server Error"}`)), Request: r}, nil
	})}
	err := New(Config{BaseURL: "http://limechat.invalid", AccountID: testAccount, APIToken: testToken, HTTPClient: hc}).Assign(ctx, 1, 2)
	ae := asAPIError(t, err)
	if !errors.Is(err, context.Canceled) || ae.StatusCode != 500 || ae.Class() != service.ClassRetryable {
		t.Errorf("got %v (status %d, class %v)", err, ae.StatusCode, ae.Class())
	}
	if n := attempts.Load(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	elsewhere := newScripted(t, reply{body: `[]`})
	srv := newScripted(t, reply{status: http.StatusFound, header: map[string]string{"Location": elsewhere.url + "/steal"}})
	_, err := newTestClient(srv, time.Second).Agents(context.Background())
	ae := asAPIError(t, err)
	if ae.StatusCode != http.StatusFound || ae.Class() != service.ClassPermanent {
		t.Errorf("got %v", err)
	}
	if n := len(elsewhere.requests()); n != 0 {
		t.Errorf("the redirect target got %d requests (and the token)", n)
	}
}
