package rsaverify

import (
	"bytes"
	"math/big"
	"math/bits"
	"slices"
)

// The AVX-512 IFMA path keeps numbers as limbs of 52 bits (the width of the IFMA multipliers)
// and multiplies with Montgomery's method for R = 2^(52·limbs), limbs being 40, 64 or 80, a
// whole number of 512-bit registers. Because R > 4n for every modulus a size takes, a product
// of two values under 2n is again under 2n without a final subtraction (an "almost Montgomery
// multiplication"); one comparison at the end of the exponentiation makes it exact.
const (
	maxLimbs52 = 80
	mask52     = 1<<52 - 1
	minBits52  = 1537 // below this, bigmod's specialised 1024- and 1536-bit code is faster
)

// kernelLimbs52 are the IFMA kernels' sizes in limbs, smallest first: RSA-2048, RSA-3072 and
// RSA-4096, anything in between taking the next size up. A kernel of L limbs takes moduli of up
// to 52·L-2 bits (R > 4n).
var kernelLimbs52 = []int{40, 64, 80}

// nat52 is a number in radix 2^52, least significant limb first; a modulus uses its first
// limbs limbs and leaves the others zero. The last limb is a guard, always zero, past the
// largest kernel's limbs: the kernels read the limb after a multiplier's last.
type nat52 [maxLimbs52 + 1]uint64

// modulus52 is an RSA modulus and public exponent prepared for the IFMA path.
type modulus52 struct {
	limbs  int      // the kernel's size
	n      []uint64 // limbs limbs
	nBytes []byte   // n big-endian, k octets: a signature must be less (RFC 8017 §5.2.2 step 1)
	k0     uint64   // -n^-1 mod 2^52
	rToE   []uint64 // R^e mod n, which turns x^e·R^-(e-1) into x^e (see exp); limbs+1 limbs, the last the zero guard
	e      uint
}

// newModulus52 prepares n and e for the IFMA path, or returns nil when the path is not
// available here or n's size is outside what it handles.
func newModulus52(n *big.Int, e uint) *modulus52 {
	if !haveIFMA || n.BitLen() < minBits52 || n.Bit(0) == 0 {
		return nil
	}
	for _, limbs := range kernelLimbs52 {
		if n.BitLen() <= 52*limbs-2 {
			m := &modulus52{limbs: limbs, nBytes: n.Bytes(), e: e}
			var x nat52
			x.setBytes(m.nBytes)
			m.n = slices.Clone(x[:limbs])
			m.k0 = -inverseMod2to64(m.n[0]) & mask52
			rr := new(big.Int).Lsh(big.NewInt(1), uint(2*52*limbs))
			x.setBytes(rr.Mod(rr, n).Bytes())
			m.powerOfR(&x)
			m.rToE = slices.Clone(x[:limbs+1])
			return m
		}
	}
	return nil
}

// powerOfR turns r = R^2 mod n into R^e mod n with the kernel, a tenth of the time math/big's
// Exp takes (which matters for configurations with thousands of RSA keys). Multiplying R^i by
// R^j gives R^(i+j-1): with k-1 for k, squaring doubles it and multiplying by R^2 adds one, so
// square-and-multiply over the bits of e-1 from R^2 (k-1 = 1) ends at R^e.
func (m *modulus52) powerOfR(r *nat52) {
	rr := *r
	m.squareAndMultiply(r, &rr, m.e-1)
	m.reduce(r)
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
	m.squareAndMultiply(out, x, m.e)
	m.mul(out, out, &m.rToE[0])
	m.reduce(out)
}

// squareAndMultiply sets out to the product of e copies of x, left to right, with the kernel's
// multiplication (so with the powers of R^-1 that exp and powerOfR account for).
func (m *modulus52) squareAndMultiply(out, x *nat52, e uint) {
	*out = *x
	for i := bits.Len(e) - 2; i >= 0; i-- {
		m.mul(out, out, &out[0])
		if e>>i&1 == 1 {
			m.mul(out, out, &x[0])
		}
	}
}

// reduce makes x, less than 2n, less than n.
func (m *modulus52) reduce(x *nat52) {
	if !x.less(m.n) {
		x.sub(m.n)
	}
}

// mul sets out = a·b·R^-1 mod n, less than 2n, for a and b less than 2n; b is the first of
// limbs+1 limbs, the last of them zero (the kernels read it).
//
// The kernels are called directly, not through a function value, so that the numbers stay on
// their callers' stacks (the kernels are noescape).
func (m *modulus52) mul(out, a *nat52, b *uint64) {
	switch m.limbs {
	case 40:
		amm52x40(&out[0], &a[0], b, &m.n[0], m.k0)
	case 64:
		amm52x64(&out[0], &a[0], b, &m.n[0], m.k0)
	default:
		amm52x80(&out[0], &a[0], b, &m.n[0], m.k0)
	}
	out.normalize(m.limbs)
}

// normalize carries the bits above 52 of each of x's first limbs limbs into the next. The value
// is less than 2^(52·limbs), so nothing is carried out of the top.
func (x *nat52) normalize(limbs int) {
	var c uint64
	for i := range x[:limbs] {
		v := x[i] + c
		x[i] = v & mask52
		c = v >> 52
	}
}

// less reports whether x < y, on y's limbs (x has no others; variable time: only public values
// pass through here).
func (x *nat52) less(y []uint64) bool {
	for i := len(y) - 1; i >= 0; i-- {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// sub sets x = x - y, for x ≥ y, on y's limbs (x has no others).
func (x *nat52) sub(y []uint64) {
	var borrow uint64
	for i := range y {
		v := x[i] - y[i] - borrow
		x[i] = v & mask52
		borrow = v >> 63
	}
}

// setBytes sets x to the big-endian number b, which is at most 52·maxLimbs52 bits long.
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
	if i < maxLimbs52 {
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
			if i < maxLimbs52 {
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
