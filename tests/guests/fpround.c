/*
 * The four rounding modes of FPSCR[RN], selected fesetround-style with mtfsfi and with mtfsf:
 * quotients, square roots, sums with cancellation, conversions to float and to integers in the
 * current mode (fctiw, fctid) and the rounding to integral values (frin, friz, frip, frim).
 */
#include "guest.h"
#include "fpbits.h"

static const char *const mode_names[] = {"nearest", "zero", "+inf", "-inf"};

/* fesetround for FPSCR[RN]: mtfsfi on field 7 (XE NI RN; XE and NI stay 0). */
static void set_round_mtfsfi(int mode)
{
    switch (mode) {
    case 0: __asm__ volatile("mtfsfi 7,0" : : : "memory"); break;
    case 1: __asm__ volatile("mtfsfi 7,1" : : : "memory"); break;
    case 2: __asm__ volatile("mtfsfi 7,2" : : : "memory"); break;
    default: __asm__ volatile("mtfsfi 7,3" : : : "memory"); break;
    }
}

/* The same through mtfsf with field mask 0x01 and the mode in a register's low bits. */
static void set_round_mtfsf(int mode)
{
    __asm__ volatile("mtfsf 0x01,%0" : : "f"(from_bits((uint64_t)mode)) : "memory");
}

static int get_round(void)
{
    double d;
    __asm__ volatile("mffs %0" : "=f"(d));
    return (int)(bits(d) & 3);
}

static double op(char o, double a, double b)
{
    double r;
    switch (o) {
    case '+': __asm__ volatile("fadd %0,%1,%2" : "=f"(r) : "f"(a), "f"(b)); break;
    case '*': __asm__ volatile("fmul %0,%1,%2" : "=f"(r) : "f"(a), "f"(b)); break;
    case '/': __asm__ volatile("fdiv %0,%1,%2" : "=f"(r) : "f"(a), "f"(b)); break;
    case 's': __asm__ volatile("fsqrt %0,%1" : "=f"(r) : "f"(a)); break;
    case 'm': __asm__ volatile("fmadd %0,%1,%2,%1" : "=f"(r) : "f"(a), "f"(b)); break;
    case 'f': __asm__ volatile("frsp %0,%1" : "=f"(r) : "f"(a)); break;
    case 'w': __asm__ volatile("fctiw %0,%1" : "=f"(r) : "f"(a)); break;
    case 'd': __asm__ volatile("fctid %0,%1" : "=f"(r) : "f"(a)); break;
    case 'n': __asm__ volatile("frin %0,%1" : "=f"(r) : "f"(a)); break;
    case 'z': __asm__ volatile("friz %0,%1" : "=f"(r) : "f"(a)); break;
    case 'p': __asm__ volatile("frip %0,%1" : "=f"(r) : "f"(a)); break;
    default: __asm__ volatile("frim %0,%1" : "=f"(r) : "f"(a)); break;
    }
    return r;
}

int main(void)
{
    static const struct { const char *name; char o; double a, b; } cases[] = {
        {"1/3", '/', 1.0, 3.0}, {"-1/3", '/', -1.0, 3.0}, {"2/3", '/', 2.0, 3.0},
        {"sqrt2", 's', 2.0, 0}, {"1+2^-53", '+', 1.0, 0x1p-53},
        {"-1-2^-53", '+', -1.0, -0x1p-53}, {"1-1", '+', 1.0, -1.0},
        {"max*2", '*', 0x1.fffffffffffffp1023, 2.0}, {"-max*2", '*', -0x1.fffffffffffffp1023, 2.0},
        {"0.1*0.1", '*', 0.1, 0.1}, {"fma 0.1", 'm', 0.1, 10.0},
        {"frsp 1/3", 'f', 1.0 / 3.0, 0}, {"frsp -0.1", 'f', -0.1, 0},
        {"frsp 1e39", 'f', 1e39, 0}, {"frsp 1e-46", 'f', 1e-46, 0},
        {"fctiw 2.5", 'w', 2.5, 0}, {"fctiw -2.5", 'w', -2.5, 0},
        {"fctiw 3.5", 'w', 3.5, 0}, {"fctiw -0.5", 'w', -0.5, 0},
        {"fctid 1e15+0.5", 'd', 1e15 + 0.5, 0}, {"fctid -7.25", 'd', -7.25, 0},
        {"frin -2.5", 'n', -2.5, 0}, {"friz -2.7", 'z', -2.7, 0},
        {"frip -2.7", 'p', -2.7, 0}, {"frim 2.7", 'i', 2.7, 0},
    };

    for (int mode = 0; mode < 4; mode++) {
        for (int via = 0; via < 2; via++) {
            if (via)
                set_round_mtfsf(mode);
            else
                set_round_mtfsfi(mode);
            printf("round %s via %s: RN=%d\n", mode_names[mode], via ? "mtfsf" : "mtfsfi",
                   get_round());
            if (via)
                continue;
            for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                double r = op(cases[i].o, cases[i].a, cases[i].b);
                printf("  %-16s %016lx\n", cases[i].name, (unsigned long)bits(r));
            }
            /* C code compiled normally, under the current mode. */
            volatile float f = 1.0f;
            volatile double third = 1.0 / 3.0;
            float sum = 0;
            for (int k = 0; k < 100; k++)
                sum += f / 3.0f;
            printf("  float sum %08x, (float)third %08x, (long)(third*1e18) %ld\n",
                   (unsigned int)fbits(sum), (unsigned int)fbits((float)third),
                   (long)(third * 1e18));
        }
    }
    set_round_mtfsfi(0);
    printf("DONE\n");
    return 0;
}
