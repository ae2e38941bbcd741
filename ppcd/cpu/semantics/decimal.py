"""Semantics of the decimal floating-point facility (Power ISA 3.0 Book I chapter 5).

Operands are register images (ppcd.cpu.dfp turns them into `Decimal`s and back); the
arithmetic is the decimal module under a context of the target format, rounding by
FPSCR[DRN] or the instruction's RMC field. The FPSCR is updated as for binary floating
point (semantics/floatingpoint.py): FX on a new exception, the VX and FEX summaries, CR1 for
Rc=1, and the program interrupt when an enabled exception occurs with MSR[FE0,FE1] != 0.
Invalid operation and zero divide with their enable set leave the target and FPRF unchanged
and clear FR and FI (Book I 5.5.10); enabled overflow and underflow deliver the result with
its exponent adjusted by alpha (576 long, 9216 extended). FR is set when rounding increased
the magnitude, FI when the result is inexact.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Callable, Optional

from .. import dfp
from .. import fpu as F
from ..state import MASK64
from . import implements
from .floatingpoint import _record, _set_status

_INT64_MIN = 1 << 63
_INT64_MAX = (1 << 63) - 1
_QUIET_NAN = Decimal("NaN")


# --- registers -------------------------------------------------------------------------------

def _quad(op) -> bool:
    """The extended forms are opcode 63."""
    return op.word >> 26 == 63


def _format(op) -> dfp.Format:
    return dfp.EXTENDED if _quad(op) else dfp.LONG


def _read_bits(cpu, reg: int, fmt: dfp.Format) -> int:
    """A long operand from one FPR, an extended one from the pair reg, reg+1 (high first)."""
    if fmt is dfp.EXTENDED:
        return cpu.fpr[reg] << 64 | cpu.fpr[reg + 1]
    return cpu.fpr[reg]


def _write_bits(cpu, reg: int, bits: int, fmt: dfp.Format) -> None:
    if fmt is dfp.EXTENDED:
        cpu.fpr[reg], cpu.fpr[reg + 1] = bits >> 64, bits & MASK64
    else:
        cpu.fpr[reg] = bits


def _operand(cpu, op, name: str, fmt: dfp.Format) -> Decimal:
    reg = getattr(op, name + "p") if name + "p" in op.insn.fields else getattr(op, name)
    return dfp.to_decimal(_read_bits(cpu, reg, fmt), fmt)


def _target(op) -> int:
    return op.FRTp if "FRTp" in op.insn.fields else op.FRT


# --- rounding and FPSCR -----------------------------------------------------------------------

def _drn_rounding(cpu) -> str:
    return dfp.ROUNDING_BY_DRN[(cpu.fpscr & F.DRN) >> 32]


def _rmc_rounding(cpu, r: int, rmc: int) -> str:
    return dfp.ROUNDING_BY_RMC[r][rmc] or _drn_rounding(cpu)


class _Outcome:
    """A rounded result and the FPSCR status it raises (exception bits, FR, FI)."""

    __slots__ = ("value", "flags", "fr", "fi")

    def __init__(self, value: Decimal, flags: int = 0, fr: bool = False,
                 fi: bool = False) -> None:
        self.value = value
        self.flags = flags
        self.fr = fr
        self.fi = fi


def _evaluate(compute: Callable[[decimal.Context], Decimal], fmt: dfp.Format, rounding: str,
              fpscr: int, invalid: Callable[[], int] = lambda: 0) -> _Outcome:
    """Run `compute` in `fmt`'s context and translate the decimal signals to the FPSCR's
    (Book I 5.5.10): `invalid()` names the VX cause when the operation is invalid."""
    ctx = dfp.context(fmt, rounding)
    value = compute(ctx)
    signals = ctx.flags
    flags = 0
    if signals[decimal.InvalidOperation]:
        return _Outcome(value, invalid())
    if signals[decimal.DivisionByZero]:
        return _Outcome(value, F.ZX)
    adjust = 0
    if signals[decimal.Overflow]:
        flags |= F.OX
        adjust = -fmt.alpha if fpscr & F.OE else 0
    elif signals[decimal.Subnormal] and fpscr & F.UE:
        flags |= F.UX           # enabled: tininess alone is the exception
        adjust = fmt.alpha
    elif signals[decimal.Underflow]:
        flags |= F.UX
    if adjust:
        ctx = dfp.context(fmt, rounding, bounded=False)
        value = compute(ctx)
        signals = ctx.flags
    inexact = bool(signals[decimal.Inexact])
    fr = False
    if inexact:
        flags |= F.XX
        truncating = ctx.copy()
        truncating.rounding = decimal.ROUND_DOWN
        fr = abs(value) > abs(compute(truncating))
    if adjust:
        value = dfp.context(fmt, rounding).create_decimal(value.scaleb(adjust))
    return _Outcome(value, flags, fr, inexact)


def _deliver(cpu, op, outcome: _Outcome, fmt: dfp.Format, reg: Optional[int] = None,
             set_fprf: bool = True, set_fr_fi: bool = True) -> None:
    """Write a result and its status; an enabled invalid operation or zero divide leaves the
    target and FPRF alone and clears FR and FI."""
    fpscr = cpu.fpscr
    value = fpscr | outcome.flags
    if set_fr_fi:
        value &= ~(F.FR | F.FI)
        value |= (F.FR if outcome.fr else 0) | (F.FI if outcome.fi else 0)
    flags = outcome.flags
    if (flags & F.VX_CAUSES and fpscr & F.VE) or (flags & F.ZX and fpscr & F.ZE):
        value &= ~(F.FR | F.FI)
    else:
        _write_bits(cpu, _target(op) if reg is None else reg,
                    dfp.from_decimal(outcome.value, fmt), fmt)
        if set_fprf:
            value = (value & ~F.FPRF) | dfp.fprf(outcome.value, fmt) << F.FPRF_SHIFT
    _set_status(cpu, op, value, flags)


def _snan_cause(*operands: Decimal) -> int:
    return F.VXSNAN if any(x.is_snan() for x in operands) else 0


# --- Book I 5.6.1 arithmetic ------------------------------------------------------------------

def _arithmetic(method: str, invalid_cause: Callable[[Decimal, Decimal], int]) -> Callable:
    def semantic(cpu, op) -> None:
        fmt = _format(op)
        a, b = _operand(cpu, op, "FRA", fmt), _operand(cpu, op, "FRB", fmt)
        outcome = _evaluate(lambda ctx: getattr(ctx, method)(a, b), fmt, _drn_rounding(cpu),
                            cpu.fpscr, lambda: _snan_cause(a, b) or invalid_cause(a, b))
        _deliver(cpu, op, outcome, fmt)
    return semantic


def _infinities(a: Decimal, b: Decimal) -> bool:
    return a.is_infinite() and b.is_infinite()


implements("dadd", "daddq")(_arithmetic("add", lambda a, b: F.VXISI))
implements("dsub", "dsubq")(_arithmetic("subtract", lambda a, b: F.VXISI))
implements("dmul", "dmulq")(_arithmetic("multiply", lambda a, b: F.VXIMZ))
implements("ddiv", "ddivq")(_arithmetic(
    "divide", lambda a, b: F.VXIDI if _infinities(a, b) else F.VXZDZ))


# --- Book I 5.6.2 compare ---------------------------------------------------------------------

def _set_condition(cpu, op, cc: int, flags: int = 0) -> None:
    """CR[BF] and FPCC get `cc`; `flags` are raised as exceptions."""
    cpu.set_cr_field(op.BF, cc)
    _set_status(cpu, op, (cpu.fpscr & ~F.FPCC) | cc << F.FPRF_SHIFT | flags, flags)


def _compare(ordered: bool) -> Callable:
    """dcmpu/dcmpo: the values (not their exponents) compared, as fcmpu/fcmpo (4.6.8):
    VXSNAN for an SNaN; dcmpo also VXVC for a QNaN, or for an SNaN when VE=0."""
    def compare(cpu, op) -> None:
        fmt = _format(op)
        a, b = _operand(cpu, op, "FRA", fmt), _operand(cpu, op, "FRB", fmt)
        flags = 0
        if a.is_nan() or b.is_nan():
            cc = F.CC_UN
            if a.is_snan() or b.is_snan():
                flags = F.VXSNAN | (F.VXVC if ordered and not cpu.fpscr & F.VE else 0)
            elif ordered:
                flags = F.VXVC
        else:
            cc = {-1: 8, 1: 4, 0: 2}[int(a.compare(b))]
        _set_condition(cpu, op, cc, flags)
    return compare


implements("dcmpu", "dcmpuq")(_compare(False))
implements("dcmpo", "dcmpoq")(_compare(True))


# --- Book I 5.6.3 test -----------------------------------------------------------------------

def _test_result(cpu, op, negative: bool, match: bool) -> None:
    """dtstdc/dtstdg: CR[BF] = sign || 0 || match || 0."""
    _set_condition(cpu, op, (8 if negative else 0) | (2 if match else 0))


def _is_subnormal(x: Decimal, fmt: dfp.Format) -> bool:
    return x.is_finite() and not x.is_zero() and x.adjusted() < fmt.emin


@implements("dtstdc", "dtstdcq")
def dtstdc(cpu, op) -> None:
    """Data class: zero, subnormal, normal, infinity, QNaN, SNaN (DCM bits 0-5)."""
    fmt = _format(op)
    a = _operand(cpu, op, "FRA", fmt)
    classes = (a.is_zero(), _is_subnormal(a, fmt),
               a.is_finite() and not a.is_zero() and not _is_subnormal(a, fmt),
               a.is_infinite(), a.is_qnan(), a.is_snan())
    match = any(c and op.DCM & (0x20 >> i) for i, c in enumerate(classes))
    _test_result(cpu, op, a.is_signed(), match)


@implements("dtstdg", "dtstdgq")
def dtstdg(cpu, op) -> None:
    """Data group (DGM bits 0-5): zero with a non-extreme exponent, zero with an extreme
    exponent, subnormal or normal with an extreme exponent, normal with a non-extreme exponent
    and leftmost digit 0, the same with leftmost digit non-zero, infinity or NaN."""
    fmt = _format(op)
    bits = _read_bits(cpu, op.FRAp if _quad(op) else op.FRA, fmt)
    f = dfp.unpack(bits, fmt)
    a = dfp.to_decimal(bits, fmt)
    finite = f.kind == dfp.FINITE
    extreme = finite and f.exponent in (0, fmt.max_biased)
    zero = finite and f.coefficient == 0
    subnormal = _is_subnormal(a, fmt)
    normal = finite and not zero and not subnormal
    leftmost = f.coefficient >= 10 ** (fmt.prec - 1)
    groups = (zero and not extreme, zero and extreme, subnormal or (normal and extreme),
              normal and not extreme and not leftmost, normal and not extreme and leftmost,
              not finite)
    match = any(g and op.DGM & (0x20 >> i) for i, g in enumerate(groups))
    _test_result(cpu, op, bool(f.sign), match)


@implements("dtstex", "dtstexq")
def dtstex(cpu, op) -> None:
    """Exponents compared: LT/GT/EQ for finite operands; two infinities or two NaNs are
    EQ, any other mix with a special value unordered."""
    fmt = _format(op)
    a, b = _operand(cpu, op, "FRA", fmt), _operand(cpu, op, "FRB", fmt)
    if not (a.is_finite() and b.is_finite()):
        kind_a = "nan" if a.is_nan() else ("inf" if a.is_infinite() else "finite")
        kind_b = "nan" if b.is_nan() else ("inf" if b.is_infinite() else "finite")
        cc = 2 if kind_a == kind_b else 1
    else:
        ea, eb = a.as_tuple().exponent, b.as_tuple().exponent
        cc = 8 if ea < eb else (4 if ea > eb else 2)
    _set_condition(cpu, op, cc)


def _significance(cpu, op, reference: int) -> None:
    """dtstsf/dtstsfi: `reference` compared with FRB's number of significant digits (a zero
    has none): LT if the reference is smaller, GT if larger or 0, EQ; unordered for
    infinity and NaN."""
    fmt = _format(op)
    b = _operand(cpu, op, "FRB", fmt)
    if not b.is_finite():
        cc = 1
    elif reference == 0 or b.is_zero():
        cc = 4
    else:
        nsd = len(b.as_tuple().digits)
        cc = 8 if reference < nsd else (4 if reference > nsd else 2)
    _set_condition(cpu, op, cc)


@implements("dtstsf", "dtstsfq")
def dtstsf(cpu, op) -> None:
    _significance(cpu, op, cpu.fpr[op.FRA] & 0x3F)


@implements("dtstsfi", "dtstsfiq")
def dtstsfi(cpu, op) -> None:
    _significance(cpu, op, op.UIM)


# --- Book I 5.6.4 quantum adjustment ----------------------------------------------------------

def _quantize(cpu, op, reference: Decimal, b: Decimal, fmt: dfp.Format, rounding: str) -> None:
    """FRB with the exponent of `reference` (Book I 5.6.4): VXSNAN for an SNaN, VXCVI when the
    result cannot be represented (a coefficient too long, infinity against a finite number);
    a NaN result is the reference's NaN before FRB's, an SNaN quieted."""
    def compute(ctx: decimal.Context) -> Decimal:
        return b.quantize(reference, rounding=rounding, context=ctx)
    outcome = _evaluate(compute, fmt, rounding, cpu.fpscr & ~(F.OE | F.UE),
                        lambda: _snan_cause(reference, b) or F.VXCVI)
    for nan in (reference, b):
        if nan.is_snan():
            outcome.value = _quieted(nan)
            break
    else:
        for nan in (reference, b):
            if nan.is_qnan():
                outcome.value = nan
                break
    # Quantize reports only inexact (XX, FI) and the invalid operations (5.6.4).
    outcome.flags &= F.XX | F.VX_CAUSES
    _deliver(cpu, op, outcome, fmt)


def _quieted(nan: Decimal) -> Decimal:
    sign, digits, _ = nan.as_tuple()
    return Decimal((sign, digits, "n"))


@implements("dquai", "dquaiq")
def dquai(cpu, op) -> None:
    fmt = _format(op)
    b = _operand(cpu, op, "FRB", fmt)
    _quantize(cpu, op, Decimal((0, (1,), op.TE)), b, fmt, _rmc_rounding(cpu, 0, op.RMC))


@implements("dqua", "dquaq")
def dqua(cpu, op) -> None:
    fmt = _format(op)
    a, b = _operand(cpu, op, "FRA", fmt), _operand(cpu, op, "FRB", fmt)
    _quantize(cpu, op, a, b, fmt, _rmc_rounding(cpu, 0, op.RMC))


@implements("drrnd", "drrndq")
def drrnd(cpu, op) -> None:
    """Reround FRB to k = FRA[58:63] significant digits (Book I 5.6.4): unchanged if it has
    no more than k digits (or k=0, or FRB is special); otherwise quantized to the exponent
    that keeps k digits, shifting once more if rounding carried into a new digit. A result
    exponent above the format's maximum is invalid (VXCVI, default QNaN)."""
    fmt = _format(op)
    b = _operand(cpu, op, "FRB", fmt)
    k = cpu.fpr[op.FRA] & 0x3F
    rounding = _rmc_rounding(cpu, 0, op.RMC)
    if not b.is_finite() or k == 0 or len(b.as_tuple().digits) <= k:
        snan = b.is_snan()
        outcome = _Outcome(_quieted(b) if snan else b, F.VXSNAN if snan else 0)
        _deliver(cpu, op, outcome, fmt)
        return
    sign, digits, exponent = b.as_tuple()
    target = exponent + len(digits) - k
    invalid = _Outcome(_QUIET_NAN, F.VXCVI)
    if target > fmt.etop:
        _deliver(cpu, op, invalid, fmt)
        return
    outcome = _evaluate(lambda ctx: b.quantize(Decimal((0, (1,), target)), rounding=rounding,
                                               context=ctx), fmt, rounding, 0)
    sign, digits, exponent = outcome.value.as_tuple()
    if len(digits) > k:         # rounded up to 10**k: one digit fewer, exponent + 1
        if exponent + 1 > fmt.etop:
            _deliver(cpu, op, invalid, fmt)
            return
        outcome.value = Decimal((sign, digits[:-1], exponent + 1))
    outcome.flags &= F.XX
    _deliver(cpu, op, outcome, fmt)


