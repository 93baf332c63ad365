package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// TestPlatformURLsMustBePublicHTTPS: integration apply refuses http:// and
// non-public hosts, except loopback when allowed explicitly.
func TestPlatformURLsMustBePublicHTTPS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url      string
		loopback bool
		want     string // "" = accepted
	}{
		{"https://api-in21.leadsquared.com", false, ""},
		{"https://app.limechat.ai", false, ""},
		{"http://api-in21.leadsquared.com", false, "must be https://"},
		{"http://api-in21.leadsquared.com", true, "must be https://"},
		{"https://10.1.2.3", false, "private address"},
		{"https://10.1.2.3", true, "private address"},
		{"https://192.168.0.10:8443", false, "private address"},
		{"https://100.64.1.1", false, "private address"},
		{"https://[fd00::1]", false, "private address"},
		{"https://169.254.169.254", false, "not a public unicast address"},
		{"https://0.0.0.0", false, "not a public unicast address"},
		{"https://127.0.0.1:8443", false, "loopback address"},
		{"http://127.0.0.1:8081", false, "loopback address"},
		{"https://localhost", false, "this machine"},
		{"https://[::ffff:127.0.0.1]", false, "loopback address"},
		{"http://127.0.0.1:8081", true, ""},
		{"https://127.0.0.1:8443", true, ""},
		{"http://localhost:8081", true, ""},
	}
	for _, tt := range tests {
		err := service.CheckOutboundURL(tt.url, tt.loopback)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s (loopback %v): refused: %v", tt.url, tt.loopback, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s (loopback %v): %v; want an error saying %q", tt.url, tt.loopback, err, tt.want)
		}
	}
}

// TestOutboundClientRefusesPlainHTTPNonPublicAddressesAndRedirects: the
// client every platform client uses connects over https:// to public
// addresses only (loopback when allowed) and never follows a redirect.
func TestOutboundClientRefusesPlainHTTPNonPublicAddressesAndRedirects(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	t.Cleanup(target.Close)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/steal", http.StatusFound)
	}))
	t.Cleanup(redirecting.Close)
	tlsLoopback := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(tlsLoopback.Close)

	get := func(c *http.Client, url string) (*http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("x-LSQ-SecretKey", "secret")
		resp, err := c.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		return resp, err
	}
	strict, loose := OutboundClient(false), OutboundClient(true)
	for _, tt := range []struct {
		name string
		c    *http.Client
		url  string
		want string
	}{
		{"plain http to loopback", strict, target.URL, "over http://"},
		{"https to loopback", strict, tlsLoopback.URL, "loopback address"},
		{"https to a private address", loose, "https://10.255.255.1:443/", "private address"},
		{"https to cloud metadata", loose, "https://169.254.169.254/", "not a public unicast address"},
		{"plain http to a public name", loose, "http://example.com/", "over http://"},
	} {
		if _, err := get(tt.c, tt.url); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want a refusal saying %q", tt.name, err, tt.want)
		}
	}
	resp, err := get(loose, redirecting.URL)
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Errorf("a redirect with loopback allowed: %v %v; want the 302 itself", resp, err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect was followed (%d requests reached its target)", n)
	}
	if resp, err := get(loose, target.URL); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("plain http to loopback when allowed: %v %v", resp, err)
	}
}
