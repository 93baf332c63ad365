// Package limechat talks to LimeChat: its helpdesk (a Chatwoot fork, so the
// Chatwoot Application API under /api/v1/accounts/{id}/…), its Flow-builder
// custom-events API, and the Chatwoot webhooks it sends (parsing and
// signature checks). Clients take and return the service package's
// platform-neutral types, so they satisfy the interfaces the service
// declares without the service importing this package.
package limechat

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// Config configures a helpdesk Client.
type Config struct {
	// BaseURL is the helpdesk host, e.g. https://app.limechat.ai (or a fake's URL).
	BaseURL string
	// AccountID is the LimeChat (Chatwoot) account every path is under.
	AccountID int64
	// APIToken is sent in the api_access_token header; never in a URL or an error.
	APIToken string
	// HTTPClient is used for every request; http.DefaultClient when nil.
	HTTPClient *http.Client
	// Timeout bounds each HTTP attempt (default 15s); the whole call is
	// bounded by the caller's context.
	Timeout time.Duration
	// Retries is how many more attempts a call may make after a transport
	// error that happened before the request was written, a 5xx, or a 429
	// asking for at most a second. Default 2; negative disables retries.
	// Nothing is retried once the context has ended, and a request that was
	// written but got no answer is never retried (ClassUncertain).
	Retries int
}

// Client is a LimeChat helpdesk REST client. It is safe for concurrent use.
type Client struct {
	base    string
	token   string
	hc      *http.Client
	timeout time.Duration
	retries int
}

const (
	defaultTimeout = 15 * time.Second
	defaultRetries = 2
	// maxInCallRetryAfter is the longest Retry-After a call waits out itself;
	// longer asks go back to the caller (the relay pauses the integration).
	maxInCallRetryAfter = time.Second
	// retryBase is the first backoff step; it doubles per attempt, with jitter.
	retryBase = 50 * time.Millisecond
	// maxResponse caps how much of a response body is read.
	maxResponse = 8 << 20
)

// New returns a Client for cfg, filling defaults.
func New(cfg Config) *Client {
	retries := cfg.Retries
	switch {
	case retries == 0:
		retries = defaultRetries
	case retries < 0:
		retries = 0
	}
	return &Client{
		base:    strings.TrimRight(cfg.BaseURL, "/") + "/api/v1/accounts/" + strconv.FormatInt(cfg.AccountID, 10),
		token:   cfg.APIToken,
		hc:      noRedirects(cfg.HTTPClient),
		timeout: cmp.Or(cfg.Timeout, defaultTimeout),
		retries: retries,
	}
}

