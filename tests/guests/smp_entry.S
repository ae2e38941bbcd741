/*
 * Entry of a secondary vCPU started with RTAS start-cpu.
 *
 * QEMU's pseries (and ppcd) start it at the given address in 64-bit big-endian real mode with
 * MSR = SF|ME and r3 = the start-cpu argument: here a struct secondary_start (smp.c).  As in
 * crt0.S the first block is big-endian words; it keeps the entry MSR in r10, switches on FP
 * (and LE for little-endian builds) with rfid, then loads the stack, the TOC and the C
 * function from the struct and calls it with its argument.
 */

#include "guest_asm.h"

.macro be_insn word
	.byte ((\word) >> 24) & 0xff, ((\word) >> 16) & 0xff, ((\word) >> 8) & 0xff, (\word) & 0xff
.endm

#ifdef __LITTLE_ENDIAN__
#define MSR_LE 0x0001
#else
#define MSR_LE 0x0000
#endif
#define MSR_FP 0x2000

	.text
	.globl secondary_entry
	.p2align 2
secondary_entry:
	be_insn 0x7d6000a6			/* mfmsr	r11 */
	be_insn 0x7d6a5b78			/* mr	r10,r11 (the entry MSR) */
	be_insn 0x429f0005			/* bcl	20,31,1f (LR = 1f) */
1:	be_insn 0x7d8802a6			/* mflr	r12 */
	be_insn (0x398c0000 | (2f - 1b))	/* addi	r12,r12,2f-1b */
	be_insn 0x7d9a03a6			/* mtsrr0	r12 */
	be_insn (0x616b0000 | MSR_FP | MSR_LE)	/* ori	r11,r11,MSR_FP|MSR_LE */
	be_insn 0x7d7b03a6			/* mtsrr1	r11 */
	be_insn 0x4c000024			/* rfid */

2:	std	%r10,32(%r3)		/* entry_msr */
	ld	%r1,0(%r3)		/* stack */
	ld	%r2,8(%r3)		/* toc */
	ld	%r12,16(%r3)		/* code address of the function */
	mtctr	%r12
	ld	%r3,24(%r3)		/* its argument */
	bctrl
3:	b	3b
