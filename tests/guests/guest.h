/*
 * Shared header of the guest programs.
 *
 * A guest program includes only this header.  Built for the guest (the default) it declares
 * the tiny freestanding runtime of runtime.c; built for the host with -DGUEST_HOST it maps the
 * same names onto the host's C library, so a plain-C program prints the same text on both and
 * the tests can compare the two outputs.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

#ifdef GUEST_HOST
#include <stdio.h>
#include <string.h>
#else
int putchar(int c);
int puts(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strcpy(char *dst, const char *src);

/* Hypervisor call `sc 1`: r3 = number, r4.. = arguments; returns r3. */
long hcall(unsigned long nr, unsigned long a1, unsigned long a2, unsigned long a3,
           unsigned long a4);
/* Write out any buffered console output. */
void console_flush(void);
/* RTAS power-off: QEMU (and ppcd) exit with status 0. */
void power_off(void) __attribute__((noreturn));

#define H_PUT_TERM_CHAR 0x58UL
#define H_SET_MODE 0x31CUL
#define KVMPPC_H_RTAS 0xF000UL
#endif

/*
 * The big-endian reading of a value loaded natively: programs print this so that their text
 * is the same on the host and on big- and little-endian guests.
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TO_BE16(x) __builtin_bswap16(x)
#define TO_BE32(x) __builtin_bswap32(x)
#define TO_BE64(x) __builtin_bswap64(x)
#else
#define TO_BE16(x) (x)
#define TO_BE32(x) (x)
#define TO_BE64(x) (x)
#endif

/* Deterministic pseudo-random numbers (64-bit LCG, Knuth's MMIX constants) for all programs. */
static inline uint64_t lcg_next(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return *state;
}

/* A cheap order-dependent checksum (FNV-1a step over 64-bit words). */
static inline uint64_t mix64(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ULL;
}

#endif
