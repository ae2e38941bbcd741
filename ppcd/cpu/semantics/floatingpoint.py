"""Semantics of the floating-point facility (Power ISA 3.0 Book I chapter 4).

The arithmetic itself lives in ppcd.cpu.fpu, exact and in all rounding modes; this module
moves operands and results between the FPRs, storage and the FPSCR. `cpu.fpscr` is the
64-bit FPSCR image: the architected 32 bits in the low word and DRN in the high word.
After every update the summary bits VX and FEX are recomputed and FX is set when an
exception bit goes from 0 to 1 (Book I 4.2.2). An exception whose enable bit is set
(VE OE UE ZE XE) raises a Floating-Point Enabled Exception program interrupt when
MSR[FE0] or MSR[FE1] is 1 (Book I 4.4, Book III 7.5.9); ppcd treats every non-zero
FE0/FE1 setting as the precise mode.
"""

from __future__ import annotations

from typing import Callable

from .. import fpu as F
from .. import msr as M
from ..interrupts import PROGRAM_FP, ProgramInterrupt, illegal
from ..state import MASK32, MASK64
from . import implements
from .loadstore import effective_address

_FPSCR_DEFINED = F.DRN | MASK32 & ~(1 << 11)     # bit 52 (ISA numbering) is reserved
_LOW_CONTROL = F.ENABLES | F.NI | F.RN


# --- FPSCR bookkeeping (Book I 4.2.2, 4.4) -------------------------------------------------

def _summarised(value: int) -> int:
    """`value` with VX and FEX recomputed from the exception and enable bits."""
    value &= ~(F.VX | F.FEX)
    if value & F.VX_CAUSES:
        value |= F.VX
    if ((value & F.VX and value & F.VE) or (value & F.OX and value & F.OE)
            or (value & F.UX and value & F.UE) or (value & F.ZX and value & F.ZE)
            or (value & F.XX and value & F.XE)):
        value |= F.FEX
    return value


def _enabled(flags: int, fpscr: int) -> bool:
    """Whether the exceptions in `flags` include one whose enable bit is set."""
    return bool((flags & F.VX_CAUSES and fpscr & F.VE) or (flags & F.OX and fpscr & F.OE)
                or (flags & F.UX and fpscr & F.UE) or (flags & F.ZX and fpscr & F.ZE)
                or (flags & F.XX and fpscr & F.XE))


def _record(cpu, op) -> None:
    """Rc=1: CR1 gets FPSCR[FX FEX VX OX] (Book I 4.3.7)."""
    if op.rc:
        cpu.set_cr_field(1, cpu.fpscr >> 28)


def _trap_if(cpu, enabled: bool) -> None:
    if enabled and cpu.msr & (M.FE0 | M.FE1):
        raise ProgramInterrupt(PROGRAM_FP)


def _set_status(cpu, op, value: int, raised: int) -> None:
    """Store a new FPSCR: FX for newly set exceptions, the summaries, CR1, the interrupt."""
    old = cpu.fpscr
    if raised & ~old & F.EXCEPTIONS:
        value |= F.FX
    cpu.fpscr = _summarised(value)
    _record(cpu, op)
    _trap_if(cpu, _enabled(raised, cpu.fpscr))


def _deliver(cpu, op, result: F.Result, fmt: F.Format = F.DOUBLE,
             set_fprf: bool = True) -> None:
    """Write an arithmetic result: FR FI from this operation, FPRF from the result class.

    An enabled invalid-operation or zero-divide exception leaves FRT and FPRF unchanged
    and clears FR and FI (Book I 4.4.1, 4.4.2).
    """
    bits, flags = result
    fpscr = cpu.fpscr
    value = (fpscr & ~(F.FR | F.FI)) | flags
    if (flags & F.VX_CAUSES and fpscr & F.VE) or (flags & F.ZX and fpscr & F.ZE):
        value &= ~(F.FR | F.FI)
    else:
        cpu.fpr[op.FRT] = bits
        if set_fprf:
            value = (value & ~F.FPRF) | (F.fprf(bits, fmt) << F.FPRF_SHIFT)
    _set_status(cpu, op, value, flags)