// noRedirects returns a copy of hc (http.DefaultClient when nil) that does
// not follow redirects: net/http would forward the api_access_token and
// x-limechat-uat headers to whatever host a redirect names. A 3xx is
// returned as a permanent error instead.
func noRedirects(hc *http.Client) *http.Client {
	c := *cmp.Or(hc, http.DefaultClient)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// call is one helpdesk API call.
type call struct {
	// op names the call in errors ("assign conversation").
	op     string
	method string
	// path is under the account: /api/v1/accounts/{id}{path}.
	path  string
	query url.Values
	// body is encoded as JSON when not nil.
	body any
	// read marks a call without effects whatever its method (POST
	// /conversations/filter only searches): an unreadable answer to it is
	// retryable. Every GET is one.
	read bool
	// create marks a call that makes something new (a contact, a
	// conversation, a message). Once such a request has reached LimeChat it
	// is never sent again in the call: a 5xx does not say nothing was
	// created, and the caller looks before it creates again.
	create bool
}

// do sends one JSON call under the account path (retrying as Config says)
// and decodes a 2xx answer into out when out is not nil.
func (c *Client) do(ctx context.Context, req call, out any) error {
	u := c.base + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body []byte
	if req.body != nil {
		var err error
		if body, err = json.Marshal(req.body); err != nil {
			return &APIError{Op: req.op, Message: "encode request: " + err.Error(), Err: err, class: service.ClassPermanent}
		}
	}
	r := request{
		op: req.op, method: req.method, url: u, body: body,
		read:    req.read || req.method == http.MethodGet,
		header:  map[string]string{"api_access_token": c.token},
		hc:      c.hc,
		timeout: c.timeout,
		secrets: []string{c.token},
	}
	for attempt := 0; ; attempt++ {
		err := r.send(ctx, out)
		if err == nil {
			return nil
		}
		if req.create && err.StatusCode >= 500 {
			// It may have been created before the server failed: the
			// caller must look before creating again.
			err.class = service.ClassUncertain
			return err
		}
		wait, ok := c.retryWait(err, attempt)
		if !ok {
			return err
		}
		if deadline, has := ctx.Deadline(); has && time.Until(deadline) < wait {
			return err // no time left to retry; the caller's outer loop will
		}
		if sleep(ctx, wait) != nil {
			gaveUp := *err
			gaveUp.Err = errors.Join(ctx.Err(), err.Err)
			gaveUp.Message = redact(err.Message+"; gave up retrying: "+ctx.Err().Error(), c.token)
			return &gaveUp
		}
	}
}

// retryWait says whether err is worth another attempt now and after how long.
func (c *Client) retryWait(err *APIError, attempt int) (time.Duration, bool) {
	if attempt >= c.retries {
		return 0, false
	}
	switch err.class {
	case service.ClassRetryable:
		return backoff(attempt), true
	case service.ClassRateLimited:
		if err.retryAfter > maxInCallRetryAfter {
			return 0, false
		}
		return max(backoff(attempt), err.retryAfter), true
	}
	return 0, false
}

// backoff is the wait before retry number attempt+1: exponential from
// retryBase with jitter in [50%, 100%].
func backoff(attempt int) time.Duration {
	d := retryBase << min(attempt, 10)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends, returning ctx.Err() in the latter case.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// request is one HTTP exchange shared by the helpdesk and Flow-builder clients.
type request struct {
	op, method, url string
	body            []byte
	// read marks a call without effects: an unreadable answer is retryable.
	read bool
	// header holds exact header names (api_access_token, x-limechat-uat…),
	// written as given rather than canonicalized.
	header  map[string]string
	hc      *http.Client
	timeout time.Duration
	// secrets are scrubbed from every error text.
	secrets []string
}

// send makes one attempt. It never returns a non-nil error interface holding
// a nil pointer: the result is either nil or a classified *APIError.
func (r *request) send(ctx context.Context, out any) *APIError {
	actx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(info httptrace.WroteRequestInfo) {
		if info.Err == nil {
			wrote.Store(true)
		}
	}}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, trace), r.method, r.url, body)
	if err != nil {
		return &APIError{Op: r.op, Message: redact("build request: "+err.Error(), r.secrets...), class: service.ClassPermanent}
	}
	for k, v := range r.header {
		req.Header[k] = []string{v}
	}
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return r.transportError(ctx, actx, err, wrote.Load())
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil && resp.StatusCode < 300 {
		// The server answered 2xx, so the effect happened, but we cannot
		// read what it returned.
		e := r.transportError(ctx, actx, err, true)
		e.StatusCode = resp.StatusCode
		return e
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		e := statusError(r.op, resp.StatusCode, resp.Header, data, time.Now())
		e.Message = redact(e.Message, r.secrets...)
		return e
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		class := service.ClassRetryable
		if !r.read {
			class = service.ClassUncertain // the write happened; its result is unreadable
		}
		return &APIError{Op: r.op, StatusCode: resp.StatusCode, Message: redact("decode response: "+err.Error(), r.secrets...), Err: err, class: class, written: true}
	}
	return nil
}

// transportError classifies a failure without an HTTP answer: uncertain when
// the request had been written, retryable when it never left.
func (r *request) transportError(ctx, actx context.Context, err error, written bool) *APIError {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // its text repeats the URL; keep only the cause
	}
	e := &APIError{Op: r.op, Err: err, written: written, class: service.ClassRetryable}
	switch {
	case ctx.Err() != nil:
		e.Err = errors.Join(ctx.Err(), err)
		e.Message = "context ended: " + ctx.Err().Error()
	case actx.Err() != nil:
		e.Message = fmt.Sprintf("no answer within %s", r.timeout)
	default:
		e.Message = err.Error()
	}
	if written {
		e.class = service.ClassUncertain
		e.Message = "request sent, outcome unknown: " + e.Message
	} else {
		e.Message = "request not sent: " + e.Message
	}
	e.Message = redact(e.Message, r.secrets...)
	return e
}
