package keys

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

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
	raws, err := splitSetOrKey(data)
	if err != nil {
		return nil, nil, err
	}
	seen := make(map[string]bool, len(raws))
	for i, raw := range raws {
		jk, err := jwk.ParseKey(raw)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: not a valid JWK: %w", i, err))
			continue
		}
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

// splitSetOrKey returns the members of a JWK Set's "keys" array (RFC 7517 §5), or a lone JWK,
// still undecoded: jwx refuses a whole set when one key fails its checks (a 1024-bit RSA key, an
// unknown curve or alg), and that key must be skipped, not take the issuer's other keys with it.
func splitSetOrKey(data []byte) ([]json.RawMessage, error) {
	var set struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a valid JWK or JWK Set: %w", err)
	}
	if set.Keys != nil {
		return *set.Keys, nil
	}
	if _, err := jwk.ParseKey(data); err != nil {
		return nil, fmt.Errorf("not a valid JWK: %w", err)
	}
	return []json.RawMessage{data}, nil
}

// fromJWK converts one jwx key into a Key, applying obgate's rules for what a verification key may be.
func fromJWK(jk jwk.Key, origin string, opts JWKOptions) (Key, error) {
	if use, ok := jk.KeyUsage(); ok && use != "sig" {
		return Key{}, fmt.Errorf("key use %q is not \"sig\"", use)
	}
	// RFC 7517 §4.3: when key_ops is present, the key may only be used for the listed operations.
	if ops, ok := jk.KeyOps(); ok && !slices.Contains(ops, jwk.KeyOpVerify) {
		return Key{}, fmt.Errorf("key_ops %v does not include \"verify\"", ops)
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
