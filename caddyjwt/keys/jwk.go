package keys

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// ErrPrivateKey reports a private key where only a public key belongs.
var ErrPrivateKey = errors.New("private key material where a public key is expected")

// JWKOptions says which JWKs a caller accepts.
type JWKOptions struct {
	// AllowSymmetric accepts "oct" keys (HMAC secrets). Only keys the operator configured in a
	// local file may be symmetric; keys fetched from a URL never are.
	AllowSymmetric bool
}

// ParseJWKs parses a JWK Set ({"keys": [...]}) or a single JWK.
//
// It returns the usable keys and, separately, one error per key that was skipped (encryption keys,
// private keys, weak or unsupported keys), so that a caller can warn once per document. A key that
// has no kid gets its RFC 7638 thumbprint as kid. The error return is for a document that is not
// a JWK or JWK Set at all.
func ParseJWKs(data []byte, origin string, opts JWKOptions) (usable []Key, skipped []error, err error) {
	set, err := parseSetOrKey(data)
	if err != nil {
		return nil, nil, err
	}
	seen := make(map[string]bool, set.Len())
	for i := range set.Len() {
		jk, _ := set.Key(i)
		k, err := fromJWK(jk, origin, opts)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		if seen[k.ID] {
			skipped = append(skipped, fmt.Errorf("key %d: duplicate kid %q", i, k.ID))
			continue
		}
		seen[k.ID] = true
		usable = append(usable, k)
	}
	return usable, skipped, nil
}

// parseSetOrKey accepts both a JWK Set and a lone JWK.
func parseSetOrKey(data []byte) (jwk.Set, error) {
	if bytes.Contains(data, []byte(`"keys"`)) {
		set, err := jwk.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("not a valid JWK Set: %w", err)
		}
		return set, nil
	}
	k, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("not a valid JWK: %w", err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(k); err != nil {
		return nil, err
	}
	return set, nil
}

// fromJWK converts one jwx key into a Key, applying obgate's rules for what a verification key may be.
func fromJWK(jk jwk.Key, origin string, opts JWKOptions) (Key, error) {
	if use, ok := jk.KeyUsage(); ok && use != "sig" {
		return Key{}, fmt.Errorf("key use %q is not \"sig\"", use)
	}
	kty := jk.KeyType().String()
	if kty == "oct" {
		if !opts.AllowSymmetric {
			return Key{}, errors.New("symmetric (oct) keys are only accepted from a local key file")
		}
	} else if private, err := jwk.IsPrivateKey(jk); err != nil {
		return Key{}, fmt.Errorf("kty %q: %w", kty, err)
	} else if private {
		return Key{}, ErrPrivateKey
	}
	var raw any
	if err := jwk.Export(jk, &raw); err != nil {
		return Key{}, fmt.Errorf("kty %q: %w", kty, err)
	}
	raw = dereference(raw)
	kid, _ := jk.KeyID()
	var alg string
	if a, ok := jk.Algorithm(); ok {
		alg = a.String()
	}
	return newKey(raw, kid, alg, origin)
}

// Thumbprint computes the RFC 7638 SHA-256 thumbprint of a raw key, base64url without padding.
func Thumbprint(pub any) (string, error) {
	jk, err := jwk.Import(pub)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	sum, err := jk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}