def _unary(compute: Callable, fmt: F.Format = F.DOUBLE, set_fprf: bool = True) -> Callable:
    def semantic(cpu, op) -> None:
        _deliver(cpu, op, compute(cpu.fpr[op.FRB], cpu.fpscr), fmt, set_fprf)
    return semantic


# --- Book I 4.6.2-4.6.3: loads and stores ----------------------------------------------------

def _offset_d(cpu, op) -> int:
    return op.D


def _offset_rb(cpu, op) -> int:
    return cpu.gpr[op.RB]


def _fp_load(size: int, convert: Callable[[int], int], offset: Callable,
             update: bool = False) -> Callable:
    def load(cpu, op) -> None:
        if update and op.RA == 0:
            raise illegal()     # an invalid form; QEMU 7.2 raises illegal instruction
        ea = effective_address(cpu, op.RA, offset(cpu, op))
        cpu.fpr[op.FRT] = convert(cpu.load(ea, size))
        if update:
            cpu.gpr[op.RA] = ea
    return load


def _fp_store(size: int, convert: Callable[[int], int], offset: Callable,
              update: bool = False) -> Callable:
    def store(cpu, op) -> None:
        if update and op.RA == 0:
            raise illegal()
        ea = effective_address(cpu, op.RA, offset(cpu, op))
        cpu.store(ea, size, convert(cpu.fpr[op.FRS]))
        if update:
            cpu.gpr[op.RA] = ea
    return store


def _same(value: int) -> int:
    return value


def _word_algebraic(word: int) -> int:
    return (word - (1 << 32) if word >> 31 else word) & MASK64


def _low_word(value: int) -> int:
    return value & MASK32


_STORAGE = {
    "lfs": _fp_load(4, F.single_to_double, _offset_d),
    "lfsu": _fp_load(4, F.single_to_double, _offset_d, update=True),
    "lfsx": _fp_load(4, F.single_to_double, _offset_rb),
    "lfsux": _fp_load(4, F.single_to_double, _offset_rb, update=True),
    "lfd": _fp_load(8, _same, _offset_d),
    "lfdu": _fp_load(8, _same, _offset_d, update=True),
    "lfdx": _fp_load(8, _same, _offset_rb),
    "lfdux": _fp_load(8, _same, _offset_rb, update=True),
    "lfiwax": _fp_load(4, _word_algebraic, _offset_rb),
    "lfiwzx": _fp_load(4, _same, _offset_rb),
    "stfs": _fp_store(4, F.double_to_single, _offset_d),
    "stfsu": _fp_store(4, F.double_to_single, _offset_d, update=True),
    "stfsx": _fp_store(4, F.double_to_single, _offset_rb),
    "stfsux": _fp_store(4, F.double_to_single, _offset_rb, update=True),
    "stfd": _fp_store(8, _same, _offset_d),
    "stfdu": _fp_store(8, _same, _offset_d, update=True),
    "stfdx": _fp_store(8, _same, _offset_rb),
    "stfdux": _fp_store(8, _same, _offset_rb, update=True),
    "stfiwx": _fp_store(4, _low_word, _offset_rb),
}
for _name, _fn in _STORAGE.items():
    implements(_name)(_fn)


# --- Book I 4.6.5: moves (no FPSCR change) -------------------------------------------------

def _move(transform: Callable[[int], int]) -> Callable:
    def move(cpu, op) -> None:
        cpu.fpr[op.FRT] = transform(cpu.fpr[op.FRB])
        _record(cpu, op)
    return move


implements("fmr")(_move(_same))
implements("fneg")(_move(lambda b: b ^ F.SIGN))
implements("fabs")(_move(lambda b: b & ~F.SIGN))
implements("fnabs")(_move(lambda b: b | F.SIGN))


@implements("fcpsgn")
def fcpsgn(cpu, op) -> None:
    cpu.fpr[op.FRT] = (cpu.fpr[op.FRA] & F.SIGN) | (cpu.fpr[op.FRB] & ~F.SIGN)
    _record(cpu, op)


