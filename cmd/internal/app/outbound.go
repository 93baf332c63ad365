package app

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// errNotFollowed is what a redirect answer becomes: lsqbridge's platform
// clients carry credentials in headers, and net/http would send them along
// to whatever host a redirect names.
var errNotFollowed = http.ErrUseLastResponse

// OutboundClient is the HTTP client every platform client (LeadSquared,
// LimeChat, Flow-builder) is built on. It sends requests over https:// only
// and connects only to public addresses: every address it dials is checked
// after DNS resolution, so a name pointing at a private, link-local (cloud
// metadata) or loopback address is refused too. allowLoopback, set only by
// the sandbox or LSQBRIDGE_ALLOW_LOOPBACK (tests, local fakes), also lets
// it reach loopback addresses, over http:// as well. It never follows a
// redirect, and it ignores HTTP_PROXY: lsqbridge connects directly.
func OutboundClient(allowLoopback bool) *http.Client {
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			return checkDial(address, allowLoopback)
		},
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = dialer.DialContext
	return &http.Client{
		Transport:     &schemeGuard{next: tr, allowLoopback: allowLoopback},
		CheckRedirect: func(*http.Request, []*http.Request) error { return errNotFollowed },
	}
}

// checkDial refuses connecting to an address that is not public.
func checkDial(address string, allowLoopback bool) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("outbound: refusing to dial %q: not an IP address", host)
	}
	if err := service.PublicAddress(ip, allowLoopback); err != nil {
		if ip.Unmap().IsLoopback() {
			return fmt.Errorf("outbound: refusing to connect: %w (local fakes on loopback: set LSQBRIDGE_ALLOW_LOOPBACK=true)", err)
		}
		return fmt.Errorf("outbound: refusing to connect: %w", err)
	}
	return nil
}

// schemeGuard refuses plain http://, except to a loopback host when allowed.
type schemeGuard struct {
	next          http.RoundTripper
	allowLoopback bool
}

func (g *schemeGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" && !(g.allowLoopback && r.URL.Scheme == "http" && isLoopbackHost(r.URL.Hostname())) {
		if r.Body != nil {
			r.Body.Close()
		}
		msg := "outbound: refusing a request over " + r.URL.Scheme + "://: credentials go over https:// only"
		if isLoopbackHost(r.URL.Hostname()) {
			msg += " (local fakes on loopback: set LSQBRIDGE_ALLOW_LOOPBACK=true)"
		}
		return nil, errors.New(msg)
	}
	return g.next.RoundTrip(r)
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
