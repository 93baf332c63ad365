// Package leadsquared is lsqbridge's adapter for LeadSquared: a REST client
// for the calls the service needs (leads, users, opportunities, activities,
// metadata) and a pure parser from LeadSquared webhooks to service events.
//
// The client authenticates with the x-LSQ-AccessKey / x-LSQ-SecretKey headers
// only (never the query string), gives each HTTP attempt its own timeout,
// retries a bounded number of times inside a call (transport errors before
// the request was written, and 5xx without an MX exception), never follows a
// redirect (net/http would carry the key headers to whatever host it
// names; a 3xx is a permanent error naming the status), and returns a
// *APIError or *TransportError that classifies every failure for the outbox
// relay (service.ClassifiedError). Rate-limit answers are never retried here:
// the caller pauses the whole integration.
package leadsquared

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// maxResponseBytes caps what the client reads of one answer.
const maxResponseBytes = 32 << 20

// Config configures a Client.
type Config struct {
	// BaseURL is the regional host, e.g. https://api-in21.leadsquared.com, or
	// a fake's URL. Calls go to {BaseURL}/v2/<Service>.svc/<Method>.
	BaseURL string
	// AccessKey and SecretKey are an administrator's API keys; they are sent
	// as headers only and never appear in errors.
	AccessKey, SecretKey string
	// HTTPClient is used for every call (http.DefaultClient's transport when
	// nil); its redirect policy is replaced: redirects are never followed.
	HTTPClient *http.Client
	// Timeout bounds each HTTP attempt of a call (so a retried call may take
	// up to (Retries+1)×Timeout; bound the whole call with ctx); default 15s.
	Timeout time.Duration
	// Retries is how many extra attempts a call may make after a transport
	// error before the request was written or a 5xx without MX exception;
	// default 2; negative means none.
	Retries int
	// RetryBackoff is the first pause between in-call attempts (doubled each
	// time, with jitter); default 200ms.
	RetryBackoff time.Duration
}

// Client calls the LeadSquared REST API. It is safe for concurrent use.
type Client struct {
	base      string
	accessKey string
	secretKey string
	http      *http.Client
	timeout   time.Duration
	retries   int
	backoff   time.Duration
}

// New returns a Client for cfg, filling defaults.
func New(cfg Config) *Client {
	retries := cfg.Retries
	switch {
	case retries == 0:
		retries = 2
	case retries < 0:
		retries = 0
	}
	return &Client{
		base:      strings.TrimRight(cfg.BaseURL, "/"),
		accessKey: cfg.AccessKey,
		secretKey: cfg.SecretKey,
		http:      noRedirects(cfg.HTTPClient),
		timeout:   cmp.Or(cfg.Timeout, 15*time.Second),
		retries:   retries,
		backoff:   cmp.Or(cfg.RetryBackoff, 200*time.Millisecond),
	}
}