# --- Book I 4.6.6: arithmetic ------------------------------------------------------------------

def _format(op) -> F.Format:
    """Opcode 59 holds the single-precision forms."""
    return F.SINGLE if op.word >> 26 == 59 else F.DOUBLE


@implements("fadd", "fadds", "fsub", "fsubs")
def fadd(cpu, op) -> None:
    fmt = _format(op)
    negate = op.insn.impl.startswith("fsub")
    _deliver(cpu, op, F.add(cpu.fpr[op.FRA], cpu.fpr[op.FRB], cpu.fpscr, fmt, negate), fmt)


@implements("fmul", "fmuls")
def fmul(cpu, op) -> None:
    fmt = _format(op)
    _deliver(cpu, op, F.mul(cpu.fpr[op.FRA], cpu.fpr[op.FRC], cpu.fpscr, fmt), fmt)


@implements("fdiv", "fdivs")
def fdiv(cpu, op) -> None:
    fmt = _format(op)
    _deliver(cpu, op, F.div(cpu.fpr[op.FRA], cpu.fpr[op.FRB], cpu.fpscr, fmt), fmt)


@implements("fsqrt", "fsqrts")
def fsqrt(cpu, op) -> None:
    fmt = _format(op)
    _deliver(cpu, op, F.sqrt(cpu.fpr[op.FRB], cpu.fpscr, fmt), fmt)


@implements("fre", "fres")
def fre(cpu, op) -> None:
    fmt = _format(op)
    _deliver(cpu, op, F.reciprocal_estimate(cpu.fpr[op.FRB], cpu.fpscr, fmt), fmt)


@implements("frsqrte", "frsqrtes")
def frsqrte(cpu, op) -> None:
    fmt = _format(op)
    _deliver(cpu, op, F.rsqrt_estimate(cpu.fpr[op.FRB], cpu.fpscr, fmt), fmt)


@implements("fmadd", "fmadds", "fmsub", "fmsubs", "fnmadd", "fnmadds", "fnmsub", "fnmsubs")
def fmadd(cpu, op) -> None:
    fmt = _format(op)
    name = op.insn.impl
    result = F.muladd(cpu.fpr[op.FRA], cpu.fpr[op.FRC], cpu.fpr[op.FRB], cpu.fpscr, fmt,
                      negate_b="msub" in name, negate_result=name.startswith("fn"))
    _deliver(cpu, op, result, fmt)


@implements("fsel")
def fsel(cpu, op) -> None:
    """FRC if FRA >= 0 (either zero counts), else FRB; NaN selects FRB (Book I 4.6.6.3)."""
    a = cpu.fpr[op.FRA]
    chosen = op.FRC if not F.is_nan(a) and (F.is_zero(a) or not a >> 63) else op.FRB
    cpu.fpr[op.FRT] = cpu.fpr[chosen]
    _record(cpu, op)


def _test_exponent(x: int) -> int:
    """The unbiased exponent ftdiv/ftsqrt test, a denormal's included (as QEMU 7.2)."""
    return F.exponent_field(x) - 1023


def _test_flags(cpu, op, fe: bool, fg: bool) -> None:
    """CR[BF] = 0b1 || fg || fe || 0b0 (Book I 4.6.6.4)."""
    cpu.set_cr_field(op.BF, 8 | (4 if fg else 0) | (2 if fe else 0))


@implements("ftdiv")
def ftdiv(cpu, op) -> None:
    a, b = cpu.fpr[op.FRA], cpu.fpr[op.FRB]
    if F.is_inf(a) or F.is_inf(b) or F.is_zero(b):
        _test_flags(cpu, op, True, True)
        return
    ea, eb = _test_exponent(a), _test_exponent(b)
    fe = (F.is_nan(a) or F.is_nan(b) or eb <= -1022 or eb >= 1021
          or (not F.is_zero(a) and (ea - eb >= 1023 or ea - eb <= -1021 or ea <= -970)))
    _test_flags(cpu, op, fe, F.exponent_field(b) == 0)


