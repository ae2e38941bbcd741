/* Byte swaps: __builtin_bswap16/32/64, byte-reversed loads and stores, and lane extraction. */
#include "guest.h"

#define NOINLINE __attribute__((noinline, noclone))

static NOINLINE uint16_t swap16(uint16_t x) { return __builtin_bswap16(x); }
static NOINLINE uint32_t swap32(uint32_t x) { return __builtin_bswap32(x); }
static NOINLINE uint64_t swap64(uint64_t x) { return __builtin_bswap64(x); }

/* Shift-and-mask byte swap, a pattern GCC recognises as bswap. */
static NOINLINE uint32_t manual_swap32(uint32_t x)
{
    return (x >> 24) | ((x >> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24);
}

/* Native loads at any alignment (__builtin_memcpy becomes a plain lhz/lwz/ld). */
static NOINLINE uint16_t load16(const unsigned char *p)
{
    uint16_t v;
    __builtin_memcpy(&v, p, 2);
    return v;
}

static NOINLINE uint32_t load32(const unsigned char *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

static NOINLINE uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    return v;
}

/* Byte-reversed loads (lhbrx/lwbrx/ldbrx). */
static NOINLINE uint32_t load32_swapped(const uint32_t *p) { return __builtin_bswap32(*p); }
static NOINLINE uint64_t load64_swapped(const uint64_t *p) { return __builtin_bswap64(*p); }
static NOINLINE uint16_t load16_swapped(const uint16_t *p) { return __builtin_bswap16(*p); }
/* Byte-reversed stores (sthbrx/stwbrx/stdbrx). */
static NOINLINE void store32_swapped(uint32_t *p, uint32_t v) { *p = __builtin_bswap32(v); }
static NOINLINE void store64_swapped(uint64_t *p, uint64_t v) { *p = __builtin_bswap64(v); }
static NOINLINE void store16_swapped(uint16_t *p, uint16_t v) { *p = __builtin_bswap16(v); }

/* Big-endian interpretation of bytes, assembled portably. */
static uint64_t be_bytes(const unsigned char *p, unsigned int n)
{
    uint64_t v = 0;
    for (unsigned int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int main(void)
{
    static unsigned char bytes[24];
    static uint64_t w64;
    static uint32_t w32;
    static uint16_t w16;
    unsigned int mismatches = 0;
    uint64_t h = 0xcbf29ce484222325ULL, rng = 5;

    for (unsigned int i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)(0x11 * (i + 1) + i / 15);

    printf("swap16(1234) = %04x\n", swap16(0x1234));
    printf("swap32(12345678) = %08x manual = %08x\n", swap32(0x12345678u),
           manual_swap32(0x12345678u));
    printf("swap64(0123456789abcdef) = %016llx\n",
           (unsigned long long)swap64(0x0123456789abcdefULL));
    printf("swap64(swap64(x)) = %016llx\n",
           (unsigned long long)swap64(swap64(0xfedcba9876543210ULL)));

    for (unsigned int off = 0; off < 8; off++) {
        const unsigned char *p = bytes + off;
        printf("offset %u: be16=%04x be32=%08x be64=%016llx\n", off, TO_BE16(load16(p)),
               TO_BE32(load32(p)), (unsigned long long)TO_BE64(load64(p)));
        mismatches += TO_BE16(load16(p)) != be_bytes(p, 2);
        mismatches += TO_BE32(load32(p)) != be_bytes(p, 4);
        mismatches += TO_BE64(load64(p)) != be_bytes(p, 8);
    }

    for (unsigned int i = 0; i < 64; i++) {
        uint64_t v = lcg_next(&rng);
        uint64_t halves = (uint64_t)swap32((uint32_t)v) << 32 | swap32((uint32_t)(v >> 32));
        store64_swapped(&w64, v);
        store32_swapped(&w32, (uint32_t)v);
        store16_swapped(&w16, (uint16_t)v);
        mismatches += load64_swapped(&w64) != v;
        mismatches += load32_swapped(&w32) != (uint32_t)v;
        mismatches += load16_swapped(&w16) != (uint16_t)v;
        mismatches += swap64(v) != halves;
        mismatches += manual_swap32((uint32_t)v) != swap32((uint32_t)v);
        h = mix64(h, swap64(v) ^ swap32((uint32_t)v) ^ swap16((uint16_t)v));
    }
    printf("random digest = %016llx mismatches = %u\n", (unsigned long long)h, mismatches);
    printf("DONE\n");
    return 0;
}
