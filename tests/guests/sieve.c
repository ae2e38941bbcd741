/* Sieve of Eratosthenes below 100000. */
#include "guest.h"

#define LIMIT 100000

static unsigned char composite[LIMIT];

int main(void)
{
    unsigned int count = 0, twins = 0, last = 0, decade = 10;
    uint64_t sum = 0;

    composite[0] = composite[1] = 1;
    for (unsigned int i = 2; i * i < LIMIT; i++)
        if (!composite[i])
            for (unsigned int j = i * i; j < LIMIT; j += i)
                composite[j] = 1;

    printf("first primes:");
    for (unsigned int i = 0, shown = 0; shown < 15; i++)
        if (!composite[i]) {
            printf(" %u", i);
            shown++;
        }
    printf("\n");
    for (unsigned int i = 0; i < LIMIT; i++) {
        if (i == decade) {
            printf("pi(%u) = %u\n", decade, count);
            decade *= 10;
        }
        if (composite[i])
            continue;
        count++;
        sum += i;
        twins += last && i - last == 2;
        last = i;
    }
    printf("pi(%u) = %u\n", LIMIT, count);
    printf("sum = %llu, twin pairs = %u\n", (unsigned long long)sum, twins);
    printf("last primes:");
    for (unsigned int i = LIMIT - 1, shown = 0; shown < 8; i--)
        if (!composite[i]) {
            printf(" %u", i);
            shown++;
        }
    printf("\n");
    printf("DONE\n");
    return 0;
}
