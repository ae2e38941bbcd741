/* Recursion: Fibonacci, Ackermann, Hanoi, and a chain more than a thousand frames deep. */
#include "guest.h"

#define NOINLINE __attribute__((noinline, noclone))

static unsigned long calls;

static NOINLINE unsigned long fib(unsigned int n)
{
    calls++;
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static NOINLINE unsigned long ackermann(unsigned long m, unsigned long n)
{
    calls++;
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

static NOINLINE void hanoi(unsigned int n, unsigned int from, unsigned int to,
                           unsigned int *moves_to)
{
    if (n == 0)
        return;
    hanoi(n - 1, from, 6 - from - to, moves_to);
    moves_to[to]++;
    hanoi(n - 1, 6 - from - to, to, moves_to);
}

/*
 * Every frame passes the address of its local to the next: the value must live in this frame
 * across the call, so the compiler cannot turn the recursion into a loop.
 */
static NOINLINE uint64_t chain(unsigned int depth, const uint64_t *parent)
{
    uint64_t local = *parent * 31 + depth;

    if (depth == 0)
        return local;
    return chain(depth - 1, &local) ^ (local >> 3);
}

/* A bigger frame: a local array that is filled before and read after the recursive call. */
static NOINLINE uint32_t big_frames(unsigned int depth)
{
    volatile uint32_t scratch[16];
    uint32_t r;

    for (unsigned int i = 0; i < 16; i++)
        scratch[i] = depth * 16 + i;
    r = depth ? big_frames(depth - 1) : 0;
    for (unsigned int i = 0; i < 16; i++)
        r = r * 33 + scratch[i];
    return r;
}

static NOINLINE int is_odd(unsigned int n);

static NOINLINE int is_even(unsigned int n)
{
    return n == 0 ? 1 : is_odd(n - 1);
}

static NOINLINE int is_odd(unsigned int n)
{
    return n == 0 ? 0 : is_even(n - 1);
}

int main(void)
{
    unsigned int moves[4] = {0, 0, 0, 0};
    uint64_t seed = 1;

    for (unsigned int n = 0; n <= 20; n += 5) {
        calls = 0;
        unsigned long f = fib(n);
        printf("fib(%u) = %lu (%lu calls)\n", n, f, calls);
    }
    for (unsigned long m = 0; m <= 3; m++) {
        calls = 0;
        unsigned long a = ackermann(m, 4);
        printf("ackermann(%lu, 4) = %lu (%lu calls)\n", m, a, calls);
    }
    calls = 0;
    printf("ackermann(3, 5) = %lu", ackermann(3, 5));
    printf(" (%lu calls)\n", calls);

    hanoi(12, 1, 3, moves);
    printf("hanoi(12): moves to peg 1/2/3 = %u/%u/%u, total %u\n", moves[1], moves[2], moves[3],
           moves[1] + moves[2] + moves[3]);

    for (unsigned int depth = 10; depth <= 3000; depth *= 3)
        printf("chain(%u) = %016llx\n", depth, (unsigned long long)chain(depth, &seed));
    printf("chain(3000) = %016llx\n", (unsigned long long)chain(3000, &seed));
    printf("big_frames(1500) = %08x\n", big_frames(1500));
    printf("is_even(1001) = %d, is_odd(1001) = %d\n", is_even(1001), is_odd(1001));
    printf("DONE\n");
    return 0;
}
