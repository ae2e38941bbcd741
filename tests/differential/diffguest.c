/*
 * Differential-testing guest: runs the random instruction sequences of a case blob
 * (tests/differential/blob.py) one by one and prints a digest of the state after each.
 *
 * For every case it fills the scratch area from the case's seed, copies the instruction
 * words to the end of code_buf (whose last word branches to diff_landing), loads every register
 * from the case's initial state and enters the sequence with rfid.  The sequence ends at
 * diff_landing, or at an interrupt vector whose stub records the vector and joins diff_common;
 * both store every register into the case's output.  Nothing but SPRGs is used between the
 * load and the store, so a sequence may use all 32 GPRs and FPRs.
 */
#include "guest.h"

#define MAX_INSNS 256
#define SCRATCH_ADDR 0x7f00UL          /* reachable from D-form loads with RA=0 */
#define SCRATCH_WORDS 32
#define STATE_IN 69                    /* r0-r31, f0-f31, CR, XER, LR, CTR, FPSCR */
#define STATE_OUT 72                   /* ... then vector, SRR0, SRR1 */
#define BLOB_MAGIC 0x5050434444494646ULL   /* "PPCDDIFF" */

/* The case blob, linked in by blob.S: magic, number of cases, verbose flag, then the cases. */
extern const uint64_t diff_blob[];
extern const char diff_landing[], diff_common[];

static uint32_t code_buf[MAX_INSNS + 1] __attribute__((aligned(128)));
static uint64_t state_out[STATE_OUT];

/* What run_case hands to its assembly across the rfid: in, out, entry, then saved r1, r2, r13,
 * and a temporary. SPRG0 holds its address while the sequence runs. */
static uint64_t ctl[7];

static void sync_icache(const void *p)
{
    __asm__ volatile("dcbst 0,%0\n\tsync\n\ticbi 0,%0" : : "r"(p) : "memory");
}

/* Every interrupt vector gets "mtspr SPRG1,r31; li r31,vector; ba diff_common". */
static void install_vectors(void)
{
    static const uint32_t vectors[] = {0x200, 0x300, 0x380, 0x400, 0x480, 0x500, 0x600, 0x700,
                                       0x800, 0x900, 0x980, 0xa00, 0xc00, 0xd00, 0xe00, 0xe20,
                                       0xe40, 0xe60, 0xe80, 0xf00, 0xf20, 0xf40, 0xf60};

    for (unsigned int i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint32_t *v = (uint32_t *)(uintptr_t)vectors[i];
        v[0] = 0x7ff143a6;                                 /* mtspr 273,r31 */
        v[1] = 0x3be00000 | vectors[i];                    /* li r31,vector */
        v[2] = 0x48000002 | ((uintptr_t)diff_common & 0x03fffffc);  /* ba diff_common */
        sync_icache(v);
    }
    __asm__ volatile("isync" : : : "memory");
}

