package rsaverify

import (
	"math/big"
	mrand "math/rand/v2"
	"testing"
)

// randomOdd returns a random odd number of exactly bits bits.
func randomOdd(rng *mrand.Rand, bits int) *big.Int {
	b := make([]byte, (bits+7)/8)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	n := new(big.Int).SetBytes(b)
	n.SetBit(n, bits-1, 1)
	for i := bits; i < len(b)*8; i++ {
		n.SetBit(n, i, 0)
	}
	return n.SetBit(n, 0, 1)
}

// kernelEdges are modulus sizes at both ends of each kernel's range, and the usual ones.
var kernelEdges = []int{minBits52, 2047, 2048, 2049, 52*40 - 2, 52*40 - 1, 3072, 52*64 - 2, 52*64 - 1, 4096, 52*80 - 2}

// TestExp52MatchesMathBig: the IFMA exponentiation gives x^e mod n exactly, for moduli at the
// ends of each kernel's sizes and in between, for the exponents RSA keys use and random ones,
// and for x at 0, 1, n-1 and random values under n.
func TestExp52MatchesMathBig(t *testing.T) {
	if !haveIFMA {
		t.Skip("this CPU has no AVX-512 IFMA; the bigmod path is tested instead")
	}
	rng := mrand.New(mrand.NewPCG(3, 4))
	for _, bits := range kernelEdges {
		for range 3 {
			n := randomOdd(rng, bits)
			for _, e := range []uint{3, 17, 65537, 1<<31 - 1, uint(rng.Uint32()>>1) | 1} {
				m := newModulus52(n, e)
				if m == nil {
					t.Fatalf("%d bits: newModulus52 refused the modulus", bits)
				}
				nMinus1 := new(big.Int).Sub(n, big.NewInt(1))
				xs := []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(2), nMinus1, randBelow(rng, n)}
				for _, x := range xs {
					checkEncrypt52(t, m, n, x)
				}
				for _, x := range []*big.Int{n, new(big.Int).Add(n, big.NewInt(1))} {
					if x.BitLen() <= bits && m.encrypt(make([]byte, (bits+7)/8), x.FillBytes(make([]byte, (bits+7)/8))) {
						t.Fatalf("%d bits: encrypt accepted x ≥ n", bits)
					}
				}
			}
		}
	}
}

// TestNewModulus52Sizes: each size goes to the smallest kernel that takes it, and moduli too
// small or too large for every kernel stay on bigmod.
func TestNewModulus52Sizes(t *testing.T) {
	if !haveIFMA {
		t.Skip("this CPU has no AVX-512 IFMA")
	}
	rng := mrand.New(mrand.NewPCG(11, 12))
	for bits, want := range map[int]int{minBits52 - 1: 0, minBits52: 40, 2048: 40, 2078: 40, 2079: 64, 3072: 64, 3326: 64, 3327: 80, 4096: 80, 4158: 80, 4159: 0, 8192: 0} {
		m := newModulus52(randomOdd(rng, bits), 65537)
		got := 0
		if m != nil {
			got = m.limbs
		}
		if got != want {
			t.Errorf("%d-bit modulus: kernel of %d limbs, want %d", bits, got, want)
		}
	}
}

// TestMul52StaysUnderTwiceN: the almost Montgomery multiplication of any two values under 2n
// gives a·b·R^-1 mod n, itself under 2n, including for the largest inputs.
func TestMul52StaysUnderTwiceN(t *testing.T) {
	if !haveIFMA {
		t.Skip("this CPU has no AVX-512 IFMA")
	}
	rng := mrand.New(mrand.NewPCG(5, 6))
	for _, bits := range kernelEdges {
		n := randomOdd(rng, bits)
		m := newModulus52(n, 65537)
		r := new(big.Int).Lsh(big.NewInt(1), uint(52*m.limbs))
		twoN := new(big.Int).Lsh(n, 1)
		rInv := new(big.Int).ModInverse(r, n)
		top := new(big.Int).Sub(twoN, big.NewInt(1))
		for i := range 200 {
			a, b := randBelow(rng, twoN), randBelow(rng, twoN)
			if i < 3 {
				a.Set(top)
			}
			if i < 2 {
				b.Set(top)
			}
			var x, y, out nat52
			x.setBytes(a.Bytes())
			y.setBytes(b.Bytes())
			m.mul(&out, &x, &y[0])
			got := out.big()
			if got.Cmp(twoN) >= 0 {
				t.Fatalf("%d bits: product %x not under 2n", bits, got)
			}
			want := new(big.Int).Mul(a, b)
			want.Mul(want, rInv).Mod(want, n)
			if new(big.Int).Mod(got, n).Cmp(want) != 0 {
				t.Fatalf("%d bits: a=%x b=%x: got %x ≢ %x", bits, a, b, got, want)
			}
		}
	}
}

