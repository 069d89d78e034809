package ecverify

import (
	"crypto/elliptic"
	"encoding/binary"
	"math/big"
	"math/bits"

	"filippo.io/bigmod"
)

// The inverse of s mod n without allocating: the Bernstein-Yang "safegcd" algorithm (D. J.
// Bernstein and B.-Y. Yang, "Fast constant-time gcd computation and modular inversion", 2019) in
// its variable-time form (s is public), 62 divsteps at a time on numbers held in five signed
// 62-bit limbs. The result is checked (s·w ≡ 1 mod n, one multiplication) and math/big computes
// it when the check fails, so a mistake here could cost time, never a verdict.

const (
	limbBits = 62
	mask62   = 1<<limbBits - 1
)

// signed62 is Σ v[i]·2^(62·i); the lower limbs are in [0, 2^62) once normalized by the updates,
// the top one carries the sign.
type signed62 [5]int64

// orderInt is n as a big.Int.
var orderInt = elliptic.P256().Params().N

// order62 is n in signed62 form, orderInv62 n⁻¹ mod 2^62.
var order62, orderInv62 = func() (signed62, uint64) {
	var v signed62
	x := new(big.Int).Set(orderInt)
	m := big.NewInt(mask62)
	for i := range v {
		v[i] = new(big.Int).And(x, m).Int64()
		x.Rsh(x, limbBits)
	}
	two62 := new(big.Int).Lsh(big.NewInt(1), limbBits)
	return v, new(big.Int).ModInverse(orderInt, two62).Uint64()
}()

// two248 is 2^248 mod n, to fold the top limb back into a residue.
var two248 = func() *bigmod.Nat {
	x := new(big.Int).Mod(new(big.Int).Lsh(big.NewInt(1), 4*limbBits), orderInt)
	var buf [scalarBytes]byte
	nat, err := bigmod.NewNat().SetBytes(x.FillBytes(buf[:]), order)
	if err != nil {
		panic("ecverify: " + err.Error())
	}
	return nat
}()

// trans is the transition matrix of 62 divsteps, scaled by 2^62: [f', g']·2^62 = t·[f, g].
type trans struct{ u, v, q, r int64 }

// divsteps62 runs 62 divsteps (in the η = -δ form) on the low 64 bits of f and g, returning η
// and the matrix. One step per set low bit of g: when η < 0, f and g swap (g negated); then
// g += f (both odd: g becomes even) and the trailing zeros of g are shifted out, each one a
// divstep that halves g.
func divsteps62(eta int64, f0, g0 uint64, t *trans) int64 {
	u, v, q, r := uint64(1), uint64(0), uint64(0), uint64(1)
	f, g := f0, g0
	i := limbBits
	for {
		zeros := bits.TrailingZeros64(g | ^uint64(0)<<uint(i))
		g >>= uint(zeros)
		u <<= uint(zeros)
		v <<= uint(zeros)
		eta -= int64(zeros)
		i -= zeros
		if i == 0 {
			break
		}
		if eta < 0 {
			eta = -eta
			f, g = g, -f
			u, q = q, -u
			v, r = r, -v
		}
		g += f
		q += u
		r += v
	}
	t.u, t.v, t.q, t.r = int64(u), int64(v), int64(q), int64(r)
	return eta
}

// i128 is a signed 128-bit accumulator.
type i128 struct {
	hi int64
	lo uint64
}

// mul128 returns a·b for signed a and b.
func mul128(a, b int64) i128 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	h := int64(hi)
	if a < 0 {
		h -= b
	}
	if b < 0 {
		h -= a
	}
	return i128{h, lo}
}

func (x i128) add(y i128) i128 {
	lo, c := bits.Add64(x.lo, y.lo, 0)
	return i128{x.hi + y.hi + int64(c), lo}
}

// shr62 is the arithmetic shift right by 62.
func (x i128) shr62() i128 {
	return i128{x.hi >> limbBits, x.lo>>limbBits | uint64(x.hi)<<(64-limbBits)}
}

func (x i128) low62() int64 { return int64(x.lo & mask62) }

// updateFG sets [f, g] = t·[f, g] / 2^62 (exact: the low 62 bits cancel).
func updateFG(f, g *signed62, t *trans) {
	cf := mul128(t.u, f[0]).add(mul128(t.v, g[0])).shr62()
	cg := mul128(t.q, f[0]).add(mul128(t.r, g[0])).shr62()
	for i := 1; i < len(f); i++ {
		cf = cf.add(mul128(t.u, f[i])).add(mul128(t.v, g[i]))
		cg = cg.add(mul128(t.q, f[i])).add(mul128(t.r, g[i]))
		f[i-1], g[i-1] = cf.low62(), cg.low62()
		cf, cg = cf.shr62(), cg.shr62()
	}
	f[4], g[4] = int64(cf.lo), int64(cg.lo)
}

