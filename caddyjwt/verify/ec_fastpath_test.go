package verify_test

import (
	"crypto/elliptic"
	"math/big"
	"testing"

	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// TestECFastPathSameVerdictAsCryptoECDSA verifies ES256 tokens, valid and tampered, with the key
// as loaded (prepared: the engine's fast path runs, on the plain path first and with the key's
// table from its second verification on) and with the same public key in a Key literal (nothing
// prepared: crypto/ecdsa through jwx). Three rounds over every token, so that the same tokens
// are checked before and after the table is built; both engines must give the same verdict and
// reason every time.
func TestECFastPathSameVerdictAsCryptoECDSA(t *testing.T) {
	f := keyFixture(t)
	loaded := keyOf(t, f.ecA) // a key of its own, so that its first uses are this test's
	if loaded.PreparedEC() == nil {
		t.Fatal("a P-256 key loaded from a JWK is not prepared: the fast path would not run")
	}
	fast, slow := preparedAndPlainVerifiers(t, loaded)
	s := &jwttest.Signer{Alg: "ES256", KID: loaded.ID, Key: f.ecA.Key}
	valid := s.Token(t, claimsFor(issA), nil)
	h, p, sig := segments(t, valid)
	foreign := (&jwttest.Signer{Alg: "ES256", KID: loaded.ID, Key: f.attackerEC.Key}).Token(t, claimsFor(issA), nil)
	_, _, foreignSig := segments(t, foreign)
	raw := mustDecode(t, sig)
	n := elliptic.P256().Params().N
	r, sv := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
	pack := func(r, s *big.Int) string {
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return jwttest.Encode(out)
	}
	cases := map[string]string{
		"valid":                     valid,
		"s replaced by n - s":       h + "." + p + "." + pack(r, new(big.Int).Sub(n, sv)), // also valid ECDSA
		"signature of another key":  h + "." + p + "." + foreignSig,
		"first octet changed":       h + "." + p + "." + jwttest.Encode(append([]byte{raw[0] ^ 1}, raw[1:]...)),
		"last octet changed":        h + "." + p + "." + jwttest.Encode(append(append([]byte{}, raw[:63]...), raw[63]^0x80)),
		"r and s swapped":           h + "." + p + "." + jwttest.Encode(append(append([]byte{}, raw[32:]...), raw[:32]...)),
		"r = 0":                     h + "." + p + "." + pack(new(big.Int), sv),
		"s = n":                     h + "." + p + "." + pack(r, n),
		"signature truncated":       h + "." + p + "." + jwttest.Encode(raw[:63]),
		"signature with zero first": h + "." + p + "." + jwttest.Encode(append([]byte{0}, raw...)),
		"payload changed":           h + "." + jwttest.Encode(mustJSON(t, with(claimsFor(issA), "sub", "mallory"))) + "." + sig,
	}
	for round := range 3 {
		for name, tok := range cases {
			_, errFast := fast.Verify(t.Context(), []byte(tok))
			_, errSlow := slow.Verify(t.Context(), []byte(tok))
			if verify.ReasonOf(errFast) != verify.ReasonOf(errSlow) || (errFast == nil) != (errSlow == nil) {
				t.Errorf("round %d, %s: fast path %v, crypto/ecdsa %v", round, name, errFast, errSlow)
			}
			wantOK := name == "valid" || name == "s replaced by n - s"
			if wantOK != (errFast == nil) {
				t.Errorf("round %d, %s: Verify() error = %v", round, name, errFast)
			}
		}
	}
}