def _round_to_integer(exact: bool) -> Callable:
    """drintx/drintn: round to an integral value in the R/RMC rounding mode; drintx reports
    inexact (XX, FI, FR), drintn reports nothing but an SNaN and leaves FR and FI alone."""
    def semantic(cpu, op) -> None:
        fmt = _format(op)
        b = _operand(cpu, op, "FRB", fmt)
        rounding = _rmc_rounding(cpu, op.R, op.RMC)
        outcome = _evaluate(lambda ctx: b.to_integral_exact(rounding=rounding, context=ctx),
                            fmt, rounding, 0, lambda: F.VXSNAN)
        if not exact:
            outcome.flags &= F.VX_CAUSES
        _deliver(cpu, op, outcome, fmt, set_fr_fi=exact)
    return semantic


implements("drintx", "drintxq")(_round_to_integer(True))
implements("drintn", "drintnq")(_round_to_integer(False))


# --- Book I 5.6.5 conversion ------------------------------------------------------------------

@implements("dctdp")
def dctdp(cpu, op) -> None:
    """Short (FRB[32:63]) to long: exact, and an SNaN stays an SNaN without an exception
    (short is a storage format, 5.6.5.1 programming note)."""
    value = dfp.to_decimal(cpu.fpr[op.FRB] & 0xFFFF_FFFF, dfp.SHORT)
    _deliver(cpu, op, _Outcome(value), dfp.LONG)


