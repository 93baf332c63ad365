package limechat

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	secret := []byte("whsec-test")
	body := []byte(`{"event":"conversation_updated","id":1}`)
	now := time.Unix(1717243200, 0)
	ts, sig := Sign(secret, now, body)
	header := func(ts, sig string) http.Header {
		h := http.Header{}
		if ts != "" {
			h.Set(HeaderTimestamp, ts)
		}
		if sig != "" {
			h.Set(HeaderSignature, sig)
		}
		return h
	}
	cases := []struct {
		name   string
		secret []byte
		header http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, header(ts, sig), body, now, nil},
		{"valid within skew", secret, header(ts, sig), body, now.Add(5 * time.Minute), nil},
		{"valid, receiver clock behind", secret, header(ts, sig), body, now.Add(-4 * time.Minute), nil},
		{"no timestamp", secret, header("", sig), body, now, ErrSignatureMissing},
		{"no signature", secret, header(ts, ""), body, now, ErrSignatureMissing},
		{"no headers", secret, http.Header{}, body, now, ErrSignatureMissing},
		{"body changed", secret, header(ts, sig), append([]byte(" "), body...), now, ErrSignatureInvalid},
		{"wrong secret", []byte("other"), header(ts, sig), body, now, ErrSignatureInvalid},
		{"no secret configured", nil, header(ts, sig), body, now, ErrSignatureInvalid},
		{"timestamp changed", secret, header(strconv.FormatInt(now.Unix()+1, 10), sig), body, now, ErrSignatureInvalid},
		{"malformed timestamp", secret, header("yesterday", sig), body, now, ErrSignatureInvalid},
		{"no sha256= prefix", secret, header(ts, sig[len("sha256="):]), body, now, ErrSignatureInvalid},
		{"not hex", secret, header(ts, "sha256=zz"), body, now, ErrSignatureInvalid},
		{"too old", secret, header(ts, sig), body, now.Add(5*time.Minute + time.Second), ErrSignatureStale},
		{"from the future", secret, header(ts, sig), body, now.Add(-6 * time.Minute), ErrSignatureStale},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := VerifySignature(tc.secret, tc.header, tc.body, tc.now, 5*time.Minute)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifySignatureDefaultSkew(t *testing.T) {
	t.Parallel()
	secret, body, now := []byte("s"), []byte("{}"), time.Unix(1717243200, 0)
	ts, sig := Sign(secret, now, body)
	h := http.Header{HeaderTimestamp: {ts}, HeaderSignature: {sig}}
	if err := VerifySignature(secret, h, body, now.Add(DefaultMaxSkew), 0); err != nil {
		t.Errorf("at the default skew: %v", err)
	}
	if err := VerifySignature(secret, h, body, now.Add(DefaultMaxSkew+time.Second), 0); !errors.Is(err, ErrSignatureStale) {
		t.Errorf("past the default skew: %v", err)
	}
}

func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	// HMAC-SHA256("secret", "1717243200.{}") computed independently with openssl:
	// printf '1717243200.{}' | openssl dgst -sha256 -hmac secret
	ts, sig := Sign([]byte("secret"), time.Unix(1717243200, 0), []byte("{}"))
	if ts != "1717243200" || sig != "sha256="+knownVector {
		t.Errorf("Sign = %s %s", ts, sig)
	}
}

const knownVector = "56f0ff11f1c65226954282a613954834b326df0e1a30003e9e8de076abf87810"
