//go:build !amd64 || purego

package rsaverify

// haveIFMA is false where there is no AVX-512 IFMA kernel: every key uses bigmod.
const haveIFMA = false

// amm52x40 is never called where haveIFMA is false.
func amm52x40(out, a, b, m *[limbs52]uint64, k0 uint64) {
	panic("rsaverify: no AVX-512 IFMA kernel on this platform")
}
