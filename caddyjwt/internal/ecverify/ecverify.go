// Package ecverify verifies ECDSA P-256 signatures with SHA-256 (the JWS algorithm ES256,
// RFC 7518 §3.4; FIPS 186-5 §6.4.2) with a public key that keeps a precomputed table of its
// own multiples once it is in use.
//
// Most of a crypto/ecdsa P-256 verification is the multiplication u2·Q of the public key by a
// scalar: 256 point doublings, because crypto/ecdsa knows nothing of Q in advance and keeps its
// code constant-time. A PublicKey here builds, on its second verification, a table of the
// multiples j·2^(5i)·Q (|j| ≤ 16, see table.go), so that u2·Q becomes some 52 point additions
// and no doubling. u1·G uses the curve's own precomputed generator table (nistec's
// ScalarBaseMult, filippo.io/nistec being the exported form of the standard library's P-256
// code with the same assembly), the inverse of s the Bernstein-Yang divsteps (inverse.go,
// checked by one multiplication), the rest of the arithmetic mod n filippo.io/bigmod. A
// verification allocates nothing.
//
// Only public values take part in a verification (the key, the signature, the digest), so the
// variable-time parts (table lookups indexed by u2's digits, skipped zero digits, the inverse)
// leak nothing secret. This package must never be used for anything that handles a private
// scalar.
//
// Building a table costs about as much as twenty verifications (some 0.5 ms) and the table
// takes 129 KiB (tableBytes), so a key never builds one when it is loaded (10,000 issuers with
// static keys must provision in well under 2 s) but on its second verification, once, in that
// verification; verifications that run meanwhile never wait: they use the plain path (nistec's
// constant-time ScalarMult, as crypto/ecdsa does). At most MaxTables keys of the process hold a
// table at a time; the others keep the plain path. A table belongs to its PublicKey and its
// place in the budget is given back when the key is garbage collected (a JWKS refresh that
// drops a key; the runtime collects at least every two minutes), after which a key that found
// the budget full gets one on its next verification.
//
// The verdict is crypto/ecdsa's on every input: the same range checks of r and s (1 ≤ r, s ≤
// n-1), the same reduction of the digest (its leftmost 256 bits, reduced mod n), a rejection of
// the point at infinity, and x(R) mod n compared with r. Prepare refuses (returns nil for)
// every key the package does not handle (other curves, invalid points, FIPS 140-3 mode), and the
// caller then uses crypto/ecdsa. The tests compare both on every Wycheproof ECDSA P-256 SHA-256
// vector, on random keys and corruptions, on constructed edge cases (u1 = 0, u2 = 1, -1, window
// boundaries, R at infinity), before and after the table is built, and under a differential fuzz
// target.
package ecverify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/fips140"
	"sync/atomic"

	"filippo.io/bigmod"
	"filippo.io/nistec"

	"github.com/obgate/obgate/caddyjwt/internal/natbytes"
)

// order is n, the order of the P-256 base point (FIPS 186-5, SP 800-186 §3.2.1.3).
var order = mustModulus([]byte{
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
})

func mustModulus(b []byte) *bigmod.Modulus {
	m, err := bigmod.NewModulus(b)
	if err != nil {
		panic("ecverify: " + err.Error())
	}
	return m
}

// scalarBytes is the length of a P-256 scalar and of r and s in a JWS signature (RFC 7518
// §3.4: R and S as 32-octet big-endian sequences).
const scalarBytes = 32

// PublicKey is a P-256 public key prepared for verification. It is safe for concurrent use;
// its table, once built, never changes.
type PublicKey struct {
	pub *ecdsa.PublicKey
	q   nistec.P256Point // the key as a point, checked to be on the curve

	table    atomic.Pointer[table] // nil until built
	uses     atomic.Uint32         // verifications without a table, counted up to buildAfter
	building atomic.Bool           // a goroutine is building the table (or has built it)
}

