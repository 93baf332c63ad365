package leadsquared_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/adapters/leadsquared"
	"github.com/lsqbridge/lsqbridge/service"
)

// newClient returns a client for base with the test keys, short timeouts and
// a tiny retry backoff.
func newClient(base string, timeout time.Duration) *leadsquared.Client {
	return leadsquared.New(leadsquared.Config{
		BaseURL: base, AccessKey: testAccessKey, SecretKey: testSecretKey,
		Timeout: timeout, RetryBackoff: time.Millisecond,
	})
}

// server runs h behind an httptest server, counting calls.
func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func writeBody(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func TestClientMethodsAgainstCannedAnswers(t *testing.T) {
	t.Parallel()
	for _, mc := range methodCases {
		t.Run(mc.name, func(t *testing.T) {
			t.Parallel()
			w := cannedWorld
			srv, calls := server(t, func(rw http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if r.Method != mc.method || r.URL.Path != "/v2/"+mc.path {
					t.Errorf("request %s %s, want %s /v2/%s", r.Method, r.URL.Path, mc.method, mc.path)
				}
				if r.Header.Get("x-LSQ-AccessKey") != testAccessKey || r.Header.Get("x-LSQ-SecretKey") != testSecretKey {
					t.Error("key headers missing")
				}
				for k := range r.URL.Query() {
					if strings.Contains(strings.ToLower(k), "key") {
						t.Errorf("query carries %s", k)
					}
				}
				if len(body) > 0 && r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
				}
				if mc.checkRequest != nil {
					mc.checkRequest(t, r, body, w)
				}
				writeBody(rw, http.StatusOK, "application/json", mc.canned(w))
			})
			got, err := mc.call(context.Background(), newClient(srv.URL, 5*time.Second), w)
			if err != nil {
				t.Fatal(err)
			}
			mc.check(t, w, got)
			if calls.Load() != 1 {
				t.Errorf("%d calls, want 1", calls.Load())
			}
		})
	}
}

// errorForm is one way a call fails, with what the client must make of it.
type errorForm struct {
	name      string
	status    int
	ctype     string
	body      string
	wantClass service.ErrorClass
	wantCalls int32
	wantExc   string
}

var errorForms = []errorForm{
	{name: "MX error as 500 is permanent, not retried", status: 500, ctype: "application/json",
		body:      `{"Status":"Error","ExceptionType":"MXDuplicateEntryException","ExceptionMessage":"A Lead with same Email/Phone Number already exists."}`,
		wantClass: service.ClassPermanent, wantCalls: 1, wantExc: "MXDuplicateEntryException"},
	{name: "HTTP 200 with Status Error", status: 200, ctype: "application/json",
		body:      `{"Status":"Error","ExceptionType":"MXInvalidInputException","ExceptionMessage":"Invalid SearchBy value provided"}`,
		wantClass: service.ClassPermanent, wantCalls: 1, wantExc: "MXInvalidInputException"},
	{name: "rate limit as 429", status: 429, ctype: "application/json",
		body:      `{"Status":"Error","ExceptionType":"MXAPIRateLimitExceededException","ExceptionMessage":"API calls exceeded the limit of 25 in 5 second(s)"}`,
		wantClass: service.ClassRateLimited, wantCalls: 1, wantExc: "MXAPIRateLimitExceededException"},
	{name: "rate limit as 403", status: 403, ctype: "application/json",
		body:      `{"Status":"Error","ExceptionType":"MXAPIRateLimitExceededException","ExceptionMessage":"API calls exceeded the limit of 10 in 5 second(s)"}`,
		wantClass: service.ClassRateLimited, wantCalls: 1, wantExc: "MXAPIRateLimitExceededException"},
	{name: "rate limit as 200", status: 200, ctype: "application/json",
		body:      `{"Status":"Error","ExceptionType":"MXAPIRateLimitExceededException","ExceptionMessage":"API calls exceeded the limit of 72 in 5 second(s)"}`,
		wantClass: service.ClassRateLimited, wantCalls: 1, wantExc: "MXAPIRateLimitExceededException"},
	{name: "rate limit by message only", status: 403, ctype: "application/json",
		body:      `{"Status":"Error","ExceptionMessage":"API calls exceeded the limit of 15 in 5 second(s)"}`,
		wantClass: service.ClassRateLimited, wantCalls: 1},
	{name: "bad keys 401", status: 401, ctype: "application/json", body: `{"Status":"Error","ExceptionMessage":"Invalid keys"}`,
		wantClass: service.ClassPermanent, wantCalls: 1},
	{name: "unknown path 404", status: 404, ctype: "text/html", body: `<html>Not found</html>`,
		wantClass: service.ClassPermanent, wantCalls: 1},
	{name: "5xx non-JSON is retried then retryable", status: 502, ctype: "text/html", body: `<html>Bad Gateway</html>`,
		wantClass: service.ClassRetryable, wantCalls: 3},
	{name: "5xx JSON without MX is retried then retryable", status: 503, ctype: "application/json", body: `{"Status":"Error","ExceptionMessage":"busy"}`,
		wantClass: service.ClassRetryable, wantCalls: 3},
}

