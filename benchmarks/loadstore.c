/* A load/store loop: increment every doubleword of a 8 KiB array, over and over. */
#include "guest.h"

#ifndef ITERATIONS
#define ITERATIONS 1000UL
#endif

#define WORDS 1024
static unsigned long array[WORDS];

int main(void)
{
    for (unsigned long i = 0; i < ITERATIONS; i++) {
        unsigned long *p = array;
        __asm__ volatile("mtctr %1\n"
                         "1: ld 9,0(%0)\n"
                         "addi 9,9,1\n"
                         "std 9,0(%0)\n"
                         "lwz 10,4(%0)\n"
                         "stw 10,8192(%0)\n"
                         "addi %0,%0,8\n"
                         "bdnz 1b\n"
                         : "+b"(p)
                         : "r"((unsigned long)WORDS - 1)
                         : "ctr", "r9", "r10", "memory");
    }
    unsigned long sum = 0;
    for (int i = 0; i < WORDS; i++)
        sum += array[i];
    printf("loadstore %lx\nDONE\n", sum);
    return 0;
}
