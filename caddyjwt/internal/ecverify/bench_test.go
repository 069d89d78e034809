package ecverify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"

	"github.com/obgate/obgate/caddyjwt/internal/ecverify"
)

// BenchmarkVerify compares one ES256 verification on the plain path (no table yet), with the
// key's table, and with crypto/ecdsa.
func BenchmarkVerify(b *testing.B) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0"))
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	b.Run("plain", func(b *testing.B) {
		k := ecverify.Prepare(&priv.PublicKey)
		b.ReportAllocs()
		for b.Loop() {
			if !ecverify.VerifyPlain(k, digest[:], sig) {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("table", func(b *testing.B) {
		k := ecverify.Prepare(&priv.PublicKey)
		ecverify.BuildTable(k)
		b.ReportAllocs()
		for b.Loop() {
			if !k.VerifyJWS(digest[:], sig) {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("crypto-ecdsa", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rr, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			if !ecdsa.Verify(&priv.PublicKey, digest[:], rr, ss) {
				b.Fatal("rejected")
			}
		}
	})
}
