"""The decoder, derived from the instruction table.

Rows are grouped by primary opcode and tried most-specific first (most fixed bits), so
an alias-like row such as `mfocrf` wins over `mfcr` without any special casing. Decoded
words are cached by the engines; the decoder itself favours clarity over speed.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

from . import msr as M
from .interrupts import (
    FloatingPointUnavailable,
    VectorUnavailable,
    VSXUnavailable,
    illegal,
    privileged,
)
from .isa import INSTRUCTIONS
from .isa.fields import FIELDS
from .isa.table import Insn
from .semantics import load_all


class Op:
    """The operand fields of one decoded word, as attributes named after the ISA fields."""

    __slots__ = tuple(FIELDS) + ("rc", "oe", "word", "insn")

    def __init__(self, insn: Insn, word: int) -> None:
        self.insn = insn
        self.word = word
        self.rc = insn.rc
        self.oe = insn.oe
        for name in insn.fields:
            setattr(self, name, FIELDS[name].decode(word))


def _by_opcode() -> Dict[int, List[Insn]]:
    groups: Dict[int, List[Insn]] = {}
    for insn in INSTRUCTIONS:
        groups.setdefault(insn.opcd, []).append(insn)
    for rows in groups.values():
        rows.sort(key=lambda i: -bin(i.mask).count("1"))
    return groups


_GROUPS = _by_opcode()


def decode(word: int) -> Optional[Insn]:
    """The table row whose fixed bits match `word`, or None for an illegal instruction."""
    for insn in _GROUPS.get(word >> 26, ()):
        if word & insn.mask == insn.match:
            return insn
    return None


def _raise_illegal(cpu, op) -> None:
    raise illegal()


def _compat_checked(fn: Callable, insn: Insn) -> Callable:
    """Refuse an instruction newer than the compat mode allows (Book III 2.6: the PCR makes
    the instructions of later ISA versions illegal in problem state; cpu.isa_limit is the
    newest version the PCR leaves, ppcd/cpu/compat.py). Checked before privilege and
    facilities: to a program in that mode the instruction does not exist."""
    isa = insn.isa

    def checked(cpu, op) -> None:
        if isa > cpu.isa_limit and cpu.msr & M.PR:
            raise illegal()
        fn(cpu, op)
    return checked


def _guarded(fn: Callable, insn: Insn) -> Callable:
    """Wrap a semantic function with the privilege, facility and compat-mode checks its row
    asks for."""
    fn = _privilege_checked(fn, insn)
    return _compat_checked(fn, insn) if insn.isa else fn


# Facilities chosen by the VSR operand's half (Book I 7.2.1: VSRs 0-31 overlay the FPRs,
# VSRs 32-63 the VRs), as the ISA 3.0 pseudocode of these VSX instructions checks them:
# (facility of VSRs 0-31, facility of VSRs 32-63), see ppcd/cpu/isa/vector.py.
_BY_HALF = {
    "fp/vec": ((M.FP, FloatingPointUnavailable), (M.VEC, VectorUnavailable)),
    "vsx/vec": ((M.VSX, VSXUnavailable), (M.VEC, VectorUnavailable)),
}
_VSR_OPERANDS = ("XT", "XS", "XTQ", "XSQ")


def _vsr_operand(insn: Insn) -> str:
    for name in insn.fields:
        if name in _VSR_OPERANDS:
            return name
    raise ValueError(f"{insn.mnemonic}: facility {insn.facility} needs a VSR operand")


def _privilege_checked(fn: Callable, insn: Insn) -> Callable:
    if insn.facility in _BY_HALF:
        return _half_checked(fn, insn)
    checks = []
    if insn.priv:
        checks.append((M.PR, True, privileged))
    if insn.facility == "fp":
        checks.append((M.FP, False, FloatingPointUnavailable))
    elif insn.facility == "vec":
        checks.append((M.VEC, False, VectorUnavailable))
    elif insn.facility == "vsx":
        checks.append((M.VSX, False, VSXUnavailable))
    if not checks:
        return fn

    def guarded(cpu, op) -> None:
        for bit, fault_if_set, make in checks:
            if bool(cpu.msr & bit) == fault_if_set:
                raise make()
        fn(cpu, op)
    return guarded


def _half_checked(fn: Callable, insn: Insn) -> Callable:
    """The facility check of a row whose facility depends on its VSR operand's half."""
    (low_bit, low_make), (high_bit, high_make) = _BY_HALF[insn.facility]
    field = _vsr_operand(insn)
    priv = insn.priv

    def guarded(cpu, op) -> None:
        if priv and cpu.msr & M.PR:
            raise privileged()
        if getattr(op, field) < 32:
            if not cpu.msr & low_bit:
                raise low_make()
        elif not cpu.msr & high_bit:
            raise high_make()
        fn(cpu, op)
    return guarded


def make_decoder() -> Callable[[int], Tuple[Callable, Optional[Op]]]:
    """A function word -> (semantic function, operands) with the checks built in."""
    semantics = load_all()
    missing = sorted({i.impl for i in INSTRUCTIONS} - set(semantics))
    if missing:
        raise RuntimeError(f"instruction table names missing semantics: {missing}")

    def decode_word(word: int) -> Tuple[Callable, Optional[Op]]:
        insn = decode(word)
        if insn is None:
            return _raise_illegal, None
        return _guarded(semantics[insn.impl], insn), Op(insn, word)
    return decode_word
