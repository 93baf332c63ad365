package service

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrMasterKey is returned when LSQBRIDGE_MASTER_KEY is missing or malformed.
var ErrMasterKey = errors.New("LSQBRIDGE_MASTER_KEY must be 32 bytes, given as 64 hex characters or base64")

const sealVersion = 1

// Sealer encrypts integration secrets with AES-256-GCM under the master key.
// Each ciphertext is bound to its integration and column (additional data),
// so a sealed value copied to another row or column does not open.
type Sealer struct {
	aead cipher.AEAD
	// mac derives per-integration keys (Derive) from the master key, so
	// nothing stored in the database alone can produce them.
	mac []byte
}

// NewSealer parses the master key (64 hex characters, or base64 of 32 bytes).
// The error never echoes the key.
func NewSealer(masterKey string) (*Sealer, error) {
	masterKey = strings.TrimSpace(masterKey)
	if masterKey == "" {
		return nil, fmt.Errorf("%w: it is not set", ErrMasterKey)
	}
	key, err := decodeKey(masterKey)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMasterKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("lsqbridge:derive:v1"))
	return &Sealer{aead: aead, mac: m.Sum(nil)}, nil
}

// Derive returns a key for one purpose, bound to the master key and to the
// parts given (an integration id, its token hash…).
func (s *Sealer) Derive(parts ...string) []byte {
	m := hmac.New(sha256.New, s.mac)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

func decodeKey(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil {
		if len(b) == 32 {
			return b, nil
		}
		return nil, fmt.Errorf("%w: it decodes to %d bytes", ErrMasterKey, len(b))
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) == 32 {
				return b, nil
			}
			return nil, fmt.Errorf("%w: it decodes to %d bytes", ErrMasterKey, len(b))
		}
	}
	return nil, fmt.Errorf("%w: it is neither hex nor base64", ErrMasterKey)
}

// Seal encrypts plaintext for one integration's column. An empty plaintext
// seals to nil (an absent optional secret).
func (s *Sealer) Seal(integrationID, column, plaintext string) []byte {
	if plaintext == "" {
		return nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	out := append([]byte{sealVersion}, nonce...)
	return s.aead.Seal(out, nonce, []byte(plaintext), aad(integrationID, column))
}

// Open decrypts a value sealed by Seal; nil opens to "".
func (s *Sealer) Open(integrationID, column string, sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return "", fmt.Errorf("open %s of %s: malformed sealed value", column, integrationID)
	}
	pt, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad(integrationID, column))
	if err != nil {
		return "", fmt.Errorf("open %s of %s: wrong master key or tampered value", column, integrationID)
	}
	return string(pt), nil
}

func aad(integrationID, column string) []byte {
	return []byte("lsqbridge:" + integrationID + ":" + column)
}
