package ecverify

import (
	"crypto/rand"
	"math/big"
	mrand "math/rand/v2"
	"testing"

	"filippo.io/bigmod"
)

// inverseInputs are values of s for the inverse: 1, 2, small values, n-1, n-2, powers of two
// and their neighbours, values with long runs of zero or one bits, and random values.
func inverseInputs(t testing.TB) []*big.Int {
	t.Helper()
	one := big.NewInt(1)
	var out []*big.Int
	for v := int64(1); v < 300; v++ {
		out = append(out, big.NewInt(v))
	}
	for k := range 256 {
		p := new(big.Int).Lsh(one, uint(k))
		out = append(out, p, new(big.Int).Add(p, one), new(big.Int).Sub(p, one))
	}
	for v := int64(1); v < 64; v++ {
		out = append(out, new(big.Int).Sub(orderInt, big.NewInt(v)))
	}
	out = append(out, new(big.Int).Rsh(orderInt, 1), new(big.Int).Add(new(big.Int).Rsh(orderInt, 1), one))
	rng := mrand.New(mrand.NewPCG(7, 8))
	for range 20000 {
		b := make([]byte, 32)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		out = append(out, new(big.Int).SetBytes(b))
	}
	for range 100 {
		x, err := rand.Int(rand.Reader, orderInt)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	var valid []*big.Int
	for _, x := range out {
		x.Mod(x, orderInt)
		if x.Sign() != 0 {
			valid = append(valid, x)
		}
	}
	return valid
}

// TestSafegcdInverseEqualsModInverse: the divstep inverse, on its own (without the check and
// the fallback of inverse), equals math/big's ModInverse on every input of inverseInputs.
func TestSafegcdInverseEqualsModInverse(t *testing.T) {
	for _, x := range inverseInputs(t) {
		sb := x.FillBytes(make([]byte, scalarBytes))
		w := bigmod.NewNat()
		if !safegcdInverse(w, sb) {
			t.Fatalf("s = %x: no inverse", sb)
		}
		want := new(big.Int).ModInverse(x, orderInt)
		if got := new(big.Int).SetBytes(w.Bytes(order)); got.Cmp(want) != 0 {
			t.Fatalf("s = %x: inverse %x, want %x", sb, got, want)
		}
	}
}

// TestInverseRejectsZeroAndOutOfRange: 0 and values not below n have no inverse here.
func TestInverseRejectsZeroAndOutOfRange(t *testing.T) {
	for _, x := range []*big.Int{new(big.Int), orderInt, new(big.Int).Add(orderInt, big.NewInt(1))} {
		if inverse(bigmod.NewNat(), x.FillBytes(make([]byte, scalarBytes))) {
			t.Errorf("s = %x: inverse reported", x)
		}
	}
	if safegcdInverse(bigmod.NewNat(), make([]byte, scalarBytes)) {
		t.Error("safegcdInverse(0) reported an inverse")
	}
}

func BenchmarkInverse(b *testing.B) {
	x, _ := rand.Int(rand.Reader, orderInt)
	sb := x.FillBytes(make([]byte, scalarBytes))
	b.Run("safegcd+check", func(b *testing.B) {
		b.ReportAllocs()
		w := bigmod.NewNat()
		for b.Loop() {
			inverse(w, sb)
		}
	})
	b.Run("math-big", func(b *testing.B) {
		b.ReportAllocs()
		w := bigmod.NewNat()
		for b.Loop() {
			bigInverse(w, sb)
		}
	})
}
