/*
 * Entry code of every guest, for both byte orders.
 *
 * QEMU's pseries (x-vof=on) jumps to 0x400000 in 32-bit big-endian real mode.  The first block
 * is therefore stored as big-endian instruction words even in a little-endian ELF; it computes
 * the address of the native code that follows and enters it with rfid, switching on MSR[SF]
 * (64-bit), MSR[FP] and, for little-endian builds, MSR[LE] in one go.  Then it sets up the
 * stack and the TOC, zeroes the BSS and calls rt_start (runtime.c), which runs main and powers
 * off.
 */

#include "guest_asm.h"

/* Emit one instruction word in big-endian byte order, whatever the target's byte order. */
.macro be_insn word
	.byte ((\word) >> 24) & 0xff, ((\word) >> 16) & 0xff, ((\word) >> 8) & 0xff, (\word) & 0xff
.endm

#ifdef __LITTLE_ENDIAN__
#define MSR_LE 0x0001
#else
#define MSR_LE 0x0000
#endif
#define MSR_FP 0x2000

	.section .text.entry, "ax"
	.globl _start
_start:
	be_insn 0x7d6000a6			/* mfmsr	r11 */
	be_insn 0x429f0005			/* bcl	20,31,1f (LR = 1f) */
1:	be_insn 0x7d8802a6			/* mflr	r12 */
	be_insn (0x398c0000 | (2f - 1b))	/* addi	r12,r12,2f-1b */
	be_insn 0x7d9a03a6			/* mtsrr0	r12 */
	be_insn 0x39800001			/* li	r12,1 */
	be_insn 0x798cf806			/* sldi	r12,r12,63 (MSR[SF]) */
	be_insn 0x7d6b6378			/* or	r11,r11,r12 */
	be_insn (0x616b0000 | MSR_FP | MSR_LE)	/* ori	r11,r11,MSR_FP|MSR_LE */
	be_insn 0x7d7b03a6			/* mtsrr1	r11 */
	be_insn 0x4c000024			/* rfid */

	/* From here on: 64-bit mode, FP enabled, native byte order. */
2:
	/* Stack: a zeroed back chain under __stack_top, room for the callee's save area. */
	lis	%r1,__stack_top@ha
	addi	%r1,%r1,__stack_top@l
	li	%r0,0
	stdu	%r0,-128(%r1)

	/* Zero the BSS (8-byte aligned by the linker script). */
	lis	%r3,__bss_start@ha
	addi	%r3,%r3,__bss_start@l
	lis	%r4,__bss_end@ha
	addi	%r4,%r4,__bss_end@l
3:	cmpld	%r3,%r4
	bge	4f
	std	%r0,0(%r3)
	addi	%r3,%r3,8
	b	3b
4:
	LOAD_TOC rt_start
	bl	rt_start		/* runs main() and powers off; never returns */
	nop
5:	b	5b
