package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lsqbridge/lsqbridge/db"
)

// Every caller of lsqbridge has its own credential, and each credential
// opens one door (a Power): a LeadSquared webhook token cannot post LimeChat
// events, the token in LimeChat's webhook URL cannot forge LeadSquared
// events or reach the form API, and the Dashboard App key can only sign
// form links. Each is generated, shown once, stored as its SHA-256 hash
// (migrations/00010_credentials.sql) and rotated on its own. Every request
// reads its route's current hash and the integration's state in one indexed
// query, so a rotation or `integration disable` takes effect in every
// process on the next request, without any cache to expire.

// Power names the one door a credential opens.
type Power string

// The four credentials of an integration.
const (
	// PowerLeadSquared opens the LeadSquared webhook routes (header only).
	PowerLeadSquared Power = "leadsquared"
	// PowerLimeChat opens the LimeChat account webhook route (header or
	// ?token=, since Chatwoot cannot send custom headers).
	PowerLimeChat Power = "limechat"
	// PowerAutomation opens the LimeChat automation-rule route.
	PowerAutomation Power = "automation"
	// PowerApp is the Dashboard App key: it signs opportunity-form links for
	// tickets of the integration's inbox, and the links open the form.
	PowerApp Power = "app"
)

// Powers lists every power in the order they are printed.
var Powers = []Power{PowerLeadSquared, PowerLimeChat, PowerAutomation, PowerApp}

// ParsePower reads a power's name.
func ParsePower(s string) (Power, error) {
	for _, p := range Powers {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown credential %q: one of leadsquared, limechat, automation, app", s)
}

// credentialPrefix marks which power a secret was made for, so a person (and
// the refusal log) can tell them apart. It is not what makes a credential
// valid: only its hash is.
func credentialPrefix(p Power) string { return "lsqb_" + string(p) + "_" }

// NewCredential returns a fresh random secret for p: "lsqb_<power>_" and 43
// URL-safe characters (256 random bits).
func NewCredential(p Power) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return credentialPrefix(p) + base64.RawURLEncoding.EncodeToString(b)
}

// CredentialKind says which power a presented secret looks made for, from
// its prefix alone ("" for none, such as the shared legacy token). For logs.
func CredentialKind(secret string) Power {
	for _, p := range Powers {
		if strings.HasPrefix(secret, credentialPrefix(p)) {
			return p
		}
	}
	return ""
}

// Fingerprint is a short, non-reversible name of a secret for logs and
// `integration show`: the first 8 hex characters of its SHA-256 ("" for "").
func Fingerprint(secret string) string {
	if secret == "" {
		return ""
	}
	return hashFingerprint(HashToken(secret))
}

func hashFingerprint(hash []byte) string {
	if len(hash) < 4 {
		return ""
	}
	return hex.EncodeToString(hash[:4])
}

// Credentials are the four secrets of an integration, as generated: shown
// once (on creation, or the one a rotation replaced) and never stored.
type Credentials struct {
	LeadSquared string
	LimeChat    string
	Automation  string
	App         string
}

// Get returns the secret of one power ("" when not set).
func (c Credentials) Get(p Power) string {
	switch p {
	case PowerLeadSquared:
		return c.LeadSquared
	case PowerLimeChat:
		return c.LimeChat
	case PowerAutomation:
		return c.Automation
	case PowerApp:
		return c.App
	}
	return ""
}

// With returns the credentials with p's secret set to secret.
func (c Credentials) With(p Power, secret string) Credentials {
	c.set(p, secret)
	return c
}

func (c *Credentials) set(p Power, v string) {
	switch p {
	case PowerLeadSquared:
		c.LeadSquared = v
	case PowerLimeChat:
		c.LimeChat = v
	case PowerAutomation:
		c.Automation = v
	case PowerApp:
		c.App = v
	}
}

func newCredentials() Credentials {
	var c Credentials
	for _, p := range Powers {
		c.set(p, NewCredential(p))
	}
	return c
}

// Reasons a request was refused. They go to the log and the refusal metric,
// never to the caller: every refusal answers the same.
const (
	RefusedUnknownIntegration = "unknown_integration"
	RefusedDisabled           = "disabled"
	RefusedNoCredential       = "no_credential"
	RefusedWrongCredential    = "wrong_credential"
	// RefusedRotatedCredential is the credential the last rotation replaced.
	RefusedRotatedCredential = "rotated_credential"
	RefusedBadSignature      = "bad_signature"
	RefusedBadLink           = "bad_link"
)

