"""Semantics of quadword and pair storage access, the atomic memory operations and
copy-paste (Book I 3.3.4, 4.6.2-4.6.3; Book II 4.4.2, 4.5, 4.6).

A quadword is a 16-byte scalar in the current byte order: big-endian, the even register
gets the doubleword at EA and the odd one EA+8; little-endian, the odd register gets the
doubleword at EA (Book I 3.3.4). Stores write the higher-addressed doubleword first, so an
access that runs off the end of RAM changes nothing. As in QEMU 7.2, lq, stq and the FP
pair instructions need no particular alignment; lqarx and stqcx. need a quadword-aligned EA
and the atomic memory operations an operand-aligned one (Alignment interrupt otherwise).
"""

from __future__ import annotations

from typing import Callable, Tuple

from ..interrupts import Alignment, DataStorage, illegal
from ..state import REAL_ADDRESS_MASK
from . import implements
from .loadstore import effective_address

COPY_BLOCK = 128        # copy and paste move one 128-byte block (Book II 4.6)


def load_quadword(cpu, ea: int) -> Tuple[int, int]:
    """(high, low) doublewords of the quadword at `ea`."""
    first, second = cpu.load(ea, 8), cpu.load(ea + 8, 8)
    return (second, first) if cpu.le else (first, second)


def store_quadword(cpu, ea: int, high: int, low: int) -> None:
    first, second = (low, high) if cpu.le else (high, low)
    cpu.store(ea + 8, 8, second)
    cpu.store(ea, 8, first)


# --- Book I 3.3.4 load/store quadword -------------------------------------------------------

@implements("lq")
def lq(cpu, op) -> None:
    # RTp = RA is an invalid form; QEMU 7.2 raises illegal instruction.
    if op.RTp == op.RA:
        raise illegal()
    ea = effective_address(cpu, op.RA, op.DQ)
    cpu.gpr[op.RTp], cpu.gpr[op.RTp + 1] = load_quadword(cpu, ea)


@implements("stq")
def stq(cpu, op) -> None:
    ea = effective_address(cpu, op.RA, op.DS)
    store_quadword(cpu, ea, cpu.gpr[op.RSp], cpu.gpr[op.RSp + 1])


# --- Book II 4.4.2 quadword load and reserve, store conditional -------------------------------

def _quadword_reserved(cpu, op) -> int:
    ea = effective_address(cpu, op.RA, cpu.gpr[op.RB])
    if ea % 16:
        raise Alignment(ea)
    return ea


@implements("lqarx")
def lqarx(cpu, op) -> None:
    # RTp equal to RA or RB is an invalid form: illegal, as QEMU 7.2.
    if op.RTp in (op.RA, op.RB):
        raise illegal()
    ea = _quadword_reserved(cpu, op)
    cpu.gpr[op.RTp], cpu.gpr[op.RTp + 1] = load_quadword(cpu, ea)
    cpu.reserve = ea & REAL_ADDRESS_MASK
    cpu.reserve_len = 16


@implements("stqcx")
def stqcx(cpu, op) -> None:
    ea = _quadword_reserved(cpu, op)
    stored = cpu.reserve == (ea & REAL_ADDRESS_MASK) and cpu.reserve_len == 16
    if stored:
        store_quadword(cpu, ea, cpu.gpr[op.RSp], cpu.gpr[op.RSp + 1])
    cpu.reserve = None
    cpu.set_cr_field(0, (0b0010 if stored else 0) | cpu.so)


# --- Book I 4.6.2-4.6.3 floating-point doubleword pair ----------------------------------------

def _offset_ds(cpu, op) -> int:
    return op.DS


def _offset_rb(cpu, op) -> int:
    return cpu.gpr[op.RB]


def _load_pair(offset: Callable) -> Callable:
    def load(cpu, op) -> None:
        ea = effective_address(cpu, op.RA, offset(cpu, op))
        cpu.fpr[op.FRTp], cpu.fpr[op.FRTp + 1] = load_quadword(cpu, ea)
    return load


def _store_pair(offset: Callable) -> Callable:
    def store(cpu, op) -> None:
        ea = effective_address(cpu, op.RA, offset(cpu, op))
        store_quadword(cpu, ea, cpu.fpr[op.FRSp], cpu.fpr[op.FRSp + 1])
    return store


implements("lfdp")(_load_pair(_offset_ds))
implements("lfdpx")(_load_pair(_offset_rb))
implements("stfdp")(_store_pair(_offset_ds))
implements("stfdpx")(_store_pair(_offset_rb))


# --- Book II 4.5 atomic memory operations -----------------------------------------------------

