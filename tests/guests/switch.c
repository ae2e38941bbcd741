/* Switch statements: dense ones that GCC compiles to jump tables, and a sparse one. */
#include "guest.h"

#define NOINLINE __attribute__((noinline, noclone))

/* A dense switch whose cases do different work, so it stays a jump table (bctr). */
static NOINLINE uint64_t step(unsigned int op, uint64_t x)
{
    switch (op) {
    case 0: return x + 1;
    case 1: return x * 3;
    case 2: return x ^ 0x5555;
    case 3: return x << 3;
    case 4: return x >> 2;
    case 5: return x - 17;
    case 6: return ~x;
    case 7: return x * x;
    case 8: return x | 0x100;
    case 9: return x & 0xfffff0ff;
    case 10: return (x << 7) | (x >> 57);
    case 11: return x / 3;
    case 12: return x % 1000;
    case 13: return x + (x >> 4);
    case 14: return 0 - x;
    case 15: return x ^ (x >> 13);
    case 16: return x * 0x9e3779b97f4a7c15ULL;
    case 17: return x + 0x12345;
    case 18: return __builtin_popcountll(x);
    case 19: return x == 0 ? 42 : x - 1;
    default: return x + op;
    }
}

/* A tokenizer state machine: a switch classifies each character, another acts on the class. */
enum state { START, NUMBER, WORD, SPACE };

struct counts {
    unsigned int numbers, words, spaces, others;
    uint64_t number_sum;
};

static NOINLINE void tokenize(const char *s, struct counts *c)
{
    enum state st = START;
    uint64_t value = 0;

    for (;; s++) {
        char ch = *s;
        int kind;
        switch (ch) {
        case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
            kind = NUMBER;
            break;
        case ' ': case '\t': case '\n':
            kind = SPACE;
            break;
        case '\0':
            kind = START;
            break;
        default:
            kind = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ? WORD : -1;
            break;
        }
        if (st == NUMBER && kind != NUMBER)
            c->number_sum += value;
        switch (kind) {
        case NUMBER:
            if (st != NUMBER) {
                c->numbers++;
                value = 0;
            }
            value = value * 10 + (uint64_t)(ch - '0');
            break;
        case WORD:
            c->words += st != WORD;
            break;
        case SPACE:
            c->spaces += st != SPACE;
            break;
        case START:
            return;
        default:
            c->others++;
            break;
        }
        st = kind < 0 ? START : (enum state)kind;
    }
}

/* Sparse case values: a compare tree rather than a table. */
static NOINLINE int sparse(long v)
{
    switch (v) {
    case -1000000: return 1;
    case -5: return 2;
    case 0: return 3;
    case 7: return 4;
    case 4096: return 5;
    case 65537: return 6;
    case 1L << 40: return 7;
    default: return 0;
    }
}

int main(void)
{
    static const char text[] = "In 1969, 2 men walked on the moon; 400000 people built it.\n"
                               "Apollo 11 flew 384400 km in 3 days (76 hours)!";
    static const long probes[] = {-1000000, -5, -4, 0, 7, 8, 4096, 65537, 1L << 40, 99};
    struct counts c = {0, 0, 0, 0, 0};
    unsigned int histogram[21] = {0};
    uint64_t x = 1;
    unsigned int sparse_sum = 0;

    for (unsigned int i = 0; i < 2000; i++) {
        unsigned int op = (unsigned int)((x >> 7) ^ i) % 21;
        histogram[op]++;
        x = step(op, x);
        if (i % 400 == 399)
            printf("after %4u steps: x=%016llx\n", i + 1, (unsigned long long)x);
    }
    printf("op histogram:");
    for (unsigned int i = 0; i < 21; i++)
        printf(" %u", histogram[i]);
    printf("\n");

    tokenize(text, &c);
    printf("tokens: numbers=%u words=%u spaces=%u others=%u sum=%llu\n", c.numbers, c.words,
           c.spaces, c.others, (unsigned long long)c.number_sum);

    for (unsigned int i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        sparse_sum = sparse_sum * 8 + (unsigned int)sparse(probes[i]);
        printf("sparse(%ld) = %d\n", probes[i], sparse(probes[i]));
    }
    printf("sparse digest = %u\n", sparse_sum);
    printf("DONE\n");
    return 0;
}
