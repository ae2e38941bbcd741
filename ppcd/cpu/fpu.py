"""Binary floating-point arithmetic as the Power ISA defines it (Book I 4.3-4.5).

Python floats round only to nearest and do not report inexactness, so every operation here
is exact integer arithmetic: operands are unpacked to sign, integer significand and binary
exponent, the exact result is formed (with a sticky bit where it has infinitely many
digits), and one routine, `round_pack`, rounds it to double or single precision in any of
the four modes of FPSCR[RN]. Each operation returns the result as a 64-bit double image
(single-precision results are stored in double format, Book I 4.3.2) together with the
FPSCR exception and status bits it raises; the semantics merge those into the FPSCR.
"""

from __future__ import annotations

from math import isqrt
from typing import Optional, Tuple

MASK64 = 0xFFFF_FFFF_FFFF_FFFF
SIGN = 1 << 63
EXP_MASK = 0x7FF0_0000_0000_0000
FRAC_MASK = 0x000F_FFFF_FFFF_FFFF
QUIET = 1 << 51
DEFAULT_QNAN = 0x7FF8_0000_0000_0000
INF = EXP_MASK

# FPSCR bits (Book I 4.2.2) in the low word of the 64-bit FPSCR image: ISA bit 32+i is
# 1 << (31 - i).
FX = 1 << 31
FEX = 1 << 30
VX = 1 << 29
OX = 1 << 28
UX = 1 << 27
ZX = 1 << 26
XX = 1 << 25
VXSNAN = 1 << 24
VXISI = 1 << 23
VXIDI = 1 << 22
VXZDZ = 1 << 21
VXIMZ = 1 << 20
VXVC = 1 << 19
FR = 1 << 18
FI = 1 << 17
FPRF_SHIFT = 12
FPRF = 0x1F << FPRF_SHIFT
FPCC = 0xF << FPRF_SHIFT
VXSOFT = 1 << 10
VXSQRT = 1 << 9
VXCVI = 1 << 8
VE = 1 << 7
OE = 1 << 6
UE = 1 << 5
ZE = 1 << 4
XE = 1 << 3
NI = 1 << 2
RN = 3
DRN = 7 << 32           # decimal rounding mode, the only defined bits of the high word

VX_CAUSES = VXSNAN | VXISI | VXIDI | VXZDZ | VXIMZ | VXVC | VXSOFT | VXSQRT | VXCVI
# Exception bits that set FX when they change from 0 to 1.
EXCEPTIONS = OX | UX | ZX | XX | VX_CAUSES
ENABLES = VE | OE | UE | ZE | XE

# FPSCR[RN] rounding modes (Book I 4.3.6).
ROUND_NEAREST, ROUND_ZERO, ROUND_UP, ROUND_DOWN = 0, 1, 2, 3

# FPRF result classes (Book I 4.2.2, figure "Floating-Point Result Flags"): C FL FG FE FU.
_QNAN_CLASS = 0b10001
_INF_CLASS = 0b00101
_NORMAL_CLASS = 0b00100
_DENORMAL_CLASS = 0b10100
_ZERO_CLASS = 0b00010
_NEGATIVE_CLASSES = {_INF_CLASS: 0b01001, _NORMAL_CLASS: 0b01000,
                     _DENORMAL_CLASS: 0b11000, _ZERO_CLASS: 0b10010}

Result = Tuple[int, int]        # (64-bit double image, FPSCR bits raised)


class Format:
    """A binary format: significand bits, exponent range, and the exponent adjustment an
    enabled overflow or underflow applies to the delivered result (Book I 4.4.3, 4.4.4)."""

    __slots__ = ("prec", "emin", "emax", "adjust")

    def __init__(self, prec: int, emin: int, emax: int, adjust: int) -> None:
        self.prec = prec
        self.emin = emin
        self.emax = emax
        self.adjust = adjust


DOUBLE = Format(53, -1022, 1023, 1536)
SINGLE = Format(24, -126, 127, 192)


# --- classification ------------------------------------------------------------------------

def is_nan(x: int) -> bool:
    return (x & ~SIGN) > INF


def is_snan(x: int) -> bool:
    return is_nan(x) and not x & QUIET


def is_inf(x: int) -> bool:
    return (x & ~SIGN) == INF


def is_zero(x: int) -> bool:
    return not x & ~SIGN


