package ecverify

import (
	"bytes"
	"crypto/rand"
	"math/big"
	"testing"

	"filippo.io/nistec"
)

// scalarsForTable returns u2 values that exercise the signed-window recoding: zero, one, every
// single bit, digits at ±half and carries that ripple through every window, n-1, and random
// values.
func scalarsForTable(t testing.TB) [][]byte {
	t.Helper()
	n := new(big.Int).SetBytes(order.Nat().Bytes(order))
	var out []*big.Int
	for _, v := range []int64{0, 1, 2, half - 1, half, half + 1, 1<<windowBits - 1, 1 << windowBits} {
		out = append(out, big.NewInt(v))
	}
	for bit := range 256 {
		out = append(out, new(big.Int).Lsh(big.NewInt(1), uint(bit)))
	}
	all := func(d uint64) *big.Int { // the digit pattern d in every window
		x := new(big.Int)
		for i := range windows {
			x.Or(x, new(big.Int).Lsh(new(big.Int).SetUint64(d), uint(i*windowBits)))
		}
		return x.Mod(x, n)
	}
	for _, d := range []uint64{half, half + 1, 1<<windowBits - 1, 1} {
		out = append(out, all(d))
	}
	out = append(out, new(big.Int).Sub(n, big.NewInt(1)), new(big.Int).Sub(n, big.NewInt(2)),
		new(big.Int).Rsh(n, 1), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(1)))
	for range 64 {
		r, err := rand.Int(rand.Reader, n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	var b [][]byte
	for _, x := range out {
		if x.Cmp(n) >= 0 {
			x = new(big.Int).Mod(x, n)
		}
		b = append(b, x.FillBytes(make([]byte, scalarBytes)))
	}
	return b
}

// TestTableMulEqualsScalarMult: the table multiplication gives nistec's ScalarMult point for
// every scalar of scalarsForTable, for the generator and a random point.
func TestTableMulEqualsScalarMult(t *testing.T) {
	g := nistec.NewP256Point().SetGenerator()
	k := make([]byte, scalarBytes)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	k[0] &= 0x7f
	q, err := nistec.NewP256Point().ScalarBaseMult(k)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*nistec.P256Point{g, q} {
		tab := newTable(p)
		for _, u := range scalarsForTable(t) {
			want, err := nistec.NewP256Point().ScalarMult(p, u)
			if err != nil {
				t.Fatal(err)
			}
			if got := tab.mul(nistec.NewP256Point(), u); !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("u2 = %x: table gives %x, ScalarMult %x", u, got.Bytes(), want.Bytes())
			}
		}
	}
}

func BenchmarkTableMul(b *testing.B) {
	g := nistec.NewP256Point().SetGenerator()
	tab := newTable(g)
	u := make([]byte, scalarBytes)
	rand.Read(u)
	u[0] &= 0x7f
	b.Run("table", func(b *testing.B) {
		for b.Loop() {
			tab.mul(nistec.NewP256Point(), u)
		}
	})
	b.Run("ScalarMult", func(b *testing.B) {
		for b.Loop() {
			nistec.NewP256Point().ScalarMult(g, u)
		}
	})
	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			newTable(g)
		}
	})
	b.Logf("table: %d bytes", tableBytes)
}
