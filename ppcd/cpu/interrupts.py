"""Interrupts (Power ISA 3.0 Book III chapter 7) as Python exceptions, and their delivery.

Semantic functions raise one of these; the engine catches it at the instruction boundary
and calls `deliver`, which saves SRR0/SRR1, builds the new MSR and jumps to the vector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import msr as M

if TYPE_CHECKING:
    from .state import CPUState

# SRR1 bits 33:36 and 42:47 carry the interrupt's cause; the rest is copied from the MSR.
SRR1_CAUSE_BITS = 0x783F_0000

# Program interrupt causes in SRR1 (Book III 7.5.9)
PROGRAM_FP = 1 << 20
PROGRAM_ILLEGAL = 1 << 19
PROGRAM_PRIVILEGED = 1 << 18
PROGRAM_TRAP = 1 << 17

DSISR_NO_TRANSLATION = 1 << 30
DSISR_STORE = 1 << 25
SRR1_ISI_NO_TRANSLATION = 1 << 30


class Interrupt(Exception):
    """A synchronous interrupt raised by an instruction. SRR0 is the instruction itself."""

    vector = 0
    srr0_next = False   # True when SRR0 gets the address of the next instruction
    vectored = False    # True for scv: LR and CTR instead of SRR0 and SRR1

    def __init__(self, cause: int = 0) -> None:
        super().__init__(cause)
        self.cause = cause

    def prepare(self, cpu: "CPUState") -> None:
        """Set the interrupt's own registers (DAR, DSISR, ...) before delivery."""


class ProgramInterrupt(Interrupt):
    vector = 0x700


class SystemCall(Interrupt):
    vector = 0xC00
    srr0_next = True


class FloatingPointUnavailable(Interrupt):
    vector = 0x800


class VectorUnavailable(Interrupt):
    vector = 0xF20


class VSXUnavailable(Interrupt):
    vector = 0xF40


class SystemCallVectored(Interrupt):
    """scv LEV (Book III 7.5.19): vector 0x17000 + LEV*0x20 (AIL is not modelled)."""

    srr0_next = True
    vectored = True

    def __init__(self, lev: int) -> None:
        super().__init__(0)
        self.vector = 0x1_7000 + 0x20 * lev


class FacilityUnavailable(Interrupt):
    """A facility FSCR disables in problem state, or TM with MSR[TM]=0 (Book III 7.5.18):
    FSCR[IC] (bits 0:7) records which facility."""

    vector = 0xF60

    def __init__(self, facility: int) -> None:
        super().__init__(0)
        self.facility = facility

    def prepare(self, cpu: "CPUState") -> None:
        fscr = cpu.spr.get(153, 0)
        cpu.spr[153] = (fscr & ~(0xFF << 56)) | (self.facility << 56)


class Decrementer(Interrupt):
    vector = 0x900
    srr0_next = True


class DataStorage(Interrupt):
    """Access outside guest RAM in real mode: DAR gets the address, DSISR the reason."""

    vector = 0x300

    def __init__(self, ea: int, store: bool) -> None:
        super().__init__(0)
        self.ea = ea
        self.store = store

    def prepare(self, cpu: "CPUState") -> None:
        cpu.spr[19] = self.ea                                   # DAR
        cpu.spr[18] = DSISR_NO_TRANSLATION | (DSISR_STORE if self.store else 0)  # DSISR


class InstructionStorage(Interrupt):
    vector = 0x400

    def __init__(self, ea: int) -> None:
        super().__init__(SRR1_ISI_NO_TRANSLATION)
        self.ea = ea


class Alignment(Interrupt):
    vector = 0x600

    def __init__(self, ea: int, dsisr: int = 0) -> None:
        super().__init__(0)
        self.ea = ea
        self.dsisr = dsisr

    def prepare(self, cpu: "CPUState") -> None:
        cpu.spr[19] = self.ea
        cpu.spr[18] = self.dsisr


def illegal() -> ProgramInterrupt:
    return ProgramInterrupt(PROGRAM_ILLEGAL)


def privileged() -> ProgramInterrupt:
    return ProgramInterrupt(PROGRAM_PRIVILEGED)


def deliver(cpu: "CPUState", exc: Interrupt) -> None:
    """Take an interrupt: SRR0/SRR1, the new MSR (SF=1, LE=ILE) and the vector (real mode)."""
    exc.prepare(cpu)
    srr0 = cpu.pc if exc.srr0_next else cpu.cia
    srr1 = (cpu.msr & ~SRR1_CAUSE_BITS) | exc.cause
    new_msr = (cpu.msr & M.KEPT_ON_INTERRUPT) | M.SF
    if exc.vectored:
        # System Call Vectored keeps SRR0/SRR1: LR and CTR take their roles, and MSR[EE]
        # and MSR[RI] are kept (Book III 7.5.19).
        cpu.lr, cpu.ctr = srr0, srr1
        new_msr |= cpu.msr & (M.EE | M.RI)
    else:
        cpu.spr[26], cpu.spr[27] = srr0, srr1
    if cpu.lpcr_ile:
        new_msr |= M.LE
    cpu.msr = new_msr
    cpu.pc = exc.vector
    cpu.reserve = None
    cpu.halted = False
