#include "textflag.h"

// func amm52x2(z1, x1, y1, m1 *nat52, k1 uint64, z2, x2, y2, m2 *nat52, k2 uint64)
//
// Two almost Montgomery multiplications side by side (AVX-512 IFMA):
// z = x·y/2^1040 mod m, below 2m, for 20 limbs of 52 bits (ammGeneric in
// mont52.go is the same computation, step by step). The two are
// independent: interleaving them hides the latency of each one's chain
// (the quotient digit depends on the lowest limb, which depends on the
// last multiply-add).
//
// Registers: Z0-Z2 / Z3-Z5 the accumulators, Z6-Z8 y1, Z9-Z11 m1,
// Z12-Z14 y2, Z15-Z17 m2, Z18/Z20 the broadcast x digit, Z19/Z21 the
// broadcast quotient digit, Z22 zero, Z23/Z24 the carry out of the lowest
// limb.
TEXT ·amm52x2(SB), NOSPLIT, $0-80
	MOVQ y1+16(FP), SI
	VMOVDQU64 0(SI), Z6
	VMOVDQU64 64(SI), Z7
	VMOVDQU64 128(SI), Z8
	MOVQ m1+24(FP), SI
	VMOVDQU64 0(SI), Z9
	VMOVDQU64 64(SI), Z10
	VMOVDQU64 128(SI), Z11
	MOVQ y2+56(FP), SI
	VMOVDQU64 0(SI), Z12
	VMOVDQU64 64(SI), Z13
	VMOVDQU64 128(SI), Z14
	MOVQ m2+64(FP), SI
	VMOVDQU64 0(SI), Z15
	VMOVDQU64 64(SI), Z16
	VMOVDQU64 128(SI), Z17
	MOVQ x1+8(FP), AX
	MOVQ x2+48(FP), BX
	MOVQ k1+32(FP), R8
	MOVQ k2+72(FP), R9
	MOVQ $0xfffffffffffff, R14
	VPXORQ Z22, Z22, Z22
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	XORQ CX, CX

loop:
	// acc += lo(x[i]·y)
	VPBROADCASTQ 0(AX)(CX*1), Z18
	VPBROADCASTQ 0(BX)(CX*1), Z20
	VPMADD52LUQ Z6, Z18, Z0
	VPMADD52LUQ Z12, Z20, Z3
	VPMADD52LUQ Z7, Z18, Z1
	VPMADD52LUQ Z13, Z20, Z4
	VPMADD52LUQ Z8, Z18, Z2
	VPMADD52LUQ Z14, Z20, Z5

	// q = acc[0]·k mod 2^52
	VMOVQ X0, R10
	VMOVQ X3, R11
	IMULQ R8, R10
	IMULQ R9, R11
	ANDQ R14, R10
	ANDQ R14, R11
	VPBROADCASTQ R10, Z19
	VPBROADCASTQ R11, Z21

	// acc += lo(q·m): the lowest limb's low 52 bits become zero
	VPMADD52LUQ Z9, Z19, Z0
	VPMADD52LUQ Z15, Z21, Z3
	VPMADD52LUQ Z10, Z19, Z1
	VPMADD52LUQ Z16, Z21, Z4
	VPMADD52LUQ Z11, Z19, Z2
	VPMADD52LUQ Z17, Z21, Z5

	// carry = acc[0] >> 52; acc >>= 52 (one limb down); acc[0] += carry
	VMOVQ X0, R12
	VMOVQ X3, R13
	SHRQ $52, R12
	SHRQ $52, R13
	VALIGNQ $1, Z0, Z1, Z0
	VALIGNQ $1, Z3, Z4, Z3
	VALIGNQ $1, Z1, Z2, Z1
	VALIGNQ $1, Z4, Z5, Z4
	VALIGNQ $1, Z2, Z22, Z2
	VALIGNQ $1, Z5, Z22, Z5
	VMOVQ R12, X23
	VMOVQ R13, X24
	VPADDQ Z23, Z0, Z0
	VPADDQ Z24, Z3, Z3

	// acc += hi(x[i]·y) + hi(q·m), one limb up from the low halves
	VPMADD52HUQ Z6, Z18, Z0
	VPMADD52HUQ Z12, Z20, Z3
	VPMADD52HUQ Z7, Z18, Z1
	VPMADD52HUQ Z13, Z20, Z4
	VPMADD52HUQ Z8, Z18, Z2
	VPMADD52HUQ Z14, Z20, Z5
	VPMADD52HUQ Z9, Z19, Z0
	VPMADD52HUQ Z15, Z21, Z3
	VPMADD52HUQ Z10, Z19, Z1
	VPMADD52HUQ Z16, Z21, Z4
	VPMADD52HUQ Z11, Z19, Z2
	VPMADD52HUQ Z17, Z21, Z5

	ADDQ $8, CX
	CMPQ CX, $160
	JNE loop

	MOVQ z1+0(FP), DI
	VMOVDQU64 Z0, 0(DI)
	VMOVDQU64 Z1, 64(DI)
	VMOVDQU64 Z2, 128(DI)
	MOVQ z2+40(FP), SI
	VMOVDQU64 Z3, 0(SI)
	VMOVDQU64 Z4, 64(SI)
	VMOVDQU64 Z5, 128(SI)
	VZEROUPPER

	// Carry propagation: limbs back to 52 bits.
	XORQ R10, R10
	XORQ R11, R11
	XORQ CX, CX
