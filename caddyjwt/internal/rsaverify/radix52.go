package rsaverify

import (
	"bytes"
	"math/big"
	"math/bits"
)

// The AVX-512 IFMA path keeps numbers as limbs52 limbs of 52 bits (the width of the IFMA
// multipliers) and multiplies with Montgomery's method for R = 2^(52·limbs52) = 2^2080.
// Because R > 4n for every modulus it takes (up to maxBits52 bits), a product of two values
// under 2n is again under 2n without a final subtraction (an "almost Montgomery
// multiplication"); one comparison at the end of the exponentiation makes it exact.
const (
	limbs52   = 40
	mask52    = 1<<52 - 1
	maxBits52 = 52*limbs52 - 2 // R > 4n
	minBits52 = 1537           // below this, bigmod's specialised 1024- and 1536-bit code is faster
)

// nat52 is a number in radix 2^52, least significant limb first.
type nat52 [limbs52]uint64

// modulus52 is an RSA modulus and public exponent prepared for the IFMA path.
type modulus52 struct {
	n      nat52
	nBytes []byte // n big-endian, k octets: a signature must be less (RFC 8017 §5.2.2 step 1)
	k0     uint64 // -n^-1 mod 2^52
	rToE   nat52  // R^e mod n, which turns x^e·R^-(e-1) into x^e (see exp)
	e      uint
}

// newModulus52 prepares n and e for the IFMA path, or returns nil when the path is not
// available here or n's size is outside what it handles.
func newModulus52(n *big.Int, e uint) *modulus52 {
	if !haveIFMA || n.BitLen() < minBits52 || n.BitLen() > maxBits52 || n.Bit(0) == 0 {
		return nil
	}
	m := &modulus52{nBytes: n.Bytes(), e: e}
	m.n.setBytes(m.nBytes)
	m.k0 = -inverseMod2to64(m.n[0]) & mask52
	r := new(big.Int).Lsh(big.NewInt(1), 52*limbs52)
	m.rToE.setBytes(new(big.Int).Exp(r, new(big.Int).SetUint64(uint64(e)), n).Bytes())
	return m
}

// inverseMod2to64 returns x^-1 mod 2^64 for an odd x, by Newton's iteration (each step doubles
// the number of correct low bits; x is its own inverse mod 8).
func inverseMod2to64(x uint64) uint64 {
	inv := x
	for range 5 {
		inv *= 2 - x*inv
	}
	return inv
}

// encrypt is RSAVP1 (RFC 8017 §5.2.2): em = sig^e mod n as len(em) octets. It fails when sig
// is not less than n (step 1). len(sig) and len(em) are the modulus's length in octets.
func (m *modulus52) encrypt(em, sig []byte) bool {
	if bytes.Compare(sig, m.nBytes) >= 0 {
		return false
	}
	var x, t nat52
	x.setBytes(sig)
	m.exp(&t, &x)
	t.fillBytes(em)
	return true
}

// exp sets out = x^e mod n, for x < n.
//
// x stays out of Montgomery form: each multiplication of values x^i·R^-(i-1) and
// x^j·R^-(j-1) gives x^(i+j)·R^-(i+j-1), so square-and-multiply from x ends at x^e·R^-(e-1),
// and one multiplication by R^e (precomputed) leaves x^e. That is one multiplication fewer
// than converting into and out of Montgomery form.
func (m *modulus52) exp(out, x *nat52) {
	*out = *x
	for i := bits.Len(m.e) - 2; i >= 0; i-- {
		m.mul(out, out, out)
		if m.e>>i&1 == 1 {
			m.mul(out, out, x)
		}
	}
	m.mul(out, out, &m.rToE)
	if !out.less(&m.n) {
		out.sub(&m.n)
	}
}

// mul sets out = a·b·R^-1 mod n, less than 2n, for a and b less than 2n.
func (m *modulus52) mul(out, a, b *nat52) {
	amm52x40((*[limbs52]uint64)(out), (*[limbs52]uint64)(a), (*[limbs52]uint64)(b), (*[limbs52]uint64)(&m.n), m.k0)
	out.normalize()
}

// normalize carries every limb's bits above 52 into the next limb. The value is less than
// 2^(52·limbs52), so nothing is carried out of the top.
func (x *nat52) normalize() {
	var c uint64
	for i := range x {
		v := x[i] + c
		x[i] = v & mask52
		c = v >> 52
	}
}

// less reports whether x < y (variable time: only public values pass through here).
func (x *nat52) less(y *nat52) bool {
	for i := limbs52 - 1; i >= 0; i-- {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// sub sets x = x - y, for x ≥ y.
func (x *nat52) sub(y *nat52) {
	var borrow uint64
	for i := range x {
		v := x[i] - y[i] - borrow
		x[i] = v & mask52
		borrow = v >> 63
	}
}

// setBytes sets x to the big-endian number b, which is at most 52·limbs52 bits long.
func (x *nat52) setBytes(b []byte) {
	*x = nat52{}
	var acc uint64
	var have uint
	i := 0
	for j := len(b) - 1; j >= 0; j-- {
		acc |= uint64(b[j]) << have
		have += 8
		if have >= 52 {
			x[i] = acc & mask52
			i++
			acc >>= 52
			have -= 52
		}
	}
	if i < limbs52 {
		x[i] = acc
	}
}

// fillBytes writes x big-endian into all of b, which is long enough for x.
func (x *nat52) fillBytes(b []byte) {
	var acc uint64
	var have uint
	i := 0
	for j := len(b) - 1; j >= 0; j-- {
		if have < 8 {
			var next uint64
			if i < limbs52 {
				next = x[i]
				i++
			}
			b[j] = byte(acc | next<<have)
			acc = next >> (8 - have)
			have += 52 - 8
			continue
		}
		b[j] = byte(acc)
		acc >>= 8
		have -= 8
	}
}