class UnsupportedFunction(DataStorage):
    """An atomic memory operation with a function code the ISA does not define invokes the
    data storage error handler (Book II 4.5); DAR is the EA and DSISR names no cause."""

    def prepare(self, cpu) -> None:
        cpu.spr[19] = self.ea
        cpu.spr[18] = 0


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


# Fetch-and-<op> and store-<op> functions (FC 0-8): new memory value from (old, operand, bits).
_UPDATES = {
    0: lambda old, x, bits: old + x,
    1: lambda old, x, bits: old ^ x,
    2: lambda old, x, bits: old | x,
    3: lambda old, x, bits: old & x,
    4: lambda old, x, bits: max(old, x),
    5: lambda old, x, bits: max(old, x, key=lambda v: _signed(v, bits)),
    6: lambda old, x, bits: min(old, x),
    7: lambda old, x, bits: min(old, x, key=lambda v: _signed(v, bits)),
    8: lambda old, x, bits: x,
}
_SWAP = 8
_COMPARE_AND_SWAP_NOT_EQUAL = 16
# Fetch and increment bounded / increment equal / decrement bounded: (condition, addend).
_BOUNDED = {24: (False, 1), 25: (True, 1), 28: (False, -1)}
_STORE_TWIN = 24


def _atomic_address(cpu, op, size: int) -> int:
    ea = effective_address(cpu, op.RA, 0)
    if ea % size:
        raise Alignment(ea)
    return ea


def _load_atomic(size: int) -> Callable:
    """lwat/ldat: RT gets the old storage value; the operands are RT+1 and RT+2 (wrapping
    from r31 to r0)."""
    bits = 8 * size
    mask = (1 << bits) - 1

    def semantic(cpu, op) -> None:
        ea = _atomic_address(cpu, op, size)
        fc = op.FC
        if fc not in _UPDATES and fc != _COMPARE_AND_SWAP_NOT_EQUAL and fc not in _BOUNDED:
            raise UnsupportedFunction(ea, True)
        operand = cpu.gpr[(op.RT + 1) % 32] & mask
        old = cpu.load(ea, size)
        result = old
        if fc in _UPDATES:
            cpu.store(ea, size, _UPDATES[fc](old, operand, bits) & mask)
        elif fc == _COMPARE_AND_SWAP_NOT_EQUAL:
            if old != operand:
                cpu.store(ea, size, cpu.gpr[(op.RT + 2) % 32])
        else:
            equal, addend = _BOUNDED[fc]
            if (old == cpu.load(ea + size, size)) == equal:
                cpu.store(ea, size, (old + addend) & mask)
            else:
                result = 1 << (bits - 1)
        cpu.gpr[op.RT] = result
    return semantic


def _store_atomic(size: int) -> Callable:
    """stwat/stdat: storage combined with RS (FC 0-7), or store twin (FC 24): RS into both
    operands when they are equal."""
    bits = 8 * size
    mask = (1 << bits) - 1

    def semantic(cpu, op) -> None:
        ea = _atomic_address(cpu, op, size)
        fc = op.FC
        if (fc not in _UPDATES or fc == _SWAP) and fc != _STORE_TWIN:
            raise UnsupportedFunction(ea, True)
        operand = cpu.gpr[op.RS] & mask
        old = cpu.load(ea, size)
        if fc == _STORE_TWIN:
            if old == cpu.load(ea + size, size):
                cpu.store(ea + size, size, operand)
                cpu.store(ea, size, operand)
            return
        cpu.store(ea, size, _UPDATES[fc](old, operand, bits) & mask)
    return semantic


implements("lwat")(_load_atomic(4))
implements("ldat")(_load_atomic(8))
implements("stwat")(_store_atomic(4))
implements("stdat")(_store_atomic(8))


# --- Book II 4.6 copy-paste -------------------------------------------------------------------
# No accelerator (the hypervisor's paste windows) exists on ppcd's pseries, so nothing can
# accept a paste: copy checks and reads its block, paste. always reports failure, and the
# copy buffer's contents never become visible, so they are not kept. QEMU 7.2 decodes copy
# and paste. as illegal instructions and cp_abort as a no-op.

def _block_address(cpu, op) -> int:
    ea = effective_address(cpu, op.RA, cpu.gpr[op.RB])
    if ea % COPY_BLOCK:
        raise Alignment(ea)
    return ea


@implements("copy")
def copy(cpu, op) -> None:
    ea = _block_address(cpu, op)
    cpu.load(ea, 1)
    cpu.load(ea + COPY_BLOCK - 1, 1)


@implements("paste")
def paste(cpu, op) -> None:
    _block_address(cpu, op)
    cpu.set_cr_field(0, cpu.so)     # CR0 = 0b00 || 0 (not pasted) || SO


@implements("cp_abort")
def cp_abort(cpu, op) -> None:
    """Ends a copy-paste sequence: the (unkept) copy buffer is emptied."""

