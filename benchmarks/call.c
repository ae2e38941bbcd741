/* A call-heavy loop: a small function called through bl/blr, and one through a pointer. */
#include "guest.h"

#ifndef ITERATIONS
#define ITERATIONS 1000000UL
#endif

static __attribute__((noinline)) unsigned long step(unsigned long x, unsigned long i)
{
    return (x ^ i) * 3 + 1;
}

static __attribute__((noinline)) unsigned long twice(unsigned long x)
{
    return x + x;
}

unsigned long (*volatile indirect)(unsigned long) = twice;

int main(void)
{
    unsigned long acc = 1;
    for (unsigned long i = 0; i < ITERATIONS; i++) {
        acc = step(acc, i);
        if ((i & 7) == 0)
            acc = indirect(acc);
    }
    printf("call %lx\nDONE\n", acc);
    return 0;
}
