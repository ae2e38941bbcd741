/*
 * The demo guest that `ppcd run` boots when no --kernel is given (shipped prebuilt as
 * ppcd/machine/demo/demo.elf; tests check the shipped file is this source's build).
 * It shows the machine at work: the console hypercall, the CPU's identity registers,
 * integer arithmetic drawing a fractal, and RTAS power-off.
 */
#include "guest.h"

static unsigned long mfspr_pvr(void)
{
    unsigned long pvr;
    __asm__ volatile("mfspr %0,287" : "=r"(pvr));
    return pvr;
}

static unsigned long mfmsr(void)
{
    unsigned long msr;
    __asm__ volatile("mfmsr %0" : "=r"(msr));
    return msr;
}

/* The Mandelbrot set in 16.16 fixed point: only fixed-point instructions, no FPU needed. */
static void mandelbrot(void)
{
    static const char shades[] = " .:-=+*#%@";
    for (int row = 0; row < 16; row++) {
        long ci = -65536 * 12 / 10 + row * (65536 * 24 / 10) / 16;
        for (int col = 0; col < 64; col++) {
            long cr = -65536 * 21 / 10 + col * (65536 * 30 / 10) / 64;
            long zr = 0, zi = 0;
            int n = 0;
            while (n < 30) {
                long zr2 = (zr * zr) >> 16, zi2 = (zi * zi) >> 16;
                if (zr2 + zi2 > 4 * 65536)
                    break;
                zi = ((zr * zi) >> 15) + ci;
                zr = zr2 - zi2 + cr;
                n++;
            }
            putchar(shades[n * 9 / 30]);
        }
        putchar('\n');
    }
}

int main(void)
{
    printf("ppcd demo guest: a %s-endian program on a pseries machine\n",
           __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "little" : "big");
    unsigned long pvr = mfspr_pvr();
    printf("PVR %08lx (%s), MSR %016lx\n", pvr,
           (pvr >> 16) == 0x4e ? "POWER9" : (pvr >> 16) == 0x4d ? "POWER8" :
           (pvr >> 16) == 0x80 ? "POWER10" : "unknown", mfmsr());
    mandelbrot();
    printf("powering off through RTAS\n");
    printf("DONE\n");
    return 0;
}
