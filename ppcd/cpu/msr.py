"""Machine State Register bits (Power ISA 3.0 Book III 4.2.1), as masks on the 64-bit MSR."""

SF = 1 << 63    # 64-bit mode
HV = 1 << 60    # hypervisor state
VEC = 1 << 25   # vector (VMX) available
VSX = 1 << 23   # VSX available
EE = 1 << 15    # external (and decrementer) interrupts enabled
PR = 1 << 14    # problem state
FP = 1 << 13    # floating-point available
ME = 1 << 12    # machine check enabled
FE0 = 1 << 11
SE = 1 << 10    # single-step trace
BE = 1 << 9     # branch trace
FE1 = 1 << 8
IR = 1 << 5     # instruction relocation
DR = 1 << 4     # data relocation
PMM = 1 << 2
RI = 1 << 1     # recoverable interrupt
LE = 1 << 0     # little-endian mode

# mtmsr (L=0) and mtmsrd L=1 update only these bits (Book III 4.4.3).
MTMSRD_L1_BITS = EE | RI
# Bits an interrupt keeps from the old MSR; everything else is cleared, SF and LE are set.
KEPT_ON_INTERRUPT = HV | ME | (1 << 22)   # bit 41 is MSR[S] (secure), kept