@implements("dctqpq")
def dctqpq(cpu, op) -> None:
    """Long to extended: exact; an SNaN raises VXSNAN and becomes a QNaN."""
    b = dfp.to_decimal(cpu.fpr[op.FRB], dfp.LONG)
    outcome = _Outcome(_quieted(b), F.VXSNAN) if b.is_snan() else _Outcome(b)
    _deliver(cpu, op, outcome, dfp.EXTENDED)


@implements("drsp")
def drsp(cpu, op) -> None:
    """Long to short, rounded by DRN, the short image zero-extended into FRT; an SNaN stays
    an SNaN without an exception (5.6.5.1). Enabled overflow and underflow are reported but
    the short result is not exponent-adjusted."""
    b = dfp.to_decimal(cpu.fpr[op.FRB], dfp.LONG)
    if b.is_nan():
        outcome = _Outcome(b)
    else:
        outcome = _evaluate(lambda ctx: ctx.create_decimal(b), dfp.SHORT, _drn_rounding(cpu),
                            cpu.fpscr & ~(F.OE | F.UE))
        if outcome.flags & F.UX == 0 and cpu.fpscr & F.UE and _is_subnormal(outcome.value,
                                                                           dfp.SHORT):
            outcome.flags |= F.UX
    bits = dfp.from_decimal(outcome.value, dfp.SHORT)
    fpscr = cpu.fpscr
    value = (fpscr & ~(F.FR | F.FI | F.FPRF)) | outcome.flags
    value |= (F.FR if outcome.fr else 0) | (F.FI if outcome.fi else 0)
    value |= dfp.fprf(outcome.value, dfp.SHORT) << F.FPRF_SHIFT
    cpu.fpr[op.FRT] = bits
    _set_status(cpu, op, value, outcome.flags)