@implements("ftsqrt")
def ftsqrt(cpu, op) -> None:
    b = cpu.fpr[op.FRB]
    if F.is_inf(b) or F.is_zero(b):
        _test_flags(cpu, op, True, True)
        return
    fe = F.is_nan(b) or bool(b >> 63) or _test_exponent(b) <= -970
    _test_flags(cpu, op, fe, F.exponent_field(b) == 0)


# --- Book I 4.6.7: rounding and conversion ---------------------------------------------------

implements("frsp")(_unary(F.round_to_single, F.SINGLE))


def _to_integer(bits: int, signed: bool, toward_zero: bool) -> Callable:
    """FPRF is undefined after these (Book I 4.6.7.2); like QEMU 7.2, ppcd leaves it
    unchanged, except that an invalid conversion sets it to the quiet NaN class."""
    def convert(cpu, op) -> None:
        result = F.to_integer(cpu.fpr[op.FRB], cpu.fpscr, bits, signed, toward_zero)
        if result[1] & F.VXCVI and not cpu.fpscr & F.VE:
            cpu.fpscr = (cpu.fpscr & ~F.FPRF) | (F.fprf(F.DEFAULT_QNAN) << F.FPRF_SHIFT)
        _deliver(cpu, op, result, set_fprf=False)
    return convert


for _name, _bits, _signed, _zero in (
        ("fctid", 64, True, False), ("fctidz", 64, True, True),
        ("fctidu", 64, False, False), ("fctiduz", 64, False, True),
        ("fctiw", 32, True, False), ("fctiwz", 32, True, True),
        ("fctiwu", 32, False, False), ("fctiwuz", 32, False, True)):
    implements(_name)(_to_integer(_bits, _signed, _zero))


def _from_integer(fmt: F.Format, signed: bool) -> Callable:
    return _unary(lambda b, fpscr: F.from_integer(b, fpscr, fmt, signed), fmt)


implements("fcfid")(_from_integer(F.DOUBLE, True))
implements("fcfids")(_from_integer(F.SINGLE, True))
implements("fcfidu")(_from_integer(F.DOUBLE, False))
implements("fcfidus")(_from_integer(F.SINGLE, False))


def _to_integral(mode: int, ties_away: bool = False) -> Callable:
    return _unary(lambda b, fpscr: F.round_to_integral(b, mode, ties_away))


implements("frin")(_to_integral(F.ROUND_NEAREST, ties_away=True))
implements("friz")(_to_integral(F.ROUND_ZERO))
implements("frip")(_to_integral(F.ROUND_UP))
implements("frim")(_to_integral(F.ROUND_DOWN))


# --- Book I 4.6.8: compare -------------------------------------------------------------------

def _compare(ordered: bool) -> Callable:
    """fcmpu/fcmpo: CR[BF] and FPSCR[FPCC] get the comparison. An SNaN raises VXSNAN; fcmpo
    also raises VXVC for a QNaN, or for an SNaN when VE=0."""
    def compare(cpu, op) -> None:
        a, b = cpu.fpr[op.FRA], cpu.fpr[op.FRB]
        cc = F.compare(a, b)
        flags = 0
        if F.is_snan(a) or F.is_snan(b):
            flags = F.VXSNAN
            if ordered and not cpu.fpscr & F.VE:
                flags |= F.VXVC
        elif ordered and cc == F.CC_UN:
            flags = F.VXVC
        cpu.set_cr_field(op.BF, cc)
        value = (cpu.fpscr & ~F.FPCC) | (cc << F.FPRF_SHIFT) | flags
        _set_status(cpu, op, value, flags)
    return compare


implements("fcmpu")(_compare(False))
implements("fcmpo")(_compare(True))


# --- Book I 4.6.10: FPSCR instructions ---------------------------------------------------------

@implements("mffs")
def mffs(cpu, op) -> None:
    cpu.fpr[op.FRT] = cpu.fpscr
    _record(cpu, op)


