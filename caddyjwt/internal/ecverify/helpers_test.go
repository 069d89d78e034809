package ecverify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	mrand "math/rand/v2"
	"testing"

	"filippo.io/nistec"

	"github.com/obgate/obgate/caddyjwt/internal/ecverify"
)

// n is the order of the P-256 base point.
var n = elliptic.P256().Params().N

// stdVerdict is the verdict of the engine's crypto/ecdsa path (through jwx): a JWS ECDSA
// signature is R || S of 32 octets each (RFC 7518 §3.4), then ecdsa.Verify. It is the reference
// every fast-path verdict must equal.
func stdVerdict(pub *ecdsa.PublicKey, digest, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	return ecdsa.Verify(pub, digest, new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

// paths are the fast path's two ways to verify: before a table is built and with one.
var paths = []struct {
	name   string
	verify func(k *ecverify.PublicKey, digest, sig []byte) bool
}{
	{"plain", ecverify.VerifyPlain},
	{"table", ecverify.VerifyTable},
}

// jwsSig is R || S as JWS carries it; values over 32 octets keep their low 32 octets.
func jwsSig(r, s *big.Int) []byte {
	out := make([]byte, 64)
	rb, sb := r.Bytes(), s.Bytes()
	if len(rb) > 32 {
		rb = rb[len(rb)-32:]
	}
	if len(sb) > 32 {
		sb = sb[len(sb)-32:]
	}
	copy(out[32-len(rb):32], rb)
	copy(out[64-len(sb):], sb)
	return out
}

func sha(msg []byte) []byte {
	d := sha256.Sum256(msg)
	return d[:]
}

// forge returns a digest and a signature that are valid for pub with the chosen u1 = e/s and
// u2 = r/s (both mod n, u2 ≠ 0): R = u1·G + u2·Q, r = x(R) mod n, s = r/u2, e = u1·s. ok is
// false when R is the point at infinity or r is 0, where no valid signature exists.
func forge(t testing.TB, pub *ecdsa.PublicKey, u1, u2 *big.Int) (digest, sig []byte, ok bool) {
	t.Helper()
	enc, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	q, err := nistec.NewP256Point().SetBytes(enc)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := nistec.NewP256Point().ScalarBaseMult(u1.FillBytes(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := nistec.NewP256Point().ScalarMult(q, u2.FillBytes(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	x, err := p1.Add(p1, p2).BytesX()
	if err != nil {
		return nil, nil, false // the point at infinity
	}
	r := new(big.Int).Mod(new(big.Int).SetBytes(x), n)
	if r.Sign() == 0 {
		return nil, nil, false
	}
	s := new(big.Int).Mul(r, new(big.Int).ModInverse(u2, n))
	s.Mod(s, n)
	e := new(big.Int).Mul(u1, s)
	e.Mod(e, n)
	return e.FillBytes(make([]byte, 32)), jwsSig(r, s), true
}

// testKey is a fixed P-256 key made from the scalar d (big-endian), so that the fuzz corpus
// keeps its meaning across runs. d = 1 gives Q = G, d = n-1 gives Q = -G.
func testKey(t testing.TB, d *big.Int) *ecdsa.PrivateKey {
	t.Helper()
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d.FillBytes(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// testKeys are the fixed keys of the tests: an ordinary one, Q = G and Q = -G (where u1·G and
// u2·Q can cancel or coincide).
func testKeys(t testing.TB) []*ecdsa.PrivateKey {
	return []*ecdsa.PrivateKey{
		testKey(t, new(big.Int).SetBytes(sha([]byte("ecverify test key")))),
		testKey(t, big.NewInt(1)),
		testKey(t, new(big.Int).Sub(n, big.NewInt(1))),
	}
}

// sign makes a standard signature of digest in JWS form.
func sign(t testing.TB, priv *ecdsa.PrivateKey, digest []byte) []byte {
	t.Helper()
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest)
	if err != nil {
		t.Fatal(err)
	}
	return jwsSig(r, s)
}

// randScalar returns a pseudo-random value in [0, n).
func randScalar(rng *mrand.Rand) *big.Int {
	b := make([]byte, 40)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return new(big.Int).Mod(new(big.Int).SetBytes(b), n)
}
