package natbytes_test

import (
	"bytes"
	mrand "math/rand/v2"
	"testing"

	"filippo.io/bigmod"

	"github.com/obgate/obgate/caddyjwt/internal/natbytes"
)

// TestFillEqualsNatBytes: Fill writes what Nat.Bytes returns, for values of every length under
// moduli of 32 and 256 octets, over a buffer that held other octets before.
func TestFillEqualsNatBytes(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for _, size := range []int{32, 256} {
		nb := bytes.Repeat([]byte{0xff}, size) // an odd modulus of size octets
		m, err := bigmod.NewModulus(nb)
		if err != nil {
			t.Fatal(err)
		}
		for l := 0; l <= size; l++ {
			v := make([]byte, l)
			for i := range v {
				v[i] = byte(rng.Uint32())
			}
			if l == size {
				v[0] &= 0x7f // under m
			}
			x, err := bigmod.NewNat().SetBytes(v, m)
			if err != nil {
				t.Fatalf("%d octets: %v", l, err)
			}
			out := bytes.Repeat([]byte{0xa5}, size)
			natbytes.Fill(out, x)
			if want := x.Bytes(m); !bytes.Equal(out, want) {
				t.Fatalf("%d of %d octets: Fill wrote %x, Nat.Bytes gives %x", l, size, out, want)
			}
		}
	}
}

// TestFillAllocatesNothing: the point of Fill over Nat.Bytes.
func TestFillAllocatesNothing(t *testing.T) {
	m, _ := bigmod.NewModulus(bytes.Repeat([]byte{0xff}, 32))
	x, _ := bigmod.NewNat().SetBytes([]byte{1, 2, 3}, m)
	out := make([]byte, 32)
	if n := testing.AllocsPerRun(100, func() { natbytes.Fill(out, x) }); n != 0 {
		t.Errorf("Fill allocated %v times per call", n)
	}
}