func TestClientErrorForms(t *testing.T) {
	t.Parallel()
	for _, mc := range methodCases {
		for _, ef := range errorForms {
			t.Run(mc.name+"/"+ef.name, func(t *testing.T) {
				t.Parallel()
				srv, calls := server(t, func(w http.ResponseWriter, r *http.Request) {
					writeBody(w, ef.status, ef.ctype, ef.body)
				})
				_, err := mc.call(context.Background(), newClient(srv.URL, 5*time.Second), cannedWorld)
				var ae *leadsquared.APIError
				if !errors.As(err, &ae) {
					t.Fatalf("err = %v (%T), want *APIError", err, err)
				}
				class, after := service.ClassOf(err)
				wantClass := ef.wantClass
				if creates[mc.name] && wantClass == service.ClassRetryable && ef.status >= 500 {
					wantClass = service.ClassUncertain // it may have been created before the failure
				}
				if class != wantClass || ae.StatusCode != ef.status || ae.ExceptionType != ef.wantExc {
					t.Errorf("class %v status %d exception %q; want %v %d %q", class, ae.StatusCode, ae.ExceptionType, wantClass, ef.status, ef.wantExc)
				}
				if class == service.ClassRateLimited && after < 5*time.Second {
					t.Errorf("RetryAfter = %v, want ≥ 5s", after)
				}
				if class != service.ClassRateLimited && after != 0 {
					t.Errorf("RetryAfter = %v for %v", after, class)
				}
				want := ef.wantCalls
				if creates[mc.name] && ef.status >= 500 {
					want = 1 // a create that reached LeadSquared is not sent again
				}
				if calls.Load() != int32(want) {
					t.Errorf("%d calls, want %d", calls.Load(), want)
				}
			})
		}
	}
}

func TestClient5xxThenSuccess(t *testing.T) {
	t.Parallel()
	for _, mc := range methodCases {
		t.Run(mc.name, func(t *testing.T) {
			t.Parallel()
			var seen atomic.Int32
			srv, calls := server(t, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				if seen.Add(1) == 1 {
					writeBody(w, 500, "text/html", "<html>oops</html>")
					return
				}
				writeBody(w, 200, "application/json", mc.canned(cannedWorld))
			})
			got, err := mc.call(context.Background(), newClient(srv.URL, 5*time.Second), cannedWorld)
			if creates[mc.name] {
				// A create that reached LeadSquared is never sent twice in
				// one call: the 5xx may have created it.
				if err == nil || calls.Load() != 1 {
					t.Fatalf("create after a 5xx: err %v, %d calls; want the error and 1 call", err, calls.Load())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			mc.check(t, cannedWorld, got)
			if calls.Load() != 2 {
				t.Errorf("%d calls, want 2", calls.Load())
			}
		})
	}
}

// creates are the methods that make something new in LeadSquared.
var creates = map[string]bool{"CreateLead": true, "CaptureOpportunity": true, "PostLeadActivity": true, "PostOpportunityActivity": true}

// hangingServer reads the request, reports it on got, then answers nothing
// until the client gives up.
func hangingServer(t *testing.T) (*httptest.Server, *atomic.Int32, chan struct{}) {
	got := make(chan struct{}, 10)
	srv, calls := server(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- struct{}{}
		<-r.Context().Done()
	})
	return srv, calls, got
}

