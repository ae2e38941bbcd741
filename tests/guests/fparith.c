/*
 * Scalar double and float arithmetic: sums, products, quotients, square roots, fused
 * multiply-adds, conversions to and from integers, and the FPSCR exception bits they leave.
 * Results are printed as bit patterns, so the text is exact under any emulator.
 */
#include "guest.h"
#include "fpbits.h"

/* FPSCR exception bits (Book I 4.2.2): OX UX ZX XX and the invalid-operation causes. */
#define FPSCR_EXCEPTIONS 0x1ff80700UL

static uint64_t fpscr(void)
{
    double d;
    __asm__ volatile("mffs %0" : "=f"(d));
    return bits(d);
}

static void clear_fpscr(void)
{
    __asm__ volatile("mtfsf 0xff,%0" : : "f"(0.0));
}

static double fsqrt(double x)
{
    double r;
    __asm__ volatile("fsqrt %0,%1" : "=f"(r) : "f"(x));
    return r;
}

/* Keep the compiler from folding constants: every operand goes through memory. */
static volatile double vd[] = {1.0, 3.0, 0.1, 1e308, 1e-308, 4.9e-324, -2.5, 7.0, 1e16, -0.0};

int main(void)
{
    double one = vd[0], three = vd[1], tenth = vd[2], big = vd[3], small = vd[4];
    double tiny = vd[5], m25 = vd[6], seven = vd[7], e16 = vd[8], nzero = vd[9];
    struct { const char *name; double value; } r[] = {
        {"1/3", one / three},
        {"0.1*3", tenth * three},
        {"0.1+0.1+0.1", tenth + tenth + tenth},
        {"big*10", big * 10.0},
        {"small/1e10", small / 1e10},
        {"tiny/2", tiny / 2},
        {"sqrt(2)", fsqrt(one + one)},
        {"sqrt(7)", fsqrt(seven)},
        {"fma(1/3,3,-1)", __builtin_fma(one / three, three, -one)},
        {"1e16+1", e16 + one},
        {"-0+0", nzero + 0.0},
        {"-0*-2.5", nzero * m25},
        {"7/-0", seven / nzero},
        {"0/0", nzero / 0.0},
        {"(big*10)-(big*10)", big * 10.0 - big * 10.0},
    };

    for (unsigned int i = 0; i < sizeof(r) / sizeof(r[0]); i++)
        printf("%-18s %016lx\n", r[i].name, (unsigned long)bits(r[i].value));

    /* Single precision: rounding to float and float arithmetic. */
    float f3 = (float)three, ft = (float)tenth;
    printf("float 1/3 %08x, 0.1f*3 %08x, (float)1e308 %08x, (float)1e-50 %08x\n",
           (unsigned int)fbits(1.0f / f3), (unsigned int)fbits(ft * f3),
           (unsigned int)fbits((float)big), (unsigned int)fbits((float)(small * 1e258)));

    /* Conversions to and from integers. */
    long ints[] = {0, 1, -1, 123456789012345L, -9007199254740993L};
    for (unsigned int i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        printf("(double)%ld = %016lx\n", ints[i], (unsigned long)bits((double)ints[i]));
    double ds[] = {2.5, -2.5, 1e10, -1e19, 0.999999, 4294967295.5};
    for (unsigned int i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
        double d = ds[i] * vd[0];
        printf("%016lx -> (int)%d (long)%ld (unsigned)%u\n", (unsigned long)bits(d), (int)d,
               (long)d, (unsigned int)d);
    }

    /* A running sum and product: the rounding error accumulates identically. */
    double sum = 0, prod = 1;
    for (int i = 1; i <= 1000; i++) {
        sum += 1.0 / i;
        prod *= 1.0 + 1.0 / (i * vd[1]);
    }
    printf("harmonic(1000) %016lx, product %016lx\n", (unsigned long)bits(sum),
           (unsigned long)bits(prod));

    /* Exception bits raised by each operation, starting from a clear FPSCR. */
    struct { const char *name; uint64_t a, b; char op; } ex[] = {
        {"1/3", bits(1.0), bits(3.0), '/'}, {"1/0", bits(1.0), 0, '/'},
        {"0/0", 0, 0, '/'}, {"inf-inf", 0x7ff0000000000000UL, 0x7ff0000000000000UL, '-'},
        {"max*2", 0x7fefffffffffffffUL, bits(2.0), '*'}, {"min*min", 1, 1, '*'},
        {"snan+1", 0x7ff4000000000000UL, bits(1.0), '+'},
    };
    for (unsigned int i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
        double a = from_bits(ex[i].a), b = from_bits(ex[i].b), x;
        clear_fpscr();
        x = ex[i].op == '/' ? a / b : ex[i].op == '*' ? a * b : ex[i].op == '-' ? a - b : a + b;
        printf("%-8s %016lx fpscr exceptions %08lx\n", ex[i].name, (unsigned long)bits(x),
               (unsigned long)(fpscr() & FPSCR_EXCEPTIONS));
    }
    clear_fpscr();
    printf("DONE\n");
    return 0;
}
