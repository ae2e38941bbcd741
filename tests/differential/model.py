"""ppcd's semantics run in-process on one case, as diffguest.c runs it in a guest.

`run_case` returns the state words the guest would print: r0-r31, f0-f31, CR, XER, LR, CTR,
FPSCR, the interrupt vector (0 if none), SRR0, SRR1, then the scratch area as big-endian
doublewords. With `quirks`, every instruction's result is passed through the named QEMU
deviations of quirks.py, giving what QEMU should print; without, what ppcd should print.
"""

from __future__ import annotations

from typing import Callable, List, Optional

from ppcd.cpu import msr as M
from ppcd.cpu.decoder import make_decoder
from ppcd.cpu.interrupts import SRR1_CAUSE_BITS, Interrupt
from ppcd.cpu.state import CPUState, GuestMemory

from .generator import SCRATCH, SCRATCH_SIZE, Case

RAM_SIZE = 64 << 20         # covers the scratch area and the guest image's code_buf
POWER9_PVR = 0x004E1200
FNV_OFFSET = 0xCBF2_9CE4_8422_2325
FNV_PRIME = 0x100_0000_01B3
MASK64 = (1 << 64) - 1

# A quirk hook: (cpu after the instruction, its semantic function, its operands, the state
# before it) -> None, adjusting cpu.
Hook = Callable[[CPUState, Callable, object, "Snapshot"], None]


class Snapshot:
    """The registers an instruction may read, taken before it executes."""

    __slots__ = ("gpr", "fpr", "cr", "xer", "fpscr")

    def __init__(self, cpu: CPUState) -> None:
        self.gpr = list(cpu.gpr)
        self.fpr = list(cpu.fpr)
        self.cr = cpu.cr
        self.xer = cpu.xer
        self.fpscr = cpu.fpscr


def lcg_next(state: int) -> int:
    """guest.h's lcg_next."""
    return (state * 6364136223846793005 + 1442695040888963407) & MASK64


class Machine:
    """A bare vCPU over a RAM buffer, reused from case to case."""

    def __init__(self, little_endian: bool) -> None:
        self.memory = GuestMemory(bytearray(RAM_SIZE), RAM_SIZE, bytearray(RAM_SIZE >> 12))
        self.msr = M.SF | M.FP | (M.LE if little_endian else 0)
        self.order = "little" if little_endian else "big"
        self.decode = make_decoder()
        self.cache: dict = {}

    def run_case(self, case: Case, code_end: int, hook: Optional[Hook] = None) -> List[int]:
        cpu = CPUState(self.memory, pvr=POWER9_PVR)
        cpu.msr = self.msr
        buf = self.memory.buf
        seed = case.seed
        for i in range(SCRATCH_SIZE // 8):
            seed = lcg_next(seed)
            buf[SCRATCH + 8 * i:SCRATCH + 8 * i + 8] = seed.to_bytes(8, self.order)
        entry = code_end - 4 * len(case.words)
        for i, word in enumerate(case.words):
            buf[entry + 4 * i:entry + 4 * i + 4] = word.to_bytes(4, self.order)
        cpu.gpr[:] = case.gpr
        cpu.fpr[:] = case.fpr
        cpu.cr, cpu.xer, cpu.lr, cpu.ctr = case.cr, case.xer, case.lr, case.ctr
        cpu.fpscr = initial_fpscr(case.fpscr)
        cpu.pc = entry
        vector, srr0, srr1 = 0, entry, self.msr
        while cpu.pc != code_end:
            cpu.cia = pc = cpu.pc
            word = int.from_bytes(buf[pc:pc + 4], self.order)
            entry_ = self.cache.get(word)
            if entry_ is None:
                entry_ = self.cache[word] = self.decode(word)
            cpu.pc = pc + 4
            before = Snapshot(cpu) if hook else None
            try:
                try:
                    entry_[0](cpu, entry_[1])
                finally:
                    if hook:
                        hook(cpu, entry_[0], entry_[1], before)
            except Interrupt as exc:
                vector = exc.vector
                srr0 = cpu.pc if exc.srr0_next else pc
                srr1 = (cpu.msr & ~SRR1_CAUSE_BITS) | exc.cause
                break
        scratch = [int.from_bytes(buf[SCRATCH + 8 * i:SCRATCH + 8 * i + 8], "big")
                   for i in range(SCRATCH_SIZE // 8)]
        return [*cpu.gpr, *cpu.fpr, cpu.cr, cpu.xer, cpu.lr, cpu.ctr, cpu.fpscr,
                vector, srr0, srr1, *scratch]


def initial_fpscr(value: int) -> int:
    """The FPSCR after the guest's `mtfsf 0xff,f0,1,0` of `value`: FEX and VX recomputed."""
    from ppcd.cpu.semantics.floatingpoint import _summarised
    return _summarised(value)


def digest(words: List[int]) -> int:
    """diffguest.c's digest of the printed state (mix64 of guest.h over every word)."""
    h = FNV_OFFSET
    for w in words:
        h = ((h ^ w) * FNV_PRIME) & MASK64
    return h
