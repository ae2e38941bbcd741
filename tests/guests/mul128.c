/* 128-bit products: mulld/mulhd/mulhdu, maddld and __int128 arithmetic. */
#include "guest.h"

#define NOINLINE __attribute__((noinline, noclone))

typedef unsigned __int128 u128;
typedef __int128 s128;

static NOINLINE u128 umul(uint64_t a, uint64_t b) { return (u128)a * b; }
static NOINLINE s128 smul(int64_t a, int64_t b) { return (s128)a * b; }
static NOINLINE uint64_t mulhdu(uint64_t a, uint64_t b) { return (uint64_t)(((u128)a * b) >> 64); }
static NOINLINE int64_t mulhd(int64_t a, int64_t b) { return (int64_t)(((s128)a * b) >> 64); }
static NOINLINE uint64_t madd_lo(uint64_t a, uint64_t b, uint64_t c) { return a * b + c; }
static NOINLINE uint64_t madd_hi(uint64_t a, uint64_t b, uint64_t c)
{
    return (uint64_t)(((u128)a * b + c) >> 64);
}
static NOINLINE int64_t madd_hi_signed(int64_t a, int64_t b, int64_t c)
{
    return (int64_t)(((s128)a * b + c) >> 64);
}
/* Truncated 128x128 product and 128-bit add with carry. */
static NOINLINE u128 mul128(u128 a, u128 b) { return a * b; }
static NOINLINE u128 add128(u128 a, u128 b) { return a + b; }
static NOINLINE uint32_t mulhwu(uint32_t a, uint32_t b)
{
    return (uint32_t)(((uint64_t)a * b) >> 32);
}
static NOINLINE int32_t mulhw(int32_t a, int32_t b) { return (int32_t)(((int64_t)a * b) >> 32); }

static void print128(const char *label, u128 v)
{
    printf("%s = %016llx_%016llx\n", label, (unsigned long long)(v >> 64), (unsigned long long)v);
}

int main(void)
{
    static const uint64_t samples[] = {
        0, 1, 2, 3, 0x7fffffffffffffffULL, 0x8000000000000000ULL, 0xffffffffffffffffULL,
        0x00000000ffffffffULL, 0x0000000100000000ULL, 0x123456789abcdef0ULL,
        0xfedcba9876543210ULL, 0xdeadbeefcafebabeULL,
    };
    const unsigned int n = sizeof(samples) / sizeof(samples[0]);
    uint64_t h_u = 0xcbf29ce484222325ULL, h_s = h_u, h_hi = h_u, h_madd = h_u;
    uint64_t rng = 99;
    u128 acc = 1;

    print128("max*max", umul(~0ULL, ~0ULL));
    print128("min*min signed", (u128)smul(INT64_MIN, INT64_MIN));
    print128("min*max signed", (u128)smul(INT64_MIN, INT64_MAX));
    print128("-1*max signed", (u128)smul(-1, INT64_MAX));
    printf("mulhdu(max,max) = %016llx mulhd(-1,-1) = %lld mulhd(min,2) = %lld\n",
           (unsigned long long)mulhdu(~0ULL, ~0ULL), (long long)mulhd(-1, -1),
           (long long)mulhd(INT64_MIN, 2));
    printf("mulhwu = %08x mulhw = %d\n", mulhwu(0xffffffffu, 0xfffffffeu),
           mulhw(INT32_MIN, 3));

    for (unsigned int i = 0; i < n; i++) {
        for (unsigned int j = 0; j < n; j++) {
            u128 p = umul(samples[i], samples[j]);
            s128 q = smul((int64_t)samples[i], (int64_t)samples[j]);
            h_u = mix64(mix64(h_u, (uint64_t)(p >> 64)), (uint64_t)p);
            h_s = mix64(mix64(h_s, (uint64_t)((u128)q >> 64)), (uint64_t)q);
            h_hi = mix64(h_hi, mulhdu(samples[i], samples[j]) ^
                                   (uint64_t)mulhd((int64_t)samples[i], (int64_t)samples[j]));
        }
    }
    printf("table unsigned = %016llx\n", (unsigned long long)h_u);
    printf("table signed   = %016llx\n", (unsigned long long)h_s);
    printf("table high     = %016llx\n", (unsigned long long)h_hi);

    for (unsigned int i = 0; i < 200; i++) {
        uint64_t a = lcg_next(&rng), b = lcg_next(&rng), c = lcg_next(&rng);
        h_madd = mix64(h_madd, madd_lo(a, b, c));
        h_madd = mix64(h_madd, madd_hi(a, b, c));
        h_madd = mix64(h_madd, (uint64_t)madd_hi_signed((int64_t)a, (int64_t)b, (int64_t)c));
        acc = add128(mul128(acc, ((u128)a << 64) | b), c);
    }
    printf("madd digest = %016llx\n", (unsigned long long)h_madd);
    print128("128-bit product chain", acc);
    print128("carry", add128(~(u128)0 >> 64, 1));
    printf("DONE\n");
    return 0;
}