def sign_of(x: int) -> int:
    return x >> 63


def exponent_field(x: int) -> int:
    return (x >> 52) & 0x7FF


def unpack(x: int) -> Tuple[int, int, int]:
    """A finite double as (sign, significand, exponent): value = significand * 2**exponent."""
    e = exponent_field(x)
    frac = x & FRAC_MASK
    if e:
        return x >> 63, frac | (1 << 52), e - 1075
    return x >> 63, frac, -1074


def quiet(x: int) -> int:
    return x | QUIET


def fprf(x: int, fmt: Format = DOUBLE) -> int:
    """The FPRF class of a result; single-precision results are classed in single format."""
    if is_nan(x):
        return _QNAN_CLASS
    if is_inf(x):
        cls = _INF_CLASS
    elif is_zero(x):
        cls = _ZERO_CLASS
    else:
        _, mant, exp = unpack(x)
        cls = _NORMAL_CLASS if exp + mant.bit_length() - 1 >= fmt.emin else _DENORMAL_CLASS
    return _NEGATIVE_CLASSES[cls] if x >> 63 else cls


# --- rounding --------------------------------------------------------------------------------

def _round_up(sign: int, q: int, rem: int, half: int, mode: int) -> bool:
    """Whether truncating to `q` with remainder `rem` (half-way point `half`) rounds away."""
    if mode == ROUND_NEAREST:
        return rem > half or (rem == half and bool(q & 1))
    if mode == ROUND_ZERO or not rem:
        return False
    return (mode == ROUND_UP) != bool(sign)


def pack(sign: int, mant: int, exp: int) -> int:
    """The double image of sign * mant * 2**exp, a value exactly representable as a double."""
    if not mant:
        return sign << 63
    n = mant.bit_length()
    top = exp + n - 1
    if top >= -1022:
        return (sign << 63) | ((top + 1023) << 52) | ((mant << (53 - n)) & FRAC_MASK)
    return (sign << 63) | (mant << (exp + 1074))


def _overflow_result(sign: int, fmt: Format, mode: int) -> int:
    """Overflow with OE=0: infinity or the largest finite number, by rounding mode (4.4.3)."""
    toward_zero = mode == ROUND_ZERO or (mode == ROUND_UP and sign) or \
        (mode == ROUND_DOWN and not sign)
    if toward_zero:
        return pack(sign, (1 << fmt.prec) - 1, fmt.emax - fmt.prec + 1)
    return (sign << 63) | INF


def round_pack(sign: int, mant: int, exp: int, fmt: Format, fpscr: int,
               sticky: bool = False) -> Result:
    """Round sign * (mant + sticky*epsilon) * 2**exp to `fmt` in mode FPSCR[RN].

    `sticky` says the exact value lies strictly between mant and mant + 1 (a quotient or
    root with a nonzero remainder). Tininess is detected before rounding; with UE or OE set
    the result is delivered with its exponent adjusted (Book I 4.4.3-4.4.4). Returns the
    double image and the FPSCR bits raised (OX UX XX FI FR).
    """
    mode = fpscr & RN
    if sticky:
        mant, exp = (mant << 2) | 1, exp - 2
    if not mant:
        return sign << 63, 0
    flags = 0
    top = exp + mant.bit_length() - 1
    adjust = 0
    tiny = top < fmt.emin
    quantum = top - fmt.prec + 1
    if tiny and fpscr & UE:
        flags |= UX
        adjust = fmt.adjust
    elif tiny:
        quantum = fmt.emin - fmt.prec + 1
    shift = quantum - exp
    if shift <= 0:
        q, inexact = mant << -shift, False
    else:
        q = mant >> shift
        rem = mant - (q << shift)
        inexact = rem != 0
        if _round_up(sign, q, rem, 1 << (shift - 1), mode):
            q += 1
            flags |= FR
            if q.bit_length() > fmt.prec:
                q >>= 1
                quantum += 1
    if inexact:
        flags |= FI | XX
        if tiny:
            flags |= UX
    if q and quantum + q.bit_length() - 1 > fmt.emax:
        if not fpscr & OE:
            return _overflow_result(sign, fmt, mode), OX | XX | FI
        flags |= OX
        adjust = -fmt.adjust
    if adjust and q and not DOUBLE.emin <= quantum + adjust + q.bit_length() - 1 <= DOUBLE.emax:
        # Still outside the double range after the adjustment: only single-precision
        # operations on operands outside the single range get here, and the ISA leaves their
        # results undefined (Book I 4.3.5.1). Deliver the adjusted value rounded to double.
        return round_pack(sign, q, quantum + adjust, DOUBLE, fpscr & ~(OE | UE))[0], flags
    return pack(sign, q, quantum + adjust), flags


