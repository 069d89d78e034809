package caddyjwt

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/obgate/obgate/caddyjwt/internal/strictjson"
	"github.com/obgate/obgate/caddyjwt/keys"
)

// registrationLimits bound the JSON of a JWK registration: a JWK is a flat object (x5c and
// key_ops are arrays of strings), so deep nesting or a large member count is not a key.
var registrationLimits = strictjson.Limits{MaxDepth: 3, MaxMembers: 64}

// jwkMembers are the JWK member names that RFC 7517 §4 and RFC 7518 §6 define (and "keys" of a
// JWK Set, RFC 7517 §5). RFC 7517 §4 wants member names unique, and JSON compares names code unit
// by code unit (RFC 8259 §8.3), so "Alg" is another member than "alg", one jwx ignores. A
// registration that spells a JWK member another way is refused: a reader that matches names
// case-insensitively (encoding/json does) would see another key than jwx does.
var jwkMembers = []string{
	"kty", "use", "key_ops", "alg", "kid", "x5u", "x5c", "x5t", "x5t#S256",
	"crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "oth", "k", "keys",
}

// parseRegistration turns a JWK or a PEM public key into a key to store, under the registry's
// rules: public, asymmetric, RSA of at least 2048 bits with an odd modulus and an odd exponent of
// at least 65537, a supported curve. kid, when not empty, names a PEM key; a JWK names itself,
// and a key without a kid gets its RFC 7638 thumbprint.
func parseRegistration(body []byte, kid, cp string) (registeredKey, error) {
	body = bytes.TrimSpace(body)
	origin := "registry " + cp
	var k keys.Key
	var alg string
	switch {
	case !bytes.HasPrefix(body, []byte("{")) && bytes.Contains(body, []byte("-----BEGIN ")):
		ks, err := keys.ParsePEM(body, origin)
		if err != nil {
			return registeredKey{}, err
		}
		if len(ks) != 1 {
			return registeredKey{}, fmt.Errorf("want exactly one PEM public key, got %d", len(ks))
		}
		k = ks[0]
		if kid != "" {
			k.ID = kid
		}
	case bytes.HasPrefix(body, []byte("{")):
		if kid != "" {
			return registeredKey{}, errors.New("the kid query parameter is for PEM keys; put kid in the JWK")
		}
		var err error
		if k, alg, err = parseRegistrationJWK(body, origin); err != nil {
			return registeredKey{}, err
		}
	default:
		return registeredKey{}, errors.New("the body is neither a JWK (JSON) nor a PEM public key")
	}
	if err := checkKID(k.ID); err != nil {
		return registeredKey{}, err
	}
	if err := checkRSAPublic(k.Public); err != nil {
		return registeredKey{}, err
	}
	jwkJSON, err := publicJWK(k, alg)
	if err != nil {
		return registeredKey{}, err
	}
	return registeredKey{JWK: jwkJSON, RegisteredAt: time.Now().UTC().Truncate(time.Second), key: k}, nil
}

