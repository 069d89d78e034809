package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obgate/obgate/caddyjwt/verify"
	"github.com/obgate/obgate/internal/jwttest"
)

// benchCase is one algorithm's signer and a typical token: an access token with iss, aud, sub,
// iat, exp, a scope and a client ID, and a header with alg, kid and typ.
type benchCase struct {
	alg    string
	signer *jwttest.Signer
	token  string
}

func benchCases(b *testing.B) []benchCase {
	f := keyFixture(b)
	claims := with(claimsFor(issA), "scope", "accounts payments", "client_id", "tpp-8d2f1c", "jti", "5f0c1e2a-1b7d-4c8e-9f3a-2d6b7e8f9a0b")
	var out []benchCase
	for _, s := range []*jwttest.Signer{f.rsaA, f.psA, f.ecA, f.edA} {
		name := s.Alg
		if s.Alg == "RS256" {
			name = "RS256-2048"
		}
		out = append(out, benchCase{alg: name, signer: s, token: s.Token(b, claims, nil)})
	}
	return out
}

// BenchmarkVerify is the engine's whole verify path for one token with a warm static key: size
// cap, parse, header, issuer, key selection, signature and claims.
func BenchmarkVerify(b *testing.B) {
	benchVerify(b, newVerifier(b, keyFixture(b), nil))
}

// BenchmarkVerifyCached is BenchmarkVerify with the verified-token cache on and the token
// already remembered: a SHA-256 of the token, the key-still-held check and the claims check.
func BenchmarkVerifyCached(b *testing.B) {
	benchVerify(b, newVerifier(b, keyFixture(b), func(p *verify.Policy) { p.CacheSize = 1024 }))
}

// benchVerify verifies each algorithm's typical token with v, once before timing.
func benchVerify(b *testing.B, v *verify.Verifier) {
	ctx := context.Background()
	for _, bc := range benchCases(b) {
		tok := []byte(bc.token)
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatalf("%s: Verify() error = %v", bc.alg, err)
		}
		b.Run(bc.alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareSignature is the standard library's signature check for the same key and signing
// input: the hash and the verification, without base64 or JSON. It is the floor the engine is
// measured against.
func BenchmarkBareSignature(b *testing.B) {
	for _, bc := range benchCases(b) {
		check := bareCheck(b, bc)
		b.Run(bc.alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !check() {
					b.Fatal("signature check failed")
				}
			}
		})
	}
}

// BenchmarkEngineOverBare runs the engine and the bare check alternately on the same token and
// reports the ratio of their median times per token (engine/bare) and the engine's extra median
// time. Medians of interleaved calls hold up on a busy machine, where separate runs of the two
// benchmarks above vary by more than the overhead being measured. The engine's keys are loaded
// as the gateway loads them, so RSA runs with its prepared modulus and ES256 with its prepared
// P-256 key, whose table is built on its second verification (within the first iterations).
func BenchmarkEngineOverBare(b *testing.B) {
	f := keyFixture(b)
	if f.keyA.PreparedRSA() == nil || f.keyEC.PreparedEC() == nil {
		b.Fatal("the benchmark keys are not prepared: the engine would not take its fast paths")
	}
	v := newVerifier(b, f, nil)
	ctx := context.Background()
	for _, bc := range benchCases(b) {
		tok := []byte(bc.token)
		check := bareCheck(b, bc)
		b.Run(bc.alg, func(b *testing.B) {
			var engine, bare []time.Duration
			timeEngine := func() {
				t0 := time.Now()
				_, err := v.Verify(ctx, tok)
				engine = append(engine, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			timeBare := func() {
				t0 := time.Now()
				ok := check()
				bare = append(bare, time.Since(t0))
				if !ok {
					b.Fatal("signature check failed")
				}
			}
			for b.Loop() {
				if len(engine)%2 == 0 {
					timeEngine()
					timeBare()
				} else {
					timeBare()
					timeEngine()
				}
			}
			me, mb := median(engine), median(bare)
			b.ReportMetric(float64(me)/float64(mb), "engine/bare")
			b.ReportMetric(float64(me), "engine-median-ns")
			b.ReportMetric(float64(mb), "bare-median-ns")
		})
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// bareCheck returns the standard-library check of bc's signature: hash the signing input, then
// rsa.VerifyPKCS1v15, rsa.VerifyPSS, ecdsa.Verify or ed25519.Verify.
func bareCheck(b *testing.B, bc benchCase) func() bool {
	h, p, s := segments(b, bc.token)
	input := []byte(h + "." + p)
	sig := mustDecode(b, s)
	var check func() bool
	switch pub := bc.signer.Public().(type) {
	case *rsa.PublicKey:
		if bc.signer.Alg == "PS256" {
			opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
			check = func() bool {
				sum := sha256.Sum256(input)
				return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], sig, opts) == nil
			}
		} else {
			check = func() bool {
				sum := sha256.Sum256(input)
				return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
			}
		}
	case *ecdsa.PublicKey:
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		check = func() bool {
			sum := sha256.Sum256(input)
			return ecdsa.Verify(pub, sum[:], r, s)
		}
	case ed25519.PublicKey:
		check = func() bool { return ed25519.Verify(pub, input, sig) }
	default:
		b.Fatalf("%s: no bare check for %T", bc.alg, pub)
	}
	if !check() {
		b.Fatalf("%s: bare signature check failed", bc.alg)
	}
	return check
}

// TestBenchmarkTokensAreTypical keeps the benchmark honest: its tokens verify under the base
// policy and are of an ordinary size.
func TestBenchmarkTokensAreTypical(t *testing.T) {
	f := keyFixture(t)
	v := newVerifier(t, f, nil)
	claims := with(claimsFor(issA), "scope", "accounts payments", "client_id", "tpp-8d2f1c", "jti", "5f0c1e2a-1b7d-4c8e-9f3a-2d6b7e8f9a0b")
	for _, s := range []*jwttest.Signer{f.rsaA, f.psA, f.ecA, f.edA} {
		tok := s.Token(t, claims, nil)
		if _, err := v.Verify(t.Context(), []byte(tok)); err != nil {
			t.Errorf("%s token rejected: %v", s.Alg, err)
		}
		if n := len(tok); n > 1024 || strings.Count(tok, ".") != 2 {
			t.Errorf("%s token is %d bytes", s.Alg, n)
		}
	}
}
