/* Sorting: insertion sort, a generic quicksort with comparator callbacks, and a heap sort. */
#include "guest.h"

#define N_SMALL 300
#define N_LARGE 1000

struct record {
    int32_t key;
    uint32_t id;
};

static uint32_t small[N_SMALL];
static int64_t large[N_LARGE];
static struct record records[N_LARGE];
static uint64_t heap[N_LARGE];

static void insertion_sort(uint32_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t v = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        unsigned char t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

/* A qsort(3)-like quicksort: median-of-three pivot, recursion on the smaller part. */
static void quick_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    unsigned char *a = base;

    while (n > 1) {
        size_t mid = n / 2, i, j;
        if (cmp(a + mid * size, a) < 0)
            swap_bytes(a + mid * size, a, size);
        if (cmp(a + (n - 1) * size, a) < 0)
            swap_bytes(a + (n - 1) * size, a, size);
        if (cmp(a + (n - 1) * size, a + mid * size) < 0)
            swap_bytes(a + (n - 1) * size, a + mid * size, size);
        /* Move the pivot to the front and partition the rest (Hoare). */
        swap_bytes(a, a + mid * size, size);
        i = 0;
        j = n;
        for (;;) {
            do
                i++;
            while (i < n && cmp(a + i * size, a) < 0);
            do
                j--;
            while (cmp(a + j * size, a) > 0);
            if (i >= j)
                break;
            swap_bytes(a + i * size, a + j * size, size);
        }
        swap_bytes(a, a + j * size, size);
        if (j < n - j - 1) {
            quick_sort(a, j, size, cmp);
            a += (j + 1) * size;
            n -= j + 1;
        } else {
            quick_sort(a + (j + 1) * size, n - j - 1, size, cmp);
            n = j;
        }
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_i64_desc(const void *a, const void *b)
{
    return cmp_i64(b, a);
}

/* Records by key, ties by id: gives a total order, so the result is unique. */
static int cmp_record(const void *a, const void *b)
{
    const struct record *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static void sift_down(uint64_t *a, size_t start, size_t n)
{
    size_t root = start;

    while (2 * root + 1 < n) {
        size_t child = 2 * root + 1;
        if (child + 1 < n && a[child] < a[child + 1])
            child++;
        if (a[root] >= a[child])
            return;
        uint64_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static void heap_sort(uint64_t *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (size_t end = n; end-- > 1;) {
        uint64_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

/* Checksums element by element, so they do not depend on the byte order. */
static uint64_t checksum_u32(const uint32_t *a, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++)
        h = mix64(h, a[i]);
    return h;
}

static uint64_t checksum_u64(const uint64_t *a, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++)
        h = mix64(h, a[i]);
    return h;
}

static uint64_t checksum_records(const struct record *a, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++)
        h = mix64(mix64(h, (uint64_t)(int64_t)a[i].key), a[i].id);
    return h;
}

int main(void)
{
    uint64_t rng = 42;
    size_t bad;

    for (size_t i = 0; i < N_SMALL; i++)
        small[i] = (uint32_t)(lcg_next(&rng) >> 32);
    insertion_sort(small, N_SMALL);
    bad = 0;
    for (size_t i = 1; i < N_SMALL; i++)
        bad += small[i - 1] > small[i];
    printf("insertion: n=%d min=%08x median=%08x max=%08x unsorted=%lu\n", N_SMALL, small[0],
           small[N_SMALL / 2], small[N_SMALL - 1], (unsigned long)bad);
    printf("insertion: checksum=%016llx\n",
           (unsigned long long)checksum_u32(small, N_SMALL));

    for (size_t i = 0; i < N_LARGE; i++)
        large[i] = (int64_t)lcg_next(&rng) >> (i % 40);
    quick_sort(large, N_LARGE, sizeof(large[0]), cmp_i64);
    bad = 0;
    for (size_t i = 1; i < N_LARGE; i++)
        bad += large[i - 1] > large[i];
    printf("quicksort i64: min=%lld max=%lld unsorted=%lu\n", (long long)large[0],
           (long long)large[N_LARGE - 1], (unsigned long)bad);
    printf("quicksort i64: checksum=%016llx\n",
           (unsigned long long)checksum_u64((const uint64_t *)large, N_LARGE));
    quick_sort(large, N_LARGE, sizeof(large[0]), cmp_i64_desc);
    printf("quicksort i64 desc: first=%lld last=%lld checksum=%016llx\n", (long long)large[0],
           (long long)large[N_LARGE - 1],
           (unsigned long long)checksum_u64((const uint64_t *)large, N_LARGE));

    for (size_t i = 0; i < N_LARGE; i++) {
        records[i].key = (int32_t)(lcg_next(&rng) >> 32) % 50;
        records[i].id = (uint32_t)i;
    }
    quick_sort(records, N_LARGE, sizeof(records[0]), cmp_record);
    printf("quicksort records: first=(%d,%u) last=(%d,%u) checksum=%016llx\n", records[0].key,
           records[0].id, records[N_LARGE - 1].key, records[N_LARGE - 1].id,
           (unsigned long long)checksum_records(records, N_LARGE));

    for (size_t i = 0; i < N_LARGE; i++)
        heap[i] = lcg_next(&rng) % 100000;
    heap_sort(heap, N_LARGE);
    bad = 0;
    for (size_t i = 1; i < N_LARGE; i++)
        bad += heap[i - 1] > heap[i];
    printf("heapsort: min=%lu max=%lu unsorted=%lu checksum=%016llx\n", (unsigned long)heap[0],
           (unsigned long)heap[N_LARGE - 1], (unsigned long)bad,
           (unsigned long long)checksum_u64(heap, N_LARGE));
    printf("DONE\n");
    return 0;
}