# --- NaN operands ------------------------------------------------------------------------------

def nan_operand(*operands: int) -> Optional[Result]:
    """The result when an operand is a NaN: the first NaN in ISA order (FRA, FRB, FRC),
    quieted, and VXSNAN if any operand is a signaling NaN (Book I 4.3.2, 4.4.1)."""
    first = None
    flags = 0
    for x in operands:
        if is_nan(x):
            if first is None:
                first = x
            if is_snan(x):
                flags |= VXSNAN
    if first is None:
        return None
    return quiet(first), flags


def to_single_nan(x: int) -> int:
    """A NaN result of a single-precision instruction: its fraction cut to single width."""
    return x & ~((1 << 29) - 1)


def _finish(result: Result, fmt: Format) -> Result:
    bits, flags = result
    if fmt is SINGLE and is_nan(bits):
        bits = to_single_nan(bits)
    return bits, flags


# --- arithmetic --------------------------------------------------------------------------------

def _sum(sa: int, ma: int, ea: int, sb: int, mb: int, eb: int, fmt: Format,
         fpscr: int) -> Result:
    """Round the exact sum of two finite values; an exact zero is -0 only in round-down mode
    or when both addends are -0 (IEEE 754 6.3)."""
    e = min(ea, eb)
    total = (-ma if sa else ma) * (1 << (ea - e)) + (-mb if sb else mb) * (1 << (eb - e))
    if total == 0:
        if sa == sb and not (ma or mb):
            return sa << 63, 0
        return (1 << 63 if (fpscr & RN) == ROUND_DOWN else 0), 0
    return round_pack(int(total < 0), abs(total), e, fmt, fpscr)


def add(a: int, b: int, fpscr: int, fmt: Format = DOUBLE, negate_b: bool = False) -> Result:
    """fadd (and fsub with negate_b): Book I 4.6.6.1."""
    nan = nan_operand(a, b)
    if nan:
        return _finish(nan, fmt)
    sb_flip = int(negate_b)
    if is_inf(a) or is_inf(b):
        if is_inf(a) and is_inf(b) and sign_of(a) != sign_of(b) ^ sb_flip:
            return DEFAULT_QNAN, VXISI
        return (a if is_inf(a) else b ^ (sb_flip << 63)), 0
    sa, ma, ea = unpack(a)
    sb, mb, eb = unpack(b)
    return _sum(sa, ma, ea, sb ^ sb_flip, mb, eb, fmt, fpscr)


def mul(a: int, c: int, fpscr: int, fmt: Format = DOUBLE) -> Result:
    """fmul: Book I 4.6.6.1."""
    nan = nan_operand(a, c)
    if nan:
        return _finish(nan, fmt)
    sign = sign_of(a) ^ sign_of(c)
    if is_inf(a) or is_inf(c):
        if is_zero(a) or is_zero(c):
            return DEFAULT_QNAN, VXIMZ
        return (sign << 63) | INF, 0
    _, ma, ea = unpack(a)
    _, mc, ec = unpack(c)
    return round_pack(sign, ma * mc, ea + ec, fmt, fpscr)


def div(a: int, b: int, fpscr: int, fmt: Format = DOUBLE) -> Result:
    """fdiv: Book I 4.6.6.1. A zero divisor of a finite dividend raises ZX."""
    nan = nan_operand(a, b)
    if nan:
        return _finish(nan, fmt)
    sign = sign_of(a) ^ sign_of(b)
    if is_inf(a):
        if is_inf(b):
            return DEFAULT_QNAN, VXIDI
        return (sign << 63) | INF, 0
    if is_inf(b):
        return sign << 63, 0
    if is_zero(b):
        if is_zero(a):
            return DEFAULT_QNAN, VXZDZ
        return (sign << 63) | INF, ZX
    if is_zero(a):
        return sign << 63, 0
    _, ma, ea = unpack(a)
    _, mb, eb = unpack(b)
    k = max(0, fmt.prec + 3 + mb.bit_length() - ma.bit_length())
    q, r = divmod(ma << k, mb)
    return round_pack(sign, q, ea - eb - k, fmt, fpscr, sticky=r != 0)


