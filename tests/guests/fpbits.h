/* Floating-point values as bit patterns (printed so the text is exact under any emulator), and
 * back: shared by the FP guests. */
#ifndef FPBITS_H
#define FPBITS_H

#include <stdint.h>

static inline uint64_t bits(double d)
{
    union { double d; uint64_t u; } v = {.d = d};
    return v.u;
}

static inline uint32_t fbits(float f)
{
    union { float f; uint32_t u; } v = {.f = f};
    return v.u;
}

static inline double from_bits(uint64_t u)
{
    union { double d; uint64_t u; } v = {.u = u};
    return v.d;
}

#endif
