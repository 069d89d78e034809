//go:build !amd64 || purego

package rsaverify

// haveIFMA is false where there is no AVX-512 IFMA kernel: every key uses bigmod.
const haveIFMA = false

// The kernels are never called where haveIFMA is false.
func amm52x40(out, a, b, m *uint64, k0 uint64) { noKernel() }
func amm52x64(out, a, b, m *uint64, k0 uint64) { noKernel() }
func amm52x80(out, a, b, m *uint64, k0 uint64) { noKernel() }

func noKernel() { panic("rsaverify: no AVX-512 IFMA kernel on this platform") }