norm:
	MOVQ 0(DI)(CX*1), AX
	MOVQ 0(SI)(CX*1), BX
	ADDQ R10, AX
	ADDQ R11, BX
	MOVQ AX, R10
	MOVQ BX, R11
	SHRQ $52, R10
	SHRQ $52, R11
	ANDQ R14, AX
	ANDQ R14, BX
	MOVQ AX, 0(DI)(CX*1)
	MOVQ BX, 0(SI)(CX*1)
	ADDQ $8, CX
	CMPQ CX, $160
	JNE norm
	RET

// func lookup2(z1, z2 *nat52, t1, t2 *table, idx1, idx2 uint64)
//
// z1 = t1[idx1], z2 = t2[idx2], reading every entry of both tables: the
// addresses touched do not depend on the (secret) indexes.
TEXT ·lookup2(SB), NOSPLIT, $0-48
	MOVQ t1+16(FP), SI
	MOVQ t2+24(FP), DI
	MOVQ idx1+32(FP), R8
	MOVQ idx2+40(FP), R9
	VPXORQ Z0, Z0, Z0
	VPXORQ Z1, Z1, Z1
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	XORQ CX, CX
lk:
	// mask = all ones when CX == idx: (CX^idx)-1 borrows only at 0.
	MOVQ CX, R10
	XORQ R8, R10
	SUBQ $1, R10
	SARQ $63, R10
	MOVQ CX, R11
	XORQ R9, R11
	SUBQ $1, R11
	SARQ $63, R11
	VPBROADCASTQ R10, Z6
	VPBROADCASTQ R11, Z7
	VPANDQ 0(SI), Z6, Z8
	VPANDQ 64(SI), Z6, Z9
	VPANDQ 128(SI), Z6, Z10
	VPANDQ 0(DI), Z7, Z11
	VPANDQ 64(DI), Z7, Z12
	VPANDQ 128(DI), Z7, Z13
	VPORQ Z8, Z0, Z0
	VPORQ Z9, Z1, Z1
	VPORQ Z10, Z2, Z2
	VPORQ Z11, Z3, Z3
	VPORQ Z12, Z4, Z4
	VPORQ Z13, Z5, Z5
	ADDQ $192, SI
	ADDQ $192, DI
	INCQ CX
	CMPQ CX, $32
	JNE lk
	MOVQ z1+0(FP), SI
	MOVQ z2+8(FP), DI
	VMOVDQU64 Z0, 0(SI)
	VMOVDQU64 Z1, 64(SI)
	VMOVDQU64 Z2, 128(SI)
	VMOVDQU64 Z3, 0(DI)
	VMOVDQU64 Z4, 64(DI)
	VMOVDQU64 Z5, 128(DI)
	VZEROUPPER
	RET
