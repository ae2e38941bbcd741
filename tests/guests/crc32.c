/* CRC-32 (IEEE, reflected 0xEDB88320) and CRC-32C, bitwise and table-driven. */
#include "guest.h"

#define BUF_LEN 4096

static uint32_t table_ieee[256];
static uint32_t table_c[256];
static unsigned char buf[BUF_LEN];

static uint32_t crc_bitwise(uint32_t poly, const unsigned char *p, size_t n)
{
    uint32_t crc = 0xffffffffu;

    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (poly & (0u - (crc & 1)));
    }
    return ~crc;
}

static void make_table(uint32_t poly, uint32_t *table)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ poly : c >> 1;
        table[i] = c;
    }
}

static uint32_t crc_table(const uint32_t *table, uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

int main(void)
{
    static const char check[] = "123456789";
    const unsigned char *c = (const unsigned char *)check;
    uint64_t rng = 7;
    uint32_t crc;

    make_table(0xedb88320u, table_ieee);
    make_table(0x82f63b78u, table_c);
    printf("table: ieee[1]=%08x ieee[255]=%08x c[1]=%08x c[255]=%08x\n", table_ieee[1],
           table_ieee[255], table_c[1], table_c[255]);

    printf("check ieee: bitwise=%08x table=%08x\n", crc_bitwise(0xedb88320u, c, 9),
           crc_table(table_ieee, 0, c, 9));
    printf("check crc32c: bitwise=%08x table=%08x\n", crc_bitwise(0x82f63b78u, c, 9),
           crc_table(table_c, 0, c, 9));

    for (size_t i = 0; i < BUF_LEN; i++)
        buf[i] = (unsigned char)(lcg_next(&rng) >> 56);
    printf("buffer ieee: bitwise=%08x table=%08x\n", crc_bitwise(0xedb88320u, buf, BUF_LEN),
           crc_table(table_ieee, 0, buf, BUF_LEN));
    printf("buffer crc32c: bitwise=%08x table=%08x\n", crc_bitwise(0x82f63b78u, buf, BUF_LEN),
           crc_table(table_c, 0, buf, BUF_LEN));

    /* Incremental CRC over odd-sized, misaligned pieces must equal the one-shot CRC. */
    crc = 0;
    for (size_t off = 0, len = 1; off < BUF_LEN; off += len, len = len * 3 % 61 + 1) {
        if (off + len > BUF_LEN)
            len = BUF_LEN - off;
        crc = crc_table(table_ieee, crc, buf + off, len);
    }
    printf("buffer ieee: pieces=%08x\n", crc);
    for (size_t len = 0; len <= 16; len += 4)
        printf("prefix %2lu: %08x\n", (unsigned long)len, crc_table(table_c, 0, buf + 3, len));
    printf("DONE\n");
    return 0;
}
