package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lsqbridge/lsqbridge/service"
)

// Every route takes one credential, of one power, and nothing else:
//
//	POST /v1/webhooks/leadsquared/{id}/{event}     LeadSquared token, header X-Lsqbridge-Token only
//	POST /v1/webhooks/limechat/{id}                LimeChat token, header or ?token= (+ signature when configured)
//	POST /v1/webhooks/limechat/{id}/automation     automation token, header or ?token=
//	GET  …/opportunity-form/link                   Dashboard App key, header X-Lsqbridge-App-Key
//	GET  /v1/integrations/{id}/dashboard-app/config  Dashboard App key
//	GET|POST …/opportunity-form, GET …/page        a form link the current app key signed
//
// Every refusal — unknown integration, disabled integration, missing, wrong,
// rotated or another route's credential, bad signature — answers the same
// status and body on a route, so a caller without the credential learns
// nothing; the reason goes to the log and the refusal metric only.

// Authenticator admits requests (service.Integrations does).
type Authenticator interface {
	// Authenticate admits a request to a route of power p presenting secret.
	Authenticate(ctx context.Context, id string, p service.Power, secret string) (*service.Integration, error)
	// AuthenticateLink admits a request carrying a signed form link.
	AuthenticateLink(ctx context.Context, id string, ticketID int64, exp, sig string, now time.Time) (*service.Integration, error)
	// TakeAppLink takes one link from the Dashboard App key's bucket: 0, or
	// how long until one may be signed.
	TakeAppLink(ctx context.Context, id string, perMinute int) (time.Duration, error)
}

// Where credentials travel. The webhook token header is the one LeadSquared
// sends as a custom header; Chatwoot cannot send headers, so the LimeChat
// routes also take ?token=. The app key and the link's parts have headers
// of their own, and the link also travels as ?exp=&sig= (the page's URL).
const (
	headerToken         = "X-Lsqbridge-Token"
	headerAppKey        = "X-Lsqbridge-App-Key"
	headerLinkExpires   = "X-Lsqbridge-Link-Expires"
	headerLinkSignature = "X-Lsqbridge-Link-Signature"
)

// refusedMessage is the whole answer to every refused request.
const refusedMessage = "not authorized"

// unavailableMessage answers a request whose credential could not be checked.
const unavailableMessage = "temporarily unavailable; retry"

// newRefusedCounter registers lsqbridge_requests_refused_total on reg.
func newRefusedCounter(reg *prometheus.Registry) *prometheus.CounterVec {
	if reg == nil {
		return nil
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lsqbridge_requests_refused_total",
		Help: "Requests refused for their credential, by route and reason (unknown_integration, disabled, no_credential, wrong_credential, rotated_credential, bad_signature, bad_link).",
	}, []string{"route", "reason"})
	reg.MustRegister(c)
	return c
}

// logRefusal records why a request was refused: never the secret, only a
// fingerprint of what was presented (the first 8 hex characters of its
// SHA-256, as `integration show` prints each credential's) and which power
// its prefix claims when that is not the route's.
func logRefusal(log *slog.Logger, refused *prometheus.CounterVec, r *http.Request, route string, p service.Power, id, secret, reason string) {
	if refused != nil {
		refused.WithLabelValues(route, reason).Inc()
	}
	if len(id) > 64 {
		id = id[:64]
	}
	attrs := []any{"route", route, "integration", id, "reason", reason, "remote", r.RemoteAddr}
	if secret != "" {
		attrs = append(attrs, "credential", service.Fingerprint(secret))
		if k := service.CredentialKind(secret); k != "" && k != p {
			attrs = append(attrs, "credential_of", string(k))
		}
	}
	log.Warn("request refused", attrs...)
}

// admit lets a webhook in with its route's own credential only, and
// answers anything else itself (refused alike, or 503 when the credential
// could not be checked).
func (h *Webhooks) admit(w http.ResponseWriter, r *http.Request, p service.Power) (*service.Integration, bool) {
	id := mux.Vars(r)["integration"]
	secret := r.Header.Get(headerToken)
	if secret == "" && p != service.PowerLeadSquared {
		// Chatwoot sends no custom headers; LeadSquared does, and its token
		// is never taken from a URL (URLs end up in logs).
		secret = r.URL.Query().Get("token")
	}
	in, err := h.Integrations.Authenticate(r.Context(), id, p, secret)
	if err == nil {
		return in, true
	}
	var re *service.RefusedError
	if !errors.As(err, &re) {
		h.log().Error("check webhook credential", "route", string(p), "integration", id, "err", err)
		webhookAnswer(w, p, http.StatusServiceUnavailable, unavailableMessage)
		return nil, false
	}
	logRefusal(h.log(), h.refused, r, string(p), p, id, secret, re.Reason)
	webhookAnswer(w, p, http.StatusUnauthorized, refusedMessage)
	return nil, false
}

