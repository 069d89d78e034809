//go:build !purego

#include "textflag.h"

// func amm52x40(out, a, b, m *[40]uint64, k0 uint64)
//
// An almost Montgomery multiplication with AVX-512 IFMA: out = a·b·2^-2080 mod m, as 40 limbs
// of at most 64 bits that the caller normalizes to 52. a, b and m are normalized (every limb
// under 2^52); k0 is -m^-1 mod 2^52. Operand scanning: for each limb b[i], acc += a·b[i], then
// y = acc[0]·k0 mod 2^52 and acc += m·y, which clears acc's lowest 52 bits, and acc shifts
// down one limb. The low halves of the 52×52-bit products are added before the shift, the
// high halves (worth one limb more) after it. No lane overflows: a lane receives at most four
// 52-bit halves per step for 40 steps, under 2^60.
//
// Registers: Z0-Z4 a, Z16-Z20 m, Z10-Z14 acc, Z21 b[i], Z22 y, Z23 zero, X5 the carry.
TEXT ·amm52x40(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), BX
	MOVQ m+24(FP), CX
	MOVQ k0+32(FP), R8
	MOVQ $0x000fffffffffffff, R9
	MOVQ (CX), R11 // m[0], for the carry out of the lowest limb

	VMOVDQU64 (SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 128(SI), Z2
	VMOVDQU64 192(SI), Z3
	VMOVDQU64 256(SI), Z4
	VMOVDQU64 (CX), Z16
	VMOVDQU64 64(CX), Z17
	VMOVDQU64 128(CX), Z18
	VMOVDQU64 192(CX), Z19
	VMOVDQU64 256(CX), Z20
	VPXORQ    Z10, Z10, Z10
	VPXORQ    Z11, Z11, Z11
	VPXORQ    Z12, Z12, Z12
	VPXORQ    Z13, Z13, Z13
	VPXORQ    Z14, Z14, Z14
	VPXORQ    Z23, Z23, Z23
	MOVQ      $40, DX

loop:
	// acc += lo(a·b[i])
	VPBROADCASTQ (BX), Z21
	VPMADD52LUQ  Z21, Z0, Z10
	VPMADD52LUQ  Z21, Z1, Z11
	VPMADD52LUQ  Z21, Z2, Z12
	VPMADD52LUQ  Z21, Z3, Z13
	VPMADD52LUQ  Z21, Z4, Z14

	// y = acc[0]·k0 mod 2^52; carry = (acc[0] + lo(m[0]·y)) >> 52, in scalar registers
	VMOVQ        X10, R10
	MOVQ         R10, AX
	IMULQ        R8, AX
	ANDQ         R9, AX
	VPBROADCASTQ AX, Z22
	IMULQ        R11, AX
	ANDQ         R9, AX
	ADDQ         R10, AX
	SHRQ         $52, AX

	// acc += lo(m·y)
	VPMADD52LUQ Z22, Z16, Z10
	VPMADD52LUQ Z22, Z17, Z11
	VPMADD52LUQ Z22, Z18, Z12
	VPMADD52LUQ Z22, Z19, Z13
	VPMADD52LUQ Z22, Z20, Z14

	// acc >>= 52 bits: drop limb 0 (zero mod 2^52) and add its carry to the new limb 0
	VALIGNQ $1, Z10, Z11, Z10
	VALIGNQ $1, Z11, Z12, Z11
	VALIGNQ $1, Z12, Z13, Z12
	VALIGNQ $1, Z13, Z14, Z13
	VALIGNQ $1, Z14, Z23, Z14
	VMOVQ   AX, X5
	VPADDQ  Z5, Z10, Z10

	// acc += hi(a·b[i]) + hi(m·y), one limb up from the low halves: at the same lanes now
	VPMADD52HUQ Z21, Z0, Z10
	VPMADD52HUQ Z21, Z1, Z11
	VPMADD52HUQ Z21, Z2, Z12
	VPMADD52HUQ Z21, Z3, Z13
	VPMADD52HUQ Z21, Z4, Z14
	VPMADD52HUQ Z22, Z16, Z10
	VPMADD52HUQ Z22, Z17, Z11
	VPMADD52HUQ Z22, Z18, Z12
	VPMADD52HUQ Z22, Z19, Z13
	VPMADD52HUQ Z22, Z20, Z14

	ADDQ $8, BX
	DECQ DX
	JNZ  loop

	VMOVDQU64 Z10, (DI)
	VMOVDQU64 Z11, 64(DI)
	VMOVDQU64 Z12, 128(DI)
	VMOVDQU64 Z13, 192(DI)
	VMOVDQU64 Z14, 256(DI)
	VZEROUPPER
	RET
