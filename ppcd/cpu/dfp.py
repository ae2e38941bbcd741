"""Decimal floating-point formats (Power ISA 3.0 Book I 5.3): DPD encoding and contexts.

The arithmetic is Python's `decimal` module, which implements the General Decimal Arithmetic
specification that IEEE 754-2008 decimal arithmetic (and so the ISA's DFP) follows; this
module only moves values between the register images and `Decimal`, and builds the
contexts for each format and rounding mode. A DFP datum is a sign bit, a 5-bit combination
field G (the exponent's two high bits and the leftmost coefficient digit, or infinity/NaN),
an exponent continuation field and a coefficient continuation field of 10-bit declets, each
holding three digits in densely packed decimal (Book I 5.3.3, 5.3.4).
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import List, NamedTuple, Tuple


class Format(NamedTuple):
    """One DFP format: width, precision, exponent continuation width and bias (Book I 5.3)."""

    name: str
    bits: int
    prec: int
    ecbits: int         # exponent continuation bits
    bias: int
    alpha: int          # exponent adjustment of enabled overflow/underflow (Book I 5.5.10)

    @property
    def declets(self) -> int:
        return (self.prec - 1) // 3

    @property
    def emax(self) -> int:
        return 3 * (1 << self.ecbits) - 1 - self.bias + self.prec - 1

    @property
    def emin(self) -> int:
        return 1 - self.emax

    @property
    def etiny(self) -> int:
        """The smallest (unbiased) exponent: biased exponent 0."""
        return -self.bias

    @property
    def etop(self) -> int:
        """The largest (unbiased) exponent."""
        return 3 * (1 << self.ecbits) - 1 - self.bias

    @property
    def max_biased(self) -> int:
        return 3 * (1 << self.ecbits) - 1


SHORT = Format("short", 32, 7, 6, 101, 0)
LONG = Format("long", 64, 16, 8, 398, 576)
EXTENDED = Format("extended", 128, 34, 12, 6176, 9216)

FINITE, INFINITY, QNAN, SNAN = "finite", "infinity", "qnan", "snan"


# --- densely packed decimal (Book I 5.3.4; IEEE 754-2008 3.5.2) ------------------------------

def _decode_declet(code: int) -> int:
    """The three-digit value of a 10-bit declet pqr stu v wxy; non-canonical codes included."""
    p, q, r = (code >> 9) & 1, (code >> 8) & 1, (code >> 7) & 1
    s, t, u = (code >> 6) & 1, (code >> 5) & 1, (code >> 4) & 1
    v, w, x, y = (code >> 3) & 1, (code >> 2) & 1, (code >> 1) & 1, code & 1
    pqr, stu, wxy = code >> 7, (code >> 4) & 7, code & 7
    if not v:
        digits = (pqr, stu, wxy)
    elif (w, x) == (0, 0):
        digits = (pqr, stu, 8 + y)
    elif (w, x) == (0, 1):
        digits = (pqr, 8 + u, 4 * s + 2 * t + y)
    elif (w, x) == (1, 0):
        digits = (8 + r, stu, 4 * p + 2 * q + y)
    elif (s, t) == (0, 0):
        digits = (8 + r, 8 + u, 4 * p + 2 * q + y)
    elif (s, t) == (0, 1):
        digits = (8 + r, 4 * p + 2 * q + u, 8 + y)
    elif (s, t) == (1, 0):
        digits = (pqr, 8 + u, 8 + y)
    else:
        digits = (8 + r, 8 + u, 8 + y)
    return 100 * digits[0] + 10 * digits[1] + digits[2]


DECLET_VALUE: List[int] = [_decode_declet(c) for c in range(1024)]
# The canonical code of each value: the smallest code decoding to it (the 24 non-canonical
# codes differ from theirs in the "pq" bits, which are high bits).
DECLET_CODE: List[int] = [0] * 1000
for _code in range(1023, -1, -1):
    DECLET_CODE[DECLET_VALUE[_code]] = _code


def decode_coefficient(trailing: int, declets: int) -> int:
    """The integer a coefficient continuation field of `declets` declets encodes."""
    value = 0
    for i in range(declets - 1, -1, -1):
        value = value * 1000 + DECLET_VALUE[(trailing >> (10 * i)) & 0x3FF]
    return value


def encode_coefficient(value: int, declets: int) -> int:
    """The canonical declets of the low 3*`declets` digits of `value`."""
    trailing = 0
    for i in range(declets):
        value, digits = divmod(value, 1000)
        trailing |= DECLET_CODE[digits] << (10 * i)
    return trailing


# --- register images --------------------------------------------------------------------------

class Fields(NamedTuple):
    """A DFP datum taken apart: for a finite number, value = (-1)**sign * coefficient *
    10**(exponent - bias); for a NaN, `coefficient` is the trailing significand (the payload:
    the leftmost digit is taken as 0), for an infinity 0; `exponent` is then meaningless."""

    sign: int
    kind: str
    coefficient: int
    exponent: int


def _trailing_bits(fmt: Format) -> int:
    return 10 * fmt.declets


def unpack(bits: int, fmt: Format) -> Fields:
    """Take a register image apart (Book I 5.3.3 figure "Encoding of the G field")."""
    width = fmt.bits
    sign = bits >> (width - 1) & 1
    g = bits >> (width - 6) & 0x1F
    tbits = _trailing_bits(fmt)
    econt = bits >> tbits & ((1 << fmt.ecbits) - 1)
    trailing = decode_coefficient(bits & ((1 << tbits) - 1), fmt.declets)
    if g >> 1 == 0b1111:
        if g == 0b11110:
            # An infinity's trailing significand is ignored (IEEE 754-2008 3.5.2).
            return Fields(sign, INFINITY, 0, 0)
        return Fields(sign, SNAN if econt >> (fmt.ecbits - 1) else QNAN, trailing, 0)
    if g >> 3 == 0b11:
        high, lmd = (g >> 1) & 3, 8 + (g & 1)
    else:
        high, lmd = g >> 3, g & 7
    exponent = (high << fmt.ecbits) | econt
    return Fields(sign, FINITE, lmd * 10 ** (3 * fmt.declets) + trailing, exponent)


def pack(fields: Fields, fmt: Format) -> int:
    """The canonical register image of `fields` (coefficient and exponent must fit)."""
    width, tbits = fmt.bits, _trailing_bits(fmt)
    sign = fields.sign << (width - 1)
    if fields.kind == INFINITY:
        return sign | 0b11110 << (width - 6)
    scale = 10 ** (3 * fmt.declets)
    if fields.kind in (QNAN, SNAN):
        snan = (1 << (fmt.ecbits - 1)) << tbits if fields.kind == SNAN else 0
        return (sign | 0b11111 << (width - 6) | snan
                | encode_coefficient(fields.coefficient % scale, fmt.declets))
    lmd, rest = divmod(fields.coefficient, scale)
    high, econt = fields.exponent >> fmt.ecbits, fields.exponent & ((1 << fmt.ecbits) - 1)
    g = (0b11000 | high << 1 | (lmd & 1)) if lmd >= 8 else (high << 3 | lmd)
    return sign | g << (width - 6) | econt << tbits | encode_coefficient(rest, fmt.declets)


def to_decimal(bits: int, fmt: Format) -> Decimal:
    f = unpack(bits, fmt)
    if f.kind == FINITE:
        return Decimal((f.sign, _digits(f.coefficient), f.exponent - fmt.bias))
    if f.kind == INFINITY:
        return Decimal((f.sign, (0,), "F"))
    payload = _digits(f.coefficient) if f.coefficient else ()
    return Decimal((f.sign, payload, "N" if f.kind == SNAN else "n"))


def _digits(value: int) -> Tuple[int, ...]:
    return tuple(int(c) for c in str(value))


def fields_of(d: Decimal, fmt: Format) -> Fields:
    """`d` (which must fit `fmt`) as Fields; a NaN keeps the low prec-1 digits of its
    payload, as the decimal module and libdecnumber round a NaN."""
    sign, digits, exponent = d.as_tuple()
    coefficient = int("".join(map(str, digits)) or "0")
    if d.is_infinite():
        return Fields(sign, INFINITY, 0, 0)
    if d.is_nan():
        coefficient %= 10 ** (fmt.prec - 1)
        return Fields(sign, SNAN if d.is_snan() else QNAN, coefficient, 0)
    return Fields(sign, FINITE, coefficient, exponent + fmt.bias)


def from_decimal(d: Decimal, fmt: Format) -> int:
    return pack(fields_of(d, fmt), fmt)


# --- contexts and classes --------------------------------------------------------------------

# FPSCR[DRN] (Book I 5.2.2, 5.5.2): round to nearest even, toward zero, toward +inf, toward
# -inf, to nearest away from zero, to nearest toward zero, away from zero, and round to
# prepare for shorter precision, which is the decimal module's ROUND_05UP: truncate, then
# take the larger magnitude if the kept last digit is 0 or 5 and the result is inexact.
ROUNDING_BY_DRN = (decimal.ROUND_HALF_EVEN, decimal.ROUND_DOWN, decimal.ROUND_CEILING,
                   decimal.ROUND_FLOOR, decimal.ROUND_HALF_UP, decimal.ROUND_HALF_DOWN,
                   decimal.ROUND_UP, decimal.ROUND_05UP)
# The RMC field of the quantize and round-to-integer instructions (Book I 5.6.5, figure
# "Primary and secondary encoding of rounding mode"): R=0 and R=1 tables; None means DRN.
ROUNDING_BY_RMC = ((decimal.ROUND_HALF_EVEN, decimal.ROUND_DOWN, decimal.ROUND_HALF_UP, None),
                   (decimal.ROUND_CEILING, decimal.ROUND_FLOOR, decimal.ROUND_UP,
                    decimal.ROUND_HALF_DOWN))


def context(fmt: Format, rounding: str, bounded: bool = True) -> decimal.Context:
    """A context that rounds to `fmt`: its precision, exponent range and clamping (a large
    exponent is folded down by padding the coefficient with zeros). `bounded=False` keeps the
    precision but not the exponent range (the exponent-adjusted results of enabled overflow
    and underflow)."""
    if bounded:
        return decimal.Context(prec=fmt.prec, rounding=rounding, Emin=fmt.emin, Emax=fmt.emax,
                               clamp=1, traps=[])
    return decimal.Context(prec=fmt.prec, rounding=rounding, Emin=decimal.MIN_EMIN,
                           Emax=decimal.MAX_EMAX, traps=[])


# FPRF result classes (Book I 4.2.2 figure "Floating-Point Result Flags", shared with DFP).
CLASS_SNAN = 0b00001        # only dctdp can deliver an SNaN; QEMU 7.2's code for it
CLASS_QNAN = 0b10001


def fprf(d: Decimal, fmt: Format) -> int:
    """The FPRF class of a result in format `fmt`."""
    if d.is_snan():
        return CLASS_SNAN
    if d.is_qnan():
        return CLASS_QNAN
    negative = d.is_signed()
    if d.is_infinite():
        return 0b01001 if negative else 0b00101
    if d.is_zero():
        return 0b10010 if negative else 0b00010
    if d.adjusted() < fmt.emin:
        return 0b11000 if negative else 0b10100
    return 0b01000 if negative else 0b00100