func TestClientContextCancelled(t *testing.T) {
	t.Parallel()
	for _, mc := range methodCases {
		t.Run(mc.name+"/before the call", func(t *testing.T) {
			t.Parallel()
			srv, calls := server(t, func(w http.ResponseWriter, r *http.Request) {})
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := mc.call(ctx, newClient(srv.URL, 5*time.Second), cannedWorld)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if class, _ := service.ClassOf(err); class != service.ClassRetryable || calls.Load() != 0 {
				t.Errorf("class %v after %d calls", class, calls.Load())
			}
		})
		t.Run(mc.name+"/during the call", func(t *testing.T) {
			t.Parallel()
			srv, calls, got := hangingServer(t)
			ctx, cancel := context.WithCancel(context.Background())
			go func() { <-got; cancel() }()
			_, err := mc.call(ctx, newClient(srv.URL, time.Minute), cannedWorld)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if class, _ := service.ClassOf(err); class != service.ClassUncertain || calls.Load() != 1 {
				t.Errorf("class %v after %d calls, want uncertain after 1", class, calls.Load())
			}
		})
	}
}

func TestClientUncertainAfterTimeout(t *testing.T) {
	t.Parallel()
	for _, mc := range methodCases {
		t.Run(mc.name, func(t *testing.T) {
			t.Parallel()
			srv, calls, _ := hangingServer(t)
			_, err := mc.call(context.Background(), newClient(srv.URL, 50*time.Millisecond), cannedWorld)
			var te *leadsquared.TransportError
			if !errors.As(err, &te) || !te.Written {
				t.Fatalf("err = %v, want a written TransportError", err)
			}
			if class, _ := service.ClassOf(err); class != service.ClassUncertain {
				t.Errorf("class = %v, want uncertain", class)
			}
			if calls.Load() != 1 {
				t.Errorf("%d calls: an uncertain call must not be retried", calls.Load())
			}
		})
	}
}

func TestClientNotSentIsRetryable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connection refused
	for _, mc := range methodCases {
		t.Run(mc.name, func(t *testing.T) {
			t.Parallel()
			_, err := mc.call(context.Background(), newClient("http://"+addr, time.Second), cannedWorld)
			var te *leadsquared.TransportError
			if !errors.As(err, &te) || te.Written {
				t.Fatalf("err = %v, want an unwritten TransportError", err)
			}
			if class, _ := service.ClassOf(err); class != service.ClassRetryable {
				t.Errorf("class = %v", class)
			}
		})
	}
}

// TestClientErrorsNeverContainKeys runs every method against every kind of
// failing server — including one that echoes the key headers back in its
// error message — and checks no error text holds a key.
func TestClientErrorsNeverContainKeys(t *testing.T) {
	t.Parallel()
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			msg := fmt.Sprintf("bad keys %s / %s at %s", r.Header.Get("x-LSQ-AccessKey"), r.Header.Get("x-LSQ-SecretKey"), r.URL)
			writeBody(w, status, "application/json", fmt.Sprintf(`{"Status":"Error","ExceptionType":"MXInvalidInputException","ExceptionMessage":%q}`, msg))
		}
	}
	servers := map[string]http.HandlerFunc{
		"echo 500": echo(500), "echo 200": echo(200), "echo 401": echo(401), "echo 429": echo(429),
		"html 502": func(w http.ResponseWriter, r *http.Request) {
			writeBody(w, 502, "text/html", "<html>"+r.Header.Get("x-LSQ-SecretKey")+"</html>")
		},
		"garbage 200": func(w http.ResponseWriter, r *http.Request) {
			writeBody(w, 200, "application/json", "{"+r.Header.Get("x-LSQ-AccessKey"))
		},
		"wrong shape": func(w http.ResponseWriter, r *http.Request) {
			writeBody(w, 200, "application/json", `{"Leads":"`+r.Header.Get("x-LSQ-AccessKey")+`","Fields":7,"Response":"x","ProspectActivities":1}`)
		},
		"hang": func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body); <-r.Context().Done() },
	}
	for name, h := range servers {
		srv, _ := server(t, h)
		for _, mc := range methodCases {
			t.Run(name+"/"+mc.name, func(t *testing.T) {
				t.Parallel()
				_, err := mc.call(context.Background(), newClient(srv.URL, 100*time.Millisecond), cannedWorld)
				if err == nil {
					if name == "wrong shape" {
						return // some methods tolerate it
					}
					t.Fatal("no error")
				}
				text := err.Error()
				if strings.Contains(text, testAccessKey) || strings.Contains(text, testSecretKey) {
					t.Errorf("error text leaks a key: %s", text)
				}
				if strings.Contains(text, "http://") {
					t.Errorf("error text holds a URL: %s", text)
				}
			})
		}
	}
}
