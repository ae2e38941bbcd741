/* String and memory functions at every alignment and many lengths, checked against loops. */
#include "guest.h"

#define NOINLINE __attribute__((noinline, noclone))
#define AREA 64

static unsigned char src[AREA], dst[AREA], ref[AREA];

static void pattern(unsigned char *p, size_t n, unsigned int seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 37 + (i >> 3));
}

static uint64_t digest(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = mix64(h, p[i]);
    return h;
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

/* Byte-by-byte reference versions, kept out of line so they cannot become library calls. */
static NOINLINE void ref_move(unsigned char *d, const unsigned char *s, size_t n)
{
    unsigned char tmp[AREA];
    for (size_t i = 0; i < n; i++)
        tmp[i] = s[i];
    for (size_t i = 0; i < n; i++)
        d[i] = tmp[i];
}

int main(void)
{
    unsigned int bad_cpy = 0, bad_set = 0, bad_move = 0, bad_cmp = 0, bad_len = 0;
    uint64_t h = 0;
    static char text[64];
    static const char *const words[] = {"",     "a", "ab",     "abc",  "abd",
                                        "abcd", "b", "POWER9", "POWER"};
    const unsigned int n_words = sizeof(words) / sizeof(words[0]);

    /* memcpy and memset: all 8x8 source/destination alignments, lengths 0..40. */
    for (unsigned int so = 0; so < 8; so++)
        for (unsigned int doff = 0; doff < 8; doff++)
            for (unsigned int len = 0; len <= 40; len += 5) {
                pattern(src, AREA, so * 8 + doff);
                pattern(dst, AREA, 200);
                memcpy(ref, dst, AREA);
                for (unsigned int i = 0; i < len; i++)
                    ref[doff + i] = src[so + i];
                memcpy(dst + doff, src + so, len);
                bad_cpy += memcmp(dst, ref, AREA) != 0;
                h = mix64(h, digest(dst, AREA));

                for (unsigned int i = 0; i < len; i++)
                    ref[doff + i] = (unsigned char)(len + 1);
                memset(dst + doff, (int)(len + 1), len);
                bad_set += memcmp(dst, ref, AREA) != 0;
            }
    printf("memcpy: %u mismatches, memset: %u mismatches, digest %016llx\n", bad_cpy, bad_set,
           (unsigned long long)h);

    /* memmove with overlap in both directions. */
    h = 0;
    for (int shift = -9; shift <= 9; shift++)
        for (unsigned int len = 0; len <= 40; len += 5) {
            unsigned int from = 12, to = (unsigned int)(12 + shift);
            pattern(dst, AREA, (unsigned int)shift + 50);
            memcpy(ref, dst, AREA);
            ref_move(ref + to, ref + from, len);
            memmove(dst + to, dst + from, len);
            bad_move += memcmp(dst, ref, AREA) != 0;
            h = mix64(h, digest(dst, AREA));
        }
    printf("memmove: %u mismatches, digest %016llx\n", bad_move, (unsigned long long)h);

    /* memcmp signs: differences in the first, middle and last byte, above and below 0x80. */
    for (unsigned int len = 1; len <= 33; len += 8) {
        pattern(src, len, 9);
        memcpy(dst, src, len);
        bad_cmp += memcmp(src, dst, len) != 0;
        for (unsigned int pos = 0; pos < len; pos += len / 2 + 1) {
            dst[pos] = (unsigned char)(src[pos] ^ 0x80);
            bad_cmp += sign(memcmp(src, dst, len)) != (src[pos] < dst[pos] ? -1 : 1);
            dst[pos] = src[pos];
        }
    }
    printf("memcmp: %u wrong signs\n", bad_cmp);

    /* strlen from every starting alignment. */
    for (unsigned int off = 0; off < 8; off++)
        for (unsigned int len = 0; len < 20; len++) {
            for (unsigned int i = 0; i < len; i++)
                text[off + i] = (char)('A' + (i + off) % 26);
            text[off + len] = '\0';
            bad_len += strlen(text + off) != len;
        }
    printf("strlen: %u wrong lengths\n", bad_len);

    printf("strcmp/strncmp(3) matrix:\n");
    for (unsigned int i = 0; i < n_words; i++) {
        printf("  %-7s", words[i]);
        for (unsigned int j = 0; j < n_words; j++)
            printf(" %2d/%2d", sign(strcmp(words[i], words[j])),
                   sign(strncmp(words[i], words[j], 3)));
        printf("\n");
    }

    strcpy(text, "hello, POWER world");
    printf("strcpy: \"%s\" (%lu chars)\n", text, (unsigned long)strlen(text));
    printf("strchr: ',' at %ld, 'W' at %ld, 'z' %s, NUL at %ld\n",
           (long)(strchr(text, ',') - text), (long)(strchr(text, 'W') - text),
           strchr(text, 'z') ? "found" : "absent", (long)(strchr(text, '\0') - text));
    printf("DONE\n");
    return 0;
}