@implements("drdpq")
def drdpq(cpu, op) -> None:
    """Extended to long, rounded by DRN; the long result goes to FRTp+1 and FRTp gets 0 (the
    result extended on the left with zeros). An SNaN raises VXSNAN and becomes a QNaN."""
    b = _operand(cpu, op, "FRB", dfp.EXTENDED)
    if b.is_nan():
        outcome = _Outcome(_quieted(b), _snan_cause(b))
    else:
        outcome = _evaluate(lambda ctx: ctx.create_decimal(b), dfp.LONG, _drn_rounding(cpu),
                            cpu.fpscr)
    fpscr = cpu.fpscr
    if outcome.flags & F.VXSNAN and fpscr & F.VE:
        _set_status(cpu, op, (fpscr & ~(F.FR | F.FI)) | outcome.flags, outcome.flags)
        return
    value = (fpscr & ~(F.FR | F.FI | F.FPRF)) | outcome.flags
    value |= (F.FR if outcome.fr else 0) | (F.FI if outcome.fi else 0)
    value |= dfp.fprf(outcome.value, dfp.LONG) << F.FPRF_SHIFT
    cpu.fpr[op.FRTp] = 0
    cpu.fpr[op.FRTp + 1] = dfp.from_decimal(outcome.value, dfp.LONG)
    _set_status(cpu, op, value, outcome.flags)


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


