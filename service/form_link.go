package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lsqbridge/lsqbridge/db"
)

// The agent page is opened from LimeChat, in an agent's browser, where no
// webhook credential may ever go. It is authenticated instead by a signed,
// expiring link for one ticket: HMAC-SHA256 over "integration|ticket|expiry"
// under a key derived from the master key and the hash of the integration's
// Dashboard App key (Integration.LinkSecret). Nothing in the database alone
// can sign a link, and rotating the app key (lsqbridge integration
// rotate-token ID --for app) voids every link it signed.

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

// linkKey derives the signing key of one integration's links. Only an
// integration admitted with its app credential (Integrations.Authenticate
// with PowerApp, or AuthenticateLink) carries a LinkSecret; without one
// nothing can be signed or verified.
func linkKey(in *Integration, purpose string) []byte {
	if len(in.LinkSecret) == 0 {
		panic("service: form link signed or checked without the integration's link secret")
	}
	m := hmac.New(sha256.New, in.LinkSecret)
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

// legacyAppKey is the Dashboard App key lsqbridge derived from the shared
// webhook token before each power had its own credential (migration 00010).
// An integration whose app power was never rotated still takes it, so app
// URLs configured before then keep working until that first rotation.
func legacyAppKey(id string, linkSecret []byte) string {
	m := hmac.New(sha256.New, linkKey(&Integration{ID: id, LinkSecret: linkSecret}, "dashboard-app"))
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ErrTicketNotInInbox is returned when the Dashboard App key asks for a
// link to a ticket it may not open: neither linked to the integration nor a
// conversation of its LimeChat inbox, or unknown to LimeChat (all alike).
var ErrTicketNotInInbox = errors.New("no such ticket in this integration's LimeChat inbox")

// CheckTicket says whether the Dashboard App key may sign a form link for
// ticketID: a ticket linked to this integration, or a conversation of its
// LimeChat inbox (one the form could link). Another inbox's conversation,
// another integration's ticket and a ticket LimeChat does not know are all
// ErrTicketNotInInbox, so the key cannot tell them apart.
func (f *Forms) CheckTicket(ctx context.Context, in *Integration, ticketID int64) error {
	_, err := f.q.LinkGetByTicket(ctx, db.LinkGetByTicketParams{IntegrationID: in.ID, TicketID: &ticketID})
	if err == nil {
		return nil
	}
	if !db.IsNotFound(err) {
		return fmt.Errorf("read link of ticket %d: %w", ticketID, err)
	}
	t, err := f.platforms.For(in).LimeChat.GetConversation(ctx, ticketID)
	if errors.Is(err, ErrNotFound) {
		return ErrTicketNotInInbox
	}
	if err != nil {
		return fmt.Errorf("read ticket %d from LimeChat: %w", ticketID, err)
	}
	if t.InboxID != in.LimeChatInboxID || in.LimeChatInboxID == 0 {
		return ErrTicketNotInInbox
	}
	return nil
}
