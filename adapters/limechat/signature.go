package limechat

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Signature headers of newer Chatwoot builds, sent only when the webhook has a secret.
const (
	HeaderTimestamp = "X-Chatwoot-Timestamp"
	HeaderSignature = "X-Chatwoot-Signature"
)

// Distinct reasons VerifySignature refuses a delivery; test with errors.Is.
var (
	// ErrSignatureMissing: the timestamp or signature header is absent.
	ErrSignatureMissing = errors.New("webhook signature missing")
	// ErrSignatureInvalid: the signature does not match the body (or a
	// header is malformed, or no secret is configured).
	ErrSignatureInvalid = errors.New("webhook signature invalid")
	// ErrSignatureStale: the signature is right but the timestamp is further
	// than maxSkew from now (a replay, or a badly skewed clock).
	ErrSignatureStale = errors.New("webhook signature timestamp out of range")
)

// DefaultMaxSkew is the skew VerifySignature allows when given maxSkew <= 0.
const DefaultMaxSkew = 5 * time.Minute

// VerifySignature checks a signed Chatwoot delivery on its raw body:
// X-Chatwoot-Signature must be "sha256=" + hex HMAC-SHA256(secret,
// "{X-Chatwoot-Timestamp}.{body}") (compared in constant time), and the
// timestamp (unix seconds) must be within maxSkew of now, either way. Call it
// before parsing, and only when the integration has a signing secret.
func VerifySignature(secret []byte, header http.Header, body []byte, now time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	tsText := strings.TrimSpace(header.Get(HeaderTimestamp))
	sigText := strings.TrimSpace(header.Get(HeaderSignature))
	if tsText == "" || sigText == "" {
		return ErrSignatureMissing
	}
	if len(secret) == 0 {
		return fmt.Errorf("%w: no signing secret configured", ErrSignatureInvalid)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: malformed timestamp", ErrSignatureInvalid)
	}
	hexSig, ok := strings.CutPrefix(sigText, "sha256=")
	if !ok {
		return fmt.Errorf("%w: not a sha256= signature", ErrSignatureInvalid)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return fmt.Errorf("%w: signature is not hex", ErrSignatureInvalid)
	}
	if !hmac.Equal(got, mac(secret, tsText, body)) {
		return ErrSignatureInvalid
	}
	// Integer bounds first: time.Unix misbehaves for absurd timestamps.
	skew := now.Sub(time.Unix(ts, 0))
	if ts > now.Unix()+int64(maxSkew/time.Second)+1 || ts < now.Unix()-int64(maxSkew/time.Second)-1 || skew > maxSkew || skew < -maxSkew {
		return ErrSignatureStale
	}
	return nil
}

// Sign returns the X-Chatwoot-Timestamp and X-Chatwoot-Signature header
// values Chatwoot would send for body at ts. The fake uses it; so can tests.
func Sign(secret []byte, ts time.Time, body []byte) (timestampHeader, signatureHeader string) {
	timestampHeader = strconv.FormatInt(ts.Unix(), 10)
	return timestampHeader, "sha256=" + hex.EncodeToString(mac(secret, timestampHeader, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}
