"""Semantics of fixed-point storage access: loads and stores (Book I 3.3.2-3.3.7),
load-and-reserve and store-conditional (Book II 4.4.2), cache management (Book II 4.3).

The one-register loads and stores differ only in size, sign extension, byte order, where
the offset comes from and whether RA is updated, so two factories build them from the
table `_SCALAR`; everything else is one function each. POWER9 performs unaligned scalar
accesses in hardware in both byte orders: only an unaligned larx/stcx. and lmw/stmw and the
string instructions in little-endian mode take an Alignment interrupt.
"""

from __future__ import annotations

from typing import Callable

from ..interrupts import Alignment, illegal
from ..state import MASK64, REAL_ADDRESS_MASK
from . import implements

CACHE_BLOCK = 128       # POWER9 data cache block: what dcbz zeroes
XER_BYTE_COUNT = 0x7F   # XER bits 57:63, the byte count of lswx/stswx


def effective_address(cpu, ra: int, offset: int) -> int:
    """EA = (RA|0) + offset; in 32-bit mode the high 32 bits of the EA are 0 (Book I 1.10.3)."""
    base = cpu.gpr[ra] if ra else 0
    return (base + offset) & cpu.ea_mask()


# Where each form's offset comes from: the D or DS displacement, or RB for the X-forms.
def _d(cpu, op) -> int:
    return op.D


def _ds(cpu, op) -> int:
    return op.DS


def _rb(cpu, op) -> int:
    return cpu.gpr[op.RB]


def _load(size: int, offset: Callable, update: bool = False, algebraic: bool = False,
          reverse: bool = False) -> Callable:
    """A load of `size` bytes into RT, zero- or sign-extended (`algebraic`), optionally
    byte-reversed, writing the EA into RA for the update forms (Book I 3.3.2, 3.3.5)."""
    sign = 1 << (8 * size - 1)

    def load(cpu, op) -> None:
        # RA=0 or RA=RT makes an update form invalid; QEMU 7.2 raises illegal instruction.
        if update and (op.RA == 0 or op.RA == op.RT):
            raise illegal()
        ea = effective_address(cpu, op.RA, offset(cpu, op))
        value = (cpu.load_reversed if reverse else cpu.load)(ea, size)
        if algebraic:
            value = ((value ^ sign) - sign) & MASK64
        cpu.gpr[op.RT] = value
        if update:
            cpu.gpr[op.RA] = ea
    return load


def _store(size: int, offset: Callable, update: bool = False,
           reverse: bool = False) -> Callable:
    """A store of the low `size` bytes of RS, optionally byte-reversed, writing the EA into
    RA for the update forms (Book I 3.3.3, 3.3.5)."""
    def store(cpu, op) -> None:
        # RA=0 makes an update form invalid (RA=RS is fine: the old RS is stored).
        if update and op.RA == 0:
            raise illegal()
        ea = effective_address(cpu, op.RA, offset(cpu, op))
        (cpu.store_reversed if reverse else cpu.store)(ea, size, cpu.gpr[op.RS])
        if update:
            cpu.gpr[op.RA] = ea
    return store


