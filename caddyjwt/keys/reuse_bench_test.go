package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"runtime"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// BenchmarkRefreshThenVerify is one refresh of an unchanged JWK Set (a P-256 and an RSA-2048 key)
// followed by the keys' next verifications (three ES256, one RS256), with the old Key values kept
// ("kept") and with the keys as parsed ("reparsed", as before keepPrepared): the difference is
// what a refresh used to cost in preparation (mostly the P-256 table rebuilt on the key's
// second verification). Each reparsed round builds a table against the budget of 64; the
// garbage collection between rounds (outside the timer) gives the dropped key's place back.
func BenchmarkRefreshThenVerify(b *testing.B) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	var list []any
	for kid, pub := range map[string]any{"ec": &ec.PublicKey, "rsa": &rk.PublicKey} {
		jk, err := jwk.Import(pub)
		if err != nil {
			b.Fatal(err)
		}
		if err := jk.Set(jwk.KeyIDKey, kid); err != nil {
			b.Fatal(err)
		}
		list = append(list, jk)
	}
	doc, err := json.Marshal(map[string]any{"keys": list})
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("signing input"))
	r, s, err := ecdsa.Sign(rand.Reader, ec, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	ecSig := make([]byte, 64)
	r.FillBytes(ecSig[:32])
	s.FillBytes(ecSig[32:])
	rsaSig, err := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	parse := func() []Key {
		ks, _, err := ParseJWKs(doc, "https://issuer.example/jwks", JWKOptions{})
		if err != nil || len(ks) != 2 {
			b.Fatalf("ParseJWKs() = %v, %v", ks, err)
		}
		return ks
	}
	for _, keep := range []bool{true, false} {
		name := map[bool]string{true: "kept", false: "reparsed"}[keep]
		b.Run(name, func(b *testing.B) {
			set := NewSet(parse()...)
			for b.Loop() {
				b.StopTimer()
				runtime.GC() // give back the table budget of the keys the last round dropped
				b.StartTimer()
				ks := parse()
				if keep {
					ks = keepPrepared(set, ks)
				}
				set = NewSet(ks...)
				e, _ := set.Lookup("ec")
				for range 3 {
					if !e.PreparedEC().VerifyJWS(digest[:], ecSig) {
						b.Fatal("ES256 signature does not verify")
					}
				}
				k, _ := set.Lookup("rsa")
				if !k.PreparedRSA().VerifyPKCS1v15(crypto.SHA256, digest[:], rsaSig) {
					b.Fatal("RS256 signature does not verify")
				}
			}
		})
	}
}
