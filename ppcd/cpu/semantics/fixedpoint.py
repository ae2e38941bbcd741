"""Semantics of the fixed-point computational instructions (Book I chapter 3).

Where the ISA leaves a result undefined (the high word of 32-bit multiply-high and divide
results, division by zero or with an unrepresentable quotient) ppcd gives what QEMU 7.2 TCG
gives, so guest programs compare equal under both.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from .. import msr as M
from ..interrupts import PROGRAM_TRAP, ProgramInterrupt, illegal
from ..state import MASK32, MASK64
from . import implements

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def _s32(x: int) -> int:
    """The low 32 bits of x as a signed number."""
    x &= MASK32
    return x - (1 << 32) if x >> 31 else x


def _s64(x: int) -> int:
    return x - (1 << 64) if x >> 63 else x


def _overflow(cpu, ov: int, ov32: int) -> None:
    """OE=1: set OV and OV32, and SO if OV (Book I 3.2.2)."""
    cpu.ov = ov
    cpu.ov32 = ov32
    if ov:
        cpu.so = 1


def _write_rt(cpu, op, result: int, overflow: bool) -> None:
    """RT of a multiply or divide; OE=1 sets OV = OV32 = `overflow`, Rc=1 sets CR0."""
    cpu.gpr[op.RT] = result
    if op.oe:
        _overflow(cpu, int(overflow), int(overflow))
    if op.rc:
        cpu.record(result)


def _write_ra(cpu, op, result: int) -> None:
    """RA of a logical, rotate or shift instruction, and CR0 when Rc=1."""
    cpu.gpr[op.RA] = result
    if op.rc:
        cpu.record(result)


# --- Add and subtract (3.3.9) -----------------------------------------------------------

def _carries(cpu, x: int, y: int, cin: int) -> Tuple[int, int]:
    """(CA, CA32) of x + y + cin: CA is the carry out of bit 0, or of bit 32 in 32-bit mode."""
    ca32 = ((x & MASK32) + (y & MASK32) + cin) >> 32
    return ((x + y + cin) >> 64 if cpu.msr & M.SF else ca32), ca32


def _sum(cpu, op, x: int, y: int, cin: int, carrying: bool) -> None:
    """RT = x + y + cin for the add/subtract family (subtraction adds ~RA + 1).

    Carrying forms set CA/CA32; OE=1 sets OV from the current mode's width and OV32 from
    the low word; Rc=1 sets CR0.
    """
    result = (x + y + cin) & MASK64
    if carrying:
        cpu.ca, cpu.ca32 = _carries(cpu, x, y, cin)
    if op.oe:
        # Signed overflow: x and y have the same sign and the result's differs.
        v = (x ^ result) & (y ^ result)
        ov32 = v >> 31 & 1
        _overflow(cpu, v >> 63 & 1 if cpu.msr & M.SF else ov32, ov32)
    cpu.gpr[op.RT] = result
    if op.rc:
        cpu.record(result)


def _not(x: int) -> int:
    return ~x & MASK64


@implements("addi")
def addi(cpu, op) -> None:
    base = cpu.gpr[op.RA] if op.RA else 0
    cpu.gpr[op.RT] = (base + op.SI) & MASK64


@implements("addis")
def addis(cpu, op) -> None:
    base = cpu.gpr[op.RA] if op.RA else 0
    cpu.gpr[op.RT] = (base + (op.SI << 16)) & MASK64


@implements("addpcis")
def addpcis(cpu, op) -> None:
    # Relative to the next instruction's address (3.3.9).
    cpu.gpr[op.RT] = (cpu.pc + (op.DX << 16)) & MASK64


@implements("addic")
def addic(cpu, op) -> None:
    _sum(cpu, op, cpu.gpr[op.RA], op.SI & MASK64, 0, True)


@implements("addic.")
def addic_record(cpu, op) -> None:
    addic(cpu, op)
    cpu.record(cpu.gpr[op.RT])


@implements("subfic")
def subfic(cpu, op) -> None:
    _sum(cpu, op, _not(cpu.gpr[op.RA]), op.SI & MASK64, 1, True)


@implements("add")
def add(cpu, op) -> None:
    _sum(cpu, op, cpu.gpr[op.RA], cpu.gpr[op.RB], 0, False)


@implements("subf")
def subf(cpu, op) -> None:
    _sum(cpu, op, _not(cpu.gpr[op.RA]), cpu.gpr[op.RB], 1, False)


@implements("addc")
def addc(cpu, op) -> None:
    _sum(cpu, op, cpu.gpr[op.RA], cpu.gpr[op.RB], 0, True)


@implements("subfc")
def subfc(cpu, op) -> None:
    _sum(cpu, op, _not(cpu.gpr[op.RA]), cpu.gpr[op.RB], 1, True)


@implements("adde")
def adde(cpu, op) -> None:
    _sum(cpu, op, cpu.gpr[op.RA], cpu.gpr[op.RB], cpu.ca, True)


@implements("subfe")
def subfe(cpu, op) -> None:
    _sum(cpu, op, _not(cpu.gpr[op.RA]), cpu.gpr[op.RB], cpu.ca, True)


@implements("addme")
def addme(cpu, op) -> None:
    _sum(cpu, op, cpu.gpr[op.RA], MASK64, cpu.ca, True)


@implements("subfme")
def subfme(cpu, op) -> None:
    _sum(cpu, op, _not(cpu.gpr[op.RA]), MASK64, cpu.ca, True)


@implements("addze")
def addze(cpu, op) -> None:
    _sum(cpu, op, cpu.gpr[op.RA], 0, cpu.ca, True)


@implements("subfze")
def subfze(cpu, op) -> None:
    _sum(cpu, op, _not(cpu.gpr[op.RA]), 0, cpu.ca, True)


@implements("neg")
def neg(cpu, op) -> None:
    _sum(cpu, op, _not(cpu.gpr[op.RA]), 0, 1, False)


@implements("addex")
def addex(cpu, op) -> None:
    # CY=0: OV is the carry in and receives the carry out, OV32 the carry out of bit 32;
    # SO is untouched. CY=1..3 are reserved, and QEMU treats them as illegal.
    if op.CY:
        raise illegal()
    a, b, cin = cpu.gpr[op.RA], cpu.gpr[op.RB], cpu.ov
    cpu.ov, cpu.ov32 = _carries(cpu, a, b, cin)
    cpu.gpr[op.RT] = (a + b + cin) & MASK64


# --- Multiply (3.3.9) ---------------------------------------------------------------------

@implements("mulli")
def mulli(cpu, op) -> None:
    cpu.gpr[op.RT] = (_s64(cpu.gpr[op.RA]) * op.SI) & MASK64


@implements("mullw")
def mullw(cpu, op) -> None:
    # The full 64-bit product of the low words; OV if it does not fit in 32 bits.
    p = _s32(cpu.gpr[op.RA]) * _s32(cpu.gpr[op.RB])
    _write_rt(cpu, op, p & MASK64, not INT32_MIN <= p <= INT32_MAX)


@implements("mulhw")
def mulhw(cpu, op) -> None:
    # RT[0:31] is undefined; QEMU zero-extends.
    p = _s32(cpu.gpr[op.RA]) * _s32(cpu.gpr[op.RB])
    _write_rt(cpu, op, (p >> 32) & MASK32, False)


@implements("mulhwu")
def mulhwu(cpu, op) -> None:
    p = (cpu.gpr[op.RA] & MASK32) * (cpu.gpr[op.RB] & MASK32)
    _write_rt(cpu, op, p >> 32, False)


@implements("mulld")
def mulld(cpu, op) -> None:
    p = _s64(cpu.gpr[op.RA]) * _s64(cpu.gpr[op.RB])
    _write_rt(cpu, op, p & MASK64, not INT64_MIN <= p <= INT64_MAX)


@implements("mulhd")
def mulhd(cpu, op) -> None:
    p = _s64(cpu.gpr[op.RA]) * _s64(cpu.gpr[op.RB])
    _write_rt(cpu, op, (p >> 64) & MASK64, False)


@implements("mulhdu")
def mulhdu(cpu, op) -> None:
    _write_rt(cpu, op, (cpu.gpr[op.RA] * cpu.gpr[op.RB]) >> 64, False)


@implements("maddhd")
def maddhd(cpu, op) -> None:
    s = _s64(cpu.gpr[op.RA]) * _s64(cpu.gpr[op.RB]) + _s64(cpu.gpr[op.RC])
    cpu.gpr[op.RT] = (s >> 64) & MASK64


@implements("maddhdu")
def maddhdu(cpu, op) -> None:
    cpu.gpr[op.RT] = (cpu.gpr[op.RA] * cpu.gpr[op.RB] + cpu.gpr[op.RC]) >> 64


@implements("maddld")
def maddld(cpu, op) -> None:
    # The low doubleword is the same for signed and unsigned operands.
    cpu.gpr[op.RT] = (cpu.gpr[op.RA] * cpu.gpr[op.RB] + cpu.gpr[op.RC]) & MASK64


# --- Divide and modulo (3.3.9) --------------------------------------------------------------

def _quotient(n: int, d: int, lo: int, hi: int) -> Optional[int]:
    """n / d rounded toward zero, or None if d is 0 or the quotient is outside [lo, hi]."""
    if d == 0:
        return None
    q = abs(n) // abs(d)
    if (n < 0) != (d < 0):
        q = -q
    return q if lo <= q <= hi else None


def _divide(cpu, op, n: int, d: int, lo: int, hi: int, undefined: int, width: int) -> None:
    """RT = n / d, or `undefined` when that cannot be represented, masked to `width`.

    The undefined value is QEMU's: the dividend for divw/divd (it divides by 1 instead),
    0 for the extended forms.
    """
    q = _quotient(n, d, lo, hi)
    _write_rt(cpu, op, (undefined if q is None else q) & width, q is None)


@implements("divw")
def divw(cpu, op) -> None:
    # QEMU zero-extends the 32-bit quotient (RT[0:31] is undefined).
    n = _s32(cpu.gpr[op.RA])
    _divide(cpu, op, n, _s32(cpu.gpr[op.RB]), INT32_MIN, INT32_MAX, n, MASK32)


@implements("divwu")
def divwu(cpu, op) -> None:
    n = cpu.gpr[op.RA] & MASK32
    _divide(cpu, op, n, cpu.gpr[op.RB] & MASK32, 0, MASK32, n, MASK32)


@implements("divwe")
def divwe(cpu, op) -> None:
    n = _s32(cpu.gpr[op.RA]) << 32
    _divide(cpu, op, n, _s32(cpu.gpr[op.RB]), INT32_MIN, INT32_MAX, 0, MASK64)


@implements("divweu")
def divweu(cpu, op) -> None:
    n = (cpu.gpr[op.RA] & MASK32) << 32
    _divide(cpu, op, n, cpu.gpr[op.RB] & MASK32, 0, MASK32, 0, MASK64)


@implements("divd")
def divd(cpu, op) -> None:
    n = _s64(cpu.gpr[op.RA])
    _divide(cpu, op, n, _s64(cpu.gpr[op.RB]), INT64_MIN, INT64_MAX, n, MASK64)


@implements("divdu")
def divdu(cpu, op) -> None:
    n = cpu.gpr[op.RA]
    _divide(cpu, op, n, cpu.gpr[op.RB], 0, MASK64, n, MASK64)


@implements("divde")
def divde(cpu, op) -> None:
    n = _s64(cpu.gpr[op.RA]) << 64
    _divide(cpu, op, n, _s64(cpu.gpr[op.RB]), INT64_MIN, INT64_MAX, 0, MASK64)


@implements("divdeu")
def divdeu(cpu, op) -> None:
    _divide(cpu, op, cpu.gpr[op.RA] << 64, cpu.gpr[op.RB], 0, MASK64, 0, MASK64)


def _remainder(n: int, d: int) -> int:
    """n - (n / d) * d with the quotient rounded toward zero; 0 for d = 0, as QEMU gives."""
    if d == 0:
        return 0
    r = abs(n) % abs(d)
    return -r if n < 0 else r


@implements("modsw")
def modsw(cpu, op) -> None:
    cpu.gpr[op.RT] = _remainder(_s32(cpu.gpr[op.RA]), _s32(cpu.gpr[op.RB])) & MASK64


@implements("moduw")
def moduw(cpu, op) -> None:
    cpu.gpr[op.RT] = _remainder(cpu.gpr[op.RA] & MASK32, cpu.gpr[op.RB] & MASK32)


@implements("modsd")
def modsd(cpu, op) -> None:
    cpu.gpr[op.RT] = _remainder(_s64(cpu.gpr[op.RA]), _s64(cpu.gpr[op.RB])) & MASK64


@implements("modud")
def modud(cpu, op) -> None:
    cpu.gpr[op.RT] = _remainder(cpu.gpr[op.RA], cpu.gpr[op.RB])


# --- Compare (3.3.10) ---------------------------------------------------------------------

def _compare(cpu, bf: int, a: int, b: int) -> None:
    """CR field BF = LT, GT or EQ of a against b, then SO."""
    c = 8 if a < b else (4 if a > b else 2)
    cpu.set_cr_field(bf, c | cpu.so)


def _signed(x: int, l64: int) -> int:
    """The operand of a signed compare: the doubleword if L=1, else the low word."""
    return _s64(x) if l64 else _s32(x)


def _unsigned(x: int, l64: int) -> int:
    return x if l64 else x & MASK32


@implements("cmpi")
def cmpi(cpu, op) -> None:
    _compare(cpu, op.BF, _signed(cpu.gpr[op.RA], op.L), op.SI)


@implements("cmp")
def cmp(cpu, op) -> None:
    _compare(cpu, op.BF, _signed(cpu.gpr[op.RA], op.L), _signed(cpu.gpr[op.RB], op.L))


@implements("cmpli")
def cmpli(cpu, op) -> None:
    _compare(cpu, op.BF, _unsigned(cpu.gpr[op.RA], op.L), op.UI)


@implements("cmpl")
def cmpl(cpu, op) -> None:
    _compare(cpu, op.BF, _unsigned(cpu.gpr[op.RA], op.L), _unsigned(cpu.gpr[op.RB], op.L))


@implements("cmprb")
def cmprb(cpu, op) -> None:
    # Is RA's low byte within the byte range RB[48:55]..RB[56:63] (or, with L=1, also
    # RB[32:39]..RB[40:47])? The answer goes to the GT bit; LT, EQ and SO are cleared.
    c = cpu.gpr[op.RA] & 0xFF
    rb = cpu.gpr[op.RB]
    ranges = ((rb >> 8) & 0xFF, rb & 0xFF), ((rb >> 24) & 0xFF, (rb >> 16) & 0xFF)
    hit = any(lo <= c <= hi for hi, lo in ranges[:1 + op.L])
    cpu.set_cr_field(op.BF, 4 if hit else 0)


@implements("cmpeqb")
def cmpeqb(cpu, op) -> None:
    # Does any byte of RB equal RA's low byte? GT bit only.
    c = cpu.gpr[op.RA] & 0xFF
    rb = cpu.gpr[op.RB]
    hit = any((rb >> s) & 0xFF == c for s in range(0, 64, 8))
    cpu.set_cr_field(op.BF, 4 if hit else 0)


@implements("setb")
def setb(cpu, op) -> None:
    # -1 if CR field BFA says LT, else 1 if GT, else 0 (3.3.12).
    field = cpu.cr_field(op.BFA)
    cpu.gpr[op.RT] = MASK64 if field & 8 else (1 if field & 4 else 0)


# --- Trap (3.3.11) --------------------------------------------------------------------------

def _trap(to: int, a: int, b: int, l64: int) -> None:
    """Trap if any condition selected by TO holds: <, > signed; =; <, > unsigned."""
    sa, sb = _signed(a, l64), _signed(b, l64)
    ua, ub = _unsigned(a, l64), _unsigned(b, l64)
    if ((to & 16 and sa < sb) or (to & 8 and sa > sb) or (to & 4 and ua == ub)
            or (to & 2 and ua < ub) or (to & 1 and ua > ub)):
        raise ProgramInterrupt(PROGRAM_TRAP)


@implements("twi")
def twi(cpu, op) -> None:
    _trap(op.TO, cpu.gpr[op.RA], op.SI & MASK64, 0)


@implements("tw")
def tw(cpu, op) -> None:
    _trap(op.TO, cpu.gpr[op.RA], cpu.gpr[op.RB], 0)


@implements("tdi")
def tdi(cpu, op) -> None:
    _trap(op.TO, cpu.gpr[op.RA], op.SI & MASK64, 1)


@implements("td")
def td(cpu, op) -> None:
    _trap(op.TO, cpu.gpr[op.RA], cpu.gpr[op.RB], 1)


# --- Select (3.3.12) ------------------------------------------------------------------------

@implements("isel")
def isel(cpu, op) -> None:
    if cpu.cr_bit(op.BC):
        cpu.gpr[op.RT] = cpu.gpr[op.RA] if op.RA else 0
    else:
        cpu.gpr[op.RT] = cpu.gpr[op.RB]


# --- Logical (3.3.13) -----------------------------------------------------------------------

@implements("andi.")
def andi_record(cpu, op) -> None:
    cpu.gpr[op.RA] = cpu.gpr[op.RS] & op.UI
    cpu.record(cpu.gpr[op.RA])


@implements("andis.")
def andis_record(cpu, op) -> None:
    cpu.gpr[op.RA] = cpu.gpr[op.RS] & (op.UI << 16)
    cpu.record(cpu.gpr[op.RA])


@implements("ori")
def ori(cpu, op) -> None:
    cpu.gpr[op.RA] = cpu.gpr[op.RS] | op.UI


@implements("oris")
def oris(cpu, op) -> None:
    cpu.gpr[op.RA] = cpu.gpr[op.RS] | (op.UI << 16)


@implements("xori")
def xori(cpu, op) -> None:
    cpu.gpr[op.RA] = cpu.gpr[op.RS] ^ op.UI


@implements("xoris")
def xoris(cpu, op) -> None:
    cpu.gpr[op.RA] = cpu.gpr[op.RS] ^ (op.UI << 16)


@implements("and")
def and_(cpu, op) -> None:
    _write_ra(cpu, op, cpu.gpr[op.RS] & cpu.gpr[op.RB])


@implements("or")
def or_(cpu, op) -> None:
    _write_ra(cpu, op, cpu.gpr[op.RS] | cpu.gpr[op.RB])


@implements("xor")
def xor(cpu, op) -> None:
    _write_ra(cpu, op, cpu.gpr[op.RS] ^ cpu.gpr[op.RB])


@implements("nand")
def nand(cpu, op) -> None:
    _write_ra(cpu, op, _not(cpu.gpr[op.RS] & cpu.gpr[op.RB]))


@implements("nor")
def nor(cpu, op) -> None:
    _write_ra(cpu, op, _not(cpu.gpr[op.RS] | cpu.gpr[op.RB]))


@implements("eqv")
def eqv(cpu, op) -> None:
    _write_ra(cpu, op, _not(cpu.gpr[op.RS] ^ cpu.gpr[op.RB]))


@implements("andc")
def andc(cpu, op) -> None:
    _write_ra(cpu, op, cpu.gpr[op.RS] & _not(cpu.gpr[op.RB]))


@implements("orc")
def orc(cpu, op) -> None:
    _write_ra(cpu, op, cpu.gpr[op.RS] | _not(cpu.gpr[op.RB]))


@implements("extsb")
def extsb(cpu, op) -> None:
    b = cpu.gpr[op.RS] & 0xFF
    _write_ra(cpu, op, (b - ((b & 0x80) << 1)) & MASK64)


@implements("extsh")
def extsh(cpu, op) -> None:
    h = cpu.gpr[op.RS] & 0xFFFF
    _write_ra(cpu, op, (h - ((h & 0x8000) << 1)) & MASK64)


@implements("extsw")
def extsw(cpu, op) -> None:
    _write_ra(cpu, op, _s32(cpu.gpr[op.RS]) & MASK64)


def _trailing_zeros(x: int, width: int) -> int:
    return (x & -x).bit_length() - 1 if x else width


@implements("cntlzw")
def cntlzw(cpu, op) -> None:
    _write_ra(cpu, op, 32 - (cpu.gpr[op.RS] & MASK32).bit_length())


@implements("cntlzd")
def cntlzd(cpu, op) -> None:
    _write_ra(cpu, op, 64 - cpu.gpr[op.RS].bit_length())


@implements("cnttzw")
def cnttzw(cpu, op) -> None:
    _write_ra(cpu, op, _trailing_zeros(cpu.gpr[op.RS] & MASK32, 32))


@implements("cnttzd")
def cnttzd(cpu, op) -> None:
    _write_ra(cpu, op, _trailing_zeros(cpu.gpr[op.RS], 64))


@implements("cmpb")
def cmpb(cpu, op) -> None:
    # Each result byte is 0xFF where the bytes of RS and RB are equal, else 0.
    diff = cpu.gpr[op.RS] ^ cpu.gpr[op.RB]
    cpu.gpr[op.RA] = sum(0xFF << s for s in range(0, 64, 8) if not (diff >> s) & 0xFF)


def _popcounts(x: int, width: int) -> int:
    """The population count of each `width`-bit field of x, in that field."""
    mask = (1 << width) - 1
    return sum(bin((x >> s) & mask).count("1") << s for s in range(0, 64, width))


@implements("popcntb")
def popcntb(cpu, op) -> None:
    cpu.gpr[op.RA] = _popcounts(cpu.gpr[op.RS], 8)


@implements("popcntw")
def popcntw(cpu, op) -> None:
    cpu.gpr[op.RA] = _popcounts(cpu.gpr[op.RS], 32)


@implements("popcntd")
def popcntd(cpu, op) -> None:
    cpu.gpr[op.RA] = _popcounts(cpu.gpr[op.RS], 64)


def _byte_parity(x: int, nbytes: int) -> int:
    """The parity of the least significant bits of the low `nbytes` bytes of x."""
    return bin(x & int("01" * nbytes, 16)).count("1") & 1


@implements("prtyw")
def prtyw(cpu, op) -> None:
    rs = cpu.gpr[op.RS]
    cpu.gpr[op.RA] = (_byte_parity(rs >> 32, 4) << 32) | _byte_parity(rs, 4)


@implements("prtyd")
def prtyd(cpu, op) -> None:
    cpu.gpr[op.RA] = _byte_parity(cpu.gpr[op.RS], 8)


@implements("bpermd")
def bpermd(cpu, op) -> None:
    # Each byte of RS (most significant first) selects a bit of RB by its ISA bit number
    # (0 = most significant); indexes of 64 and above select 0.
    rs, rb = cpu.gpr[op.RS], cpu.gpr[op.RB]
    result = 0
    for shift in range(56, -8, -8):
        index = (rs >> shift) & 0xFF
        result = (result << 1) | ((rb >> (63 - index)) & 1 if index < 64 else 0)
    cpu.gpr[op.RA] = result


# --- Rotate (3.3.14.1) ----------------------------------------------------------------------

def _rotl64(x: int, n: int) -> int:
    n &= 63
    return ((x << n) | (x >> (64 - n))) & MASK64


def _rotl32(x: int, n: int) -> int:
    """ROTL32: the low word, doubled into both halves, rotated as a doubleword."""
    x &= MASK32
    return _rotl64(x | (x << 32), n)


def _mask(mb: int, me: int) -> int:
    """MASK(mb, me): ones from ISA bit mb through me, wrapping around if mb > me."""
    from_mb = MASK64 >> mb
    through_me = (MASK64 << (63 - me)) & MASK64
    return from_mb & through_me if mb <= me else from_mb | through_me


def _insert(cpu, op, rotated: int, mask: int) -> None:
    """rlwimi/rldimi: the masked bits of the rotated RS replace those bits of RA."""
    _write_ra(cpu, op, (rotated & mask) | (cpu.gpr[op.RA] & _not(mask)))


@implements("rlwinm")
def rlwinm(cpu, op) -> None:
    _write_ra(cpu, op, _rotl32(cpu.gpr[op.RS], op.SH) & _mask(op.MB + 32, op.ME + 32))


@implements("rlwnm")
def rlwnm(cpu, op) -> None:
    rotated = _rotl32(cpu.gpr[op.RS], cpu.gpr[op.RB] & 31)
    _write_ra(cpu, op, rotated & _mask(op.MB + 32, op.ME + 32))


@implements("rlwimi")
def rlwimi(cpu, op) -> None:
    _insert(cpu, op, _rotl32(cpu.gpr[op.RS], op.SH), _mask(op.MB + 32, op.ME + 32))


@implements("rldicl")
def rldicl(cpu, op) -> None:
    _write_ra(cpu, op, _rotl64(cpu.gpr[op.RS], op.SH6) & _mask(op.MB6, 63))


@implements("rldicr")
def rldicr(cpu, op) -> None:
    _write_ra(cpu, op, _rotl64(cpu.gpr[op.RS], op.SH6) & _mask(0, op.ME6))


@implements("rldic")
def rldic(cpu, op) -> None:
    _write_ra(cpu, op, _rotl64(cpu.gpr[op.RS], op.SH6) & _mask(op.MB6, 63 - op.SH6))


@implements("rldimi")
def rldimi(cpu, op) -> None:
    _insert(cpu, op, _rotl64(cpu.gpr[op.RS], op.SH6), _mask(op.MB6, 63 - op.SH6))


@implements("rldcl")
def rldcl(cpu, op) -> None:
    _write_ra(cpu, op, _rotl64(cpu.gpr[op.RS], cpu.gpr[op.RB]) & _mask(op.MB6, 63))


@implements("rldcr")
def rldcr(cpu, op) -> None:
    _write_ra(cpu, op, _rotl64(cpu.gpr[op.RS], cpu.gpr[op.RB]) & _mask(0, op.ME6))


# --- Shift (3.3.14.2) -----------------------------------------------------------------------

@implements("slw")
def slw(cpu, op) -> None:
    # The shift count is RB[58:63]: counts of 32 and above give 0.
    n = cpu.gpr[op.RB] & 63
    _write_ra(cpu, op, ((cpu.gpr[op.RS] << n) & MASK32) if n < 32 else 0)


@implements("srw")
def srw(cpu, op) -> None:
    n = cpu.gpr[op.RB] & 63
    _write_ra(cpu, op, ((cpu.gpr[op.RS] & MASK32) >> n) if n < 32 else 0)


@implements("sld")
def sld(cpu, op) -> None:
    # The shift count is RB[57:63]: counts of 64 and above give 0.
    n = cpu.gpr[op.RB] & 127
    _write_ra(cpu, op, ((cpu.gpr[op.RS] << n) & MASK64) if n < 64 else 0)


@implements("srd")
def srd(cpu, op) -> None:
    n = cpu.gpr[op.RB] & 127
    _write_ra(cpu, op, (cpu.gpr[op.RS] >> n) if n < 64 else 0)


def _shift_algebraic(cpu, op, value: int, n: int) -> None:
    """RA = signed `value` >> n; CA = CA32 = 1 if it is negative and 1 bits were shifted out."""
    cpu.ca = cpu.ca32 = int(value < 0 and value & ((1 << n) - 1) != 0)
    _write_ra(cpu, op, (value >> n) & MASK64)


@implements("srawi")
def srawi(cpu, op) -> None:
    _shift_algebraic(cpu, op, _s32(cpu.gpr[op.RS]), op.SH)


@implements("sraw")
def sraw(cpu, op) -> None:
    _shift_algebraic(cpu, op, _s32(cpu.gpr[op.RS]), min(cpu.gpr[op.RB] & 63, 32))


@implements("sradi")
def sradi(cpu, op) -> None:
    _shift_algebraic(cpu, op, _s64(cpu.gpr[op.RS]), op.SH6)


@implements("srad")
def srad(cpu, op) -> None:
    _shift_algebraic(cpu, op, _s64(cpu.gpr[op.RS]), min(cpu.gpr[op.RB] & 127, 64))


@implements("extswsli")
def extswsli(cpu, op) -> None:
    _write_ra(cpu, op, (_s32(cpu.gpr[op.RS]) << op.SH6) & MASK64)


# --- BCD assist (3.3.15) --------------------------------------------------------------------

def _dpd_to_bcd(dpd: int) -> int:
    """Three BCD digits from a 10-bit densely packed decimal declet pqr stu v wxy
    (IEEE 754-2008 3.5.2). A digit of 8 or 9 keeps only its low bit in the declet."""
    pqr, stu, wxy = dpd >> 7, (dpd >> 4) & 7, dpd & 7
    pq_y = (pqr & 6) | (wxy & 1)
    big_r, big_u, big_y = 8 | (pqr & 1), 8 | (stu & 1), 8 | (wxy & 1)
    if not dpd & 8:
        digits = (pqr, stu, wxy)
    elif wxy >> 1 == 0:
        digits = (pqr, stu, big_y)
    elif wxy >> 1 == 1:
        digits = (pqr, big_u, (stu & 6) | (wxy & 1))
    elif wxy >> 1 == 2:
        digits = (big_r, stu, pq_y)
    else:
        digits = ((big_r, big_u, pq_y), (big_r, (pqr & 6) | (stu & 1), big_y),
                  (pqr, big_u, big_y), (big_r, big_u, big_y))[stu >> 1]
    return digits[0] << 8 | digits[1] << 4 | digits[2]


# BCD -> canonical DPD: the first (pq = 00) declet that decodes to each digit triple.
_BCD_TO_DPD: Dict[int, int] = {}
for _dpd in range(1024):
    _BCD_TO_DPD.setdefault(_dpd_to_bcd(_dpd), _dpd)


@implements("cdtbcd")
def cdtbcd(cpu, op) -> None:
    # Each word: two declets (bits 12:31 of the word) become six BCD digits.
    rs = cpu.gpr[op.RS]
    result = 0
    for shift in (32, 0):
        word = rs >> shift
        digits = _dpd_to_bcd((word >> 10) & 0x3FF) << 12 | _dpd_to_bcd(word & 0x3FF)
        result |= digits << shift
    cpu.gpr[op.RA] = result


def _bcd_to_dpd(bcd: int) -> int:
    """A declet from three BCD digits. The ISA's boolean equations read only the low bit of
    a digit of 8 or more, so invalid digits (10-15) encode as 8 or 9 would."""
    key = 0
    for shift in (8, 4, 0):
        digit = (bcd >> shift) & 0xF
        key = key << 4 | ((8 | digit & 1) if digit & 8 else digit)
    return _BCD_TO_DPD[key]


@implements("cbcdtd")
def cbcdtd(cpu, op) -> None:
    # Each word: six BCD digits (bits 8:31 of the word) become two declets.
    rs = cpu.gpr[op.RS]
    result = 0
    for shift in (32, 0):
        word = rs >> shift
        result |= (_bcd_to_dpd(word >> 12) << 10 | _bcd_to_dpd(word)) << shift
    cpu.gpr[op.RA] = result


@implements("addg6s")
def addg6s(cpu, op) -> None:
    # 6 in every digit of the sum RA + RB that produced no decimal carry.
    a, b = cpu.gpr[op.RA], cpu.gpr[op.RB]
    result = 0
    for i in range(16):
        low = (1 << (64 - 4 * i)) - 1
        if not ((a & low) + (b & low)) >> (64 - 4 * i):
            result |= 6 << (60 - 4 * i)
    cpu.gpr[op.RT] = result


# --- Deliver a random number (3.3.17) -------------------------------------------------------

_DARN_SEED = 0x5050_4344_4441_524E   # "PPCDDARN": a fixed seed, so runs are reproducible


def _random64(cpu) -> int:
    """A SplitMix64 hash of (seed, PIR, timebase): deterministic, and with no hidden state
    it survives save/restore and migration unchanged."""
    z = (_DARN_SEED + (cpu.pir << 48) + cpu.tb + 0x9E37_79B9_7F4A_7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB) & MASK64
    return z ^ (z >> 31)


@implements("darn")
def darn(cpu, op) -> None:
    # L=0: a 32-bit number; L=1 (conditioned) and L=2 (raw): 64 bits, never all ones,
    # which is the error value. L=3 is reserved and QEMU returns the error value.
    if op.L14 == 0:
        cpu.gpr[op.RT] = _random64(cpu) & MASK32
    elif op.L14 == 3:
        cpu.gpr[op.RT] = MASK64
    else:
        cpu.gpr[op.RT] = _random64(cpu) % MASK64
