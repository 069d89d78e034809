//go:build !purego

package rsaverify

import "golang.org/x/sys/cpu"

// haveIFMA reports whether the AVX-512 IFMA kernel can run here (the CPU has the instructions
// and the OS saves the 512-bit registers).
var haveIFMA = cpu.X86.HasAVX512F && cpu.X86.HasAVX512IFMA

// amm52x40 is the AVX-512 IFMA almost Montgomery multiplication of radix52_amd64.s.
//
//go:noescape
func amm52x40(out, a, b, m *[limbs52]uint64, k0 uint64)