// noRedirects returns a copy of hc (a plain client when nil) that does not
// follow redirects: the x-LSQ-AccessKey and x-LSQ-SecretKey headers would
// go along to wherever the redirect points.
func noRedirects(hc *http.Client) *http.Client {
	c := *cmp.Or(hc, &http.Client{})
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// request is one API call.
type request struct {
	// op names the LeadSquared method in errors ("Lead.Update").
	op     string
	method string
	// path is "<Service>.svc/<Method>", relative to {BaseURL}/v2/.
	path  string
	query url.Values
	// body is marshalled to JSON when not nil.
	body any
	// create marks a call that makes something new (a lead, an opportunity,
	// an activity). Once such a request has reached LeadSquared it is never
	// sent again in the call: a 5xx does not say nothing was created, and
	// the caller looks before it creates again.
	create bool
}

// do performs req with bounded retries and decodes a successful JSON answer
// into out (when out is not nil).
func (c *Client) do(ctx context.Context, req request, out any) error {
	var payload []byte
	if req.body != nil {
		var err error
		if payload, err = json.Marshal(req.body); err != nil {
			return invalid(req.op, "encode request: "+err.Error())
		}
	}
	var err error
	for attempt := 0; ; attempt++ {
		err = c.attempt(ctx, req, payload, out)
		if req.create && reached(err) {
			return uncertainCreate(err)
		}
		if err == nil || attempt >= c.retries || !retryable(err) || ctx.Err() != nil {
			return err
		}
		wait := c.backoff << attempt
		wait = wait/2 + rand.N(wait/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// attempt makes one HTTP request under its own timeout.
func (c *Client) attempt(ctx context.Context, req request, payload []byte, out any) error {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var written atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				written.Store(true)
			}
		},
	}
	actx = httptrace.WithClientTrace(actx, trace)

	u := c.base + "/v2/" + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hreq, err := http.NewRequestWithContext(actx, req.method, u, body)
	if err != nil {
		// The URL is built from configuration; say so without echoing it.
		return invalid(req.op, "build request: bad BaseURL")
	}
	hreq.Header.Set("x-LSQ-AccessKey", c.accessKey)
	hreq.Header.Set("x-LSQ-SecretKey", c.secretKey)
	hreq.Header.Set("Accept", "application/json")
	if payload != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(hreq)
	if err != nil {
		return c.transportError(ctx, req.op, written.Load(), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		// Headers came back, so the request was received: the effect may
		// have happened even though the body was cut.
		return c.transportError(ctx, req.op, true, err)
	}
	return c.decode(req.op, resp, raw, out)
}

// transportError wraps a failed exchange. When the caller's own context has
// ended, the caller's error is wrapped (errors.Is(err, context.Canceled)).
func (c *Client) transportError(ctx context.Context, op string, written bool, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // drop the URL from the text
	}
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
	}
	return &TransportError{Op: op, Written: written, Err: err}
}

// decode turns an HTTP answer into nil (decoding into out) or an *APIError.
func (c *Client) decode(op string, resp *http.Response, raw []byte, out any) error {
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return newAPIError(op, resp.StatusCode, resp.Header, "", "redirected; lsqbridge never follows a redirect with the API keys: check leadsquared.host")
	}
	trimmed := bytes.TrimSpace(raw)
	isJSON := len(trimmed) > 0 && json.Valid(trimmed)
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300

	if !isJSON {
		if ok {
			if out == nil {
				return nil
			}
			return unusable(op, resp.StatusCode, "answer is not JSON ("+mediaType(resp)+")")
		}
		return newAPIError(op, resp.StatusCode, resp.Header, "", "non-JSON error answer ("+mediaType(resp)+")")
	}

	// Any object carrying "Status":"Error" (or an ExceptionType) is an error,
	// whatever the HTTP status.
	if trimmed[0] == '{' {
		var eb errorBody
		if json.Unmarshal(trimmed, &eb) == nil {
			status, _ := eb.Status.(string)
			if strings.EqualFold(status, "Error") || eb.ExceptionType != "" || !ok {
				msg := eb.ExceptionMessage
				if msg == "" {
					if s, isStr := eb.Message.(string); isStr {
						msg = s
					}
				}
				return newAPIError(op, resp.StatusCode, resp.Header, eb.ExceptionType, c.redact(msg))
			}
		}
	}
	if !ok {
		return newAPIError(op, resp.StatusCode, resp.Header, "", "error answer")
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return unusable(op, resp.StatusCode, "unexpected answer shape: "+err.Error())
	}
	return nil
}

// redact removes the keys from text LeadSquared sent back, in case an error
// message ever echoes a header.
func (c *Client) redact(s string) string {
	for _, k := range []string{c.accessKey, c.secretKey} {
		if len(k) >= 4 {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return s
}

// mediaType is the answer's Content-Type without parameters, for error texts.
func mediaType(resp *http.Response) string {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt == "" {
		return "no content type"
	}
	return mt
}
