/*
 * A decrementer interrupt that comes due while gdb single-steps (test_step_interrupts.py).
 *
 * main installs a five-instruction decrementer handler at 0x900 (DEC back to 0x7fffffff, then
 * rfid), makes DEC due with MSR[EE] off and spins until it surely is, then turns MSR[EE] on at
 * ee_on. Run freely, the interrupt is taken right after that mtmsrd, with SRR0 = after_ee;
 * stepped by gdb, QEMU takes no interrupt during a step (SSTEP_NOIRQ), so the pending
 * decrementer is taken only when gdb continues.
 *
 * Then it arms DEC for 0x10000 ticks and cedes (H_CEDE at cede_sc, which turns MSR[EE] on):
 * the decrementer wakes the vCPU and is taken with SRR0 = after_cede. A step after the cede
 * waits for that wake-up and executes the instruction at after_cede, the interrupt pending.
 */
#include "guest.h"

#define SPRG0 "272"

extern const uint32_t dec_stub[], dec_stub_end[];
extern const char ee_on[], after_ee[], ee_off[], cede_sc[], after_cede[];
volatile unsigned long taken;

/* Copied to 0x900; it saves the one register it uses in SPRG0. */
__asm__(".section .rodata\n"
        "\t.balign 4\n"
        "\t.globl dec_stub, dec_stub_end\n"
        "dec_stub:\n"
        "\tmtspr " SPRG0 ",9\n"
        "\tlis 9,0x7fff\n"
        "\tmtdec 9\n"
        "\tmfspr 9," SPRG0 "\n"
        "\trfid\n"
        "dec_stub_end:\n"
        "\t.text\n");

static void install_handler(void)
{
    uint32_t *dst = (uint32_t *)0x900;
    for (const uint32_t *src = dec_stub; src < dec_stub_end; src++, dst++) {
        *dst = *src;
        __asm__ volatile("dcbst 0,%0\n\tsync\n\ticbi 0,%0" : : "r"(dst) : "memory");
    }
    __asm__ volatile("isync" : : : "memory");
}

int main(void)
{
    unsigned long count = 0;

    install_handler();
    __asm__ volatile("li 9,1\n\t"
                     "mtdec 9\n\t"              /* due almost at once; MSR[EE] is off */
                     "li 9,200\n\t"
                     "mtctr 9\n"
                     "1:\tbdnz 1b\n\t"          /* now it surely is */
                     "mfmsr 9\n\t"
                     "ori 9,9,0x8000\n"
                     ".globl ee_on\n"
                     "ee_on:\tmtmsrd 9,1\n"     /* the interrupt is taken after this */
                     ".globl after_ee\n"
                     "after_ee:\taddi %0,%0,1\n\t"
                     "addi %0,%0,1\n\t"
                     "addi %0,%0,1\n\t"
                     "xori 9,9,0x8000\n"
                     ".globl ee_off\n"
                     "ee_off:\tmtmsrd 9,1"
                     : "+b"(count) : : "r9", "ctr", "memory");
    printf("count=%lu\n", count);

    count = 0;
    __asm__ volatile("lis 9,1\n\t"
                     "mtdec 9\n\t"
                     "li 3,0xe0\n"              /* H_CEDE */
                     ".globl cede_sc\n"
                     "cede_sc:\tsc 1\n"
                     ".globl after_cede\n"
                     "after_cede:\taddi %0,%0,1\n\t"
                     "addi %0,%0,1\n\t"
                     "addi %0,%0,1\n\t"
                     "mfmsr 9\n\t"
                     "xori 9,9,0x8000\n\t"
                     "mtmsrd 9,1"
                     : "+b"(count)
                     :
                     : "r0", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12",
                       "ctr", "cr0", "memory");
    printf("count=%lu\n", count);
    return 0;
}
