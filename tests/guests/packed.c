/* Packed structures: misaligned fields of every width, read and written through the struct. */
#include "guest.h"

#define NOINLINE __attribute__((noinline, noclone))

struct __attribute__((packed)) record {
    uint8_t tag;
    uint32_t u32;   /* offset 1 */
    int16_t s16;    /* offset 5 */
    uint64_t u64;   /* offset 7 */
    int32_t s32;    /* offset 15 */
    uint16_t u16;   /* offset 19 */
    int64_t s64;    /* offset 21 */
};

struct __attribute__((packed)) with_bits {
    uint8_t lead;
    unsigned int low : 5;
    unsigned int mid : 13;
    signed int high : 9;
    uint64_t tail;
};

/* 29-byte records back to back: every field of every element is at a different alignment. */
static struct record table[40];
static struct with_bits bits[8];
/* A buffer spanning a 4 KiB page boundary, for loads and stores that straddle it. */
static unsigned char page_pair[8192] __attribute__((aligned(4096)));

static NOINLINE void fill(struct record *r, uint64_t seed, unsigned int i)
{
    r->tag = (uint8_t)i;
    r->u32 = (uint32_t)(seed >> 16);
    r->s16 = (int16_t)(seed >> 3);
    r->u64 = seed * 3;
    r->s32 = (int32_t)(seed >> 29);
    r->u16 = (uint16_t)(seed >> 47);
    r->s64 = -(int64_t)(seed >> 1);
}

static NOINLINE uint64_t digest(const struct record *r)
{
    uint64_t h = mix64(0xcbf29ce484222325ULL, r->tag);
    h = mix64(h, r->u32);
    h = mix64(h, (uint64_t)(int64_t)r->s16);
    h = mix64(h, r->u64);
    h = mix64(h, (uint64_t)(int64_t)r->s32);
    h = mix64(h, r->u16);
    return mix64(h, (uint64_t)r->s64);
}

static NOINLINE uint64_t load_u64(const unsigned char *p)
{
    const struct __attribute__((packed)) { uint64_t v; } *q = (const void *)p;
    return q->v;
}

static NOINLINE uint32_t load_u32(const unsigned char *p)
{
    const struct __attribute__((packed)) { uint32_t v; } *q = (const void *)p;
    return q->v;
}

static NOINLINE void store_u32(unsigned char *p, uint32_t v)
{
    struct __attribute__((packed)) { uint32_t v; } *q = (void *)p;
    q->v = v;
}

int main(void)
{
    uint64_t rng = 3, h = 0;
    const unsigned int n = sizeof(table) / sizeof(table[0]);

    printf("sizeof(record) = %lu, sizeof(with_bits) = %lu\n", (unsigned long)sizeof(struct record),
           (unsigned long)sizeof(struct with_bits));
    printf("offsets: u32=%u s16=%u u64=%u s32=%u u16=%u s64=%u\n",
           (unsigned int)offsetof(struct record, u32), (unsigned int)offsetof(struct record, s16),
           (unsigned int)offsetof(struct record, u64), (unsigned int)offsetof(struct record, s32),
           (unsigned int)offsetof(struct record, u16), (unsigned int)offsetof(struct record, s64));

    for (unsigned int i = 0; i < n; i++)
        fill(&table[i], lcg_next(&rng), i);
    /* Read-modify-write on misaligned fields. */
    for (unsigned int i = 0; i < n; i++) {
        table[i].u32 += table[(i + 1) % n].u32;
        table[i].s16 = (int16_t)(table[i].s16 - 1000);
        table[i].u64 ^= table[i].u64 >> 17;
        table[i].s32 = table[i].s32 / 3 - 7;
        table[i].u16 = (uint16_t)(table[i].u16 * 5);
        table[i].s64 = table[i].s64 / -5;
        h = mix64(h, digest(&table[i]));
    }
    for (unsigned int i = 0; i < 3; i++)
        printf("record %u: tag=%u u32=%08x s16=%d u64=%016llx s32=%d u16=%u s64=%lld\n", i,
               table[i].tag, table[i].u32, table[i].s16, (unsigned long long)table[i].u64,
               table[i].s32, table[i].u16, (long long)table[i].s64);
    printf("table digest = %016llx\n", (unsigned long long)h);

    for (unsigned int i = 0; i < 8; i++) {
        uint64_t v = lcg_next(&rng);
        bits[i].lead = (uint8_t)v;
        bits[i].low = (unsigned int)(v >> 8) & 31;
        bits[i].mid = (unsigned int)(v >> 13) & 8191;
        bits[i].high = (int)((v >> 26) & 511) - 256;
        bits[i].tail = v;
    }
    for (unsigned int i = 0; i < 8; i += 3)
        printf("bits %u: lead=%u low=%u mid=%u high=%d tail=%016llx\n", i, bits[i].lead,
               bits[i].low, bits[i].mid, bits[i].high, (unsigned long long)bits[i].tail);

    for (unsigned int i = 0; i < sizeof(page_pair); i++)
        page_pair[i] = (unsigned char)(i * 7 + (i >> 8));
    for (unsigned int off = 4089; off <= 4096; off++) {
        unsigned char *p = page_pair + off;
        uint64_t before = TO_BE64(load_u64(p));
        uint32_t stored;
        store_u32(p + 1, 0xa1b2c3d4u + off);
        stored = load_u32(p + 1);
        printf("page boundary +%u: %016llx, stored %08x, neighbours %02x %02x\n", off - 4089,
               (unsigned long long)before, stored, p[0], p[5]);
        /* Put the pattern back: the stored bytes' order depends on the guest's byte order. */
        for (unsigned int i = off + 1; i < off + 5; i++)
            page_pair[i] = (unsigned char)(i * 7 + (i >> 8));
    }
    printf("DONE\n");
    return 0;
}
