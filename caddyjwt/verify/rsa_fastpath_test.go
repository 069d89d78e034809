package verify_test

import (
	"testing"

	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// TestRSAFastPathSameVerdictAsCryptoRSA verifies RS256/384/512 and PS256/384/512 tokens, valid
// and tampered, twice: with the key as loaded (its modulus prepared at load, so the engine's fast
// path runs) and with the same public key in a Key literal (nothing prepared: crypto/rsa through
// jwx). Both engines must give the same verdict and reason on every token.
func TestRSAFastPathSameVerdictAsCryptoRSA(t *testing.T) {
	f := keyFixture(t)
	loaded := f.keyA
	if loaded.PreparedRSA() == nil {
		t.Fatal("an RSA key loaded from a JWK has no prepared modulus: the fast path would not run")
	}
	fast, slow := preparedAndPlainVerifiers(t, loaded)
	other := f.rsaB // a key the issuer does not hold
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
		s := &jwttest.Signer{Alg: alg, KID: loaded.ID, Key: f.rsaA.Key}
		valid := s.Token(t, claimsFor(issA), nil)
		h, p, sig := segments(t, valid)
		foreign := (&jwttest.Signer{Alg: alg, KID: loaded.ID, Key: other.Key}).Token(t, claimsFor(issA), nil)
		_, _, foreignSig := segments(t, foreign)
		otherAlg := "RS256"
		if alg == "RS256" {
			otherAlg = "PS256"
		}
		crossed := (&jwttest.Signer{Alg: otherAlg, KID: loaded.ID, Key: f.rsaA.Key}).SignInput(t, h+"."+p)
		raw := mustDecode(t, sig)
		for name, tok := range map[string]string{
			"valid":                     valid,
			"signature of another key":  h + "." + p + "." + foreignSig,
			"signature of other scheme": h + "." + p + "." + crossed,
			"first octet changed":       h + "." + p + "." + jwttest.Encode(append([]byte{raw[0] ^ 1}, raw[1:]...)),
			"last octet changed":        h + "." + p + "." + jwttest.Encode(append(append([]byte{}, raw[:len(raw)-1]...), raw[len(raw)-1]^0x80)),
			"signature truncated":       h + "." + p + "." + jwttest.Encode(raw[:len(raw)-1]),
			"signature with zero first": h + "." + p + "." + jwttest.Encode(append([]byte{0}, raw...)),
			"payload changed":           h + "." + jwttest.Encode(mustJSON(t, with(claimsFor(issA), "sub", "mallory"))) + "." + sig,
		} {
			_, errFast := fast.Verify(t.Context(), []byte(tok))
			_, errSlow := slow.Verify(t.Context(), []byte(tok))
			if verify.ReasonOf(errFast) != verify.ReasonOf(errSlow) || (errFast == nil) != (errSlow == nil) {
				t.Errorf("%s %s: fast path %v, crypto/rsa %v", alg, name, errFast, errSlow)
			}
			if (name == "valid") != (errFast == nil) {
				t.Errorf("%s %s: Verify() error = %v", alg, name, errFast)
			}
		}
	}
}
