package limechat

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"99999999999", maxRetryAfter},
		{now.Add(45 * time.Second).Format(http.TimeFormat), 45 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(1000 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
		{"soon", 0},
	}
	for _, tc := range cases {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestStatusError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		status    int
		body      string
		wantMsg   string
		wantAttrs []string
		wantClass service.ErrorClass
		notFound  bool
	}{
		{"chatwoot error", 401, `{"error":"Invalid Access Token"}`, "Invalid Access Token", nil, service.ClassPermanent, false},
		{"not found", 404, `{"error":"Resource could not be found"}`, "Resource could not be found", nil, service.ClassPermanent, true},
		{"validation", 422, `{"message":"Phone number should be in e164 format","attributes":["phone_number"]}`, "Phone number should be in e164 format", []string{"phone_number"}, service.ClassPermanent, false},
		{"error object", 400, `{"error":{"code":"x"}}`, `{"code":"x"}`, nil, service.ClassPermanent, false},
		{"rack-attack text", 429, "Retry later\n", "Retry later", nil, service.ClassRateLimited, false},
		{"html page", 502, "<html><body>Bad Gateway</body></html>", "non-JSON (HTML) body", nil, service.ClassRetryable, false},
		{"empty body", 503, "", "Service Unavailable", nil, service.ClassRetryable, false},
		{"redirect", 302, "", "Found", nil, service.ClassPermanent, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := statusError("op", tc.status, http.Header{}, []byte(tc.body), time.Now())
			if e.Message != tc.wantMsg || !slices.Equal(e.Attributes, tc.wantAttrs) || e.Class() != tc.wantClass {
				t.Errorf("got %q %v %v, want %q %v %v", e.Message, e.Attributes, e.Class(), tc.wantMsg, tc.wantAttrs, tc.wantClass)
			}
			if errors.Is(e, service.ErrNotFound) != tc.notFound {
				t.Errorf("errors.Is(ErrNotFound) = %v", !tc.notFound)
			}
		})
	}
}

func TestErrorTextIsShort(t *testing.T) {
	t.Parallel()
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	e := statusError("op", 500, http.Header{}, long, time.Now())
	if len(e.Error()) > 300 {
		t.Errorf("error text is %d bytes", len(e.Error()))
	}
}
