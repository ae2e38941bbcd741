/* The program gdb sessions drive: a struct, a watched counter, calls two deep, a loop. */
#include "guest.h"

#define NOINLINE __attribute__((noinline, noclone))

struct point {
    long x, y;
    unsigned int tag;
    char name[8];
};

struct point origin = {3, -4, 0xfeed, "origin"};
volatile unsigned long counter;
volatile unsigned long readonly_seen = 7;
unsigned long result;

NOINLINE long square(long v)
{
    return v * v;
}

NOINLINE long distance2(const struct point *p)
{
    return square(p->x) + square(p->y);
}

NOINLINE void bump(unsigned long by)
{
    counter += by;
}

NOINLINE unsigned long peek(void)
{
    return readonly_seen;
}

int main(void)
{
    unsigned long total = 0;

    for (unsigned int i = 0; i < 5; i++) {
        bump(i + 1);
        total += peek();
    }
    result = total + (unsigned long)distance2(&origin);
    printf("counter=%lu total=%lu d2=%ld tag=%x %s\n", counter, total, distance2(&origin),
           origin.tag, origin.name);
    return 0;
}