@implements("dcffix", "dcffixq")
def dcffix(cpu, op) -> None:
    """The signed doubleword FRB as a DFP number with exponent 0, rounded by DRN (long)."""
    fmt = _format(op)
    n = _signed64(cpu.fpr[op.FRB])
    outcome = _evaluate(lambda ctx: ctx.create_decimal(n), fmt, _drn_rounding(cpu), cpu.fpscr)
    _deliver(cpu, op, outcome, fmt)


@implements("dctfix", "dctfixq")
def dctfix(cpu, op) -> None:
    """To a signed doubleword, rounded by DRN (Book I 5.6.5.2): NaN gives -2**63 and
    infinities or out-of-range values the nearest bound, with VXCVI (and VXSNAN for an
    SNaN); XX and FI when inexact. FPRF is undefined: left unchanged."""
    fmt = _format(op)
    b = _operand(cpu, op, "FRB", fmt)
    flags, fr, fi = 0, False, False
    if b.is_nan():
        result, flags = _INT64_MIN, F.VXCVI | _snan_cause(b)
    elif b.is_infinite():
        result, flags = (_INT64_MIN if b.is_signed() else _INT64_MAX), F.VXCVI
    else:
        outcome = _evaluate(lambda ctx: b.to_integral_exact(context=ctx), fmt,
                            _drn_rounding(cpu), 0)
        n = int(outcome.value)
        if -_INT64_MIN <= n <= _INT64_MAX:
            result, flags, fr, fi = n, outcome.flags & F.XX, outcome.fr, outcome.fi
        else:
            result, flags = (_INT64_MIN if n < 0 else _INT64_MAX), F.VXCVI
    fpscr = cpu.fpscr
    value = (fpscr & ~(F.FR | F.FI)) | flags
    if flags & F.VX_CAUSES and fpscr & F.VE:
        _set_status(cpu, op, value, flags)
        return
    cpu.fpr[op.FRT] = result & MASK64
    _set_status(cpu, op, value | (F.FR if fr else 0) | (F.FI if fi else 0), flags)


