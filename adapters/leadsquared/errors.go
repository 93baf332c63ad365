package leadsquared

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// rateLimitException is the ExceptionType of LeadSquared's rate-limit answer,
// which arrives as HTTP 429, 403 or even 200.
const rateLimitException = "MXAPIRateLimitExceededException"

// rateWindow is LeadSquared's rate-limit window; a limited caller waits at least this long.
const rateWindow = 5 * time.Second

// rateMessage reads N and the window from "API calls exceeded the limit of N in 5 second(s)".
var rateMessage = regexp.MustCompile(`(?i)exceeded the limit(?: of (\d+))?(?: in (\d+) second)?`)

// APIError is a failed LeadSquared call: an HTTP error, a body whose Status is
// "Error" (whatever the HTTP code), a rate-limit answer, or a success answer
// the client could not use. Its text holds only the operation, the HTTP status,
// the exception type and LeadSquared's message (with any key redacted): never
// a URL, a header or a key.
type APIError struct {
	// Op is the LeadSquared method, e.g. "Lead.Update".
	Op string
	// StatusCode is the HTTP status; 0 when the call was refused before sending.
	StatusCode int
	// ExceptionType is LeadSquared's ExceptionType (MX…Exception), "" if none.
	ExceptionType string
	// Message is LeadSquared's ExceptionMessage (or a description of the failure).
	Message string
	// Limit is N from "exceeded the limit of N in 5 second(s)", 0 when unknown.
	Limit int

	class      service.ErrorClass
	retryAfter time.Duration
	wrapped    error
}

// Error describes the failure without URLs, headers or keys.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("leadsquared ")
	b.WriteString(e.Op)
	b.WriteString(":")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " HTTP %d", e.StatusCode)
	}
	if e.ExceptionType != "" {
		b.WriteString(" ")
		b.WriteString(e.ExceptionType)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Class says whether retrying can help (see classify).
func (e *APIError) Class() service.ErrorClass { return e.class }

// RetryAfter is at least the 5-second window for rate limits, 0 otherwise.
func (e *APIError) RetryAfter() time.Duration { return e.retryAfter }

// NotSent reports whether LeadSquared said it did not act on the call: a
// rate-limit answer (whatever its status) or 503 (unavailable).
func (e *APIError) NotSent() bool {
	return e.class == service.ClassRateLimited || e.StatusCode == http.StatusServiceUnavailable
}

// Unwrap exposes service.ErrNotFound for empty lookups.
func (e *APIError) Unwrap() error { return e.wrapped }

// errorBody is LeadSquared's error shape.
type errorBody struct {
	Status           any    `json:"Status"`
	ExceptionType    string `json:"ExceptionType"`
	ExceptionMessage string `json:"ExceptionMessage"`
	Message          any    `json:"Message"`
}

// newAPIError classifies a LeadSquared answer. The rules, from the reference:
//   - rate limited: HTTP 429, or ExceptionType MXAPIRateLimitExceededException,
//     or a message matching "exceeded the limit" (seen as 429, 403 and 200);
//   - permanent: any MX…Exception, even as HTTP 500; HTTP 4xx (bad body, keys,
//     host, path) and a "Status":"Error" answer with HTTP 2xx;
//   - retryable: other 5xx and non-JSON failures.
func newAPIError(op string, status int, header http.Header, exType, msg string) *APIError {
	e := &APIError{Op: op, StatusCode: status, ExceptionType: exType, Message: truncate(msg, 300)}
	switch {
	case status == http.StatusTooManyRequests || exType == rateLimitException || rateMessage.MatchString(msg):
		e.class = service.ClassRateLimited
		e.retryAfter = rateWindow
		if m := rateMessage.FindStringSubmatch(msg); m != nil {
			e.Limit, _ = strconv.Atoi(m[1])
			if secs, err := strconv.Atoi(m[2]); err == nil && secs > 0 && secs < 3600 {
				e.retryAfter = max(e.retryAfter, time.Duration(secs)*time.Second)
			}
		}
		if secs, err := strconv.Atoi(header.Get("Retry-After")); err == nil && secs > 0 && secs < 3600 {
			e.retryAfter = max(e.retryAfter, time.Duration(secs)*time.Second)
		}
	case strings.HasPrefix(exType, "MX"):
		e.class = service.ClassPermanent
	case status >= 500:
		e.class = service.ClassRetryable
	case status == http.StatusRequestTimeout || status == http.StatusTooEarly:
		e.class = service.ClassRetryable
	default: // 4xx, or 2xx with "Status":"Error"
		e.class = service.ClassPermanent
	}
	return e
}

// notFound is the error for an empty lookup; it wraps service.ErrNotFound.
func notFound(op, what string) *APIError {
	return &APIError{Op: op, StatusCode: http.StatusOK, Message: what + " not found",
		class: service.ClassPermanent, wrapped: service.ErrNotFound}
}

// invalid is a call refused before it was sent (bad arguments).
func invalid(op, msg string) *APIError {
	return &APIError{Op: op, Message: msg, class: service.ClassPermanent}
}

// unusable is a 2xx answer the client could not read (not JSON, no id). The
// effect may have happened, so it is uncertain, never retried in the call.
func unusable(op string, status int, msg string) *APIError {
	return &APIError{Op: op, StatusCode: status, Message: msg, class: service.ClassUncertain}
}

// TransportError is a call that got no HTTP answer. Written says whether the
// whole request had been sent: then the effect may have happened and the
// class is uncertain; if not, it is retryable. It wraps the cause, so a
// cancelled or expired caller context is visible with errors.Is.
type TransportError struct {
	Op      string
	Written bool
	Err     error
}

// Error names the operation and the cause; the cause never holds the URL.
func (e *TransportError) Error() string {
	state := "request not sent"
	if e.Written {
		state = "no answer after request was sent"
	}
	return fmt.Sprintf("leadsquared %s: %s: %v", e.Op, state, e.Err)
}

// Unwrap returns the cause (context.Canceled, context.DeadlineExceeded, a net error).
func (e *TransportError) Unwrap() error { return e.Err }

// Class is uncertain when the request was written, retryable otherwise.
func (e *TransportError) Class() service.ErrorClass {
	if e.Written {
		return service.ClassUncertain
	}
	return service.ClassRetryable
}

// RetryAfter is 0: the platform said nothing.
func (e *TransportError) RetryAfter() time.Duration { return 0 }

// retryable reports whether the in-call retry loop may try err again:
// transport errors before the request was written and retryable API errors.
// uncertainCreate marks a server failure (5xx) of a create as uncertain:
// LeadSquared may have created the record before failing, so the caller
// must look before creating again. Other errors pass through.
func uncertainCreate(err error) error {
	var ae *APIError
	if errors.As(err, &ae) && ae.class == service.ClassRetryable {
		ae.class = service.ClassUncertain
	}
	return err
}

// reached reports whether the request got to LeadSquared (it answered, or
// the request was fully written before the connection failed).
func reached(err error) bool {
	var te *TransportError
	if errors.As(err, &te) {
		return te.Written
	}
	return true
}

func retryable(err error) bool {
	var te *TransportError
	if errors.As(err, &te) {
		return !te.Written
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.class == service.ClassRetryable
	}
	return false
}