@implements("mffsce")
def mffsce(cpu, op) -> None:
    """mffs, then clear the exception enables."""
    cpu.fpr[op.FRT] = cpu.fpscr
    cpu.fpscr = _summarised(cpu.fpscr & ~F.ENABLES)


@implements("mffsl")
def mffsl(cpu, op) -> None:
    """The lightweight mffs: DRN, FR FI FPRF, the enables, NI and RN only."""
    cpu.fpr[op.FRT] = cpu.fpscr & (F.DRN | F.FR | F.FI | F.FPRF | _LOW_CONTROL)


def _control_and_set(cpu, op, mask: int, value: int) -> None:
    """The mffsc*rn* group: return the control bits, then set DRN or RN."""
    cpu.fpr[op.FRT] = cpu.fpscr & (F.DRN | _LOW_CONTROL)
    cpu.fpscr = (cpu.fpscr & ~mask) | (value & mask)


@implements("mffscdrn")
def mffscdrn(cpu, op) -> None:
    _control_and_set(cpu, op, F.DRN, cpu.fpr[op.FRB])


@implements("mffscdrni")
def mffscdrni(cpu, op) -> None:
    _control_and_set(cpu, op, F.DRN, op.DRM << 32)


@implements("mffscrn")
def mffscrn(cpu, op) -> None:
    _control_and_set(cpu, op, F.RN, cpu.fpr[op.FRB])


@implements("mffscrni")
def mffscrni(cpu, op) -> None:
    _control_and_set(cpu, op, F.RN, op.RM)


def _move_to_fpscr(cpu, op, mask: int, value: int, implicit_fx: bool = False) -> None:
    """Set the FPSCR bits in `mask` from `value`. FEX and VX cannot be set explicitly. Only
    mtfsb1 sets FX implicitly for an exception bit it turns on; mtfsf and mtfsfi set FX
    only explicitly (Book I 4.2.2, 4.6.10)."""
    mask &= _FPSCR_DEFINED & ~(F.FEX | F.VX)
    old = cpu.fpscr
    new = (old & ~mask) | (value & mask)
    if implicit_fx and new & ~old & F.EXCEPTIONS:
        new |= F.FX
    cpu.fpscr = _summarised(new)
    _record(cpu, op)
    _trap_if(cpu, bool(cpu.fpscr & F.FEX) and not old & F.FEX)


def _field_mask(field: int) -> int:
    """FPSCR field 0-15 of the 64-bit image (fields 8-15 are the architected low word)."""
    return 0xF << (60 - 4 * field)


@implements("mcrfs")
def mcrfs(cpu, op) -> None:
    """CR[BF] = FPSCR field BFA, whose exception bits are then cleared (FEX, VX are
    recomputed)."""
    shift = 28 - 4 * op.BFA
    cpu.set_cr_field(op.BF, cpu.fpscr >> shift)
    cleared = cpu.fpscr & ~((F.FX | F.EXCEPTIONS) & (0xF << shift))
    cpu.fpscr = _summarised(cleared)


@implements("mtfsfi")
def mtfsfi(cpu, op) -> None:
    field = op.BF + 8 * (1 - op.W)
    _move_to_fpscr(cpu, op, _field_mask(field), op.U << (60 - 4 * field))


@implements("mtfsf")
def mtfsf(cpu, op) -> None:
    if op.FL1:
        mask = MASK64
    else:
        mask = 0
        for i in range(8):
            if op.FLM & (0x80 >> i):
                mask |= _field_mask(i + 8 * (1 - op.W))
    _move_to_fpscr(cpu, op, mask, cpu.fpr[op.FRB])


@implements("mtfsb0")
def mtfsb0(cpu, op) -> None:
    _move_to_fpscr(cpu, op, 1 << (31 - op.BT), 0)


@implements("mtfsb1")
def mtfsb1(cpu, op) -> None:
    _move_to_fpscr(cpu, op, 1 << (31 - op.BT), MASK32, implicit_fx=True)
