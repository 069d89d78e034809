// Package keys loads and holds the public keys that obgate verifies JWS signatures with.
//
// It turns PEM files, X.509 certificates and JWK/JWKS documents into Key values that carry
// the raw Go crypto key, its key ID and the signature algorithms the key may be used with.
// The package never imports Caddy and never exports jwx types, so a jwx upgrade stays here.
package keys

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"slices"

	"github.com/obgate/obgate/caddyjwt/internal/ecverify"
	"github.com/obgate/obgate/caddyjwt/internal/rsaverify"
)

// Key is one verification key and the algorithms it may verify.
//
// A Key is immutable once built: the verifier shares it between goroutines.
type Key struct {
	// ID is the key ID ("kid") a token names to select this key. It is the JWK's kid when the key
	// came from a JWK, the operator's kid when one was configured, and otherwise the key's RFC 7638
	// SHA-256 thumbprint (base64url, unpadded).
	ID string

	// Public is the verification key: *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey,
	// or []byte for an HMAC secret configured by the operator.
	Public any

	// Algorithms lists the JWS "alg" values this key may verify, never "none". It is never empty.
	Algorithms []string

	// Thumbprint is the key's RFC 7638 SHA-256 thumbprint, base64url without padding.
	Thumbprint string

	// Origin says where the key came from (a file path or a URL), for log lines and error messages.
	Origin string

	// NoKID reports that the key has no kid of its own: a PEM key or certificate configured
	// without one, or a JWK without "kid". ID is then its thumbprint, which still selects it
	// exactly, and the key also verifies a token whatever kid the token names, as long as it fits
	// the token's algorithm (the rule Envoy's jwt_verify_lib follows). The zero value, false, is a
	// key chosen by exact kid match only.
	NoKID bool

	// rsa is an RSA key's modulus prepared for verification when the key was loaded, so that no
	// request pays for it; nil for other keys, for keys crypto/rsa must verify itself, and for a
	// Key built as a literal (which then verifies through crypto/rsa).
	rsa *rsaverify.PublicKey

	// ec is a P-256 key decoded for the engine's ES256 fast path (its table of multiples is built
	// on the key's second verification, not here); nil for other keys and for a Key literal.
	ec *ecverify.PublicKey
}

// PreparedRSA returns the key's precomputed RSA verifier, or nil when there is none (the key is
// not RSA, or is verified by crypto/rsa).
func (k Key) PreparedRSA() *rsaverify.PublicKey {
	return k.rsa
}

// PreparedEC returns the key's P-256 verifier for ES256, or nil when there is none (the key is
// not a P-256 key, or is verified by crypto/ecdsa).
func (k Key) PreparedEC() *ecverify.PublicKey {
	return k.ec
}

// Allows reports whether the key may verify a signature made with alg.
func (k Key) Allows(alg string) bool {
	return slices.Contains(k.Algorithms, alg)
}

// Symmetric reports whether the key is an HMAC secret.
func (k Key) Symmetric() bool {
	_, ok := k.Public.([]byte)
	return ok
}

// Type names the key's type as JWK does: RSA, EC, OKP or oct.
func (k Key) Type() string {
	return typeName(k.Public)
}

// newKey builds a Key from a raw public key, checking that the key is strong enough and
// restricting its algorithms to restrictTo when that is not empty (a JWK's "alg").
func newKey(pub any, kid, restrictTo, origin string) (Key, error) {
	algs, err := algorithmsFor(pub)
	if err != nil {
		return Key{}, err
	}
	if restrictTo != "" {
		if !slices.Contains(algs, restrictTo) {
			return Key{}, fmt.Errorf("alg %q does not fit a %s key", restrictTo, typeName(pub))
		}
		algs = []string{restrictTo}
	}
	tp, err := Thumbprint(pub)
	if err != nil {
		return Key{}, err
	}
	noKID := kid == ""
	if noKID {
		kid = tp
	}
	k := Key{ID: kid, Public: pub, Algorithms: algs, Thumbprint: tp, Origin: origin, NoKID: noKID}
	switch pk := pub.(type) {
	case *rsa.PublicKey:
		k.rsa = rsaverify.Prepare(pk) // once per key load, never per request
	case *ecdsa.PublicKey:
		k.ec = ecverify.Prepare(pk) // cheap: the table waits for the key's second verification
	}
	return k, nil
}
