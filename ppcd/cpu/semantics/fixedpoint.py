"""Semantics of the fixed-point computational instructions (Book I chapter 3)."""

from __future__ import annotations

from ..state import MASK64
from . import implements


def _overflow(cpu, ov: int, ov32: int) -> None:
    """OE=1: set OV and OV32, and SO if OV (Book I 3.2.2)."""
    cpu.ov = ov
    cpu.ov32 = ov32
    if ov:
        cpu.so = 1


@implements("addi")
def addi(cpu, op) -> None:
    base = cpu.gpr[op.RA] if op.RA else 0
    cpu.gpr[op.RT] = (base + op.SI) & MASK64


@implements("addis")
def addis(cpu, op) -> None:
    base = cpu.gpr[op.RA] if op.RA else 0
    cpu.gpr[op.RT] = (base + (op.SI << 16)) & MASK64


@implements("add")
def add(cpu, op) -> None:
    a = cpu.gpr[op.RA]
    b = cpu.gpr[op.RB]
    result = (a + b) & MASK64
    cpu.gpr[op.RT] = result
    if op.oe:
        # Signed overflow: both operands have the same sign and the result's differs.
        ov = ((a ^ result) & (b ^ result)) >> 63 & 1
        ov32 = ((a ^ result) & (b ^ result)) >> 31 & 1
        _overflow(cpu, ov, ov32)
    if op.rc:
        cpu.record(result)
