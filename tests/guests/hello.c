/* The smallest guest: one line of output, then power-off. */
#include "guest.h"

int main(void)
{
    printf("Hello from a %s-endian POWER guest!\n",
           __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "little" : "big");
    printf("DONE\n");
    return 0;
}
