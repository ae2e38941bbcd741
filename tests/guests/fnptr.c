/* Function pointers: tables, callbacks, returned pointers, struct members (ELFv1 descriptors). */
#include "guest.h"

#define NOINLINE __attribute__((noinline, noclone))

typedef long (*binop)(long, long);

static long op_add(long a, long b) { return a + b; }
static long op_sub(long a, long b) { return a - b; }
static long op_mul(long a, long b) { return a * b; }
static long op_xor(long a, long b) { return a ^ b; }
static long op_max(long a, long b) { return a > b ? a : b; }
/* Not static: a global function's descriptor/entry is taken the same way as a static one's. */
long op_rotl(long a, long b)
{
    unsigned long x = (unsigned long)a;
    return (long)((x << (b & 63)) | (x >> ((64 - b) & 63)));
}

/* volatile: every call below must really go through the pointer. */
static binop volatile ops[] = {op_add, op_sub, op_mul, op_xor, op_max, op_rotl};
static const char *const op_names[] = {"add", "sub", "mul", "xor", "max", "rotl"};
#define N_OPS (sizeof(ops) / sizeof(ops[0]))

static NOINLINE long fold(const long *v, size_t n, long acc, binop f)
{
    for (size_t i = 0; i < n; i++)
        acc = f(acc, v[i]);
    return acc;
}

static NOINLINE binop pick(unsigned int i)
{
    return ops[i % N_OPS];
}

/* A callback with a context pointer, as in qsort_r or iterators. */
typedef void (*visitor)(void *ctx, unsigned int index, long value);

static NOINLINE void for_each(const long *v, size_t n, visitor visit, void *ctx)
{
    for (size_t i = 0; i < n; i++)
        visit(ctx, (unsigned int)i, v[i]);
}

struct stats {
    long sum, weighted;
    unsigned int count;
};

static void visit_stats(void *ctx, unsigned int index, long value)
{
    struct stats *s = ctx;
    s->sum += value;
    s->weighted += value * (long)index;
    s->count++;
}

/* A small "vtable": an object with methods. */
struct shape {
    const struct shape_ops *ops;
    long a, b;
};

struct shape_ops {
    const char *name;
    long (*area)(const struct shape *);
    long (*perimeter)(const struct shape *);
};

static long rect_area(const struct shape *s) { return s->a * s->b; }
static long rect_perimeter(const struct shape *s) { return 2 * (s->a + s->b); }
static long tri_area(const struct shape *s) { return s->a * s->b / 2; }
static long tri_perimeter(const struct shape *s) { return s->a + s->b + s->a; }

static const struct shape_ops rect_ops = {"rect", rect_area, rect_perimeter};
static const struct shape_ops tri_ops = {"tri", tri_area, tri_perimeter};

/* A function that takes and returns pointers to functions. */
static NOINLINE binop compose_choice(binop f, binop g, long probe)
{
    return f(probe, 3) > g(probe, 3) ? f : g;
}

int main(void)
{
    static const long values[] = {3, -7, 12, 5, -1, 100, 42, -64, 9, 17};
    const size_t n = sizeof(values) / sizeof(values[0]);
    struct stats st = {0, 0, 0};
    struct shape shapes[] = {{&rect_ops, 3, 4}, {&tri_ops, 6, 5}, {&rect_ops, 10, 11}};
    long acc = 1;

    for (unsigned int i = 0; i < N_OPS; i++)
        printf("fold %-4s = %ld\n", op_names[i], fold(values, n, 1, ops[i]));
    for (unsigned int i = 0; i < 60; i++)
        acc = pick(i * 7)(acc, (long)i + 1) & 0xffffffffffL;
    printf("picked chain = %ld\n", acc);

    for_each(values, n, visit_stats, &st);
    printf("visit: sum=%ld weighted=%ld count=%u\n", st.sum, st.weighted, st.count);

    for (unsigned int i = 0; i < 3; i++)
        printf("shape %s: area=%ld perimeter=%ld\n", shapes[i].ops->name,
               shapes[i].ops->area(&shapes[i]), shapes[i].ops->perimeter(&shapes[i]));

    for (long probe = 1; probe <= 3; probe++)
        printf("choice(add, mul, %ld) is %s\n", probe,
               compose_choice(op_add, op_mul, probe) == op_add ? "add" : "mul");
    printf("pointer identity: %d %d\n", pick(5) == op_rotl, pick(4) == op_rotl);
    printf("DONE\n");
    return 0;
}