# --- Book I 5.6.6 format ----------------------------------------------------------------------

def _digits_of(bits: int, fmt: dfp.Format) -> int:
    """The coefficient, or an infinity's or NaN's trailing significand (leftmost digit 0)."""
    return dfp.unpack(bits, fmt).coefficient


@implements("ddedpd", "ddedpdq")
def ddedpd(cpu, op) -> None:
    """Decode the coefficient to BCD: 16 (32) digits unsigned; SP=0b1x: 15 (31) digits and a
    sign code, 0xD for minus, 0xC (SP=0b10) or 0xF (SP=0b11) for plus. No status change."""
    fmt = _format(op)
    bits = _read_bits(cpu, op.FRBp if _quad(op) else op.FRB, fmt)
    nibbles = fmt.bits // 4
    coefficient = _digits_of(bits, fmt)
    if op.SP & 2:
        sign = 0xD if bits >> (fmt.bits - 1) else (0xF if op.SP & 1 else 0xC)
        text = str(coefficient).rjust(nibbles, "0")[-(nibbles - 1):]
        result = int(text, 16) << 4 | sign
    else:
        result = int(str(coefficient).rjust(nibbles, "0")[-nibbles:], 16)
    _write_bits(cpu, _target(op), result, fmt)
    _record(cpu, op)


