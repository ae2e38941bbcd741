/*
 * Interrupt vectors of the interrupts guest.
 *
 * Each vector gets a 7-instruction stub (28 bytes: it fits even the 32-byte slots at 0xf00+)
 * that interrupts.c copies to the vector's real address.  The stub saves r12 and CTR in SPRG0
 * and SPRG1 and jumps, through CTR, to a per-vector entry in this image, which records the
 * vector number in SPRG2 and joins exc_common.  exc_common saves every register in a
 * struct regs on the interrupted stack, calls exc_handler(regs, vector) in C, reloads the
 * (possibly modified) registers and returns with rfid.
 */
#include "guest_asm.h"

#define SPRG0 272
#define SPRG1 273
#define SPRG2 274

/* Stack frame of exc_common: a C frame header (ELFv1's is the larger, 112 bytes), then the
   struct regs of interrupts.c: gpr[32], lr, ctr, cr, xer, srr0, srr1. */
#define REGS 112
#define R_LR (REGS + 256)
#define R_CTR (REGS + 264)
#define R_CR (REGS + 272)
#define R_XER (REGS + 280)
#define R_SRR0 (REGS + 288)
#define R_SRR1 (REGS + 296)
#define FRAME (REGS + 304)
/* Leave the interrupted code's 288-byte red zone below r1 alone. */
#define RED_ZONE 288

.macro VECTOR vec
	.text
exc_entry_\vec:
	li	%r12,\vec
	mtspr	SPRG2,%r12
	b	exc_common

	.section .rodata
stub_\vec:
	mtspr	SPRG0,%r12
	mfctr	%r12
	mtspr	SPRG1,%r12
	lis	%r12,exc_entry_\vec@ha
	addi	%r12,%r12,exc_entry_\vec@l
	mtctr	%r12
	bctr
stub_end_\vec:
.endm

.macro VECTOR_TABLE_ENTRY vec
	.quad	\vec, stub_\vec, stub_end_\vec
.endm

#define ALL_VECTORS 0x200, 0x300, 0x380, 0x400, 0x480, 0x500, 0x600, 0x700, 0x800, 0x900, \
	0xa00, 0xc00, 0xd00, 0xf00, 0xf20, 0xf40, 0xf60

	.irp vec, ALL_VECTORS
	VECTOR \vec
	.endr

	/* Read by interrupts.c: {vector, stub start, stub end} entries, then a zero vector. */
	.section .rodata
	.balign 8
	.globl exc_vectors
exc_vectors:
	.irp vec, ALL_VECTORS
	VECTOR_TABLE_ENTRY \vec
	.endr
	.quad	0, 0, 0

	.text
exc_common:
	stdu	%r1,-(RED_ZONE + FRAME)(%r1)
	std	%r0,REGS(%r1)
	.irp n, 2,3,4,5,6,7,8,9,10,11,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	std	%r\n,REGS+8*\n(%r1)
	.endr
	addi	%r0,%r1,RED_ZONE + FRAME	/* the interrupted r1 */
	std	%r0,REGS+8(%r1)
	mfspr	%r0,SPRG0
	std	%r0,REGS+8*12(%r1)
	mfspr	%r0,SPRG1
	std	%r0,R_CTR(%r1)
	mflr	%r0
	std	%r0,R_LR(%r1)
	mfcr	%r0
	std	%r0,R_CR(%r1)
	mfxer	%r0
	std	%r0,R_XER(%r1)
	mfsrr0	%r0
	std	%r0,R_SRR0(%r1)
	mfsrr1	%r0
	std	%r0,R_SRR1(%r1)

	/* The interrupt cleared MSR[FP]; the C code may use floating-point registers. */
	mfmsr	%r0
	ori	%r0,%r0,0x2000
	mtmsrd	%r0
	LOAD_TOC exc_handler
	addi	%r3,%r1,REGS
	mfspr	%r4,SPRG2
	bl	exc_handler
	nop

	ld	%r0,R_SRR0(%r1)
	mtsrr0	%r0
	ld	%r0,R_SRR1(%r1)
	mtsrr1	%r0
	ld	%r0,R_LR(%r1)
	mtlr	%r0
	ld	%r0,R_CTR(%r1)
	mtctr	%r0
	ld	%r0,R_CR(%r1)
	mtcr	%r0
	ld	%r0,R_XER(%r1)
	mtxer	%r0
	.irp n, 2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	ld	%r\n,REGS+8*\n(%r1)
	.endr
	ld	%r0,REGS(%r1)
	ld	%r1,REGS+8(%r1)
	rfid
