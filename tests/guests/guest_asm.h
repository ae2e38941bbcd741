/* Assembler helpers shared by the guest's .S files. */
#ifndef GUEST_ASM_H
#define GUEST_ASM_H

/*
 * Point r2 at the TOC.  ELFv2: the linker's .TOC. symbol.  ELFv1: the TOC word of the function
 * descriptor of `fn` (a C function of this program); clobbers r11.
 */
.macro LOAD_TOC fn
#if defined(_CALL_ELF) && _CALL_ELF == 2
	lis	%r2,.TOC.@ha
	addi	%r2,%r2,.TOC.@l
#else
	lis	%r11,\fn@ha
	addi	%r11,%r11,\fn@l
	ld	%r2,8(%r11)
#endif
.endm

#endif