_SCALAR = {
    # Book I 3.3.2 loads
    "lbz": _load(1, _d), "lbzu": _load(1, _d, update=True),
    "lbzx": _load(1, _rb), "lbzux": _load(1, _rb, update=True),
    "lhz": _load(2, _d), "lhzu": _load(2, _d, update=True),
    "lhzx": _load(2, _rb), "lhzux": _load(2, _rb, update=True),
    "lha": _load(2, _d, algebraic=True), "lhau": _load(2, _d, update=True, algebraic=True),
    "lhax": _load(2, _rb, algebraic=True), "lhaux": _load(2, _rb, update=True, algebraic=True),
    "lwz": _load(4, _d), "lwzu": _load(4, _d, update=True),
    "lwzx": _load(4, _rb), "lwzux": _load(4, _rb, update=True),
    "lwa": _load(4, _ds, algebraic=True),
    "lwax": _load(4, _rb, algebraic=True), "lwaux": _load(4, _rb, update=True, algebraic=True),
    "ld": _load(8, _ds), "ldu": _load(8, _ds, update=True),
    "ldx": _load(8, _rb), "ldux": _load(8, _rb, update=True),
    # Book I 3.3.3 stores
    "stb": _store(1, _d), "stbu": _store(1, _d, update=True),
    "stbx": _store(1, _rb), "stbux": _store(1, _rb, update=True),
    "sth": _store(2, _d), "sthu": _store(2, _d, update=True),
    "sthx": _store(2, _rb), "sthux": _store(2, _rb, update=True),
    "stw": _store(4, _d), "stwu": _store(4, _d, update=True),
    "stwx": _store(4, _rb), "stwux": _store(4, _rb, update=True),
    "std": _store(8, _ds), "stdu": _store(8, _ds, update=True),
    "stdx": _store(8, _rb), "stdux": _store(8, _rb, update=True),
    # Book I 3.3.5 byte-reversed
    "lhbrx": _load(2, _rb, reverse=True),
    "lwbrx": _load(4, _rb, reverse=True),
    "ldbrx": _load(8, _rb, reverse=True),
    "sthbrx": _store(2, _rb, reverse=True),
    "stwbrx": _store(4, _rb, reverse=True),
    "stdbrx": _store(8, _rb, reverse=True),
}
for _name, _fn in _SCALAR.items():
    implements(_name)(_fn)


# --- Book I 3.3.6-3.3.7: multiple and string ----------------------------------------------

def _big_endian_only(cpu, ea: int) -> None:
    """lmw, stmw and the string instructions take an Alignment interrupt in little-endian
    mode (Book I 3.3.6), as on POWER9 and QEMU 7.2 (which leaves DAR unset; we set it)."""
    if cpu.le:
        raise Alignment(ea)


@implements("lmw")
def lmw(cpu, op) -> None:
    ea = effective_address(cpu, op.RA, op.D)
    _big_endian_only(cpu, ea)
    # Every word is read before any register changes, so a fault leaves RA for the restart.
    # RA in the loaded range is an invalid form that QEMU 7.2 executes like this.
    cpu.gpr[op.RT:] = [cpu.load(ea + 4 * i, 4) for i in range(32 - op.RT)]


@implements("stmw")
def stmw(cpu, op) -> None:
    ea = effective_address(cpu, op.RA, op.D)
    _big_endian_only(cpu, ea)
    for i, r in enumerate(range(op.RS, 32)):
        cpu.store(ea + 4 * i, 4, cpu.gpr[r])


def _in_range(first: int, count: int, r: int) -> bool:
    """Whether r is one of the `count` registers from `first` on, wrapping from r31 to r0."""
    return (r - first) % 32 < count


