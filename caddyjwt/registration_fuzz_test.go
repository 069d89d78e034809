package caddyjwt

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/obgate/obgate/caddyjwt/keys"
	"github.com/obgate/obgate/internal/jwttest"
)

// FuzzParseRegistration feeds the jwt_keys upload parser (JWK or PEM, with or without a kid
// parameter) arbitrary bytes. It must never panic, and whatever it accepts must be a public,
// asymmetric key whose stored JWK reloads as the same key: same kid, same algorithms.
func FuzzParseRegistration(f *testing.F) {
	rs := jwttest.NewRSA(f, 2048, "RS256")
	ec := jwttest.NewEC(f, "ES256")
	ed := jwttest.NewEd25519(f)
	dir := f.TempDir()
	for _, s := range []*jwttest.Signer{rs, ec, ed} {
		for _, withAlg := range []bool{false, true} {
			b, _ := json.Marshal(s.JWK(f, withAlg))
			f.Add(b, "")
		}
		pemBytes, err := os.ReadFile(s.PublicPEM(f, dir))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pemBytes, "")
		f.Add(pemBytes, "kid-1")
	}
	miscased := ec.JWK(f, false)
	miscased["Alg"] = "ES256"
	b, _ := json.Marshal(miscased)
	f.Add(b, "")
	f.Add(jwttest.JWKS(f, ec), "")
	f.Add([]byte(`{"kty":"oct","k":"c2VjcmV0"}`), "")
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"","y":""}`), "")
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"), "")
	f.Add([]byte(""), "")
	f.Add([]byte("{"), "")
	f.Fuzz(func(t *testing.T, body []byte, kid string) {
		rk, err := parseRegistration(body, kid, "bank-a")
		if err != nil {
			return
		}
		k := rk.key
		if k.ID == "" || len(k.ID) > 256 || len(k.Algorithms) == 0 || k.Symmetric() {
			t.Fatalf("accepted a key with kid %q, algorithms %v, symmetric %v", k.ID, k.Algorithms, k.Symmetric())
		}
		if slices.Contains(k.Algorithms, "none") {
			t.Fatal("accepted a key that allows none")
		}
		if err := checkRSAPublic(k.Public); err != nil {
			t.Fatalf("accepted an unsound RSA key: %v", err)
		}
		reloaded, skipped, err := keys.ParseJWKs(rk.JWK, "registry bank-a", keys.JWKOptions{})
		if err != nil || len(skipped) > 0 || len(reloaded) != 1 {
			t.Fatalf("the stored JWK does not reload: %v %v", err, skipped)
		}
		if reloaded[0].ID != k.ID || !slices.Equal(reloaded[0].Algorithms, k.Algorithms) || reloaded[0].Thumbprint != k.Thumbprint {
			t.Fatalf("reloaded as kid %q %v, registered as %q %v", reloaded[0].ID, reloaded[0].Algorithms, k.ID, k.Algorithms)
		}
	})
}
