/*
 * Several vCPUs (QEMU's -smp N, ppcd's --smp N): the boot vCPU counts the vCPUs with RTAS
 * query-cpu-stopped-state, starts each secondary with start-cpu, and they all add to shared
 * counters under a lwarx/stwcx. lock and with atomic adds; secondaries also cede and are
 * prodded (H_CEDE/H_PROD), then stop themselves (stop-self).  Only the boot vCPU prints, after
 * every secondary has finished, so the output does not depend on how the vCPUs interleave.
 */
#include "guest.h"

#define MAX_CPUS 8
#define ITERATIONS 3000

#define H_CEDE 0xE0UL
#define H_CONFER 0xE4UL
#define H_PROD 0xE8UL
#define RTAS_QUERY_CPU_STOPPED_STATE 0x2005
#define RTAS_START_CPU 0x2006
#define RTAS_STOP_SELF 0x2007

/* What smp_entry.S reads: keep the offsets in step with it. */
struct secondary_start {
    uint64_t stack;       /* 0 */
    uint64_t toc;         /* 8 */
    uint64_t code;        /* 16 */
    uint64_t arg;         /* 24 */
    uint64_t entry_msr;   /* 32: written by smp_entry.S */
};

struct vcpu_report {
    uint64_t pir;
    uint64_t arg;
    uint64_t tb_start;
    uint64_t sum;
    long prod_seen;
    volatile int ready_to_cede;
    volatile int done;
    volatile int may_stop;
};

extern char secondary_entry[];

static struct secondary_start starts[MAX_CPUS];
static struct vcpu_report reports[MAX_CPUS];
static unsigned char stacks[MAX_CPUS][16384] __attribute__((aligned(16)));

static volatile int may_cede;          /* set once start-cpu was tried on a running vCPU */
static volatile unsigned int lock_word;
static uint64_t locked_counter;          /* only changed with the lock held */
static uint64_t atomic_counter;          /* only changed with atomic adds */

static uint32_t rtas_word(uint32_t v)
{
#ifdef __LITTLE_ENDIAN__
    return __builtin_bswap32(v);
#else
    return v;
#endif
}

/* One RTAS call: returns rets[0]; rets[1] to *ret1 when wanted. Each vCPU has its own buffer. */
static long rtas(unsigned int cpu, uint32_t token, int nargs, int nret, const uint32_t *args,
                 uint32_t *ret1)
{
    static uint32_t buffers[MAX_CPUS][16] __attribute__((aligned(8)));
    uint32_t *b = buffers[cpu];
    b[0] = rtas_word(token);
    b[1] = rtas_word(nargs);
    b[2] = rtas_word(nret);
    for (int i = 0; i < nargs; i++)
        b[3 + i] = rtas_word(args[i]);
    for (int i = 0; i < nret; i++)
        b[3 + nargs + i] = rtas_word(0xdeadbeef);
    hcall(KVMPPC_H_RTAS, (uintptr_t)b, 0, 0, 0);
    if (ret1 != 0 && nret > 1)
        *ret1 = rtas_word(b[3 + nargs + 1]);
    return (int32_t)rtas_word(b[3 + nargs]);
}

static uint64_t mftb(void)
{
    uint64_t tb;
    __asm__ volatile("mftb %0" : "=r"(tb));
    return tb;
}

static uint64_t mfpir(void)
{
    uint64_t pir;
    __asm__ volatile("mfspr %0,1023" : "=r"(pir));
    return pir;
}

static void lock(void)
{
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE) != 0)
        while (lock_word != 0)
            ;
}

static void unlock(void)
{
    __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}

static void work(unsigned int cpu, uint64_t *sum)
{
    uint64_t state = cpu + 1;
    for (int i = 0; i < ITERATIONS; i++) {
        uint64_t v = lcg_next(&state) >> 60;
        lock();
        locked_counter += v + 1;
        unlock();
        __atomic_fetch_add(&atomic_counter, 1, __ATOMIC_SEQ_CST);
        *sum += v + 1;
    }
}

/* A secondary vCPU's C entry, called by smp_entry.S; never returns. */
static void secondary_main(uint64_t arg)
{
    unsigned int cpu = (unsigned int)(arg & 0xff);
    struct vcpu_report *r = &reports[cpu];

    r->tb_start = mftb();
    r->pir = mfpir();
    r->arg = arg;
    work(cpu, &r->sum);
    /* Ceded, this vCPU would count as stopped (halted) for start-cpu, as on QEMU. */
    while (!may_cede)
        ;
    /* A long decrementer first: H_CEDE enables external interrupts. */
    __asm__ volatile("mtdec %0" : : "r"(0x7fffffffUL));
    r->ready_to_cede = 1;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    r->prod_seen = hcall(H_CEDE, 0, 0, 0, 0);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    r->done = 1;
    /* Not before the boot vCPU stopped prodding: a prod wakes a stopped vCPU too (QEMU's). */
    while (!r->may_stop)
        ;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (;;)
        rtas(cpu, RTAS_STOP_SELF, 0, 0, 0, 0);
}

