/*
 * Freestanding runtime of the guest programs: console output through H_PUT_TERM_CHAR, a small
 * printf, the string/memory functions GCC may call, and RTAS power-off.
 */
#include "guest.h"

int main(void);
/* Called by crt0.S in 64-bit mode with the stack, the TOC and a zeroed BSS set up. */
void rt_start(void) __attribute__((noreturn));

long hcall(unsigned long nr, unsigned long a1, unsigned long a2, unsigned long a3,
           unsigned long a4)
{
    register unsigned long r3 __asm__("r3") = nr;
    register unsigned long r4 __asm__("r4") = a1;
    register unsigned long r5 __asm__("r5") = a2;
    register unsigned long r6 __asm__("r6") = a3;
    register unsigned long r7 __asm__("r7") = a4;

    /* PAPR lets the hypervisor clobber all volatile registers. */
    __asm__ volatile("sc 1"
                     : "+r"(r3), "+r"(r4), "+r"(r5), "+r"(r6), "+r"(r7)
                     :
                     : "r0", "r8", "r9", "r10", "r11", "r12", "ctr", "xer", "cr0", "cr1",
                       "cr5", "cr6", "cr7", "memory");
    return (long)r3;
}

/* Console output is sent a line (or 16 bytes, the most one hcall carries) at a time. */
static unsigned char con_buf[16];
static unsigned int con_len;

void console_flush(void)
{
    uint64_t words[2] = {0, 0};

    if (con_len == 0)
        return;
    /* The bytes travel in r6:r7 packed big-endian, whatever the guest's byte order. */
    for (unsigned int i = 0; i < con_len; i++)
        words[i / 8] |= (uint64_t)con_buf[i] << (56 - 8 * (i % 8));
    hcall(H_PUT_TERM_CHAR, 0, con_len, words[0], words[1]);
    con_len = 0;
}

int putchar(int c)
{
    con_buf[con_len++] = (unsigned char)c;
    if (c == '\n' || con_len == sizeof(con_buf))
        console_flush();
    return (unsigned char)c;
}

int puts(const char *s)
{
    while (*s)
        putchar(*s++);
    putchar('\n');
    return 0;
}

/* Print `len` characters of `s` padded to `width` (right-aligned unless `left`). */
static int emit(const char *s, int len, int width, int left, char pad)
{
    int n = 0;

    if (!left)
        for (; width > len; width--, n++)
            putchar(pad);
    for (int i = 0; i < len; i++, n++)
        putchar(s[i]);
    for (; width > len; width--, n++)
        putchar(' ');
    return n;
}

/* Format an integer like glibc does for %d/%u/%x with the '0' and '-' flags and a width. */
static int emit_number(unsigned long long v, int negative, unsigned int base, int upper,
                       int width, int left, int zero)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char buf[24];
    int pos = sizeof(buf);
    int n = 0;

    do {
        buf[--pos] = digits[v % base];
        v /= base;
    } while (v);
    if (negative) {
        if (zero && !left) {
            /* The sign goes before the zero padding: "-0042". */
            putchar('-');
            n = 1;
            width--;
        } else {
            buf[--pos] = '-';
        }
    }
    return n + emit(buf + pos, (int)sizeof(buf) - pos, width, left, zero && !left ? '0' : ' ');
}

int vprintf(const char *fmt, va_list ap)
{
    int n = 0;

    for (; *fmt; fmt++) {
        int left = 0, zero = 0, width = 0, longs = 0;
        unsigned long long u;
        long long s;

        if (*fmt != '%') {
            putchar(*fmt);
            n++;
            continue;
        }
        for (fmt++; *fmt == '-' || *fmt == '0'; fmt++) {
            if (*fmt == '-')
                left = 1;
            else
                zero = 1;
        }
        for (; *fmt >= '0' && *fmt <= '9'; fmt++)
            width = width * 10 + (*fmt - '0');
        for (; *fmt == 'l' || *fmt == 'z'; fmt++)
            longs++;
        switch (*fmt) {
        case 'd':
        case 'i':
            s = longs ? va_arg(ap, long long) : va_arg(ap, int);
            u = s < 0 ? 0ULL - (unsigned long long)s : (unsigned long long)s;
            n += emit_number(u, s < 0, 10, 0, width, left, zero);
            break;
        case 'u':
        case 'x':
        case 'X':
            u = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
            n += emit_number(u, 0, *fmt == 'u' ? 10 : 16, *fmt == 'X', width, left, zero);
            break;
        case 'p':
            n += emit("0x", 2, 0, 0, ' ');
            n += emit_number((uintptr_t)va_arg(ap, void *), 0, 16, 0, 0, 0, 0);
            break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            n += emit(&c, 1, width, left, ' ');
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            n += emit(str, (int)strlen(str), width, left, ' ');
            break;
        }
        case '%':
            putchar('%');
            n++;
            break;
        default:
            /* Unsupported conversion: show it verbatim rather than guess. */
            n += emit(fmt - 1, 2, 0, 0, ' ');
            if (!*fmt)
                return n;
            break;
        }
    }
    return n;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    /* Word copies when both sides are 8-byte aligned, bytes otherwise. */
    if ((((uintptr_t)d | (uintptr_t)s) & 7) == 0) {
        for (; n >= 8; n -= 8, d += 8, s += 8)
            *(uint64_t *)d = *(const uint64_t *)s;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);
    /* Overlapping with dst above src: copy backwards. */
    while (n--)
        d[n] = s[n];
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;

    if (((uintptr_t)d & 7) == 0) {
        uint64_t w = (unsigned char)c * 0x0101010101010101ULL;
        for (; n >= 8; n -= 8, d += 8)
            *(uint64_t *)d = w;
    }
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;

    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

size_t strlen(const char *s)
{
    const char *p = s;

    while (*p)
        p++;
    return (size_t)(p - s);
}

int strcmp(const char *a, const char *b)
{
    for (; *a && *a == *b; a++, b++)
        ;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n && *a && *a == *b; n--, a++, b++)
        ;
    return n ? (unsigned char)*a - (unsigned char)*b : 0;
}

char *strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (!*s)
            return NULL;
    }
}

char *strcpy(char *dst, const char *src)
{
    char *d = dst;

    while ((*d++ = *src++))
        ;
    return dst;
}

void power_off(void)
{
    /* RTAS arguments are big-endian words: token, nargs, nret, args[2], rets[1]. */
    static uint32_t rtas_args[6] __attribute__((aligned(8)));
    const uint32_t words[6] = {0x2003, 2, 1, 0, 0, 0};

    console_flush();
    for (int i = 0; i < 6; i++) {
#ifdef __LITTLE_ENDIAN__
        rtas_args[i] = __builtin_bswap32(words[i]);
#else
        rtas_args[i] = words[i];
#endif
    }
    hcall(KVMPPC_H_RTAS, (uintptr_t)rtas_args, 0, 0, 0);
    /* The machine stops asynchronously; wait for it. */
    for (;;)
        ;
}

void rt_start(void)
{
    int status;

#ifdef __LITTLE_ENDIAN__
    /* Take interrupts little-endian too: H_SET_MODE(mflags=1 (LE), resource=4 (LE)). */
    long rc = hcall(H_SET_MODE, 1, 4, 0, 0);
    if (rc != 0)
        printf("H_SET_MODE(little-endian interrupts) failed: %ld\n", rc);
#endif
    status = main();
    if (status != 0)
        printf("main returned %d\n", status);
    power_off();
}
