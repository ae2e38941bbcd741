"""Semantics of the branch facility (Book I chapter 2): branches and CR logical instructions.

cpu.pc already holds the next instruction's address (NIA) when these run: a branch that is
taken replaces it, and LK=1 saves it in LR. In 32-bit mode targets are truncated to 32 bits
(Book I 2.4) and the CTR test looks at the low 32 bits of CTR only. A taken branch records
its own address in CFAR (Book III 4.3.1).
"""

from __future__ import annotations

from .. import msr as M
from ..state import MASK32, MASK64
from . import implements

# BO bits (Book I 2.4, Figure 40), as masks on the 5-bit field.
BO_IGNORE_CR = 0x10     # BO[0]: do not test the CR bit
BO_CR_TRUE = 0x08       # BO[1]: branch if the CR bit is 1 (else if 0)
BO_NO_CTR = 0x04        # BO[2]: do not decrement and test CTR
BO_CTR_ZERO = 0x02      # BO[3]: branch if CTR is 0 (else if not 0)


def _ctr_ok(cpu, bo: int) -> bool:
    ctr = cpu.ctr if cpu.msr & M.SF else cpu.ctr & MASK32
    return (ctr == 0) == bool(bo & BO_CTR_ZERO)


def _cr_ok(cpu, bo: int, bi: int) -> bool:
    return bool(bo & BO_IGNORE_CR) or cpu.cr_bit(bi) == bool(bo & BO_CR_TRUE)


def _condition(cpu, bo: int, bi: int) -> bool:
    """The branch condition of bc and bclr/bctar, decrementing CTR first if BO[2]=0."""
    if not bo & BO_NO_CTR:
        cpu.ctr = (cpu.ctr - 1) & MASK64
        if not _ctr_ok(cpu, bo):
            return False
    return _cr_ok(cpu, bo, bi)


def _link(cpu, op) -> None:
    if op.word & 1:                 # LK (bit 31): LR = NIA, already truncated in 32-bit mode
        cpu.lr = cpu.pc


def _take(cpu, target: int) -> None:
    cpu.cfar = cpu.cia
    cpu.pc = target & (MASK64 if cpu.msr & M.SF else MASK32)


@implements("b")
def b(cpu, op) -> None:
    _link(cpu, op)
    _take(cpu, op.LI if op.word & 2 else cpu.cia + op.LI)     # AA (bit 30): absolute


@implements("bc")
def bc(cpu, op) -> None:
    _link(cpu, op)
    if _condition(cpu, op.BO, op.BI):
        _take(cpu, op.BD if op.word & 2 else cpu.cia + op.BD)


@implements("bclr")
def bclr(cpu, op) -> None:
    target = cpu.lr & ~3            # read before LK=1 replaces LR
    _link(cpu, op)
    if _condition(cpu, op.BO, op.BI):
        _take(cpu, target)


@implements("bctar")
def bctar(cpu, op) -> None:
    _link(cpu, op)
    if _condition(cpu, op.BO, op.BI):
        _take(cpu, cpu.tar & ~3)


@implements("bcctr")
def bcctr(cpu, op) -> None:
    target = cpu.ctr & ~3
    _link(cpu, op)
    bo = op.BO
    if not bo & BO_NO_CTR:
        # The ISA calls BO[2]=0 an invalid form. POWER processors (and QEMU for them) test CTR
        # first and decrement it only when that test passes; Linux uses this form as a
        # Spectre v2 count-cache flush, so it must not trap.
        if not _ctr_ok(cpu, bo):
            return
        cpu.ctr = (cpu.ctr - 1) & MASK64
    if _cr_ok(cpu, bo, op.BI):
        _take(cpu, target)


def _cr_logical(name: str, fn) -> None:
    """Register crand, cror, ...: CR[BT] = fn(CR[BA], CR[BB]) on single bits (Book I 2.5.1)."""
    @implements(name)
    def cr_op(cpu, op) -> None:
        cpu.set_cr_bit(op.BT, fn(cpu.cr_bit(op.BA), cpu.cr_bit(op.BB)) & 1)


for _name, _fn in (
    ("crand", lambda a, b: a & b),
    ("cror", lambda a, b: a | b),
    ("crxor", lambda a, b: a ^ b),
    ("crnand", lambda a, b: ~(a & b)),
    ("crnor", lambda a, b: ~(a | b)),
    ("creqv", lambda a, b: ~(a ^ b)),
    ("crandc", lambda a, b: a & ~b),
    ("crorc", lambda a, b: a | ~b),
):
    _cr_logical(_name, _fn)


@implements("mcrf")
def mcrf(cpu, op) -> None:
    cpu.set_cr_field(op.BF, cpu.cr_field(op.BFA))

