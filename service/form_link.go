package service

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"time"
)

// The agent page is opened from LimeChat, in an agent's browser, where the
// integration's webhook token must never go. It is authenticated instead by
// a signed, expiring link for one ticket: HMAC-SHA256 over
// "integration|ticket|expiry" under a key derived from the master key and
// the integration's token hash (Integration.LinkSecret): nothing in the
// database alone can sign a link, and rotating the token (lsqbridge
// integration rotate-token) invalidates every link.

// ErrLinkExpired is returned for a page link whose expiry has passed.
var ErrLinkExpired = errors.New("this opportunity form link has expired: open the form again from the ticket")

// ErrLinkInvalid is returned for a page link whose signature does not match.
var ErrLinkInvalid = errors.New("this opportunity form link is not valid (wrong signature, ticket or integration)")

// PageLink is a signed link to one ticket's form.
type PageLink struct {
	TicketID int64
	// Expires is when the link stops working (whole seconds).
	Expires time.Time
	// Signature is URL-safe base64 without padding.
	Signature string
}

// linkKey derives the signing key of one integration's links.
func linkKey(in *Integration, purpose string) []byte {
	secret := in.LinkSecret
	if len(secret) == 0 {
		secret = in.TokenHash // an Integration built by hand (unit tests)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("lsqbridge:" + purpose + ":v1"))
	return m.Sum(nil)
}

func pageSignature(in *Integration, ticketID, exp int64) []byte {
	m := hmac.New(sha256.New, linkKey(in, "opportunity-form-page"))
	m.Write([]byte(in.ID + "|" + strconv.FormatInt(ticketID, 10) + "|" + strconv.FormatInt(exp, 10)))
	return m.Sum(nil)
}

// SignPage returns a link to ticketID's form valid until now plus the
// integration's form.page_link_ttl (24h when unset).
func SignPage(in *Integration, ticketID int64, now time.Time) PageLink {
	ttl := time.Duration(in.Rules.Form.PageLinkTTL)
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	exp := now.Add(ttl).Unix()
	return PageLink{
		TicketID: ticketID, Expires: time.Unix(exp, 0).UTC(),
		Signature: base64.RawURLEncoding.EncodeToString(pageSignature(in, ticketID, exp)),
	}
}

// VerifyPage checks a page link's expiry (unix seconds) and signature for
// ticketID. The signature is compared in constant time, before the expiry,
// so a forged link never learns whether its expiry was acceptable.
func VerifyPage(in *Integration, ticketID int64, exp, sig string, now time.Time) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || sig == "" {
		return ErrLinkInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, pageSignature(in, ticketID, e)) {
		return ErrLinkInvalid
	}
	if now.Unix() >= e {
		return ErrLinkExpired
	}
	return nil
}

// DashboardAppKey is the key in the integration's LimeChat Dashboard App
// URL. The app is configured once per account with a static URL, so the
// key cannot be per ticket: it lets the app obtain a signed page link for
// any ticket of this integration, and nothing else (no webhook, no API).
// Every agent of the account can see it, as they can see the tickets.
func DashboardAppKey(in *Integration) string {
	m := hmac.New(sha256.New, linkKey(in, "dashboard-app"))
	m.Write([]byte(in.ID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// VerifyDashboardAppKey compares a presented app key in constant time.
func VerifyDashboardAppKey(in *Integration, key string) bool {
	return key != "" && hmac.Equal([]byte(key), []byte(DashboardAppKey(in)))
}
