"""Processor compatibility modes: compat_pvr, the logical PVR and the PCR.

A POWER9 can run a guest as a POWER8 or POWER7 would (Power ISA 3.0B Book III 2.6, the
Processor Compatibility Register): the hypervisor sets PCR bits that make the instructions of
later ISA versions illegal in problem state, and tells the guest the mode through the
logical PVR, which the device tree's cpu-version carries. The table, the PCR values and the
rules are QEMU 7.2's (target/ppc/compat.c); QEMU's TCG sets the PCR but does not enforce it,
ppcd does unless told to behave as QEMU (`enforce=False`).

The vCPU worker imports this module: Python 3.9, standard library only.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from .state import ISA_NO_LIMIT, CPUState

# PCR bits (Book III 2.6): "instructions introduced after version X are not available".
PCR_COMPAT_2_05 = 1 << 1
PCR_COMPAT_2_06 = 1 << 2
PCR_COMPAT_2_07 = 1 << 3
PCR_COMPAT_3_00 = 1 << 4
PCR_COMPAT_3_10 = 1 << 5
# ISA version (x100) -> its PCR bit, oldest first.
PCR_LEVELS = ((205, PCR_COMPAT_2_05), (206, PCR_COMPAT_2_06), (207, PCR_COMPAT_2_07),
              (300, PCR_COMPAT_3_00), (310, PCR_COMPAT_3_10))
NO_LIMIT = ISA_NO_LIMIT


class CompatMode(NamedTuple):
    name: str       # as --max-cpu-compat spells it
    pvr: int        # the logical PVR (CPU_POWERPC_LOGICAL_*)
    isa: int        # the ISA version of the mode, x100
    pcr: int        # the PCR bits the mode sets, before the CPU's mask


# Oldest first, as QEMU's compat_table: "newest" means later in this tuple.
COMPAT_MODES = (
    CompatMode("power6", 0x0F000002, 205, PCR_COMPAT_3_10 | PCR_COMPAT_3_00
               | PCR_COMPAT_2_07 | PCR_COMPAT_2_06 | PCR_COMPAT_2_05),
    CompatMode("power7", 0x0F000003, 206, PCR_COMPAT_3_10 | PCR_COMPAT_3_00
               | PCR_COMPAT_2_07 | PCR_COMPAT_2_06),
    CompatMode("power7+", 0x1F000003, 206, PCR_COMPAT_3_10 | PCR_COMPAT_3_00
               | PCR_COMPAT_2_07 | PCR_COMPAT_2_06),
    CompatMode("power8", 0x0F000004, 207, PCR_COMPAT_3_10 | PCR_COMPAT_3_00 | PCR_COMPAT_2_07),
    CompatMode("power9", 0x0F000005, 300, PCR_COMPAT_3_10 | PCR_COMPAT_3_00),
    CompatMode("power10", 0x0F000006, 310, PCR_COMPAT_3_10),
)
BY_NAME = {mode.name: mode for mode in COMPAT_MODES}
BY_PVR = {mode.pvr: mode for mode in COMPAT_MODES}


class CompatError(ValueError):
    """A compat mode the CPU cannot run; the message is one line in QEMU's words."""


def mode_named(name: str, cpu_isa: int) -> CompatMode:
    """The mode of --max-cpu-compat NAME, checked against a CPU of ISA version cpu_isa."""
    mode = BY_NAME.get(name)
    if mode is None or mode.isa > cpu_isa:
        raise CompatError(f"Compatibility mode '{name}' not valid for this CPU: use one of "
                          + ", ".join(m.name for m in COMPAT_MODES if m.isa <= cpu_isa))
    return mode


def supported(pvr: int, cpu_isa: int, max_pvr: int = 0, min_pvr: int = 0) -> bool:
    """QEMU's ppc_check_compat: a known logical PVR the CPU supports, within [min, max]."""
    mode = BY_PVR.get(pvr)
    if mode is None or mode.isa > cpu_isa:
        return False
    order = COMPAT_MODES.index(mode)
    if max_pvr and order > COMPAT_MODES.index(BY_PVR[max_pvr]):
        return False
    return not (min_pvr and order < COMPAT_MODES.index(BY_PVR[min_pvr]))


def pcr_for(pvr: int, cpu_isa: int) -> int:
    """The PCR of compat mode `pvr` (0: raw mode) on a CPU of ISA version cpu_isa: the mode's
    bits, masked to the versions older than the CPU (QEMU's pcc->pcr_mask)."""
    if not pvr:
        return 0
    bits = BY_PVR[pvr].pcr
    return sum(bit for level, bit in PCR_LEVELS if level < cpu_isa and bits & bit)


def isa_limit(pcr: int) -> int:
    """The newest ISA version problem state may use under this PCR (Book III 2.6)."""
    for level, bit in PCR_LEVELS:
        if pcr & bit:
            return level
    return NO_LIMIT


def set_compat(cpu: CPUState, pvr: int, cpu_isa: int, enforce: bool = True) -> None:
    """QEMU's ppc_set_compat: compat_pvr, the PCR and, when enforced, the instruction limit."""
    if pvr and not supported(pvr, cpu_isa):
        raise CompatError(f"Compatibility PVR {pvr:#010x} not valid for CPU")
    cpu.compat_pvr = pvr
    cpu.pcr = pcr_for(pvr, cpu_isa)
    cpu.isa_limit = isa_limit(cpu.pcr) if enforce else NO_LIMIT


def mode_name(pvr: int) -> Optional[str]:
    mode = BY_PVR.get(pvr)
    return mode.name if mode else None