// RefusedError is a request whose credential does not open its route. Its
// Reason is for the log; the caller is told nothing more than "refused".
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return "refused: " + e.Reason }

func refused(reason string) error { return &RefusedError{Reason: reason} }

// credentialGate is one route's view of an integration for one request.
type credentialGate struct {
	row db.CredentialCheckRow
}

// check reads the integration's state and the route's credential: one
// query on two primary keys.
func (s *Integrations) check(ctx context.Context, id string, p Power) (credentialGate, error) {
	if !idPattern.MatchString(id) {
		return credentialGate{}, refused(RefusedUnknownIntegration)
	}
	row, err := s.q.CredentialCheck(ctx, db.CredentialCheckParams{IntegrationID: id, Power: string(p)})
	if db.IsNotFound(err) {
		return credentialGate{}, refused(RefusedUnknownIntegration)
	}
	if err != nil {
		return credentialGate{}, fmt.Errorf("check credential of %s: %w", id, err)
	}
	if row.Disabled {
		return credentialGate{}, refused(RefusedDisabled)
	}
	return credentialGate{row: row}, nil
}

// admitSecret compares a presented secret with the gate's hash in constant
// time. The Dashboard App key of an integration that still has its legacy
// shared token is the key lsqbridge derived from that token before 00010.
func (s *Integrations) admitSecret(id string, p Power, g credentialGate, secret string) error {
	if secret == "" {
		return refused(RefusedNoCredential)
	}
	ok := false
	if p == PowerApp && g.row.Legacy {
		ok = hmac.Equal([]byte(secret), []byte(legacyAppKey(id, s.linkSecret(id, g.row.SecretHash))))
	} else {
		ok = TokenMatches(secret, g.row.SecretHash)
	}
	switch {
	case ok:
		return nil
	case len(g.row.PreviousHash) > 0 && TokenMatches(secret, g.row.PreviousHash):
		return refused(RefusedRotatedCredential)
	}
	return refused(RefusedWrongCredential)
}

// linkSecret is the key behind an integration's form links and (legacy)
// Dashboard App key: derived from the master key and the app credential's
// hash, so the database alone cannot sign a link and rotating the app key
// voids every link it signed.
func (s *Integrations) linkSecret(id string, appHash []byte) []byte {
	return s.sealer.Derive("form-links", id, string(appHash))
}

// Authenticate admits a request to a route of power p presenting secret,
// and returns the integration it may act for. It reads the route's current
// credential and the integration's state in one query on every call, so a
// rotation or a disable elsewhere applies to the very next request. Refusals
// are *RefusedError (unknown integration, disabled, wrong, rotated or missing
// credential); any other error means the check could not be made.
func (s *Integrations) Authenticate(ctx context.Context, id string, p Power, secret string) (*Integration, error) {
	g, err := s.check(ctx, id, p)
	if err != nil {
		return nil, err
	}
	if err := s.admitSecret(id, p, g, secret); err != nil {
		return nil, err
	}
	return s.admitted(ctx, id, p, g)
}

// AuthenticateLink admits a request carrying a signed form link for ticketID
// (exp and sig as the link has them). The link must have been signed with
// the integration's current Dashboard App key. A genuine link past its
// expiry is ErrLinkExpired, told apart from a refusal only once its
// signature checks out.
func (s *Integrations) AuthenticateLink(ctx context.Context, id string, ticketID int64, exp, sig string, now time.Time) (*Integration, error) {
	g, err := s.check(ctx, id, PowerApp)
	if err != nil {
		return nil, err
	}
	if sig == "" {
		return nil, refused(RefusedNoCredential)
	}
	probe := &Integration{ID: id, LinkSecret: s.linkSecret(id, g.row.SecretHash)}
	switch err := VerifyPage(probe, ticketID, exp, sig, now); {
	case errors.Is(err, ErrLinkInvalid):
		return nil, refused(RefusedBadLink)
	case err != nil:
		return nil, err
	}
	return s.admitted(ctx, id, PowerApp, g)
}

// admitted returns the integration for an admitted request: the cached one
// while its config_version is current, with the state this request read.
func (s *Integrations) admitted(ctx context.Context, id string, p Power, g credentialGate) (*Integration, error) {
	in, err := s.getVersion(ctx, id, g.row.ConfigVersion)
	if err != nil {
		return nil, err
	}
	cp := *in
	cp.Disabled = false
	cp.LinkSecret = nil
	if p == PowerApp {
		cp.LinkSecret = s.linkSecret(id, g.row.SecretHash)
	}
	return &cp, nil
}

