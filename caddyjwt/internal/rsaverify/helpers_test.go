package rsaverify_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"

	"filippo.io/bigmod"

	"github.com/obgate/obgate/caddyjwt/internal/rsaverify"
)

// scheme is one of the two RSA signature schemes JWS uses.
type scheme int

const (
	pkcs1 scheme = iota // RS256/384/512 (RFC 7518 §3.3)
	pss                 // PS256/384/512 (RFC 7518 §3.5): MGF1 with the same hash, salt = hash length
)

func (s scheme) String() string { return [...]string{"PKCS1v15", "PSS"}[s] }

var hashes = []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512}

// stdVerdict is crypto/rsa's answer, the reference every fast-path verdict must equal.
func stdVerdict(pub *rsa.PublicKey, s scheme, h crypto.Hash, digest, sig []byte) bool {
	if s == pss {
		return rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	return rsa.VerifyPKCS1v15(pub, h, digest, sig) == nil
}

// engine is one way the fast path can verify with a key.
type engine struct {
	name string
	key  *rsaverify.PublicKey
}

// engines returns pub prepared for each of the fast path's engines this machine runs: bigmod
// always, and the AVX-512 IFMA one where the CPU has it and the key's size fits. Nil when
// Prepare refuses the key.
func engines(pub *rsa.PublicKey) []engine {
	k := rsaverify.Prepare(pub)
	if k == nil {
		return nil
	}
	out := []engine{{"bigmod", rsaverify.PrepareBigmod(pub)}}
	if k.UsesIFMA() {
		out = append(out, engine{"ifma", k})
	}
	return out
}

// fastVerdict is the fast path's answer.
func fastVerdict(k *rsaverify.PublicKey, s scheme, h crypto.Hash, digest, sig []byte) bool {
	if s == pss {
		return k.VerifyPSS(h, digest, sig)
	}
	return k.VerifyPKCS1v15(h, digest, sig)
}

func digestOf(h crypto.Hash, msg []byte) []byte {
	w := h.New()
	w.Write(msg)
	return w.Sum(nil)
}

// loadTestKey reads one of the test-only private keys in testdata.
func loadTestKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k.(*rsa.PrivateKey)
}

// rawSign is the RSA private-key operation on an arbitrary encoded message (em^d mod n), so
// that the tests can sign encodings no standard signer would make. em must be less than n.
func rawSign(t testing.TB, priv *rsa.PrivateKey, em []byte) []byte {
	t.Helper()
	n, err := bigmod.NewModulus(priv.N.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	x, err := bigmod.NewNat().SetBytes(em, n)
	if err != nil {
		t.Fatalf("rawSign: %v", err)
	}
	return bigmod.NewNat().Exp(x, priv.D.Bytes(), n).Bytes(n)
}

// rawOpen is the public-key operation (sig^e mod n): the encoded message a signature carries.
func rawOpen(t testing.TB, pub *rsa.PublicKey, sig []byte) []byte {
	t.Helper()
	n, err := bigmod.NewModulus(pub.N.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	x, err := bigmod.NewNat().SetBytes(sig, n)
	if err != nil {
		t.Fatalf("rawOpen: %v", err)
	}
	return bigmod.NewNat().ExpShortVarTime(x, uint(pub.E), n).Bytes(n)
}