// refuseSignature refuses a LimeChat delivery whose signature does not
// verify, exactly as a wrong token is refused.
func (h *Webhooks) refuseSignature(w http.ResponseWriter, r *http.Request, id string, err error) {
	logRefusal(h.log(), h.refused, r, string(service.PowerLimeChat), service.PowerLimeChat, id, "", service.RefusedBadSignature)
	h.log().Warn("LimeChat signature check failed", "integration", id, "err", err)
	webhookAnswer(w, service.PowerLimeChat, http.StatusUnauthorized, refusedMessage)
}

// webhookPower is the credential a LimeChat route takes: the account
// webhook's (signed) or the automation rule's.
func webhookPower(signed bool) service.Power {
	if signed {
		return service.PowerLimeChat
	}
	return service.PowerAutomation
}

// webhookAnswer writes a refusal in the route's own shape: LeadSquared's
// {"Status":"Error","StatusReason"} or {"error"}.
func webhookAnswer(w http.ResponseWriter, p service.Power, status int, msg string) {
	if p == service.PowerLeadSquared {
		writeJSON(w, status, map[string]string{"Status": "Error", "StatusReason": msg})
		return
	}
	writeError(w, status, msg)
}

// authError is a refused form request: status and message for the caller.
type authError struct {
	status int
	msg    string
}

var (
	errRefused     = &authError{http.StatusUnauthorized, refusedMessage}
	errUnavailable = &authError{http.StatusServiceUnavailable, unavailableMessage}
)

// formFailure turns an authentication error into the caller's answer,
// logging why.
func (f *Forms) formFailure(r *http.Request, route string, p service.Power, id, secret string, err error) *authError {
	var re *service.RefusedError
	switch {
	case errors.As(err, &re):
		logRefusal(f.log(), f.refused, r, route, p, id, secret, re.Reason)
		return errRefused
	case errors.Is(err, service.ErrLinkExpired):
		// Said only to a holder of a genuine link of an enabled integration.
		return &authError{http.StatusForbidden, service.ErrLinkExpired.Error()}
	}
	f.log().Error("check form credential", "route", route, "integration", id, "err", err)
	return errUnavailable
}

// admitLink admits a form route (the JSON form, the agent page) by a link
// signed for its ticket with the integration's current Dashboard App key:
// headers X-Lsqbridge-Link-Expires/-Signature, or ?exp=&sig=. No other
// credential opens it.
func (f *Forms) admitLink(r *http.Request, route string) (*service.Integration, int64, *authError) {
	id := mux.Vars(r)["integration"]
	exp, sig := r.Header.Get(headerLinkExpires), r.Header.Get(headerLinkSignature)
	if sig == "" {
		exp, sig = r.URL.Query().Get("exp"), r.URL.Query().Get("sig")
	}
	presented := otherSecret(r)
	ticket, err := strconv.ParseInt(mux.Vars(r)["ticket"], 10, 64)
	if err != nil || ticket <= 0 {
		return nil, 0, f.formFailure(r, route, service.PowerApp, id, presented, &service.RefusedError{Reason: service.RefusedBadLink})
	}
	in, err := f.Integrations.AuthenticateLink(r.Context(), id, ticket, exp, sig, f.now())
	if err != nil {
		if sig != "" {
			presented = "" // a link is no secret of its own to fingerprint
		}
		return nil, 0, f.formFailure(r, route, service.PowerApp, id, presented, err)
	}
	return in, ticket, nil
}

// admitAppKey admits a Dashboard App route by the app key (header
// X-Lsqbridge-App-Key) only.
func (f *Forms) admitAppKey(r *http.Request, route string) (*service.Integration, *authError) {
	id := mux.Vars(r)["integration"]
	key := r.Header.Get(headerAppKey)
	in, err := f.Integrations.Authenticate(r.Context(), id, service.PowerApp, key)
	if err != nil {
		if key == "" {
			key = otherSecret(r)
		}
		return nil, f.formFailure(r, route, service.PowerApp, id, key, err)
	}
	return in, nil
}

// otherSecret is a secret presented the way other routes take theirs, for
// the refusal log (its fingerprint, and which power it claims to be).
func otherSecret(r *http.Request) string {
	for _, s := range []string{r.Header.Get(headerAppKey), r.Header.Get(headerToken), r.URL.Query().Get("token")} {
		if s != "" {
			return s
		}
	}
	return ""
}
