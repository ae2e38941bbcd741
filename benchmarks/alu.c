/* A 4-instruction ALU loop: addi, add, xor, bdnz. */
#include "guest.h"

#ifndef ITERATIONS
#define ITERATIONS 5000000UL
#endif

int main(void)
{
    unsigned long a = 0, b = 1, c = 2;
    __asm__ volatile("mtctr %3\n"
                     "1: addi %0,%0,1\n"
                     "add %1,%1,%0\n"
                     "xor %2,%2,%1\n"
                     "bdnz 1b\n"
                     : "+r"(a), "+r"(b), "+r"(c)
                     : "r"(ITERATIONS)
                     : "ctr");
    printf("alu %lx %lx %lx\nDONE\n", a, b, c);
    return 0;
}