// Prepare returns pub prepared for verification, or nil when the fast path must not be used for
// it (not a P-256 key, not a valid point, FIPS 140-3 mode), and the caller then verifies with
// crypto/ecdsa. It is cheap (it decodes the point): no table is built here.
func Prepare(pub *ecdsa.PublicKey) *PublicKey {
	if pub == nil || pub.Curve == nil || pub.Curve.Params() != elliptic.P256().Params() || fips140.Enabled() {
		return nil
	}
	//lint:ignore SA1019 only compared with nil, so that Bytes cannot panic on a bare literal.
	if pub.X == nil || pub.Y == nil {
		return nil
	}
	enc, err := pub.Bytes() // the uncompressed point; fails for invalid coordinates
	if err != nil {
		return nil
	}
	k := &PublicKey{pub: pub}
	if _, err := k.q.SetBytes(enc); err != nil || k.q.IsInfinity() == 1 {
		return nil // not on the curve: crypto/ecdsa rejects every signature for it
	}
	return k
}

// Public returns the key this was prepared from.
func (k *PublicKey) Public() *ecdsa.PublicKey { return k.pub }

// VerifyJWS reports whether sig, a JWS ECDSA signature (RFC 7518 §3.4: R || S, 32 octets each),
// is a valid signature of digest, as ecdsa.Verify of R and S would after the length check that
// JWS requires. digest is normally SHA-256 of the signing input; like crypto/ecdsa, its leftmost
// 256 bits are used, reduced mod n.
func (k *PublicKey) VerifyJWS(digest, sig []byte) bool {
	if len(sig) != 2*scalarBytes {
		return false
	}
	return k.verify(digest, sig[:scalarBytes], sig[scalarBytes:], k.tableForUse())
}

// verify is FIPS 186-5 §6.4.2 for big-endian r and s of 32 octets each, with the key's table t,
// or on the plain path when t is nil.
func (k *PublicKey) verify(digest, rb, sb []byte, t *table) bool {
	// Step 2: 1 ≤ r, s ≤ n-1. SetBytes fails for values not below n.
	r, err := bigmod.NewNat().SetBytes(rb, order)
	if err != nil || r.IsZero() == 1 {
		return false
	}
	s, err := bigmod.NewNat().SetBytes(sb, order)
	if err != nil || s.IsZero() == 1 {
		return false
	}
	// Steps 3-4: e is the digest's leftmost 256 bits (the bit length of n), reduced mod n.
	if len(digest) > scalarBytes {
		digest = digest[:scalarBytes]
	}
	e, err := bigmod.NewNat().SetOverflowingBytes(digest, order)
	if err != nil {
		return false // unreachable: at most 256 bits
	}
	// Step 5: s⁻¹, variable time (s is public; inverse.go). n is prime and 0 < s < n, so it
	// exists.
	w := bigmod.NewNat()
	if !inverse(w, sb) {
		return false
	}
	// Step 6: u1 = e·s⁻¹, u2 = r·s⁻¹.
	var u1, u2 [scalarBytes]byte
	natbytes.Fill(u1[:], e.Mul(w, order))
	natbytes.Fill(u2[:], w.Mul(r, order))
	// Step 7: R = u1·G + u2·Q, rejected at infinity.
	p1, err := nistec.NewP256Point().ScalarBaseMult(u1[:])
	if err != nil {
		return false
	}
	var p2 nistec.P256Point
	x, err := p1.Add(p1, k.mulQ(&p2, u2[:], t)).BytesX() // fails for the point at infinity
	if err != nil {
		return false
	}
	// Steps 8-9: x(R) mod n = r.
	v, err := bigmod.NewNat().SetOverflowingBytes(x, order)
	if err != nil {
		return false
	}
	return v.Equal(r) == 1
}

// mulQ sets p = u2·Q and returns it: with the table t, or when t is nil with nistec's
// ScalarMult (constant time, as crypto/ecdsa does).
func (k *PublicKey) mulQ(p *nistec.P256Point, u2 []byte, t *table) *nistec.P256Point {
	if t != nil {
		return t.mul(p, u2)
	}
	if _, err := p.ScalarMult(&k.q, u2); err != nil {
		panic("ecverify: " + err.Error()) // unreachable: u2 is 32 octets
	}
	return p
}
