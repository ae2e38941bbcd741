/* Signed and unsigned division and remainder of every width, by variables and by constants. */
#include "guest.h"

#define NOINLINE __attribute__((noinline, noclone))

/* noipa keeps the divisor a run-time value: these must use divw/divd/modsw/modsd & co. */
#define DIV_FUNCS(T, name)                                                          \
    static __attribute__((noipa)) T div_##name(T a, T b) { return a / b; }         \
    static __attribute__((noipa)) T mod_##name(T a, T b) { return a % b; }

DIV_FUNCS(int8_t, s8)
DIV_FUNCS(int16_t, s16)
DIV_FUNCS(int32_t, s32)
DIV_FUNCS(int64_t, s64)
DIV_FUNCS(uint32_t, u32)
DIV_FUNCS(uint64_t, u64)

static const int64_t dividends[] = {
    0, 1, -1, 7, -7, 100, -100, 12345, -12345, INT8_MIN, INT8_MAX, INT16_MIN, INT16_MAX,
    INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX, 0x123456789abcdefLL, -0x123456789abcdefLL,
};
static const int64_t divisors[] = {
    1, -1, 2, -2, 3, -3, 7, -7, 10, -10, 127, -128, 1000,
    INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN,
};
#define N_DIVIDENDS (sizeof(dividends) / sizeof(dividends[0]))
#define N_DIVISORS (sizeof(divisors) / sizeof(divisors[0]))

/*
 * One width: truncate every operand to T, skip a zero divisor and, when MIN is not 0, MIN / -1
 * (undefined behaviour in C for int and wider, and an undefined result in hardware; narrower
 * types are promoted to int, so for them it is well defined), check a == (a / b) * b + a % b,
 * and digest the results.
 */
#define CHECK_WIDTH(T, name, MIN)                                                        \
    do {                                                                                 \
        uint64_t h = 0xcbf29ce484222325ULL;                                              \
        unsigned int count = 0, bad = 0;                                                 \
        for (unsigned int i = 0; i < N_DIVIDENDS; i++)                                   \
            for (unsigned int j = 0; j < N_DIVISORS; j++) {                              \
                T a = (T)dividends[i], b = (T)divisors[j];                               \
                if (b == 0 || ((MIN) != 0 && a == (T)(MIN) && b == (T)-1))               \
                    continue;                                                            \
                T q = div_##name(a, b), r = mod_##name(a, b);                            \
                bad += (T)(q * b + r) != a;                                              \
                h = mix64(mix64(h, (uint64_t)(int64_t)q), (uint64_t)(int64_t)r);         \
                count++;                                                                 \
            }                                                                            \
        printf("%-4s %3u pairs, %u identity failures, digest %016llx\n", #name, count, bad, \
               (unsigned long long)h);                                                   \
    } while (0)

/* Division by constants becomes multiply-high and shifts. */
static NOINLINE void by_constants(int64_t a)
{
    int32_t a32 = (int32_t)a;
    uint64_t u = (uint64_t)a;

    printf("%lld: /7=%lld %%7=%lld /-3=%lld /16=%lld %%16=%lld | w: /10=%d %%10=%d /-9=%d |"
           " u: /10=%llu %%1000=%llu\n",
           (long long)a, (long long)(a / 7), (long long)(a % 7), (long long)(a / -3),
           (long long)(a / 16), (long long)(a % 16), a32 / 10, a32 % 10, a32 / -9,
           (unsigned long long)(u / 10), (unsigned long long)(u % 1000));
}

int main(void)
{
    printf("s32: -7/2=%d -7%%2=%d 7/-2=%d 7%%-2=%d -7/-2=%d -7%%-2=%d\n", div_s32(-7, 2),
           mod_s32(-7, 2), div_s32(7, -2), mod_s32(7, -2), div_s32(-7, -2), mod_s32(-7, -2));
    printf("s64: min/2=%lld min%%3=%lld min/max=%lld max/min=%lld\n",
           (long long)div_s64(INT64_MIN, 2), (long long)mod_s64(INT64_MIN, 3),
           (long long)div_s64(INT64_MIN, INT64_MAX), (long long)div_s64(INT64_MAX, INT64_MIN));
    printf("s32: min/2=%d min%%-7=%d min/min=%d\n", div_s32(INT32_MIN, 2),
           mod_s32(INT32_MIN, -7), div_s32(INT32_MIN, INT32_MIN));
    printf("s8: -128/3=%d -128%%3=%d s16: -32768/-3=%d -32768%%-3=%d\n", div_s8(-128, 3),
           mod_s8(-128, 3), div_s16(-32768, -3), mod_s16(-32768, -3));
    printf("u32: max/3=%u max%%7=%u u64: max/10=%llu max%%10=%llu\n", div_u32(~0u, 3),
           mod_u32(~0u, 7), (unsigned long long)div_u64(~0ULL, 10),
           (unsigned long long)mod_u64(~0ULL, 10));

    CHECK_WIDTH(int8_t, s8, 0);
    CHECK_WIDTH(int16_t, s16, 0);
    CHECK_WIDTH(int32_t, s32, INT32_MIN);
    CHECK_WIDTH(int64_t, s64, INT64_MIN);
    CHECK_WIDTH(uint32_t, u32, 0);
    CHECK_WIDTH(uint64_t, u64, 0);

    for (unsigned int i = 0; i < N_DIVIDENDS; i += 2)
        by_constants(dividends[i]);
    printf("DONE\n");
    return 0;
}
