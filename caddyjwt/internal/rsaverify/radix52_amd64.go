//go:build !purego

package rsaverify

import "golang.org/x/sys/cpu"

// haveIFMA reports whether the AVX-512 IFMA kernel can run here (the CPU has the instructions
// and the OS saves the 512-bit registers).
var haveIFMA = cpu.X86.HasAVX512F && cpu.X86.HasAVX512IFMA

//go:generate go run gen_amd64.go

// amm52x40, amm52x64 and amm52x80 are the AVX-512 IFMA almost Montgomery multiplications of
// radix52_amd64.s, for numbers of 40, 64 and 80 limbs.
//
//go:noescape
func amm52x40(out, a, b, m *uint64, k0 uint64)

//go:noescape
func amm52x64(out, a, b, m *uint64, k0 uint64)

//go:noescape
func amm52x80(out, a, b, m *uint64, k0 uint64)
