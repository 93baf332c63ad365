package limechat

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

const (
	testFBKey     = "fb-key-91c2-DO-NOT-LEAK"
	testFBAccount = "fb-acct-3"
)

func newTestFlowBuilder(srv *scripted, timeout time.Duration) *FlowBuilder {
	return NewFlowBuilder(FlowBuilderConfig{BaseURL: srv.url, AccountID: testFBAccount, Key: testFBKey, Timeout: timeout, HTTPClient: srv.client})
}

var testFlowEvent = service.FlowEvent{
	DistinctID: "L-1", Phone: "919812345678", Event: "lead_stage_qualified",
	Data: map[string]any{"name": "Asha", "idempotency_key": "act-7"},
}

func TestFlowBuilderSendEvent(t *testing.T) {
	t.Parallel()
	type want struct {
		err      bool
		class    service.ErrorClass
		status   int
		requests int
	}
	cases := []struct {
		name    string
		replies []reply
		timeout time.Duration
		ev      service.FlowEvent
		want    want
	}{
		{"success", []reply{{body: `{"status":"ok"}`}}, time.Second, testFlowEvent, want{requests: 1}},
		{"empty body is success", []reply{{status: 202}}, time.Second, testFlowEvent, want{requests: 1}},
		{"401 is permanent", []reply{{status: 401, body: `{"error":"Unauthorized"}`}}, time.Second, testFlowEvent,
			want{err: true, class: service.ClassPermanent, status: 401, requests: 1}},
		{"422 is permanent", []reply{{status: 422, body: `{"error":"bad event"}`}}, time.Second, testFlowEvent,
			want{err: true, class: service.ClassPermanent, status: 422, requests: 1}},
		{"429 is rate limited and not retried", []reply{{status: 429, header: map[string]string{"Retry-After": "0"}}, {}}, time.Second, testFlowEvent,
			want{err: true, class: service.ClassRateLimited, status: 429, requests: 1}},
		{"5xx is retryable but never retried in the call", []reply{{status: 500}, {}}, time.Second, testFlowEvent,
			want{err: true, class: service.ClassRetryable, status: 500, requests: 1}},
		{"no answer after writing is uncertain and sent exactly once", []reply{{hang: true}}, 100 * time.Millisecond, testFlowEvent,
			want{err: true, class: service.ClassUncertain, requests: 1}},
		{"event with a space is refused locally", nil, time.Second, service.FlowEvent{DistinctID: "L-1", Event: "lead stage"},
			want{err: true, class: service.ClassPermanent}},
		{"event with a tab is refused locally", nil, time.Second, service.FlowEvent{DistinctID: "L-1", Event: "lead\tstage"},
			want{err: true, class: service.ClassPermanent}},
		{"empty event is refused locally", nil, time.Second, service.FlowEvent{DistinctID: "L-1"},
			want{err: true, class: service.ClassPermanent}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			replies := tc.replies
			if replies == nil {
				replies = []reply{{}}
			}
			srv := newScripted(t, replies...)
			err := newTestFlowBuilder(srv, tc.timeout).SendEvent(context.Background(), tc.ev)
			reqs := srv.requests()
			if len(reqs) != tc.want.requests {
				t.Errorf("%d requests, want %d", len(reqs), tc.want.requests)
			}
			if !tc.want.err {
				if err != nil {
					t.Fatalf("SendEvent: %v", err)
				}
				r := reqs[0]
				if r.Method != http.MethodPost || r.Path != "/api/v1/cvf-events" || r.Query != "" {
					t.Errorf("request %s %s?%s", r.Method, r.Path, r.Query)
				}
				if r.Header.Get("x-limechat-uat") != testFBKey || r.Header.Get("x-fb-account-id") != testFBAccount {
					t.Errorf("headers %v", r.Header)
				}
				const body = `{"distinct_id":"L-1","phone":"919812345678","event":"lead_stage_qualified","data":{"idempotency_key":"act-7","name":"Asha"}}`
				if string(r.Body) != body {
					t.Errorf("body\n got %s\nwant %s", r.Body, body)
				}
				return
			}
			ae := asAPIError(t, err)
			if ae.Class() != tc.want.class || ae.StatusCode != tc.want.status {
				t.Errorf("got %v class %v, want class %v status %d", err, ae.Class(), tc.want.class, tc.want.status)
			}
			if strings.Contains(err.Error(), testFBKey) {
				t.Errorf("error leaks the key: %q", err.Error())
			}
			if tc.want.requests == 0 && !errors.Is(err, ErrInvalidEventName) {
				t.Errorf("local refusal %v does not wrap ErrInvalidEventName", err)
			}
		})
	}
}

func TestFlowBuilderNilDataIsAnObject(t *testing.T) {
	t.Parallel()
	srv := newScripted(t, reply{})
	if err := newTestFlowBuilder(srv, time.Second).SendEvent(context.Background(), service.FlowEvent{DistinctID: "d", Event: "e"}); err != nil {
		t.Fatal(err)
	}
	if got := string(srv.requests()[0].Body); got != `{"distinct_id":"d","phone":"","event":"e","data":{}}` {
		t.Errorf("body %s", got)
	}
}

func TestFlowBuilderRetriesOnlyBeforeWriting(t *testing.T) {
	t.Parallel()
	var attempts atomic.Int32
	hc := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		attempts.Add(1)
		return nil, errors.New("dial tcp: connection refused")
	})}
	fb := NewFlowBuilder(FlowBuilderConfig{BaseURL: "http://fb.invalid", AccountID: testFBAccount, Key: testFBKey, HTTPClient: hc})
	err := fb.SendEvent(context.Background(), testFlowEvent)
	ae := asAPIError(t, err)
	if ae.Class() != service.ClassRetryable || attempts.Load() != 1+flowBuilderRetries {
		t.Errorf("class %v after %d attempts", ae.Class(), attempts.Load())
	}
}

func TestFlowBuilderContextCancelled(t *testing.T) {
	t.Parallel()
	srv := newScripted(t, reply{hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-srv.arrived; cancel() }()
	err := newTestFlowBuilder(srv, 10*time.Second).SendEvent(ctx, testFlowEvent)
	ae := asAPIError(t, err)
	if !errors.Is(err, context.Canceled) || ae.Class() != service.ClassUncertain {
		t.Errorf("got %v class %v", err, ae.Class())
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestFlowBuilderKeyNeverInErrors(t *testing.T) {
	t.Parallel()
	for _, rep := range []reply{
		{status: 401, body: `{"error":"key ` + testFBKey + ` rejected"}`},
		{status: 500, body: testFBKey},
		{status: 422, body: `{"message":"` + testFBKey + `"}`},
		{hang: true},
	} {
		srv := newScripted(t, rep)
		err := newTestFlowBuilder(srv, 50*time.Millisecond).SendEvent(context.Background(), testFlowEvent)
		if err == nil || strings.Contains(err.Error(), testFBKey) {
			t.Errorf("reply %d: error %v", rep.status, err)
		}
	}
}