// Rotate replaces the credential of one power with a new one and returns it
// (shown once). The old one is refused from the next request on, in every
// process. Rotating the Dashboard App key also voids every form link it
// signed and refills its link bucket.
func (s *Integrations) Rotate(ctx context.Context, id string, p Power) (string, error) {
	if _, err := ParsePower(string(p)); err != nil {
		return "", err
	}
	secret := NewCredential(p)
	_, err := s.q.CredentialRotate(ctx, db.CredentialRotateParams{IntegrationID: id, Power: string(p), SecretHash: HashToken(secret)})
	if db.IsNotFound(err) {
		return "", fmt.Errorf("%w: %s", ErrIntegrationNotFound, id)
	}
	if err != nil {
		return "", fmt.Errorf("rotate the %s credential of %s: %w", p, id, err)
	}
	return secret, nil
}

// TakeAppLink takes one form link from the Dashboard App key's bucket of an
// integration: perMinute links a minute, in bursts of up to perMinute. It
// answers 0 when the link may be signed, else how long until one may. The
// bucket lives in the credential's row, so every serve process draws from
// the same one, and a rotation refills it.
func (s *Integrations) TakeAppLink(ctx context.Context, id string, perMinute int) (time.Duration, error) {
	if perMinute <= 0 {
		perMinute = DefaultAppLinksPerMinute
	}
	params := db.CredentialTakeLinkParams{IntegrationID: id, Cap: float64(perMinute), Rate: float64(perMinute) / 60}
	r, err := s.q.CredentialTakeLink(ctx, params)
	if db.IsNotFound(err) {
		// An integration still on its legacy token has no app row yet.
		if err := s.q.CredentialEnsure(ctx, db.CredentialEnsureParams{IntegrationID: id, Power: string(PowerApp)}); err != nil {
			return 0, fmt.Errorf("take a form link of %s: %w", id, err)
		}
		r, err = s.q.CredentialTakeLink(ctx, params)
	}
	if err != nil {
		return 0, fmt.Errorf("take a form link of %s: %w", id, err)
	}
	if r.Granted {
		return 0, nil
	}
	return max(time.Duration(r.WaitSeconds*float64(time.Second)), time.Second), nil
}

// DefaultAppLinksPerMinute is the Dashboard App key's form-link rate when
// form.app_links_per_minute is not set.
const DefaultAppLinksPerMinute = 60

// CredentialState is one power's credential as `integration show` prints it.
type CredentialState struct {
	Power Power `json:"power"`
	// Legacy is true while the power still takes the integration's shared
	// pre-00010 webhook token (rotate it to give it its own).
	Legacy bool `json:"legacy_shared_token"`
	// Version counts rotations (0 while legacy).
	Version   int32  `json:"version"`
	RotatedAt string `json:"rotated_at,omitempty"`
	// Fingerprint is the first 8 hex characters of the secret's SHA-256,
	// as the refusal log shows a presented secret's.
	Fingerprint string `json:"fingerprint"`
}

// credentialStates returns each power's state for the given integrations
// (legacy for a power with no row of its own).
func (s *Integrations) credentialStates(ctx context.Context, rows []db.Integration) (map[string][]CredentialState, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	list, err := s.q.CredentialList(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	type key struct {
		id string
		p  Power
	}
	have := map[key]db.CredentialListRow{}
	for _, c := range list {
		have[key{c.IntegrationID, Power(c.Power)}] = c
	}
	out := map[string][]CredentialState{}
	for _, r := range rows {
		for _, p := range Powers {
			st := CredentialState{Power: p, Legacy: true, Fingerprint: hashFingerprint(r.WebhookTokenHash)}
			if c, ok := have[key{r.ID, p}]; ok && len(c.SecretHash) > 0 {
				st = CredentialState{Power: p, Version: c.Version, Fingerprint: hashFingerprint(c.SecretHash)}
				if c.RotatedAt != nil {
					st.RotatedAt = c.RotatedAt.UTC().Format(time.RFC3339)
				}
			}
			if p == PowerApp && st.Legacy {
				st.Fingerprint = "" // the legacy app key is derived, not hashed
			}
			out[r.ID] = append(out[r.ID], st)
		}
	}
	return out, nil
}

// TokenMatches compares a presented secret with a stored hash in constant time.
func TokenMatches(presented string, hash []byte) bool {
	h := HashToken(presented)
	return len(hash) == len(h) && subtle.ConstantTimeCompare(h, hash) == 1
}

// HashToken is what is stored instead of a credential.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