static uint64_t code_address(void (*fn)(uint64_t))
{
#if defined(_CALL_ELF) && _CALL_ELF == 2
    return (uint64_t)fn;
#else
    return *(const uint64_t *)fn;     /* ELFv1: the descriptor's first word */
#endif
}

int main(void)
{
    unsigned int ncpus = 1;
    uint32_t state;
    uint64_t toc, boot_sum = 0;

    __asm__ volatile("mr %0,2" : "=r"(toc));
    while (ncpus < MAX_CPUS) {
        uint32_t id = ncpus;
        if (rtas(0, RTAS_QUERY_CPU_STOPPED_STATE, 1, 2, &id, &state) != 0)
            break;
        ncpus++;
    }
    printf("vCPUs: %u\n", ncpus);
    printf("boot vCPU PIR %lu\n", (unsigned long)mfpir());
    for (unsigned int cpu = 1; cpu < ncpus; cpu++) {
        uint32_t id = cpu;
        rtas(0, RTAS_QUERY_CPU_STOPPED_STATE, 1, 2, &id, &state);
        printf("vCPU %u before start-cpu: state %u\n", cpu, state);
    }
    printf("query of a vCPU that does not exist: %ld\n",
           rtas(0, RTAS_QUERY_CPU_STOPPED_STATE, 1, 2, &(uint32_t){ncpus + 7}, &state));
    printf("H_PROD of a vCPU that does not exist: %ld\n", hcall(H_PROD, ncpus + 7, 0, 0, 0));
    printf("H_CONFER to all: %ld\n", hcall(H_CONFER, -1UL, 0, 0, 0));

    uint64_t tb_before = mftb();
    for (unsigned int cpu = 1; cpu < ncpus; cpu++) {
        struct secondary_start *s = &starts[cpu];
        s->stack = (uint64_t)&stacks[cpu][sizeof stacks[cpu] - 128];
        s->toc = toc;
        s->code = code_address(secondary_main);
        s->arg = 0x5a00 | cpu;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        uint32_t args[3] = {cpu, (uint32_t)(uintptr_t)secondary_entry,
                            (uint32_t)(uintptr_t)s};
        long rc = rtas(0, RTAS_START_CPU, 3, 1, args, 0);
        if (rc != 0)
            printf("start-cpu %u failed: %ld\n", cpu, rc);
    }
    if (ncpus > 1) {
        uint32_t args[3] = {1, (uint32_t)(uintptr_t)secondary_entry, 0};
        printf("start-cpu of a running vCPU: %ld\n", rtas(0, RTAS_START_CPU, 3, 1, args, 0));
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    may_cede = 1;
    work(0, &boot_sum);
    for (unsigned int cpu = 1; cpu < ncpus; cpu++) {
        uint32_t id = cpu;
        while (!reports[cpu].ready_to_cede)
            ;
        /* A prod wakes the ceded vCPU or makes its cede return at once.  QEMU can lose a
         * prod that races with the cede (with real threads), so prod until it is done. */
        while (!reports[cpu].done) {
            long rc = hcall(H_PROD, cpu, 0, 0, 0);
            if (rc != 0)
                printf("H_PROD %u failed: %ld\n", cpu, rc);
        }
        reports[cpu].may_stop = 1;
        do
            rtas(0, RTAS_QUERY_CPU_STOPPED_STATE, 1, 2, &id, &state);
        while (state != 0);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    uint64_t expected = boot_sum;
    for (unsigned int cpu = 1; cpu < ncpus; cpu++) {
        struct vcpu_report *r = &reports[cpu];
        expected += r->sum;
        printf("vCPU %u: PIR %lu, r3 arg 0x%lx, entry MSR 0x%lx, H_CEDE %ld, "
               "timebase after the boot vCPU's: %s\n", cpu, (unsigned long)r->pir,
               (unsigned long)r->arg, (unsigned long)starts[cpu].entry_msr, r->prod_seen,
               r->tb_start >= tb_before ? "yes" : "no");
    }
    printf("locked counter %s (%lu)\n", locked_counter == expected ? "exact" : "WRONG",
           (unsigned long)locked_counter);
    printf("atomic counter %lu\n", (unsigned long)atomic_counter);
    puts("DONE");
    return 0;
}