// updateDE sets [d, e] = t·[d, e] / 2^62 mod n, adding to each the multiple of n that makes
// its low 62 bits zero (and, for a negative input, that keeps the result in range).
func updateDE(d, e *signed62, t *trans) {
	dSign, eSign := d[4]>>63, e[4]>>63
	md := (t.u & dSign) + (t.v & eSign)
	me := (t.q & dSign) + (t.r & eSign)
	cd := mul128(t.u, d[0]).add(mul128(t.v, e[0]))
	ce := mul128(t.q, d[0]).add(mul128(t.r, e[0]))
	md -= int64((orderInv62*cd.lo + uint64(md)) & mask62)
	me -= int64((orderInv62*ce.lo + uint64(me)) & mask62)
	cd = cd.add(mul128(order62[0], md)).shr62()
	ce = ce.add(mul128(order62[0], me)).shr62()
	for i := 1; i < len(d); i++ {
		cd = cd.add(mul128(t.u, d[i])).add(mul128(t.v, e[i])).add(mul128(order62[i], md))
		ce = ce.add(mul128(t.q, d[i])).add(mul128(t.r, e[i])).add(mul128(order62[i], me))
		d[i-1], e[i-1] = cd.low62(), ce.low62()
		cd, ce = cd.shr62(), ce.shr62()
	}
	d[4], e[4] = int64(cd.lo), int64(ce.lo)
}

// isZero reports whether every limb is zero.
func (x *signed62) isZero() bool {
	return x[0]|x[1]|x[2]|x[3]|x[4] == 0
}

// inverse sets w = s⁻¹ mod n for a big-endian s in [1, n-1] and reports whether it exists.
func inverse(w *bigmod.Nat, sb []byte) bool {
	s, err := bigmod.NewNat().SetBytes(sb, order)
	if err != nil || s.IsZero() == 1 {
		return false
	}
	if safegcdInverse(w, sb) && bigmod.NewNat().ExpandFor(order).Add(w, order).Mul(s, order).IsOne() == 1 {
		return true
	}
	return bigInverse(w, sb) // not expected: the check above failed
}

// safegcdInverse computes w = s⁻¹ mod n with divsteps (see the top of this file).
func safegcdInverse(w *bigmod.Nat, sb []byte) bool {
	var l [4]uint64 // s, little-endian words
	for i := range l {
		l[i] = binary.BigEndian.Uint64(sb[scalarBytes-8*(i+1):])
	}
	x := signed62{
		int64(l[0] & mask62),
		int64((l[0]>>62 | l[1]<<2) & mask62),
		int64((l[1]>>60 | l[2]<<4) & mask62),
		int64((l[2]>>58 | l[3]<<6) & mask62),
		int64(l[3] >> 56),
	}
	f, g := order62, x
	var d, e signed62
	e[0] = 1
	eta := int64(-1)
	var t trans
	for range 64 { // about 10 rounds for 256 bits; the bound only stops a runaway loop
		if g.isZero() {
			break
		}
		eta = divsteps62(eta, uint64(f[0]), uint64(g[0]), &t)
		updateDE(&d, &e, &t)
		updateFG(&f, &g, &t)
	}
	// Now g = 0, f = ±gcd(n, s) = ±1 and d·s ≡ f (mod n).
	if !g.isZero() {
		return false
	}
	switch f {
	case signed62{1}:
		return foldResidue(w, &d, false)
	case signed62{mask62, mask62, mask62, mask62, -1}:
		return foldResidue(w, &d, true)
	}
	return false
}

// foldResidue sets w = ±d mod n (minus when negate), for d whose lower limbs are in [0, 2^62).
func foldResidue(w *bigmod.Nat, d *signed62, negate bool) bool {
	// d = low + d[4]·2^248, low being the 248 bits of the lower limbs.
	var buf [scalarBytes]byte
	binary.BigEndian.PutUint64(buf[24:], uint64(d[0])|uint64(d[1])<<62)
	binary.BigEndian.PutUint64(buf[16:], uint64(d[1])>>2|uint64(d[2])<<60)
	binary.BigEndian.PutUint64(buf[8:], uint64(d[2])>>4|uint64(d[3])<<58)
	binary.BigEndian.PutUint64(buf[0:], uint64(d[3])>>6)
	low, err := bigmod.NewNat().SetBytes(buf[:], order)
	if err != nil {
		return false // unreachable: 248 bits are below n
	}
	res := bigmod.NewNat().ExpandFor(order) // 0
	top := d[4]
	if negate {
		res.Sub(low, order)
		top = -top
	} else {
		res.Add(low, order)
	}
	if top != 0 {
		mag := top
		if mag < 0 {
			mag = -mag
		}
		m := bigmod.NewNat().SetUint(uint(mag)).ExpandFor(order)
		hi := bigmod.NewNat().ExpandFor(order).Add(two248, order).Mul(m, order)
		if top < 0 {
			res.Sub(hi, order)
		} else {
			res.Add(hi, order)
		}
	}
	w.ExpandFor(order)
	w.Sub(w, order).Add(res, order) // w = res
	return true
}

// bigInverse is math/big's extended Euclid: the fallback when safegcdInverse's result fails its
// check.
func bigInverse(w *bigmod.Nat, sb []byte) bool {
	var s, inv big.Int
	if inv.ModInverse(s.SetBytes(sb), orderInt) == nil {
		return false
	}
	var buf [scalarBytes]byte
	_, err := w.SetBytes(inv.FillBytes(buf[:]), order)
	return err == nil
}