/* Load the state at `in`, run the code at `entry`, store the state at `out`. */
static void run_case(const uint64_t *in, uint64_t *out, const uint32_t *entry)
{
    register uint64_t *r3 __asm__("r3") = ctl;

    ctl[0] = (uintptr_t)in;
    ctl[1] = (uintptr_t)out;
    ctl[2] = (uintptr_t)entry;
    __asm__ volatile(
        "mtspr 272,3\n\t"
        "std 1,24(3)\n\tstd 2,32(3)\n\tstd 13,40(3)\n\t"
        "ld 0,16(3)\n\tmtsrr0 0\n\tmfmsr 0\n\tmtsrr1 0\n\t"
        /* Drop any reservation left by the previous case. */
        "li 0,48\n\tstdcx. 0,3,0\n\t"
        "ld 12,0(3)\n\t"
        "lfd 0,544(12)\n\tmtfsf 0xff,0,1,0\n\t"
        ".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n\t"
        "lfd \\n,256+8*\\n(12)\n\t.endr\n\t"
        "ld 0,512(12)\n\tmtcrf 0xff,0\n\t"
        "ld 0,520(12)\n\tmtxer 0\n\t"
        "ld 0,528(12)\n\tmtlr 0\n\t"
        "ld 0,536(12)\n\tmtctr 0\n\t"
        ".irp n,0,1,2,3,4,5,6,7,8,9,10,11,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n\t"
        "ld \\n,8*\\n(12)\n\t.endr\n\t"
        "ld 12,96(12)\n\t"
        "rfid\n"
        ".globl diff_landing\n"
        "diff_landing:\n\t"
        "mtspr 273,31\n\tli 31,0\n"
        ".globl diff_common\n"
        "diff_common:\n\t"
        "mtspr 274,31\n\tmfspr 31,272\n\tstd 30,48(31)\n\tld 30,8(31)\n\t"
        ".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29\n\t"
        "std \\n,8*\\n(30)\n\t.endr\n\t"
        "ld 29,48(31)\n\tstd 29,240(30)\n\tmfspr 29,273\n\tstd 29,248(30)\n\t"
        "mfcr 29\n\tstd 29,512(30)\n\tmfxer 29\n\tstd 29,520(30)\n\t"
        "mflr 29\n\tstd 29,528(30)\n\tmfctr 29\n\tstd 29,536(30)\n\t"
        /* An interrupt turned MSR[FP] off. */
        "mfmsr 29\n\tori 29,29,0x2000\n\tmtmsrd 29\n\t"
        ".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n\t"
        "stfd \\n,256+8*\\n(30)\n\t.endr\n\t"
        "mffs 0\n\tstfd 0,544(30)\n\t"
        "mfspr 29,274\n\tstd 29,552(30)\n\tmfsrr0 29\n\tstd 29,560(30)\n\t"
        "mfsrr1 29\n\tstd 29,568(30)\n\t"
        "ld 1,24(31)\n\tld 2,32(31)\n\tld 13,40(31)"
        : "+r"(r3)
        :
        : "r0", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "r14", "r15", "r16",
          "r17", "r18", "r19", "r20", "r21", "r22", "r23", "r24", "r25", "r26", "r27", "r28",
          "r29", "r30", "r31", "fr0", "fr1", "fr2", "fr3", "fr4", "fr5", "fr6", "fr7", "fr8", "fr9", "fr10",
          "fr11", "fr12", "fr13", "fr14", "fr15", "fr16", "fr17", "fr18", "fr19", "fr20", "fr21", "fr22",
          "fr23", "fr24", "fr25", "fr26", "fr27", "fr28", "fr29", "fr30", "fr31", "cr0", "cr1", "cr2",
          "cr3", "cr4", "cr5", "cr6", "cr7", "lr", "ctr", "xer", "memory");
}

int main(void)
{
    const uint64_t *p = diff_blob + 3;
    uint64_t *scratch = (uint64_t *)SCRATCH_ADDR;
    uint64_t ncases = diff_blob[1], verbose = diff_blob[2];

    if (diff_blob[0] != BLOB_MAGIC) {
        printf("bad case blob\n");
        return 1;
    }
    install_vectors();
    code_buf[MAX_INSNS] = 0x48000000 | (((uintptr_t)diff_landing - (uintptr_t)&code_buf[MAX_INSNS])
                                        & 0x03fffffc);
    printf("code_end=%lx\n", (unsigned long)(uintptr_t)&code_buf[MAX_INSNS]);
    for (uint64_t c = 0; c < ncases; c++) {
        uint64_t n = p[0], seed = p[1];
        const uint64_t *in = p + 2;
        const uint32_t *words = (const uint32_t *)(in + STATE_IN);
        uint32_t *entry = &code_buf[MAX_INSNS - n];
        uint64_t h = 0xcbf29ce484222325ULL;

        for (int i = 0; i < SCRATCH_WORDS; i++)
            scratch[i] = lcg_next(&seed);
        for (uint64_t i = 0; i < n; i++)
            entry[i] = words[i];
        for (uint64_t i = 0; i < n; i += 32)
            sync_icache(&entry[i]);
        sync_icache(&code_buf[MAX_INSNS - 1]);
        __asm__ volatile("sync\n\tisync" : : : "memory");
        run_case(in, state_out, entry);
        p = in + STATE_IN + (n + 1) / 2;

        if (verbose) {
            for (int i = 0; i < STATE_OUT; i++)
                printf("%lx ", (unsigned long)state_out[i]);
            for (int i = 0; i < SCRATCH_WORDS; i++)
                printf("%lx ", (unsigned long)TO_BE64(scratch[i]));
            printf("\n");
            continue;
        }
        for (int i = 0; i < STATE_OUT; i++)
            h = mix64(h, state_out[i]);
        for (int i = 0; i < SCRATCH_WORDS; i++)
            h = mix64(h, TO_BE64(scratch[i]));
        printf("%016lx\n", (unsigned long)h);
    }
    printf("DONE\n");
    return 0;
}