// TestNat52BytesRoundTrip: the radix-2^52 conversions keep every value of every length.
func TestNat52BytesRoundTrip(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(7, 8))
	for size := 1; size <= 52*maxLimbs52/8; size++ {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		var x nat52
		x.setBytes(b)
		if x.big().Cmp(new(big.Int).SetBytes(b)) != 0 {
			t.Fatalf("%d octets: setBytes gave %x, want %x", size, x.big(), b)
		}
		out := make([]byte, size)
		x.fillBytes(out)
		if string(out) != string(b) {
			t.Fatalf("%d octets: fillBytes gave %x, want %x", size, out, b)
		}
	}
}

// big returns x as a big.Int (tests only).
func (x *nat52) big() *big.Int {
	v := new(big.Int)
	for i := maxLimbs52 - 1; i >= 0; i-- {
		v.Lsh(v, 52).Or(v, new(big.Int).SetUint64(x[i]))
	}
	return v
}

// randBelow returns a random number under n (tests only: not uniform, which they do not need).
func randBelow(rng *mrand.Rand, n *big.Int) *big.Int {
	b := make([]byte, len(n.Bytes())+8)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return new(big.Int).Mod(new(big.Int).SetBytes(b), n)
}

// FuzzExp52SameAsMathBig is the kernel's differential fuzz target: for any modulus size it
// takes, any odd modulus, exponent and x under the modulus, x^e mod n equals math/big's.
//
//	go test -run='^$' -fuzz=FuzzExp52SameAsMathBig -fuzztime=5m -parallel=1 ./caddyjwt/internal/rsaverify
func FuzzExp52SameAsMathBig(f *testing.F) {
	if !haveIFMA {
		f.Skip("this CPU has no AVX-512 IFMA")
	}
	rng := mrand.New(mrand.NewPCG(9, 10))
	for _, bits := range kernelEdges {
		n := randomOdd(rng, bits)
		f.Add(n.Bytes(), uint32(65537), randBelow(rng, n).Bytes())
	}
	f.Fuzz(func(t *testing.T, nb []byte, e32 uint32, xb []byte) {
		n := new(big.Int).SetBytes(nb)
		e := uint(e32 | 1)
		if n.BitLen() < minBits52 || n.BitLen() > 52*maxLimbs52-2 || n.Bit(0) == 0 || e < 3 {
			return
		}
		m := newModulus52(n, e)
		if m == nil {
			t.Fatalf("%d-bit odd modulus refused", n.BitLen())
		}
		checkEncrypt52(t, m, n, new(big.Int).Mod(new(big.Int).SetBytes(xb), n))
	})
}

// checkEncrypt52 checks that m's RSAVP1 of x < n is x^e mod n as math/big computes it.
func checkEncrypt52(t testing.TB, m *modulus52, n, x *big.Int) {
	t.Helper()
	size := (n.BitLen() + 7) / 8
	em := make([]byte, size)
	if !m.encrypt(em, x.FillBytes(make([]byte, size))) {
		t.Fatalf("%d bits, e=%d: encrypt refused x < n", n.BitLen(), m.e)
	}
	want := new(big.Int).Exp(x, new(big.Int).SetUint64(uint64(m.e)), n)
	if got := new(big.Int).SetBytes(em); got.Cmp(want) != 0 {
		t.Fatalf("%d bits, e=%d, n=%x, x=%x: got %x, want %x", n.BitLen(), m.e, n, x, got, want)
	}
}

// BenchmarkNewModulus52 is what an RSA-2048 key's load pays for the IFMA path, against the
// math/big Exp that R^e mod n would otherwise take:
//
//	go test -run='^$' -bench=NewModulus52 ./caddyjwt/internal/rsaverify
func BenchmarkNewModulus52(b *testing.B) {
	if !haveIFMA {
		b.Skip("this CPU has no AVX-512 IFMA")
	}
	n := randomOdd(mrand.New(mrand.NewPCG(13, 14)), 2048)
	b.Run("kernel", func(b *testing.B) {
		for b.Loop() {
			newModulus52(n, 65537)
		}
	})
	b.Run("math-big-Exp", func(b *testing.B) {
		r := new(big.Int).Lsh(big.NewInt(1), 52*40)
		e := big.NewInt(65537)
		for b.Loop() {
			new(big.Int).Exp(r, e, n)
		}
	})
}
