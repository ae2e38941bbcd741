/*
 * An idle guest: WAKEUPS times, arm the decrementer for 10 ms (a 100 Hz tick) and H_CEDE
 * until it fires. The decrementer handler at 0x900 sets DEC positive again and returns.
 */
#include "guest.h"

#ifndef WAKEUPS
#define WAKEUPS 500
#endif

#define H_CEDE 0xE0UL
#define TICKS_PER_10MS 5120000UL     /* the 512 MHz timebase */

static const unsigned int handler[] = {
    0x3c007fff,     /* lis 0,0x7fff */
    0x7c1603a6,     /* mtdec 0 */
    0x4c000024,     /* rfid */
};

int main(void)
{
    volatile unsigned int *vector = (volatile unsigned int *)0x900;
    for (int i = 0; i < 3; i++)
        vector[i] = handler[i];
    __asm__ volatile("sync; icbi 0,%0; isync" : : "r"(vector) : "memory");
    for (int i = 0; i < WAKEUPS; i++) {
        __asm__ volatile("mtdec %0" : : "r"(TICKS_PER_10MS));
        hcall(H_CEDE, 0, 0, 0, 0);
    }
    printf("idle %d wakeups\nDONE\n", WAKEUPS);
    return 0;
}
