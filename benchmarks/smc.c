/*
 * A self-modifying-code loop: every iteration rewrites the immediate of an addi in the loop
 * body (alternating 1 and 2), makes it visible (dcbst, sync, icbi, isync) and runs it.
 * Built with -DPLAIN the very same loop stores to a data word instead: the baseline.
 */
#include "guest.h"

#ifndef ITERATIONS
#define ITERATIONS 200000UL
#endif

unsigned int scratch[1] __attribute__((used));

int main(void)
{
    unsigned long acc = 0, x = 5, y = 7;
    unsigned int word = 0x38630001;          /* addi 3,3,1 */
    __asm__ volatile(
#ifdef PLAIN
        "lis 7,scratch@ha\n"
        "addi 7,7,scratch@l\n"
#else
        "lis 7,patch_site@ha\n"
        "addi 7,7,patch_site@l\n"
#endif
        "li 3,0\n"
        "mtctr %[n]\n"
        "1: xori %[w],%[w],3\n"              /* addi 3,3,1 <-> addi 3,3,2 */
        "stw %[w],0(7)\n"
        "dcbst 0,7\n"
        "sync\n"
        "icbi 0,7\n"
        "isync\n"
        "patch_site: addi 3,3,1\n"
        "add %[x],%[x],3\n"
        "xor %[y],%[y],%[x]\n"
        "rldicl %[y],%[y],1,0\n"
        "add %[x],%[x],%[y]\n"
        "addi %[x],%[x],-1\n"
        "bdnz 1b\n"
        "mr %[acc],3\n"
        : [acc] "=r"(acc), [x] "+r"(x), [y] "+r"(y), [w] "+r"(word)
        : [n] "r"(ITERATIONS)
        : "ctr", "r3", "r7", "memory");
    printf("smc %lx %lx %lx %x\nDONE\n", acc, x, y, scratch[0]);
    return 0;
}