def sqrt(b: int, fpscr: int, fmt: Format = DOUBLE) -> Result:
    """fsqrt: Book I 4.6.6.1. The root of -0 is -0; of any other negative value, VXSQRT."""
    nan = nan_operand(b)
    if nan:
        return _finish(nan, fmt)
    if is_zero(b):
        return b, 0
    if sign_of(b):
        return DEFAULT_QNAN, VXSQRT
    if is_inf(b):
        return b, 0
    _, mb, eb = unpack(b)
    k = max(0, 2 * (fmt.prec + 3) - mb.bit_length())
    if (eb - k) & 1:
        k += 1
    scaled = mb << k
    root = isqrt(scaled)
    return round_pack(0, root, (eb - k) // 2, fmt, fpscr, sticky=root * root != scaled)


def muladd(a: int, c: int, b: int, fpscr: int, fmt: Format = DOUBLE,
           negate_b: bool = False, negate_result: bool = False) -> Result:
    """fmadd family: (FRA * FRC) +/- FRB with one rounding, optionally negated after
    rounding (fnmadd, fnmsub; a NaN result is not negated). Book I 4.6.6.2."""
    flags = 0
    if (is_inf(a) and is_zero(c)) or (is_zero(a) and is_inf(c)):
        flags = VXIMZ       # raised even when FRB is a quiet NaN
    nan = nan_operand(a, b, c)
    if nan:
        bits, nan_flags = _finish(nan, fmt)
        return bits, nan_flags | flags
    if flags:
        return DEFAULT_QNAN, flags
    sp = sign_of(a) ^ sign_of(c)
    sb = sign_of(b) ^ int(negate_b)
    if is_inf(a) or is_inf(c):
        if is_inf(b) and sb != sp:
            return DEFAULT_QNAN, VXISI
        bits, flags = (sp << 63) | INF, 0
    elif is_inf(b):
        bits, flags = (sb << 63) | INF, 0
    else:
        _, ma, ea = unpack(a)
        _, mc, ec = unpack(c)
        _, mb, eb = unpack(b)
        bits, flags = _sum(sp, ma * mc, ea + ec, sb, mb, eb, fmt, fpscr)
    if negate_result:
        bits ^= SIGN
    return bits, flags


def round_to_single(b: int, fpscr: int) -> Result:
    """frsp: Book I 4.6.7.1."""
    nan = nan_operand(b)
    if nan:
        return _finish(nan, SINGLE)
    if is_inf(b) or is_zero(b):
        return b, 0
    sign, mant, exp = unpack(b)
    return round_pack(sign, mant, exp, SINGLE, fpscr)


def reciprocal_estimate(b: int, fpscr: int, fmt: Format = DOUBLE) -> Result:
    """fre/fres: 1/FRB correctly rounded, as QEMU 7.2 computes the estimate (POWER9's own
    estimate differs in low-order bits, within the ISA's 1/16384 bound). A zero operand
    gives an infinity and ZX as the ISA says; QEMU 7.2 returns 1/2 there."""
    return div(0x3FF0_0000_0000_0000, b, fpscr, fmt)


def rsqrt_estimate(b: int, fpscr: int, fmt: Format = DOUBLE) -> Result:
    """frsqrte/frsqrtes: 1/sqrt(FRB) as QEMU 7.2 computes it, the square root rounded to
    double then divided into 1 (flags of both steps). The ISA only bounds the error."""
    nan = nan_operand(b)
    if nan:
        return _finish(nan, fmt)
    if is_zero(b):
        return (sign_of(b) << 63) | INF, ZX
    root, flags = sqrt(b, fpscr, DOUBLE)
    if flags & VXSQRT:
        return root, flags
    bits, div_flags = div(0x3FF0_0000_0000_0000, root, fpscr, fmt)
    return bits, (flags & (XX | FI)) | div_flags


# --- conversions -------------------------------------------------------------------------------

def round_to_integer(b: int, mode: int, ties_away: bool = False) -> Tuple[int, int]:
    """The finite double FRB rounded to an integer in `mode` (or to nearest with ties away
    from zero, for frin): returns the integer and the FI/FR/XX bits of that rounding."""
    sign, mant, exp = unpack(b)
    if exp >= 0:
        return (-1 if sign else 1) * (mant << exp), 0
    shift = -exp
    q = mant >> shift
    rem = mant - (q << shift)
    half = 1 << (shift - 1)
    if ties_away:
        up = rem >= half
    else:
        up = _round_up(sign, q, rem, half, mode)
    q += int(up)
    flags = (FI | XX) if rem else 0
    return (-q if sign else q), flags | (FR if up else 0)


def to_integer(b: int, fpscr: int, bits: int, signed: bool, toward_zero: bool) -> Result:
    """fctid/fctiw and their unsigned and round-toward-zero forms (Book I 4.6.7.2): the
    integer in the low `bits` bits; NaN and out-of-range values saturate with VXCVI."""
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if is_nan(b):
        # FRT[0:31] of the word forms is undefined: for a NaN, 0 as in QEMU 7.2, elsewhere
        # the sign extension of the word.
        flags = VXCVI | (VXSNAN if is_snan(b) else 0)
        return lo & ((1 << bits) - 1), flags
    if is_inf(b):
        return ((lo if sign_of(b) else hi) & MASK64), VXCVI
    value, flags = round_to_integer(b, ROUND_ZERO if toward_zero else fpscr & RN)
    if value < lo or value > hi:
        return ((lo if value < lo else hi) & MASK64), VXCVI
    return value & MASK64, flags


def from_integer(b: int, fpscr: int, fmt: Format, signed: bool) -> Result:
    """fcfid/fcfids/fcfidu/fcfidus: the 64-bit integer in FRB, rounded (Book I 4.6.7.2)."""
    value = b - (1 << 64) if signed and b >> 63 else b
    if not value:
        return 0, 0
    return round_pack(int(value < 0), abs(value), 0, fmt, fpscr)


def round_to_integral(b: int, mode: int, ties_away: bool = False) -> Result:
    """frin/friz/frip/frim: FRB rounded to an integral double; never inexact (4.6.7.3)."""
    nan = nan_operand(b)
    if nan:
        return nan
    if is_inf(b) or is_zero(b) or exponent_field(b) >= 1075:
        return b, 0
    value, _ = round_to_integer(b, mode, ties_away)
    return pack(sign_of(b), abs(value), 0), 0


# --- comparison --------------------------------------------------------------------------------

CC_LT, CC_GT, CC_EQ, CC_UN = 8, 4, 2, 1


def compare(a: int, b: int) -> int:
    """The FPCC code of FRA compared with FRB: FL, FG, FE or FU (Book I 4.6.8)."""
    if is_nan(a) or is_nan(b):
        return CC_UN
    va, vb = _signed_key(a), _signed_key(b)
    if va < vb:
        return CC_LT
    return CC_GT if va > vb else CC_EQ


def _signed_key(x: int) -> int:
    """An integer that orders finite and infinite doubles by value (both zeros equal)."""
    magnitude = x & ~SIGN
    return -magnitude if x >> 63 else magnitude


# --- storage format conversions ----------------------------------------------------------------

def single_to_double(word: int) -> int:
    """The Floating-Point Load conversion of lfs (Book I 4.6.2): exact, NaNs kept as they are."""
    sign = word >> 31
    e = (word >> 23) & 0xFF
    frac = word & 0x7F_FFFF
    if e == 0xFF:
        return (sign << 63) | INF | (frac << 29)
    if e:
        return (sign << 63) | ((e - 127 + 1023) << 52) | (frac << 29)
    return pack(sign, frac, -149)


def double_to_single(x: int) -> int:
    """The Floating-Point Store conversion of stfs (Book I 4.6.3): bits are selected, not
    rounded. Below the single denormal range the ISA leaves the result undefined; like
    QEMU 7.2 ppcd stores a signed zero there."""
    e = exponent_field(x)
    if e > 896 or not x & ~SIGN:
        return ((x >> 32) & 0xC000_0000) | ((x >> 29) & 0x3FFF_FFFF)
    word = (x >> 63) << 31
    if e >= 874:
        word |= ((1 << 52) | (x & FRAC_MASK)) >> (926 - e)
    return word
