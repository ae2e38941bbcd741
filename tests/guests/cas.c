/*
 * KVMPPC_H_CAS, the client-architecture-support hypercall, as QEMU's pseries answers it.
 *
 * The guest offers lists of (mask, PVR) pairs and reads back the device tree the machine
 * writes to its buffer, whose cpu-version follows the compat mode negotiated: the newest
 * logical PVR listed that the POWER9 supports, or raw mode when only the real PVR matches.
 * Then an ISA 3.0 instruction still runs: the PCR limits problem state only (problem state
 * needs an MMU under QEMU; tests/migration/compat_guests.py covers it on ppcd).
 */
#include "guest.h"

#define KVMPPC_H_CAS 0xF002UL
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4

static unsigned char vector[256] __attribute__((aligned(8)));
static unsigned char buffer[0x10000] __attribute__((aligned(8)));

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The big-endian architecture vector: the pairs, a terminator, then `vectors` option
   vectors of one zero byte each (QEMU needs vectors 1 and 5). */
static void build(const uint32_t *pairs, int count, int vectors)
{
    size_t at = 0;
    for (int i = 0; i < count; i++, at += 8) {
        put32(vector + at, pairs[2 * i]);
        put32(vector + at + 4, pairs[2 * i + 1]);
    }
    put32(vector + at, 0);
    put32(vector + at + 4, 0xffffffff);
    at += 8;
    vector[at++] = vectors - 1;
    for (int i = 0; i < vectors; i++) {
        vector[at++] = 0;
        vector[at++] = 0;
    }
}

/* The first cpu-version property of a flattened device tree, 0 if none. */
static uint32_t cpu_version(const unsigned char *fdt)
{
    const unsigned char *p = fdt + get32(fdt + 8);
    const char *strings = (const char *)fdt + get32(fdt + 12);
    for (;;) {
        uint32_t token = get32(p);
        p += 4;
        if (token == FDT_BEGIN_NODE) {
            p += (strlen((const char *)p) + 4) & ~3UL;
        } else if (token == FDT_PROP) {
            uint32_t len = get32(p), name = get32(p + 4);
            if (strcmp(strings + name, "cpu-version") == 0)
                return get32(p + 8);
            p += 8 + ((len + 3) & ~3UL);
        } else if (token != FDT_END_NODE && token != FDT_NOP) {
            return 0;
        }
    }
}

static void negotiate(const char *what, const uint32_t *pairs, int count, int vectors)
{
    build(pairs, count, vectors);
    memset(buffer, 0, sizeof(buffer));
    long ret = hcall(KVMPPC_H_CAS, (unsigned long)vector, (unsigned long)buffer,
                     sizeof(buffer), 0);
    printf("%s: ret=%ld", what, ret);
    if (ret == 0)
        printf(" header=%08x magic=%08x cpu-version=%08x", (unsigned)get32(buffer),
               (unsigned)get32(buffer + 4), (unsigned)cpu_version(buffer + 4));
    printf("\n");
}

int main(void)
{
    static const uint32_t power8[] = {0xffffffff, 0x0f000004};
    static const uint32_t unknown[] = {0xffffffff, 0x0f000001};
    static const uint32_t newest[] = {0xffffffff, 0x0f000003, 0xffffffff, 0x0f000005,
                                      0xffff0000, 0x004e0000, 0xffffffff, 0x0f000004};
    static const uint32_t raw[] = {0xffff0000, 0x004e0000};
    static const uint32_t power7[] = {0xffffffff, 0x0f000003};

    negotiate("no option vector 5", power8, 1, 1);
    negotiate("unknown logical PVR", unknown, 1, 5);
    negotiate("newest listed", newest, 4, 5);
    negotiate("raw", raw, 1, 5);
    negotiate("power7", power7, 1, 5);

    long a = 17, b = 5, r;
    __asm__ volatile("modsw %0,%1,%2" : "=r"(r) : "r"(a), "r"(b));
    printf("modsw in supervisor state: %ld\n", r);
    printf("DONE\n");
    console_flush();
    power_off();
}
