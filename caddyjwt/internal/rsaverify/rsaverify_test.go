package rsaverify_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"testing"

	"github.com/obgate/obgate/caddyjwt/internal/rsaverify"
)

// signFor makes a standard signature of digest under s.
func signFor(t testing.TB, priv *rsa.PrivateKey, s scheme, h crypto.Hash, digest []byte) []byte {
	t.Helper()
	var sig []byte
	var err error
	if s == pss {
		sig, err = rsa.SignPSS(rand.Reader, priv, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(nil, priv, h, digest)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// corruptions returns variants of a valid signature and digest that must all give crypto/rsa's
// verdict (nearly all are rejections): bit flips, wrong lengths, out-of-range values, the other
// scheme's signature, another salt length, and encoded messages altered before signing.
func corruptions(t testing.TB, rng *mrand.Rand, priv *rsa.PrivateKey, s scheme, h crypto.Hash, digest, sig []byte) map[string][2][]byte {
	pub := &priv.PublicKey
	k := len(sig)
	flip := func(b []byte) []byte {
		c := bytes.Clone(b)
		i := rng.IntN(len(c) * 8)
		c[i/8] ^= 1 << (i % 8)
		return c
	}
	nBytes := pub.N.FillBytes(make([]byte, k))
	nMinus1 := new(big.Int).Sub(pub.N, big.NewInt(1)).FillBytes(make([]byte, k))
	nPlusSig := new(big.Int).Add(pub.N, new(big.Int).SetBytes(sig)).Bytes()
	other := signFor(t, priv, 1-s, h, digest)
	out := map[string][2][]byte{
		"valid":                 {digest, sig},
		"signature bit flipped": {digest, flip(sig)},
		"digest bit flipped":    {flip(digest), sig},
		"signature truncated":   {digest, sig[:k-1]},
		"leading zero added":    {digest, append([]byte{0}, sig...)},
		"signature empty":       {digest, nil},
		"signature zero":        {digest, make([]byte, k)},
		"signature one":         {digest, append(make([]byte, k-1), 1)},
		"signature n":           {digest, nBytes},
		"signature n-1":         {digest, nMinus1},
		"signature + n":         {digest, nPlusSig},
		"digest too short":      {digest[:len(digest)-1], sig},
		"other scheme":          {digest, other},
	}
	if s == pss {
		salted, err := rsa.SignPSS(rand.Reader, priv, h, digest, &rsa.PSSOptions{SaltLength: h.Size() - 1})
		if err != nil {
			t.Fatal(err)
		}
		out["salt one octet short"] = [2][]byte{digest, salted}
	}
	// The encoded message itself, altered and signed again with the private key.
	em := rawOpen(t, pub, sig)
	for name, edit := range map[string]func([]byte){
		"EM last octet changed":   func(e []byte) { e[len(e)-1] ^= 0x01 },
		"EM first octet set":      func(e []byte) { e[0] = 0x01 },
		"EM second octet changed": func(e []byte) { e[1] ^= 0x80 },
		"EM middle bit flipped":   func(e []byte) { e[k/2] ^= 0x10 },
		"EM third octet changed":  func(e []byte) { e[2] ^= 0x01 },
		"EM random octet changed": func(e []byte) { e[rng.IntN(k)] ^= byte(1 + rng.IntN(255)) },
		"EM octet after padding":  func(e []byte) { e[k-h.Size()-20] ^= 0x01 },
		"EM top bit of DB set":    func(e []byte) { e[1] |= 0x80; e[0] |= 0x80 >> (8*k - pub.N.BitLen() + 1) },
	} {
		c := bytes.Clone(em)
		edit(c)
		if new(big.Int).SetBytes(c).Cmp(pub.N) >= 0 {
			continue // not a value the private key can sign
		}
		out[name] = [2][]byte{digest, rawSign(t, priv, c)}
	}
	return out
}

// TestRandomSignaturesSameVerdictAsCryptoRSA signs random messages with keys of 2048 bits and of
// 2049 bits (where the PSS encoded message is one octet shorter than the modulus), under both
// schemes and all three hashes, and checks that the fast path and crypto/rsa agree on the valid
// signature and on every corruption of it.
func TestRandomSignaturesSameVerdictAsCryptoRSA(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, name := range []string{"test-rsa-2048.pem", "test-rsa-2049.pem"} {
		priv := loadTestKey(t, name)
		engs := engines(&priv.PublicKey)
		if engs == nil {
			t.Fatalf("%s: Prepare refused the key", name)
		}
		for _, s := range []scheme{pkcs1, pss} {
			for _, h := range hashes {
				for range 4 {
					msg := make([]byte, rng.IntN(200))
					for i := range msg {
						msg[i] = byte(rng.Uint32())
					}
					digest := digestOf(h, msg)
					sig := signFor(t, priv, s, h, digest)
					for what, c := range corruptions(t, rng, priv, s, h, digest, sig) {
						want := stdVerdict(&priv.PublicKey, s, h, c[0], c[1])
						for _, e := range engs {
							got := fastVerdict(e.key, s, h, c[0], c[1])
							if got != want {
								t.Errorf("%s %v %v %s: fast path (%s) says %v, crypto/rsa says %v", name, s, h, what, e.name, got, want)
							}
							if what == "valid" && !got {
								t.Errorf("%s %v %v: a valid signature was rejected (%s)", name, s, h, e.name)
							}
						}
					}
				}
			}
		}
	}
}

// TestPrepareLeavesUnusualKeysToCryptoRSA: keys crypto/rsa treats specially are not prepared,
// so the caller keeps crypto/rsa's verdict for them.
func TestPrepareLeavesUnusualKeysToCryptoRSA(t *testing.T) {
	priv := loadTestKey(t, "test-rsa-2048.pem")
	n := priv.N
	even := new(big.Int).Add(n, big.NewInt(1))
	for _, tc := range []struct {
		name string
		pub  *rsa.PublicKey
	}{
		{"nil key", nil},
		{"nil modulus", &rsa.PublicKey{E: 65537}},
		{"even modulus", &rsa.PublicKey{N: even, E: 65537}},
		{"modulus under 1024 bits", &rsa.PublicKey{N: new(big.Int).Rsh(n, 1100), E: 65537}},
		{"modulus over 8192 bits", &rsa.PublicKey{N: new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 8200), big.NewInt(1)), E: 65537}},
		{"exponent one", &rsa.PublicKey{N: n, E: 1}},
		{"even exponent", &rsa.PublicKey{N: n, E: 65536}},
		{"exponent over 2^31-1", &rsa.PublicKey{N: n, E: 1 << 31}},
	} {
		if k := rsaverify.Prepare(tc.pub); k != nil {
			t.Errorf("%s: Prepare() = %v, want nil", tc.name, k)
		}
	}
	if rsaverify.Prepare(&priv.PublicKey) == nil {
		t.Error("Prepare() refused an ordinary 2048-bit key")
	}
}

// TestOtherHashesGoToCryptoRSA: a hash the fast path does not encode itself (SHA-224 here) still
// gets crypto/rsa's verdict.
func TestOtherHashesGoToCryptoRSA(t *testing.T) {
	priv := loadTestKey(t, "test-rsa-2048.pem")
	k := rsaverify.Prepare(&priv.PublicKey)
	digest := digestOf(crypto.SHA224, []byte("message"))
	for _, s := range []scheme{pkcs1, pss} {
		sig := signFor(t, priv, s, crypto.SHA224, digest)
		if !fastVerdict(k, s, crypto.SHA224, digest, sig) {
			t.Errorf("%v SHA-224: valid signature rejected", s)
		}
		sig[0] ^= 1
		if fastVerdict(k, s, crypto.SHA224, digest, sig) {
			t.Errorf("%v SHA-224: corrupted signature verified", s)
		}
	}
}

// BenchmarkVerifyPKCS1v15 compares, for keys of 2048, 3072 and 4096 bits, crypto/rsa with the
// bigmod path and (where the CPU has it) the AVX-512 IFMA path:
//
//	go test -run='^$' -bench=VerifyPKCS1v15 -count=5 ./caddyjwt/internal/rsaverify
func BenchmarkVerifyPKCS1v15(b *testing.B) {
	digest := digestOf(crypto.SHA256, []byte("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0"))
	for _, bits := range []int{2048, 3072, 4096} {
		priv := loadTestKey(b, "test-rsa-2048.pem")
		if bits != 2048 {
			var err error
			if priv, err = rsa.GenerateKey(rand.Reader, bits); err != nil {
				b.Fatal(err)
			}
		}
		sig := signFor(b, priv, pkcs1, crypto.SHA256, digest)
		b.Run(fmt.Sprintf("%d/crypto-rsa", bits), func(b *testing.B) {
			for b.Loop() {
				if rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, digest, sig) != nil {
					b.Fatal("rejected")
				}
			}
		})
		for _, e := range engines(&priv.PublicKey) {
			b.Run(fmt.Sprintf("%d/%s", bits, e.name), func(b *testing.B) {
				for b.Loop() {
					if !e.key.VerifyPKCS1v15(crypto.SHA256, digest, sig) {
						b.Fatal("rejected")
					}
				}
			})
		}
	}
}

// TestIFMAVerificationAllocatesNothing: on the IFMA path a verification keeps every number on
// the stack (a kernel called through a function value once moved two of them to the heap).
func TestIFMAVerificationAllocatesNothing(t *testing.T) {
	for _, name := range []string{"test-rsa-2048.pem", "test-rsa-2049.pem"} {
		priv := loadTestKey(t, name)
		k := rsaverify.Prepare(&priv.PublicKey)
		if !k.UsesIFMA() {
			t.Skip("this CPU has no AVX-512 IFMA")
		}
		digest := digestOf(crypto.SHA256, []byte("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0"))
		for _, s := range []scheme{pkcs1, pss} {
			sig := signFor(t, priv, s, crypto.SHA256, digest)
			if n := testing.AllocsPerRun(50, func() { fastVerdict(k, s, crypto.SHA256, digest, sig) }); n != 0 {
				t.Errorf("%s %v: %v allocations per verification, want 0", name, s, n)
			}
		}
	}
}
