package storage

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of an encryption key in bytes (AES-256).
const KeySize = 32

// ParseKeys parses STORYBOT_ENCRYPTION_KEY: one or more comma-separated keys, each the
// standard base64 encoding of exactly 32 bytes. The first key encrypts; all of them decrypt,
// so a key is rotated by putting the new one first and keeping the old one until its data has
// expired. An empty string gives no keys (no encryption).
func ParseKeys(s string) ([][]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("storage: encryption key %d: empty", i+1)
		}
		k, err := base64.StdEncoding.DecodeString(part)
		if err != nil {
			// Not wrapped: base64 errors quote an offset only, but say plainly what to do.
			return nil, fmt.Errorf("storage: encryption key %d: not standard base64 (generate one with `openssl rand -base64 32`)", i+1)
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("storage: encryption key %d: decodes to %d bytes, want %d", i+1, len(k), KeySize)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// Sealed values look like
//
//	"e1:" | key id (4 bytes) | nonce (12 bytes) | AES-256-GCM ciphertext and tag
//
// stored as raw bytes (Redis strings are binary safe). The key id is the first 4 bytes of
// SHA-256("storybot key id\x00" | key): it lets a read pick the right key at once after a
// rotation and say clearly when no configured key fits, without revealing the key. The Redis
// key (plus field) the value is stored under is the additional authenticated data, so a
// sealed value copied to another user's key does not open.
//
// Plain values are JSON objects, which start with '{': the two never mix up, and values
// written before encryption was turned on stay readable.
var sealedMagic = []byte("e1:")

const keyIDSize = 4

type sealKey struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// crypter seals and opens values. The zero crypter (no keys) writes plain values and opens
// plain values only.
type crypter struct {
	keys []sealKey // keys[0] seals
}

func newCrypter(keys [][]byte) (crypter, error) {
	var c crypter
	for i, k := range keys {
		if len(k) != KeySize {
			return crypter{}, fmt.Errorf("storage: encryption key %d: %d bytes, want %d", i+1, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return crypter{}, fmt.Errorf("storage: encryption key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return crypter{}, fmt.Errorf("storage: encryption key %d: %w", i+1, err)
		}
		var sk sealKey
		sum := sha256.Sum256(append([]byte("storybot key id\x00"), k...))
		copy(sk.id[:], sum[:keyIDSize])
		sk.aead = aead
		c.keys = append(c.keys, sk)
	}
	return c, nil
}

func (c crypter) enabled() bool { return len(c.keys) > 0 }

// seal returns plain, sealed for the Redis location ad when keys are configured.
func (c crypter) seal(plain []byte, ad string) ([]byte, error) {
	if !c.enabled() {
		return plain, nil
	}
	k := c.keys[0]
	ns := k.aead.NonceSize()
	out := make([]byte, 0, len(sealedMagic)+keyIDSize+ns+len(plain)+k.aead.Overhead())
	out = append(out, sealedMagic...)
	out = append(out, k.id[:]...)
	nonce := out[len(out) : len(out)+ns]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	out = out[:len(out)+ns]
	return k.aead.Seal(out, nonce, plain, []byte(ad)), nil
}

var (
	errNoKey       = errors.New("value is encrypted but no encryption key is configured")
	errUnknownKey  = errors.New("value is encrypted with a key that is not configured")
	errBadSealed   = errors.New("encrypted value is truncated")
	errOpenFailed  = errors.New("encrypted value does not decrypt: wrong key or tampered value")
	errNotEncoding = errors.New("value is neither JSON nor an encrypted value")
)

// open returns the plain value of v, stored at ad.
func (c crypter) open(v []byte, ad string) ([]byte, error) {
	if !bytes.HasPrefix(v, sealedMagic) {
		if len(v) > 0 && v[0] == '{' {
			return v, nil // written before encryption was enabled, or without it
		}
		return nil, errNotEncoding
	}
	if !c.enabled() {
		return nil, errNoKey
	}
	rest := v[len(sealedMagic):]
	if len(rest) < keyIDSize {
		return nil, errBadSealed
	}
	id, rest := rest[:keyIDSize], rest[keyIDSize:]
	for _, k := range c.keys {
		if !bytes.Equal(k.id[:], id) {
			continue
		}
		ns := k.aead.NonceSize()
		if len(rest) < ns+k.aead.Overhead() {
			return nil, errBadSealed
		}
		plain, err := k.aead.Open(nil, rest[:ns], rest[ns:], []byte(ad))
		if err != nil {
			return nil, errOpenFailed
		}
		return plain, nil
	}
	return nil, fmt.Errorf("%w (key id %s)", errUnknownKey, hex.EncodeToString(id))
}
