"""Special-purpose registers a POWER9 pseries guest (an LPAR: MSR[HV]=0) can name in mfspr/mtspr.

The table follows the Power ISA 3.0B Book III SPR encodings figure (4.4.4, "Move To/From
Special Purpose Register"): number, name, width, the least privileged state that may read
and write it (PROBLEM, PRIVILEGED, HYPERVISOR, or None when the direction does not exist, as
for the read-only PVR or the write-only half of CTRL) and where its value lives.

Access rules, as QEMU 7.2 TCG applies them to a pseries vCPU (target/ppc/translate.c
gen_op_mfspr/gen_mtspr; the ISA's rules of 4.4.4 with the hypervisor's choices made):
- An SPR in the table accessed from a state below its level, or in a direction it does not
  have, raises a privileged-instruction program interrupt. With MSR[HV]=0 that includes every
  hypervisor-only SPR (LPCR, HSRR0, HDEC, ...) and the read-only PVR and PIR.
- An SPR number not in the table depends on spr[0] (0x10 of the number) and the state:
  spr[0]=1: privileged program interrupt in problem state, no-op in privileged state;
  spr[0]=0: in problem state, and for mfspr of 0, 4, 5, 6 or mtspr of 0 in privileged state,
  a Hypervisor Emulation Assistance interrupt, which QEMU's PAPR mode turns into a privileged
  program interrupt; otherwise a no-op. A no-op mfspr leaves RT unchanged.
- SPRs 808-811 are no-ops in every state (reserved as no-ops since ISA 2.07).
- A 32-bit SPR keeps the low 32 bits written and reads back zero-extended.

Simplifications, named here so nobody mistakes them for the ISA: problem-state access to the
user PMU aliases (768-782) behaves as with MMCR0[PMCC]=0b00 (reads allowed, writes privileged);
the EBB registers are privileged-only (the ISA lets problem state use them when FSCR[EBB]=1);
the transactional-memory SPRs (128-131) are absent, since ppcd has no TM. QEMU 7.2 differs from
the ISA in a few places this table follows the ISA on: it lets privileged state read and write
TBL/TBU at 284/285, keeps DSISR and VRSAVE 64 bits wide, and has no SPR 3 (DSCR) or 898 (PPR32).
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

from . import msr as M
from .interrupts import privileged
from .state import MASK32, MASK64, CPUState

PROBLEM = 0
PRIVILEGED = 1
HYPERVISOR = 2

# mfspr of these undefined numbers raises even in privileged state (mtspr: only 0).
_MFSPR_TRAPPING = (0, 4, 5, 6)
_NOOP_SPRS = range(808, 812)

Reader = Callable[[CPUState], int]
Writer = Callable[[CPUState, int], None]


class SPR:
    """One SPR number: who may read and write it, its width, and how it is read and written."""

    __slots__ = ("number", "name", "width", "read_level", "write_level", "read", "write", "mask")

    def __init__(self, number: int, name: str, width: int, read_level: Optional[int],
                 write_level: Optional[int], read: Reader, write: Optional[Writer]) -> None:
        self.number = number
        self.name = name
        self.width = width
        self.read_level = read_level
        self.write_level = write_level
        self.read = read
        self.write = write
        self.mask = MASK64 if width == 64 else MASK32


def _attribute(name: str):
    """Backed by a CPUState attribute (xer, lr, ctr, tar, dec, cfar, pvr, pir)."""
    return (lambda cpu: getattr(cpu, name)), (lambda cpu, value: setattr(cpu, name, value))


def _stored(number: int, reset: int = 0):
    """Backed by cpu.spr under `number` (the privileged number when there are aliases)."""
    def read(cpu: CPUState) -> int:
        return cpu.spr.get(number, reset)

    def write(cpu: CPUState, value: int) -> None:
        cpu.spr[number] = value
    return read, write


def _read_only(read: Reader):
    """Readable only: the table gives it no write level, so `write` is never called."""
    return read, None


def _timebase_upper(cpu: CPUState) -> int:
    return cpu.tb >> 32


def _timebase(cpu: CPUState) -> int:
    return cpu.tb


def _amr_read(cpu: CPUState) -> int:
    return cpu.spr.get(29, 0)


def _amr_write(cpu: CPUState, value: int) -> None:
    # Problem state changes only the AMR bits UAMOR allows (Book III 9.7); the pseries AMOR is
    # all ones, so privileged state changes every bit.
    if cpu.msr & M.PR:
        uamor = cpu.spr.get(157, 0)
        value = (cpu.spr.get(29, 0) & ~uamor) | (value & uamor)
    cpu.spr[29] = value


def _ppr32_read(cpu: CPUState) -> int:
    return cpu.spr.get(896, 0) >> 32


def _ppr32_write(cpu: CPUState, value: int) -> None:
    # PPR32 is the upper word of PPR (Book II 3.1).
    cpu.spr[896] = (value << 32) | (cpu.spr.get(896, 0) & MASK32)


SPRS: Dict[int, SPR] = {}


def _spr(number: int, name: str, width: int, read_level: Optional[int],
         write_level: Optional[int], access=None) -> None:
    read, write = access or _stored(number)
    SPRS[number] = SPR(number, name, width, read_level, write_level, read, write)


P, S, H = PROBLEM, PRIVILEGED, HYPERVISOR

# Book I registers and the problem-state views of privileged ones.
_spr(1, "XER", 64, P, P, _attribute("xer"))
_spr(3, "DSCR", 64, P, P, _stored(17))
_spr(8, "LR", 64, P, P, _attribute("lr"))
_spr(9, "CTR", 64, P, P, _attribute("ctr"))
_spr(13, "AMR", 64, P, P, (_amr_read, _amr_write))
_spr(136, "CTRL", 32, P, None, _stored(152))
_spr(256, "VRSAVE", 32, P, P)
_spr(259, "SPRG3", 64, P, None, _stored(275))
_spr(268, "TB", 64, P, None, _read_only(_timebase))
_spr(269, "TBU", 32, P, None, _read_only(_timebase_upper))
_spr(815, "TAR", 64, P, P, _attribute("tar"))
_spr(896, "PPR", 64, P, P)
_spr(898, "PPR32", 32, P, P, (_ppr32_read, _ppr32_write))

# Privileged (supervisor) registers.
_spr(17, "DSCR", 64, S, S)
_spr(18, "DSISR", 32, S, S)
_spr(19, "DAR", 64, S, S)
_spr(22, "DEC", 32, S, S, _attribute("dec"))
_spr(26, "SRR0", 64, S, S)
_spr(27, "SRR1", 64, S, S)
_spr(28, "CFAR", 64, S, S, _attribute("cfar"))
_spr(29, "AMR", 64, S, S, (_amr_read, _amr_write))
_spr(31, "ACOP", 64, S, S)
_spr(48, "PIDR", 32, S, S)
_spr(61, "IAMR", 64, S, S)
_spr(144, "TIDR", 64, S, S)
_spr(152, "CTRL", 32, None, S)
_spr(153, "FSCR", 64, S, S)
_spr(157, "UAMOR", 64, S, S)
_spr(159, "PSPB", 32, S, S)
for _n in range(4):
    _spr(272 + _n, f"SPRG{_n}", 64, S, S)
_spr(287, "PVR", 32, S, None, _read_only(_attribute("pvr")[0]))
_spr(308, "SPURR", 64, S, H, _read_only(_timebase))
_spr(309, "PURR", 64, S, H, _read_only(_timebase))
_spr(351, "VTB", 64, S, H, _read_only(_timebase))
_spr(804, "BESCR", 64, S, S)
_spr(805, "EBBHR", 64, S, S)
_spr(806, "EBBRR", 64, S, S)
_spr(848, "IC", 64, S, H)
_spr(1023, "PIR", 32, S, None, _read_only(_attribute("pir")[0]))

# Performance monitor (Book III 9.4): privileged registers at 784-798, and their problem-state
# aliases 16 lower, most of them read-only there.
# The aliases the ISA makes read-only (USIER, USIAR, USDAR, UMMCR1) are not writable at all;
# the others are writable from privileged state only (MMCR0[PMCC]=0b00, see the docstring).
for _n, (_name, _width, _alias_writable) in {
    784: ("SIER", 64, False), 785: ("MMCR2", 64, True), 786: ("MMCRA", 64, True),
    787: ("PMC1", 32, True), 788: ("PMC2", 32, True), 789: ("PMC3", 32, True),
    790: ("PMC4", 32, True), 791: ("PMC5", 32, True), 792: ("PMC6", 32, True),
    795: ("MMCR0", 64, True), 796: ("SIAR", 64, False), 797: ("SDAR", 64, False),
    798: ("MMCR1", 64, False),
}.items():
    # MMCR0 resets with FC (freeze counters) set, as QEMU's does.
    _access = _stored(_n, 0x8000_0000 if _name == "MMCR0" else 0)
    _spr(_n, _name, _width, S, S, _access)
    _spr(_n - 16, "U" + _name, _width, P, S if _alias_writable else None, _access)

# Hypervisor-only registers: with MSR[HV]=0 every access is a privileged program interrupt, so
# their width never shows.
for _n, _name in {
    176: "DPDES", 186: "RPR", 187: "CIABR", 190: "HFSCR", 284: "TBL", 285: "TBU",
    286: "TBU40", 304: "HSPRG0", 305: "HSPRG1", 306: "HDSISR", 307: "HDAR", 310: "HDEC",
    313: "HRMOR", 314: "HSRR0", 315: "HSRR1", 316: "MMCRH", 317: "TFMR", 318: "LPCR",
    319: "LPIDR", 336: "HMER", 337: "HMEER", 339: "HEIR", 349: "AMOR",
    464: "PTCR", 816: "ASDR", 851: "MMCRC", 855: "PSSCR", 921: "TSCR", 1008: "HID0",
}.items():
    _spr(_n, _name, 64, H, H)

# The PCR belongs to the hypervisor, which sets it with the compat mode (ppcd/cpu/compat.py).
_spr(338, "PCR", 64, H, None, _read_only(_attribute("pcr")[0]))


def _level(cpu: CPUState) -> int:
    return PROBLEM if cpu.msr & M.PR else PRIVILEGED


def _undefined(cpu: CPUState, number: int, trapping) -> None:
    """An SPR number the table lacks: raise or do nothing, per the module docstring."""
    # Every trapping number has spr[0]=0, so in privileged state spr[0]=1 is always a no-op.
    if cpu.msr & M.PR or number in trapping:
        raise privileged()


def read_spr(cpu: CPUState, number: int) -> Optional[int]:
    """mfspr: the SPR's value, or None when the instruction is a no-op (RT unchanged)."""
    spr = SPRS.get(number)
    if spr is None:
        if number not in _NOOP_SPRS:
            _undefined(cpu, number, _MFSPR_TRAPPING)
        return None
    if spr.read_level is None or spr.read_level > _level(cpu):
        raise privileged()
    return spr.read(cpu) & spr.mask


def write_spr(cpu: CPUState, number: int, value: int) -> None:
    """mtspr: write `value` (RS) to the SPR, or raise, or do nothing."""
    spr = SPRS.get(number)
    if spr is None:
        if number not in _NOOP_SPRS:
            _undefined(cpu, number, (0,))
        return
    if spr.write_level is None or spr.write_level > _level(cpu):
        raise privileged()
    spr.write(cpu, value & spr.mask)
