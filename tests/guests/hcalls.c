/*
 * Hypercall and RTAS return codes, good and bad arguments: ppcd's virtual hypervisor must
 * answer exactly as QEMU's pseries does (values that depend on time are not printed).
 */
#include "guest.h"

static uint32_t be32(uint32_t v)
{
#ifdef __LITTLE_ENDIAN__
    return __builtin_bswap32(v);
#else
    return v;
#endif
}

/* An RTAS call with the argument buffer in big-endian words; returns rets[0]. */
static long rtas(uint32_t token, int nargs, int nret, const uint32_t *args, uint32_t *rets)
{
    static uint32_t buf[3 + 16 + 16] __attribute__((aligned(8)));
    buf[0] = be32(token);
    buf[1] = be32((uint32_t)nargs);
    buf[2] = be32((uint32_t)nret);
    for (int i = 0; i < nargs; i++)
        buf[3 + i] = be32(args[i]);
    for (int i = 0; i < nret; i++)
        buf[3 + nargs + i] = be32(0xdeadbeef);
    long rc = hcall(KVMPPC_H_RTAS, (uintptr_t)buf, 0, 0, 0);
    for (int i = 0; i < nret; i++)
        rets[i] = be32(buf[3 + nargs + i]);
    return rc;
}

static void show(const char *what, long rc)
{
    printf("%-44s -> %ld\n", what, rc);
}

int main(void)
{
    console_flush();
    show("unknown hcall 0x1234", hcall(0x1234, 0, 0, 0, 0));
    show("unknown hcall 0x3ffc", hcall(0x3ffc, 0, 0, 0, 0));
    show("H_PUT_TERM_CHAR vterm 5", hcall(H_PUT_TERM_CHAR, 5, 1, 0x41UL << 56, 0));
    show("H_PUT_TERM_CHAR 17 bytes", hcall(H_PUT_TERM_CHAR, 0, 17, 0, 0));
    show("H_PUT_TERM_CHAR 0 bytes", hcall(H_PUT_TERM_CHAR, 0, 0, 0, 0));
    show("H_PUT_TERM_CHAR vterm 0x71000000 'ok\\n'",
         hcall(H_PUT_TERM_CHAR, 0x71000000, 3, 0x6f6b0aUL << 40, 0));
    show("H_SET_MODE resource 99", hcall(H_SET_MODE, 0, 99, 0, 0));
    show("H_SET_MODE LE with value1", hcall(H_SET_MODE, 0, 4, 1, 0));
    show("H_SET_MODE LE with value2", hcall(H_SET_MODE, 0, 4, 0, 1));
    show("H_SET_MODE LE mflags 7", hcall(H_SET_MODE, 7, 4, 0, 0));
#ifndef __LITTLE_ENDIAN__
    show("H_SET_MODE big-endian interrupts", hcall(H_SET_MODE, 0, 4, 0, 0));
#endif

    uint32_t rets[16], args[16] = {0};
    args[0] = 'R';
    show("RTAS display-character 'R'", rtas(0x2000, 1, 1, args, rets));
    printf("\nrets[0] = %d\n", (int)rets[0]);
    show("RTAS display-character, wrong nargs", rtas(0x2000, 2, 1, args, rets));
    printf("rets[0] = %d\n", (int)rets[0]);
    show("RTAS get-time-of-day", rtas(0x2001, 0, 8, args, rets));
    printf("rets[0] = %d, year plausible: %d\n", (int)rets[0], rets[1] >= 2020 && rets[1] < 2200);
    show("RTAS get-time-of-day, wrong nret", rtas(0x2001, 0, 3, args, rets));
    printf("rets[0] = %d\n", (int)rets[0]);
    show("RTAS unknown token 0x1234", rtas(0x1234, 0, 1, args, rets));
    printf("rets[0] = %d\n", (int)rets[0]);
    show("RTAS power-off, wrong nargs", rtas(0x2003, 1, 1, args, rets));
    printf("rets[0] = %d\n", (int)rets[0]);
    printf("DONE\n");
    return 0;
}