def _load_string(cpu, rt: int, ea: int, nbytes: int) -> None:
    """Bytes fill the low words of RT, RT+1, ... from the left; the rest is 0 (Book I 3.3.7)."""
    data = bytes(cpu.load(ea + i, 1) for i in range(nbytes))
    for k in range(0, nbytes, 4):
        cpu.gpr[(rt + k // 4) % 32] = int.from_bytes(data[k:k + 4].ljust(4, b"\0"), "big")


def _store_string(cpu, rs: int, ea: int, nbytes: int) -> None:
    for i in range(nbytes):
        word = cpu.gpr[(rs + i // 4) % 32]
        cpu.store(ea + i, 1, word >> (24 - 8 * (i % 4)))


@implements("lswi")
def lswi(cpu, op) -> None:
    ea = effective_address(cpu, op.RA, 0)
    _big_endian_only(cpu, ea)
    nbytes = op.NB or 32
    # RA among the loaded registers (RA=0 included) is an invalid form: illegal, as QEMU 7.2.
    if _in_range(op.RT, (nbytes + 3) // 4, op.RA):
        raise illegal()
    _load_string(cpu, op.RT, ea, nbytes)


@implements("lswx")
def lswx(cpu, op) -> None:
    ea = effective_address(cpu, op.RA, cpu.gpr[op.RB])
    _big_endian_only(cpu, ea)
    nbytes = cpu.xer_rest & XER_BYTE_COUNT
    nregs = (nbytes + 3) // 4
    # RA or RB among the loaded registers is an invalid form; QEMU 7.2 raises illegal except
    # for RA=0. With a byte count of 0 nothing happens (the ISA leaves RT undefined).
    if (op.RA and _in_range(op.RT, nregs, op.RA)) or _in_range(op.RT, nregs, op.RB):
        raise illegal()
    _load_string(cpu, op.RT, ea, nbytes)


@implements("stswi")
def stswi(cpu, op) -> None:
    ea = effective_address(cpu, op.RA, 0)
    _big_endian_only(cpu, ea)
    _store_string(cpu, op.RS, ea, op.NB or 32)


@implements("stswx")
def stswx(cpu, op) -> None:
    ea = effective_address(cpu, op.RA, cpu.gpr[op.RB])
    _big_endian_only(cpu, ea)
    _store_string(cpu, op.RS, ea, cpu.xer_rest & XER_BYTE_COUNT)


# --- Book II 4.4.2: load and reserve, store conditional -----------------------------------
# The reservation is the exact real address and length the larx loaded: a stcx. succeeds
# only with the same address and length (the ISA leaves a mismatch undefined; QEMU 7.2 fails
# it), and any store overlapping those bytes clears it (CPUState._stored).

def _reserved_access(cpu, op, size: int) -> int:
    """EA of a larx/stcx.: X-form, and it must be aligned (Alignment interrupt otherwise)."""
    ea = effective_address(cpu, op.RA, cpu.gpr[op.RB])
    if ea % size:
        raise Alignment(ea)
    return ea


def _load_and_reserve(size: int) -> Callable:
    def larx(cpu, op) -> None:
        ea = _reserved_access(cpu, op, size)
        cpu.gpr[op.RT] = cpu.load(ea, size)
        cpu.reserve = ea & REAL_ADDRESS_MASK
        cpu.reserve_len = size
    return larx


def _store_conditional(size: int) -> Callable:
    def stcx(cpu, op) -> None:
        ea = _reserved_access(cpu, op, size)
        stored = cpu.reserve == (ea & REAL_ADDRESS_MASK) and cpu.reserve_len == size
        if stored:
            cpu.store(ea, size, cpu.gpr[op.RS])
        cpu.reserve = None
        cpu.set_cr_field(0, (0b0010 if stored else 0) | cpu.so)   # CR0 = 0b00 || n || SO
    return stcx


# lbarx, lharx, lwarx, ldarx and stbcx., sthcx., stwcx., stdcx.
for _size, _suffix in ((1, "b"), (2, "h"), (4, "w"), (8, "d")):
    implements(f"l{_suffix}arx")(_load_and_reserve(_size))
    implements(f"st{_suffix}cx")(_store_conditional(_size))


# --- Book II 4.3: cache management --------------------------------------------------------

@implements("dcbt", "dcbtst", "icbt")
def touch(cpu, op) -> None:
    """Touch hints: no architected effect, and never an interrupt (Book II 4.3.2)."""


@implements("dcbf", "dcbst", "icbi")
def flush(cpu, op) -> None:
    """Treated as a load for translation and protection, so a bad address is a DSI (Book II
    4.3.1-4.3.2); caches are not modelled and the translation cache watches stores itself."""
    cpu.load(effective_address(cpu, op.RA, cpu.gpr[op.RB]), 1)


@implements("dcbz")
def dcbz(cpu, op) -> None:
    """Zero the aligned 128-byte block holding the EA, as stores do (Book II 4.3.2)."""
    block = effective_address(cpu, op.RA, cpu.gpr[op.RB]) & -CACHE_BLOCK
    for offset in range(0, CACHE_BLOCK, 8):
        cpu.store(block + offset, 8, 0)
