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
// Registers: Z0-Z4 a, Z5-Z9 acc, Z10 b[i], Z11 y, Z12 zero, X13 the carry; m is read from memory.
// Only Z0-Z13 are used, so that VZEROUPPER returns every AVX-512 register to its initial state
// and the kernel leaves the thread no larger register state for the kernel to save at each
// context switch.
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
	VPXORQ    Z5, Z5, Z5
	VPXORQ    Z6, Z6, Z6
	VPXORQ    Z7, Z7, Z7
	VPXORQ    Z8, Z8, Z8
	VPXORQ    Z9, Z9, Z9
	VPXORQ    Z12, Z12, Z12
	MOVQ      $40, DX

loop:
	// acc += lo(a·b[i])
	VPBROADCASTQ (BX), Z10
	VPMADD52LUQ  Z10, Z0, Z5
	VPMADD52LUQ  Z10, Z1, Z6
	VPMADD52LUQ  Z10, Z2, Z7
	VPMADD52LUQ  Z10, Z3, Z8
	VPMADD52LUQ  Z10, Z4, Z9

	// y = acc[0]·k0 mod 2^52; carry = (acc[0] + lo(m[0]·y)) >> 52, in scalar registers
	VMOVQ        X5, R10
	MOVQ         R10, AX
	IMULQ        R8, AX
	ANDQ         R9, AX
	VPBROADCASTQ AX, Z11
	IMULQ        R11, AX
	ANDQ         R9, AX
	ADDQ         R10, AX
	SHRQ         $52, AX

	// acc += lo(m·y)
	VPMADD52LUQ (CX), Z11, Z5
	VPMADD52LUQ 64(CX), Z11, Z6
	VPMADD52LUQ 128(CX), Z11, Z7
	VPMADD52LUQ 192(CX), Z11, Z8
	VPMADD52LUQ 256(CX), Z11, Z9

	// acc >>= 52 bits: drop limb 0 (zero mod 2^52) and add its carry to the new limb 0
	VALIGNQ $1, Z5, Z6, Z5
	VALIGNQ $1, Z6, Z7, Z6
	VALIGNQ $1, Z7, Z8, Z7
	VALIGNQ $1, Z8, Z9, Z8
	VALIGNQ $1, Z9, Z12, Z9
	VMOVQ   AX, X13
	VPADDQ  Z13, Z5, Z5

	// acc += hi(a·b[i]) + hi(m·y), one limb up from the low halves: at the same lanes now
	VPMADD52HUQ Z10, Z0, Z5
	VPMADD52HUQ Z10, Z1, Z6
	VPMADD52HUQ Z10, Z2, Z7
	VPMADD52HUQ Z10, Z3, Z8
	VPMADD52HUQ Z10, Z4, Z9
	VPMADD52HUQ (CX), Z11, Z5
	VPMADD52HUQ 64(CX), Z11, Z6
	VPMADD52HUQ 128(CX), Z11, Z7
	VPMADD52HUQ 192(CX), Z11, Z8
	VPMADD52HUQ 256(CX), Z11, Z9

	ADDQ $8, BX
	DECQ DX
	JNZ  loop

	VMOVDQU64 Z5, (DI)
	VMOVDQU64 Z6, 64(DI)
	VMOVDQU64 Z7, 128(DI)
	VMOVDQU64 Z8, 192(DI)
	VMOVDQU64 Z9, 256(DI)
	VZEROUPPER
	RET