// parseRegistrationJWK reads one JWK. Every member comes from one strict parse: duplicate names
// and names that differ from a JWK member only in case are refused, and jwx is handed the JSON
// of exactly the members that parse saw, so what is checked, stored and reloaded is one key.
func parseRegistrationJWK(body []byte, origin string) (keys.Key, string, error) {
	members, err := strictjson.Parse(body, registrationLimits)
	if err != nil {
		var je *strictjson.Error
		if errors.As(err, &je) && je.Kind == strictjson.KindDuplicate {
			return keys.Key{}, "", errors.New("the JWK repeats a member name")
		}
		return keys.Key{}, "", errors.New("not a JSON JWK: " + err.Error())
	}
	if err := caseVariants(members); err != nil {
		return keys.Key{}, "", err
	}
	if _, ok := members["keys"]; ok {
		return keys.Key{}, "", errors.New("register one JWK at a time, not a JWK Set")
	}
	kty, ok := members["kty"].(string)
	if !ok {
		return keys.Key{}, "", errors.New(`the JWK has no "kty" string`)
	}
	if kty == "oct" {
		return keys.Key{}, "", errors.New("symmetric (oct) keys are refused: register a public key")
	}
	var alg string
	if v, present := members["alg"]; present {
		if alg, ok = v.(string); !ok || alg == "" {
			return keys.Key{}, "", errors.New(`"alg" must be a non-empty string`)
		}
	}
	canonical, err := json.Marshal(members)
	if err != nil {
		return keys.Key{}, "", fmt.Errorf("re-encoding the JWK: %w", err)
	}
	ks, skipped, err := keys.ParseJWKs(canonical, origin, keys.JWKOptions{})
	if err != nil {
		return keys.Key{}, "", err
	}
	if len(skipped) > 0 {
		if errors.Is(skipped[0], keys.ErrPrivateKey) {
			return keys.Key{}, "", errors.New("private key material is refused: register the public key")
		}
		return keys.Key{}, "", skipped[0]
	}
	if len(ks) != 1 {
		return keys.Key{}, "", errors.New("want exactly one JWK")
	}
	k := ks[0]
	if alg != "" && (len(k.Algorithms) != 1 || k.Algorithms[0] != alg) {
		// Unreachable while jwx and this parse agree; a guard that the stored key is the one
		// shown in the 201 answer.
		return keys.Key{}, "", fmt.Errorf("alg %q was not applied to the key", alg)
	}
	return k, alg, nil
}

// caseVariants refuses member names that equal another member's, or a JWK member's, only when
// case is ignored.
func caseVariants(members map[string]any) error {
	for name := range members {
		for _, known := range jwkMembers {
			if name != known && strings.EqualFold(name, known) {
				return fmt.Errorf("member %q: JWK member names are case-sensitive, want %q", name, known)
			}
		}
		for other := range members {
			if name < other && strings.EqualFold(name, other) {
				return fmt.Errorf("members %q and %q differ only in case", name, other)
			}
		}
	}
	return nil
}

// checkKID refuses a kid that cannot be stored and shown as the same text: 1 to 256 bytes of
// UTF-8 without control characters. JSON holds only Unicode text, so a kid of other bytes (a PEM
// key's ?kid=%DC) would be stored as U+FFFD and reloaded as another kid (found by
// FuzzParseRegistration).
func checkKID(kid string) error {
	if kid == "" || len(kid) > 256 {
		return errors.New("kid must be 1 to 256 bytes")
	}
	if !utf8.ValidString(kid) {
		return errors.New("kid must be UTF-8 text")
	}
	for _, r := range kid {
		if unicode.IsControl(r) {
			return errors.New("kid must not hold control characters")
		}
	}
	return nil
}

// minRSAExponent is the smallest RSA public exponent the registry accepts: 65537 (F4), the value
// NIST SP 800-89 §5.3.3 and FIPS 186-5 §A.1.1 require at least, and what every current signer
// uses. Small exponents make some padding failures exploitable.
const minRSAExponent = 65537

// checkRSAPublic refuses RSA public keys that cannot be sound: an RSA modulus is the product of
// two odd primes, so it is odd, and the public exponent is odd (it must be coprime with
// lambda(n), which is even) and, by the registry's rule, at least 65537.
func checkRSAPublic(pub any) error {
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil
	}
	if rk.N == nil || rk.N.Bit(0) == 0 {
		return errors.New("the RSA modulus is even: not an RSA key")
	}
	if rk.E%2 == 0 {
		return errors.New("the RSA public exponent is even: not an RSA key")
	}
	if rk.E < minRSAExponent {
		return fmt.Errorf("the RSA public exponent %d is below %d", rk.E, minRSAExponent)
	}
	return nil
}

// publicJWK renders the key as a public JWK with its kid (and alg, when the registration named one).
func publicJWK(k keys.Key, alg string) ([]byte, error) {
	jk, err := jwk.Import(k.Public)
	if err != nil {
		return nil, err
	}
	if err := jk.Set(jwk.KeyIDKey, k.ID); err != nil {
		return nil, err
	}
	if alg != "" {
		if err := jk.Set(jwk.AlgorithmKey, alg); err != nil {
			return nil, err
		}
	}
	return json.Marshal(jk)
}
