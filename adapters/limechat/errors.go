package limechat

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// ErrInvalidEventName is wrapped when a Flow-builder event name is empty or
// contains whitespace: Flow-builder matches triggers by exact name and the
// docs forbid spaces, so such an event could never start a flow.
var ErrInvalidEventName = errors.New("invalid flow-builder event name")

// APIError is a failed LimeChat helpdesk or Flow-builder call. It carries the
// platform's own message and tells the relay what to do next through
// service.ClassifiedError. Its text never contains the API token or the
// Flow-builder key.
type APIError struct {
	// Op names the call ("get conversation", "send flow event").
	Op string
	// StatusCode is the HTTP status, 0 when no answer came (transport
	// failure, timeout, cancelled context) or the call was refused locally.
	StatusCode int
	// Message is Chatwoot's "error" or "message" text, a short excerpt of a
	// non-JSON body, or a description of the transport failure.
	Message string
	// Attributes lists the fields a 422 validation error names
	// (["email"], ["phone_number"]).
	Attributes []string
	// Err is the underlying transport or context error, if any; errors.Is
	// sees it (context.Canceled, context.DeadlineExceeded, …).
	Err error

	class      service.ErrorClass
	retryAfter time.Duration
	// written reports that the request reached the wire before it failed.
	written bool
}

// Error describes the failure without any credential.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("limechat: ")
	b.WriteString(e.Op)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Class says whether retrying may help: 5xx and failures before the request
// left are retryable, 429 is rate-limited, other 4xx are permanent, and a
// request that was written but got no answer is uncertain.
func (e *APIError) Class() service.ErrorClass { return e.class }

// RetryAfter is the wait a 429 asked for (Retry-After in seconds or as an
// HTTP date), 0 when none was given.
func (e *APIError) RetryAfter() time.Duration { return e.retryAfter }

// NotSent reports whether the platform said it did not act on the request:
// 429 (rate-limited) and 503 (unavailable) are refusals before any work,
// unlike 500, 502 or 504, after which the request may have taken effect.
func (e *APIError) NotSent() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusServiceUnavailable
}

// Unwrap exposes service.ErrNotFound for 404 answers and the underlying
// transport or context error.
func (e *APIError) Unwrap() []error {
	var errs []error
	if e.StatusCode == http.StatusNotFound {
		errs = append(errs, service.ErrNotFound)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

var _ service.ClassifiedError = (*APIError)(nil)

// maxRetryAfter caps a Retry-After so a broken header cannot park work for days.
const maxRetryAfter = 24 * time.Hour

// statusError builds the error for a non-2xx answer.
func statusError(op string, status int, h http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{Op: op, StatusCode: status, written: true}
	e.Message, e.Attributes = errorMessage(body)
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	switch {
	case status == http.StatusTooManyRequests:
		e.class = service.ClassRateLimited
		e.retryAfter = parseRetryAfter(h.Get("Retry-After"), now)
	case status >= 500:
		e.class = service.ClassRetryable
	default:
		e.class = service.ClassPermanent
	}
	return e
}

// errorMessage extracts Chatwoot's error text: {"error":"…"} for 401/404/500
// and {"message":"…","attributes":[…]} for 422. Anything else (rack-attack's
// plain "Retry later", a proxy's HTML page) is reduced to a short excerpt.
func errorMessage(body []byte) (string, []string) {
	var v struct {
		Error      json.RawMessage `json:"error"`
		Message    json.RawMessage `json:"message"`
		Attributes []string        `json:"attributes"`
	}
	if err := json.Unmarshal(body, &v); err == nil {
		msg := jsonText(v.Message)
		if msg == "" {
			msg = jsonText(v.Error)
		}
		if msg != "" {
			return excerpt(msg), v.Attributes
		}
	}
	text := strings.TrimSpace(string(body))
	if strings.HasPrefix(text, "<") {
		return "non-JSON (HTML) body", nil
	}
	return excerpt(text), nil
}

// jsonText renders a JSON string as its text and any other JSON value as itself.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// excerpt keeps error text to one short line.
func excerpt(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const limit = 200
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// redact removes every secret from s; empty secrets are skipped.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	return s
}