@implements("denbcd", "denbcdq")
def denbcd(cpu, op) -> None:
    """Encode BCD as a DFP number with exponent 0: 16 (32) digits unsigned, or with S=1 15
    (31) digits and a sign code (0xA 0xC 0xE 0xF plus, 0xB 0xD minus). A digit above 9 or
    another sign code is invalid (VXCVI, default QNaN)."""
    fmt = _format(op)
    bits = _read_bits(cpu, op.FRBp if _quad(op) else op.FRB, fmt)
    nibbles = [(bits >> (4 * i)) & 0xF for i in range(fmt.bits // 4 - 1, -1, -1)]
    sign = 0
    if op.S:
        code = nibbles.pop()
        sign = 1 if code in (0xB, 0xD) else 0
        valid = code >= 0xA
    else:
        valid = True
    if not valid or any(n > 9 for n in nibbles):
        _deliver(cpu, op, _Outcome(_QUIET_NAN, F.VXCVI), fmt)
        return
    value = Decimal((sign, tuple(nibbles), 0))
    _deliver(cpu, op, _Outcome(value), fmt, set_fr_fi=False)


@implements("dxex", "dxexq")
def dxex(cpu, op) -> None:
    """The biased exponent as a signed doubleword; -1 infinity, -2 QNaN, -3 SNaN."""
    fmt = _format(op)
    f = dfp.unpack(_read_bits(cpu, op.FRBp if _quad(op) else op.FRB, fmt), fmt)
    special = {dfp.INFINITY: -1, dfp.QNAN: -2, dfp.SNAN: -3}
    cpu.fpr[op.FRT] = special.get(f.kind, f.exponent) & MASK64
    _record(cpu, op)


@implements("diex", "diexq")
def diex(cpu, op) -> None:
    """FRB's coefficient with the biased exponent FRA: in range, a finite number; -1 an
    infinity, -3 an SNaN, any other out-of-range value a QNaN, each keeping FRB's trailing
    significand field as it is. No status change."""
    fmt = _format(op)
    bits = _read_bits(cpu, op.FRBp if _quad(op) else op.FRB, fmt)
    exponent = _signed64(cpu.fpr[op.FRA])
    f = dfp.unpack(bits, fmt)
    if 0 <= exponent <= fmt.max_biased:
        result = dfp.pack(dfp.Fields(f.sign, dfp.FINITE, f.coefficient, exponent), fmt)
    else:
        special = {-1: 0b11110 << fmt.ecbits, -3: 0b111111 << (fmt.ecbits - 1)}
        g_and_exponent = special.get(exponent, 0b11111 << fmt.ecbits)
        trailing_bits = 10 * fmt.declets
        keep = (1 << (fmt.bits - 1)) | ((1 << trailing_bits) - 1)
        result = (bits & keep) | g_and_exponent << trailing_bits
    _write_bits(cpu, _target(op), result, fmt)
    _record(cpu, op)


def _shift(left: bool) -> Callable:
    """dscli/dscri: shift the coefficient SH digits, digits shifted out are lost, the exponent
    is kept. An infinity stays the canonical infinity, a NaN's payload is shifted (prec-1
    digits). A shift beyond the precision leaves the sign, combination and exponent fields as
    they are with a zero coefficient (QEMU 7.2 does the same). No status change."""
    def semantic(cpu, op) -> None:
        fmt = _format(op)
        bits = _read_bits(cpu, op.FRAp if _quad(op) else op.FRA, fmt)
        sh = op.SHD
        if sh > fmt.prec:
            _write_bits(cpu, _target(op), _zero_coefficient(bits, fmt), fmt)
            _record(cpu, op)
            return
        f = dfp.unpack(bits, fmt)
        digits = fmt.prec if f.kind == dfp.FINITE else fmt.prec - 1
        coefficient = (f.coefficient * 10 ** sh) if left else (f.coefficient // 10 ** sh)
        coefficient %= 10 ** digits
        if f.kind == dfp.INFINITY:
            coefficient = 0
        _write_bits(cpu, _target(op), dfp.pack(f._replace(coefficient=coefficient), fmt), fmt)
        _record(cpu, op)
    return semantic


def _zero_coefficient(bits: int, fmt: dfp.Format) -> int:
    """`bits` with the coefficient's digits cleared: the trailing significand and the
    leftmost digit held in G (G keeps the exponent's high bits, or says infinity or NaN)."""
    trailing = 10 * fmt.declets
    head = bits >> trailing           # sign, G, exponent continuation
    g_shift = fmt.ecbits
    g = head >> g_shift & 0x1F
    if g >> 3 != 0b11:
        g &= 0b11000
    elif g >> 1 != 0b1111:
        g = (g >> 1 & 3) << 3
    head = (head & ~(0x1F << g_shift)) | g << g_shift
    return head << trailing


implements("dscli", "dscliq")(_shift(True))
implements("dscri", "dscriq")(_shift(False))
