// Package natbytes writes a filippo.io/bigmod number as big-endian octets into a buffer the
// caller owns: Nat.Bytes without its allocation, for the signature fast paths (rsaverify,
// ecverify), which allocate nothing per verification.
package natbytes

import "filippo.io/bigmod"

// limbBytes is the size of one of bigmod's limbs (a uint) in octets.
const limbBytes = (32 << (^uint(0) >> 63)) / 8

// Fill writes x into all of out, big-endian, with leading zeros (I2OSP, RFC 8017 §4.1). Octets
// of x beyond len(out) are dropped: out must be long enough for x's value (a Nat reduced mod a
// modulus of len(out) octets is).
func Fill(out []byte, x *bigmod.Nat) {
	i := len(out) - 1
	for _, limb := range x.Bits() {
		for j := 0; j < limbBytes && i >= 0; j++ {
			out[i] = byte(limb)
			limb >>= 8
			i--
		}
	}
	for ; i >= 0; i-- {
		out[i] = 0
	}
}
