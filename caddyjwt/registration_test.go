package caddyjwt

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/internal/jwttest"
)

// rsaJWK is the public JWK of an RSA signer with n and e replaced when given.
func rsaJWK(t *testing.T, s *jwttest.Signer, n *big.Int, e int) map[string]any {
	t.Helper()
	m := s.JWK(t, false)
	if n != nil {
		m["n"] = base64.RawURLEncoding.EncodeToString(n.Bytes())
	}
	if e != 0 {
		m["e"] = base64.RawURLEncoding.EncodeToString(big.NewInt(int64(e)).Bytes())
	}
	return m
}

func mustJSONBody(t *testing.T, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rsaPEM writes a PKIX PEM of an RSA public key with exponent e.
func rsaPEM(t *testing.T, s *jwttest.Signer, e int) []byte {
	t.Helper()
	pub := *s.Public().(*rsa.PublicKey)
	pub.E = e
	der, err := x509.MarshalPKIXPublicKey(&pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Issue 10 item 7: a registration is read by one strict parse; mis-cased or repeated members and
// unsound RSA keys are refused instead of being stored as one key and reloaded as another.
func TestParseRegistrationRefusesWhatWouldReloadDifferently(t *testing.T) {
	s := jwttest.NewRSA(t, 2048, "RS256")
	pub := s.Public().(*rsa.PublicKey)
	even := new(big.Int).Add(pub.N, big.NewInt(1)) // N is odd, so N+1 is even
	with := func(kv ...any) []byte {
		m := s.JWK(t, false)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return mustJSONBody(t, m)
	}
	good := s.JWK(t, false)
	for _, tc := range []struct {
		name string
		body []byte
		want string // a word of the reason
	}{
		{"mis-cased Alg", with("Alg", "RS256"), "case-sensitive"},
		{"mis-cased Alg naming another key type", with("Alg", "ES256"), "case-sensitive"},
		{"upper-case KTY", with("KTY", "RSA"), "case-sensitive"},
		{"mis-cased Keys set", with("Keys", []any{}), "case-sensitive"},
		{"private members differing only in case", with("x-tag", "a", "X-TAG", "b"), "differ only in case"},
		{"repeated alg", []byte(strings.Replace(string(mustJSONBody(t, good)), `"kty"`, `"alg":"RS256","alg":"PS256","kty"`, 1)), "repeats"},
		{"alg not a string", with("alg", 256), "alg"},
		{"even modulus", mustJSONBody(t, rsaJWK(t, s, even, 0)), "modulus is even"},
		{"exponent 3", mustJSONBody(t, rsaJWK(t, s, nil, 3)), "below 65537"},
		{"even exponent", mustJSONBody(t, rsaJWK(t, s, nil, 65538)), "exponent"},
		{"PEM with exponent 3", rsaPEM(t, s, 3), "below 65537"},
		{"JWK Set", jwttest.JWKS(t, s), "one JWK at a time"},
		{"no kty", []byte(`{"n":"AQAB","e":"AQAB"}`), "kty"},
		{"trailing data", append(mustJSONBody(t, good), []byte(" {}")...), "not a JSON JWK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rk, err := parseRegistration(tc.body, "", "bank-a")
			if err == nil {
				t.Fatalf("registered %q with algorithms %v, want refused", rk.key.ID, rk.key.Algorithms)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// A kid must survive being stored as JSON: UTF-8 text without control characters (found by
// FuzzParseRegistration: a PEM key's ?kid=%DC was stored as U+FFFD).
func TestParseRegistrationRefusesKIDsThatDoNotRoundTrip(t *testing.T) {
	s := jwttest.NewEC(t, "ES256")
	pemBody, err := os.ReadFile(s.PublicPEM(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{"\xdc", "a\x00b", "line\nbreak", "\x7f"} {
		if _, err := parseRegistration(pemBody, kid, "bank-a"); err == nil {
			t.Errorf("PEM with kid %q accepted, want refused", kid)
		}
		m := s.JWK(t, false)
		m["kid"] = kid // json.Marshal writes invalid UTF-8 as U+FFFD, control characters as \u escapes
		if rk, err := parseRegistration(mustJSONBody(t, m), "", "bank-a"); err == nil && utf8.ValidString(kid) {
			t.Errorf("JWK with kid %q accepted as %q, want refused", kid, rk.key.ID)
		}
	}
	if _, err := parseRegistration(pemBody, "clé-2026", "bank-a"); err != nil {
		t.Errorf("PEM with a UTF-8 kid refused: %v", err)
	}
}

// What the 201 answer shows is what the registry reloads from storage: the same kid and
// algorithms.
func TestParseRegistrationRoundTripsThroughStorage(t *testing.T) {
	rs := jwttest.NewRSA(t, 2048, "PS256")
	ec := jwttest.NewEC(t, "ES384")
	dir := t.TempDir()
	pemPath := rs.PublicPEM(t, dir)
	pemBody, err := os.ReadFile(filepath.Clean(pemPath))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body []byte
		kid  string
		algs []string
	}{
		{"RSA JWK with alg", mustJSONBody(t, rs.JWK(t, true)), rs.KID, []string{"PS256"}},
		{"RSA JWK without alg", mustJSONBody(t, rs.JWK(t, false)), rs.KID, []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}},
		{"RSA JWK with exponent 65539", mustJSONBody(t, rsaJWK(t, rs, nil, 65539)), rs.KID, nil},
		{"EC JWK", mustJSONBody(t, ec.JWK(t, false)), ec.KID, []string{"ES384"}},
		{"PEM with a kid", pemBody, "pem-1", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kid := ""
			if tc.name == "PEM with a kid" {
				kid = tc.kid
			}
			rk, err := parseRegistration(tc.body, kid, "bank-a")
			if err != nil {
				t.Fatal(err)
			}
			if rk.key.ID != tc.kid {
				t.Errorf("kid %q, want %q", rk.key.ID, tc.kid)
			}
			if tc.algs != nil && !slices.Equal(rk.key.Algorithms, tc.algs) {
				t.Errorf("algorithms %v, want %v", rk.key.Algorithms, tc.algs)
			}
			reloaded, skipped, err := keys.ParseJWKs(rk.JWK, "registry bank-a", keys.JWKOptions{})
			if err != nil || len(skipped) > 0 || len(reloaded) != 1 {
				t.Fatalf("stored JWK does not reload: %v %v", err, skipped)
			}
			if reloaded[0].ID != rk.key.ID || !slices.Equal(reloaded[0].Algorithms, rk.key.Algorithms) {
				t.Errorf("reloaded kid %q algorithms %v, registered %q %v", reloaded[0].ID, reloaded[0].Algorithms, rk.key.ID, rk.key.Algorithms)
			}
		})
	}
}
