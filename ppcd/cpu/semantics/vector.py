"""Semantics of the vector facilities (VMX, VSX): mostly not implemented yet.

The decoder has already raised FP, Vector or VSX Unavailable if the facility the row needs is
off (Book III 7.5.14-7.5.16; which one, by the VSR operand's half, is in ppcd/cpu/isa/vector.py);
with it on, an unimplemented instruction is treated as illegal.

ppcd keeps no VSR state beyond the FPRs, which are doubleword 0 of VSRs 0-31 (Book I 7.2.1).
So the moves between a GPR and doubleword 0 of VSRs 0-31 are implemented; on VSRs 32-63 (the
VRs, VMX state ppcd does not model) they are illegal too. The moves that touch doubleword 1
(mfvsrld, mtvsrdd, mtvsrws) stay unimplemented.
"""

from __future__ import annotations

from ..interrupts import illegal
from ..state import MASK32, MASK64
from . import implements


@implements("vector_unimplemented")
def vector_unimplemented(cpu, op) -> None:
    raise illegal()


def _fpr(vsr: int) -> int:
    """The FPR that is doubleword 0 of this VSR; VSRs 32-63 are not modelled."""
    if vsr >= 32:
        raise illegal()
    return vsr


@implements("mfvsrd")
def mfvsrd(cpu, op) -> None:
    # Book I 7.6: GPR[RA] <- VSR[XS].dword[0]
    cpu.gpr[op.RA] = cpu.fpr[_fpr(op.XS)]


@implements("mfvsrwz")
def mfvsrwz(cpu, op) -> None:
    # Book I 7.6: GPR[RA] <- EXTZ(VSR[XS].word[1])
    cpu.gpr[op.RA] = cpu.fpr[_fpr(op.XS)] & MASK32


@implements("mtvsrd")
def mtvsrd(cpu, op) -> None:
    # Book I 7.6: VSR[XT].dword[0] <- GPR[RA] (dword[1] undefined: ppcd has none)
    cpu.fpr[_fpr(op.XT)] = cpu.gpr[op.RA]


@implements("mtvsrwa")
def mtvsrwa(cpu, op) -> None:
    # Book I 7.6: VSR[XT].dword[0] <- EXTS(GPR[RA].word[1])
    word = cpu.gpr[op.RA] & MASK32
    cpu.fpr[_fpr(op.XT)] = (word - (1 << 32) if word >> 31 else word) & MASK64


@implements("mtvsrwz")
def mtvsrwz(cpu, op) -> None:
    # Book I 7.6: VSR[XT].dword[0] <- EXTZ(GPR[RA].word[1])
    cpu.fpr[_fpr(op.XT)] = cpu.gpr[op.RA] & MASK32
