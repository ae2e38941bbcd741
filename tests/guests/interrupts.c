/*
 * Interrupts: program (trap, illegal instruction), system call, floating-point unavailable and
 * decrementer, taken through handlers installed at the real-mode vectors.  Each handler prints
 * the vector, SRR0 (absolute, and as label+offset) and SRR1, then resumes the program.
 *
 * (Problem state is not tested: MSR[PR]=1 forces MSR[IR,DR]=1, which needs an MMU set up.)
 */
#include "guest.h"

#define NOINLINE __attribute__((noinline, noclone))

#define MSR_FP 0x2000UL
/* SRR1 bits of a program interrupt that tell its cause. */
#define SRR1_ILLEGAL 0x80000UL
#define SRR1_TRAP 0x20000UL

/* The register image saved by exc_common (vectors.S). */
struct regs {
    uint64_t gpr[32];
    uint64_t lr, ctr, cr, xer, srr0, srr1;
};

struct vector_stub {
    uint64_t vector;
    const uint32_t *start, *end;
};

extern const struct vector_stub exc_vectors[];
void exc_handler(struct regs *r, unsigned long vector);

/* Instructions that interrupt, labelled in the inline assembly below. */
extern const char trap_tw[], trap_tdi[], illegal_insn[], sc_insn[], fp_insn[], dec_spin[];

static const struct {
    const char *name;
    const char *addr;
} labels[] = {
    {"trap_tw", trap_tw}, {"trap_tdi", trap_tdi}, {"illegal_insn", illegal_insn},
    {"sc_insn", sc_insn}, {"fp_insn", fp_insn},   {"dec_spin", dec_spin},
};

static volatile unsigned int dec_count;

static void set_dec(uint32_t ticks)
{
    __asm__ volatile("mtdec %0" : : "r"((unsigned long)ticks));
}

static void print_srr0(uint64_t srr0)
{
    for (unsigned int i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        uint64_t addr = (uintptr_t)labels[i].addr;
        if (srr0 == addr || srr0 == addr + 4) {
            printf("%s+%lu", labels[i].name, (unsigned long)(srr0 - addr));
            return;
        }
    }
    printf("unknown");
}

void exc_handler(struct regs *r, unsigned long vector)
{
    const char *what;

    switch (vector) {
    case 0x700:
        if (r->srr1 & SRR1_TRAP)
            what = "program (trap)";
        else if (r->srr1 & SRR1_ILLEGAL)
            what = "program (illegal instruction)";
        else
            what = "program (other)";
        break;
    case 0xc00:
        what = "system call";
        break;
    case 0x800:
        what = "floating-point unavailable";
        break;
    case 0x900:
        what = "decrementer";
        break;
    default:
        what = "unexpected interrupt";
        break;
    }
    printf("%s: vector %03lx srr0=%016llx (", what, vector, (unsigned long long)r->srr0);
    print_srr0(r->srr0);
    printf(") srr1=%016llx\n", (unsigned long long)r->srr1);

    switch (vector) {
    case 0x700:
        /* SRR0 is the faulting instruction: skip it. */
        r->srr0 += 4;
        break;
    case 0xc00:
        /* SRR0 is already past the sc; answer in r3. */
        r->gpr[3] = r->gpr[3] * 2 + 1;
        break;
    case 0x800:
        /* Retry the instruction with FP enabled. */
        r->srr1 |= MSR_FP;
        break;
    case 0x900:
        /* The decrementer interrupt is level-triggered: make DEC positive again. */
        set_dec(0x7fffffff);
        dec_count++;
        if (r->srr0 == (uintptr_t)dec_spin)
            r->srr0 += 4;
        break;
    default:
        power_off();
    }
}

static void install_vectors(void)
{
    for (const struct vector_stub *v = exc_vectors; v->vector; v++) {
        uint32_t *dst = (uint32_t *)(uintptr_t)v->vector;
        for (const uint32_t *src = v->start; src < v->end; src++, dst++) {
            *dst = *src;
            /* Make the new instruction visible to instruction fetch. */
            __asm__ volatile("dcbst 0,%0\n\tsync\n\ticbi 0,%0" : : "r"(dst) : "memory");
        }
    }
    __asm__ volatile("isync" : : : "memory");
}

static NOINLINE void traps(void)
{
    __asm__ volatile(".globl trap_tw\n"
                     "trap_tw: tw 4,%%r0,%%r0\n\t"      /* trap if r0 == r0: always */
                     "li %%r9,0\n\t"
                     "tdi 16,%%r9,-1\n\t"               /* 0 < -1 is false: no trap */
                     ".globl trap_tdi\n"
                     "trap_tdi: tdi 8,%%r9,-1"          /* 0 > -1: trap */
                     : : : "r9", "memory");
}

static NOINLINE void illegal(void)
{
    /* Primary opcode 0 is not an instruction on POWER9. */
    __asm__ volatile(".globl illegal_insn\nillegal_insn: .long 0" : : : "memory");
}

static NOINLINE long do_syscall(long arg)
{
    register long r3 __asm__("r3") = arg;

    __asm__ volatile(".globl sc_insn\nsc_insn: sc 0" : "+r"(r3) : : "memory");
    return r3;
}

static NOINLINE void fp_unavailable(void)
{
    __asm__ volatile("mfmsr %%r9\n\t"
                     "ori %%r9,%%r9,0x2000\n\t"
                     "xori %%r9,%%r9,0x2000\n\t"
                     "mtmsrd %%r9\n\t"                  /* MSR[FP] = 0 */
                     ".globl fp_insn\n"
                     "fp_insn: fmr %%f0,%%f0"
                     : : : "r9", "fr0", "memory");
}

static NOINLINE void decrementer(void)
{
    set_dec(1000);
    /*
     * Enable MSR[EE] and spin on one branch-to-self: whether the decrementer fired before or
     * after the mtmsrd, SRR0 is the spinning branch, which the handler skips.
     */
    __asm__ volatile("mfmsr %%r9\n\t"
                     "ori %%r9,%%r9,0x8000\n\t"
                     "mtmsrd %%r9,1\n"
                     ".globl dec_spin\n"
                     "dec_spin: b dec_spin\n\t"
                     "mfmsr %%r9\n\t"
                     "xori %%r9,%%r9,0x8000\n\t"
                     "mtmsrd %%r9,1"
                     : : : "r9", "memory");
}

int main(void)
{
    unsigned long msr;

    install_vectors();
    __asm__ volatile("mfmsr %0" : "=r"(msr));
    printf("vectors installed, msr=%016lx\n", msr);

    traps();
    illegal();
    printf("syscall(20) returned %ld\n", do_syscall(20));
    fp_unavailable();
    decrementer();
    printf("decrementer interrupts: %u\n", dec_count);
    printf("DONE\n");
    return 0;
}
