"""QEMU 7.2's known departures from the Power ISA, one named rule each.

ppcd follows the ISA. The differential test does not mask registers where QEMU differs:
after every instruction the model (model.py) passes ppcd's result through these rules,
each of which rewrites exactly what QEMU computes differently, in the case where it
differs, so that the next instruction starts from QEMU's state. docs/isa-fidelity.md quotes
the ISA text for each; `RULES` lists them in the order they apply.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Callable, Dict, List, NamedTuple

from ppcd.cpu import dfp
from ppcd.cpu import fpu as F
from ppcd.cpu.interrupts import Interrupt, illegal
from ppcd.cpu.isa.decimal import INSTRUCTIONS as DECIMAL_ROWS
from ppcd.cpu.semantics import floatingpoint as FP
from ppcd.cpu.state import CPUState

MASK64 = (1 << 64) - 1
# Instructions that compute a result through the rounding logic (FR and FI per Book I 4.3.6).
_ROUNDING = {"fadd", "fsub", "fmul", "fdiv", "fsqrt", "fre", "frsqrte", "fmadd", "fmsub",
             "fnmadd", "fnmsub", "frsp", "fctid", "fctidz", "fctidu", "fctiduz", "fctiw",
             "fctiwz", "fctiwu", "fctiwuz", "fcfid", "fcfids", "fcfidu", "fcfidus", "frin",
             "friz", "frip", "frim"}


# The FPSCR instructions set FX only explicitly (or mtfsb1 implicitly), as QEMU does too.
_FPSCR_MOVES = {"mtfsf", "mtfsfi", "mtfsb0", "mtfsb1", "mcrfs", "mffs", "mffsce", "mffsl",
                "mffscdrn", "mffscdrni", "mffscrn", "mffscrni"}


def _base(op) -> str:
    """The row's mnemonic without "." and without the single-precision "s"."""
    name = op.insn.mnemonic.rstrip(".")
    if op.word >> 26 == 59 and name not in ("fcfids", "fcfidus"):
        name = name[:-1]
    return name


class Step(NamedTuple):
    """One executed instruction: the CPU after ppcd's semantics, the operands, the registers
    before, and the FPSCR exception bits the instruction raised (set or already set)."""

    cpu: CPUState
    fn: Callable
    op: object
    before: object
    raised: int


class Unmodelled(Exception):
    """QEMU's result for this instruction is not modelled: stop comparing the case."""


class Rule(NamedTuple):
    name: str
    isa: str            # the ISA text QEMU departs from (docs/isa-fidelity.md quotes it)
    apply: Callable[[Step], bool]   # rewrites ppcd's result into QEMU's; True if it changed


RULES: List[Rule] = []


def rule(name: str, isa: str) -> Callable[[Callable[[Step], bool]], Callable[[Step], bool]]:
    def register(fn: Callable[[Step], bool]) -> Callable[[Step], bool]:
        RULES.append(Rule(name, isa, fn))
        return fn
    return register


def _set_fpscr(step: Step, value: int) -> bool:
    changed = value != step.cpu.fpscr
    step.cpu.fpscr = value
    return changed


@rule("fnmadd-negates-before-rounding", "Book I 4.6.6.2: fnmadd/fnmsub round the result "
      "of the multiply-add, then negate it")
def fnmadd_negates_before_rounding(step: Step) -> bool:
    """QEMU negates the exact result and then rounds it, which differs in the directed
    rounding modes (and in the overflow result of round toward +-infinity)."""
    op, before, cpu = step.op, step.before, step.cpu
    if not _base(op).startswith("fnm"):
        return False
    a, b, c = before.fpr[op.FRA], before.fpr[op.FRB], before.fpr[op.FRC]
    if F.is_nan(a) or F.is_nan(b) or F.is_nan(c):
        return False
    if F.is_zero(cpu.fpr[op.FRT]) and not cpu.fpscr & F.FI:
        return False        # an exact zero: QEMU gives its sign as the ISA does
    fmt = F.SINGLE if op.word >> 26 == 59 else F.DOUBLE
    result = F.muladd(a ^ F.SIGN, c, b ^ F.SIGN, before.fpscr, fmt,
                      negate_b=_base(op) == "fnmsub")
    old = (cpu.fpr[op.FRT], cpu.fpscr, cpu.cr)
    cpu.fpr[op.FRT], cpu.fpscr, cpu.cr = before.fpr[op.FRT], before.fpscr, before.cr
    FP._deliver(cpu, op, result, fmt)
    return (cpu.fpr[op.FRT], cpu.fpscr, cpu.cr) != old


@rule("fr-not-computed", "Book I 4.2.2: FR is set when the last rounding incremented the "
      "fraction (4.3.6)")
def fr_not_computed(step: Step) -> bool:
    """QEMU never sets FPSCR[FR]: it keeps the value it had, except that an invalid operation
    other than a signaling NaN operand, or a zero divide, clears it (with FI) as the ISA
    says."""
    if _base(step.op) not in _ROUNDING or step.raised & (F.VX_CAUSES & ~F.VXSNAN | F.ZX):
        return False
    return _set_fpscr(step, (step.cpu.fpscr & ~F.FR) | (step.before.fpscr & F.FR))


@rule("fx-on-every-exception", "Book I 4.2.2: FX is set when an exception bit changes "
      "from 0 to 1")
def fx_on_every_exception(step: Step) -> bool:
    """QEMU sets FX for every exception an instruction raises, already set or not."""
    if _base(step.op) in _FPSCR_MOVES or not step.raised & F.EXCEPTIONS:
        return False
    return _set_fpscr(step, step.cpu.fpscr | F.FX)


@rule("fcfid-single-unsigned-keep-fprf", "Book I 4.6.7.2: fcfidu, fcfids and fcfidus set "
      "FPRF")
def fcfid_keep_fprf(step: Step) -> bool:
    """QEMU's fcfidu, fcfids and fcfidus leave FPRF unchanged."""
    if step.op.insn.mnemonic.rstrip(".") not in ("fcfidu", "fcfids", "fcfidus"):
        return False
    return _set_fpscr(step, (step.cpu.fpscr & ~F.FPRF) | (step.before.fpscr & F.FPRF))


@rule("fcmp-clears-fi", "Book I 4.6.8: fcmpu and fcmpo change FPCC, FX and VX bits only")
def fcmp_clears_fi(step: Step) -> bool:
    """QEMU's fcmpu and fcmpo clear FI."""
    if not step.op.insn.mnemonic.startswith("fcmp"):
        return False
    return _set_fpscr(step, step.cpu.fpscr & ~F.FI)


@rule("enabled-invalid-writes-target", "Book I 4.4.1, 4.4.2: with VE=1 (ZE=1) an invalid "
      "operation (zero divide) leaves FRT and FPRF unchanged")
def enabled_invalid_writes_target(step: Step) -> bool:
    """With MSR[FE0,FE1]=0, QEMU writes FRT as if the exception were disabled, and FPRF too
    except for the conversions to integer."""
    op, cpu, before = step.op, step.cpu, step.before
    enabled = (step.raised & F.VX_CAUSES and before.fpscr & F.VE) or \
        (step.raised & F.ZX and before.fpscr & F.ZE)
    if not enabled or "FRT" not in op.insn.fields:
        return False
    probe = _probe(cpu, before, before.fpscr & ~(F.VE | F.ZE))
    step.fn(probe, op)
    old = (cpu.fpr[op.FRT], cpu.fpscr)
    cpu.fpr[op.FRT] = probe.fpr[op.FRT]
    if not _base(op).startswith("fcti"):
        cpu.fpscr = (cpu.fpscr & ~F.FPRF) | (probe.fpscr & F.FPRF)
    return (cpu.fpr[op.FRT], cpu.fpscr) != old


@rule("single-enabled-exponent-adjust", "Book I 4.4.3, 4.4.4: with OE=1 (UE=1) an "
      "overflowing (tiny) result is delivered with its exponent adjusted by 192 (single) or "
      "1536 (double)")
def single_enabled_exponent_adjust(step: Step) -> bool:
    """QEMU 7.2 rebiases single-precision results in float32 terms and loses the value when it
    stays out of range; not modelled: the case is not compared from here on."""
    op = step.op
    if (op.word >> 26 != 59 and _base(op) != "frsp") or _base(op) not in _ROUNDING:
        return False
    fpscr = step.before.fpscr
    if (step.raised & F.OX and fpscr & F.OE) or (step.raised & F.UX and fpscr & F.UE):
        raise Unmodelled("single-enabled-exponent-adjust")
    return False


@rule("mtfsb1-no-implicit-fx", "Book I 4.2.2: every floating-point instruction except mtfsfi "
      "and mtfsf sets FX when it changes an exception bit from 0 to 1")
def mtfsb1_no_implicit_fx(step: Step) -> bool:
    """QEMU's mtfsb1 sets the bit it names and nothing else."""
    op, cpu, before = step.op, step.cpu, step.before
    if _base(op) != "mtfsb1" or op.BT == 0 or before.fpscr & F.FX:
        return False
    return _set_fpscr(step, cpu.fpscr & ~F.FX)


@rule("mtfsb1-ni-ignored", "Book I 4.6.10: mtfsb1 sets FPSCR bit BT to 1")
def mtfsb1_ni_ignored(step: Step) -> bool:
    """QEMU's mtfsb1 29 does not set NI (mtfsf and mtfsfi do)."""
    op, cpu, before = step.op, step.cpu, step.before
    if _base(op) != "mtfsb1" or op.BT != 29 or before.fpscr & F.NI:
        return False
    return _set_fpscr(step, cpu.fpscr & ~F.NI)


@rule("fcmpo-snan-vxvc-despite-ve", "Book I 4.6.8: fcmpo with a signaling NaN operand sets "
      "VXVC only if VE=0")
def fcmpo_snan_vxvc_despite_ve(step: Step) -> bool:
    """QEMU's fcmpo sets VXVC for a signaling NaN operand whatever VE is."""
    op, before = step.op, step.before
    if op.insn.mnemonic != "fcmpo" or not before.fpscr & F.VE:
        return False
    if not (F.is_snan(before.fpr[op.FRA]) or F.is_snan(before.fpr[op.FRB])):
        return False
    return _set_fpscr(step, step.cpu.fpscr | F.VXVC)


@rule("fcmpo-nan-sets-c", "Book I 4.6.8: fcmpo sets FPCC from the comparison and leaves the "
      "rest of FPRF unchanged")
def fcmpo_nan_sets_c(step: Step) -> bool:
    """QEMU's fcmpo with a NaN operand (VXVC) also sets FPRF's C bit."""
    op, before = step.op, step.before
    if op.insn.mnemonic != "fcmpo":
        return False
    if not (F.is_nan(before.fpr[op.FRA]) or F.is_nan(before.fpr[op.FRB])):
        return False
    return _set_fpscr(step, step.cpu.fpscr | (0x10 << F.FPRF_SHIFT))


@rule("single-fprf-double-format", "Book I 4.3.5.1: FPRF of a single-precision result is "
      "set as for a single-format value")
def single_fprf_double_format(step: Step) -> bool:
    """QEMU classes single-precision results in double format: a single denormal (or a
    value below the single normal range) is reported as a normal number."""
    op, cpu = step.op, step.cpu
    if (op.word >> 26 != 59 and _base(op) != "frsp") or _base(op) not in _ROUNDING:
        return False
    if (cpu.fpscr & F.FPRF) != F.fprf(cpu.fpr[op.FRT], F.SINGLE) << F.FPRF_SHIFT:
        return False    # FPRF not written by this instruction
    return _set_fpscr(step, (cpu.fpscr & ~F.FPRF)
                      | F.fprf(cpu.fpr[op.FRT], F.DOUBLE) << F.FPRF_SHIFT)


@rule("fre-of-zero", "Book I 4.6.6.1: fre of +-0 gives +-infinity and sets ZX")
def fre_of_zero(step: Step) -> bool:
    """QEMU's fre and fres of +-0 give +-1/2 (classed as a normal number) and set ZX, even
    with ZE=1."""
    op, cpu, before = step.op, step.cpu, step.before
    if _base(op) != "fre" or not F.is_zero(before.fpr[op.FRB]):
        return False
    cpu.fpr[op.FRT] = (before.fpr[op.FRB] & F.SIGN) | 0x3FE0_0000_0000_0000
    fpscr = (cpu.fpscr & ~F.FPRF) | F.fprf(cpu.fpr[op.FRT]) << F.FPRF_SHIFT
    _set_fpscr(step, fpscr)
    return True


@rule("divde-overflow-missed", "Book I 3.3.9: divde sets OV when the quotient cannot be "
      "represented in 64 bits")
def divde_overflow_missed(step: Step) -> bool:
    """QEMU 7.2's divde misses the overflows whose quotient needs exactly 64 bits (magnitude
    at least 2**63, below 2**64): RT gets the quotient's low 64 bits, OV and OV32 stay 0."""
    op, cpu, before = step.op, step.cpu, step.before
    if op.insn.impl != "divde":
        return False
    n = _signed64(before.gpr[op.RA]) << 64
    d = _signed64(before.gpr[op.RB])
    negative = (n < 0) != (d < 0)
    q = abs(n) // abs(d) if d else 0
    if not (1 << 63) + int(negative) <= q < 1 << 64:
        return False
    cpu.gpr[op.RT] = (-q if negative else q) & MASK64
    if op.oe:
        cpu.ov = cpu.ov32 = 0
        cpu.so = before.xer >> 31 & 1
    if op.rc:
        cpu.record(cpu.gpr[op.RT])
    return True


@rule("xer-high-word", "Book I 3.2.2: XER bits 0:31 are reserved")
def xer_high_word(step: Step) -> bool:
    """QEMU's mtxer keeps the low 32 bits only; ppcd keeps what was written (the ISA leaves
    reserved bits' read value to the implementation)."""
    if step.op.insn.impl != "mtspr" or step.op.SPR != 1 or not step.cpu.xer >> 32:
        return False
    step.cpu.xer &= 0xFFFF_FFFF
    return True


def _signed64(x: int) -> int:
    return x - (1 << 64) if x >> 63 else x


@rule("icbt-illegal", "Book II 4.3.1: icbt is a hint that has no architected effect")
def icbt_illegal(step: Step) -> bool:
    """QEMU 7.2 decodes icbt only for Book E processors; POWER9 gets an illegal instruction."""
    if step.op.insn.impl != "icbt":
        return False
    raise illegal()


@rule("dcbflp-illegal", "Book II 4.3.2: dcbf with L=3 (dcbflp) flushes the block from the "
      "primary cache")
def dcbflp_illegal(step: Step) -> bool:
    """QEMU 7.2 accepts dcbf with L=0 and L=1 only: L=3 is an illegal instruction."""
    if step.op.insn.mnemonic != "dcbflp":
        return False
    raise illegal()


def _signed64(x: int) -> int:
    return x - (1 << 64) if x >> 63 else x


# --- decimal floating point (QEMU 7.2's target/ppc/dfp_helper.c over libdecnumber) -----------

_DFP = {i.mnemonic for i in DECIMAL_ROWS}


def _dfp_operand(step: Step, name: str) -> Decimal:
    """A DFP source operand as it was before the instruction (a pair for the quad forms)."""
    op, fpr = step.op, step.before.fpr
    if name + "p" in op.insn.fields:
        reg = getattr(op, name + "p")
        return dfp.to_decimal(fpr[reg] << 64 | fpr[reg + 1], dfp.EXTENDED)
    return dfp.to_decimal(fpr[getattr(op, name)], dfp.LONG)


@rule("dfp-fr-fi-not-computed", "Book I 5.5.1: a DFP operation sets FR when rounding "
      "incremented the coefficient and FI when the result is inexact, and clears them "
      "otherwise")
def dfp_fr_fi_not_computed(step: Step) -> bool:
    """QEMU's DFP instructions never change FR and only ever set FI (when inexact): neither
    is cleared, and an enabled invalid operation does not clear them either."""
    if step.op.insn.mnemonic not in _DFP:
        return False
    before = step.before.fpscr
    fi = F.FI if before & F.FI or step.raised & F.XX else 0
    return _set_fpscr(step, (step.cpu.fpscr & ~(F.FR | F.FI)) | (before & F.FR) | fi)


@rule("dfp-enabled-invalid-writes-target", "Book I 5.5.10: with VE=1 (ZE=1) an invalid "
      "operation (zero divide) leaves FRTp and FPRF unchanged")
def dfp_enabled_invalid_writes_target(step: Step) -> bool:
    """The extended-form twin of enabled-invalid-writes-target: QEMU writes the register
    pair and FPRF as if the exception were disabled."""
    op, cpu, before = step.op, step.cpu, step.before
    enabled = (step.raised & F.VX_CAUSES and before.fpscr & F.VE) or \
        (step.raised & F.ZX and before.fpscr & F.ZE)
    if not enabled or "FRTp" not in op.insn.fields:
        return False
    probe = _probe(cpu, before, before.fpscr & ~(F.VE | F.ZE))
    step.fn(probe, op)
    t = op.FRTp
    old = (cpu.fpr[t], cpu.fpr[t + 1], cpu.fpscr)
    cpu.fpr[t], cpu.fpr[t + 1] = probe.fpr[t], probe.fpr[t + 1]
    cpu.fpscr = (cpu.fpscr & ~F.FPRF) | (probe.fpscr & F.FPRF)
    return (cpu.fpr[t], cpu.fpr[t + 1], cpu.fpscr) != old


@rule("dfp-enabled-overflow-underflow", "Book I 5.5.10: with OE=1 (UE=1) an overflowing "
      "(tiny) DFP result is delivered with its exponent adjusted by alpha, and an enabled "
      "underflow is recognised for a tiny result even when exact")
def dfp_enabled_overflow_underflow(step: Step) -> bool:
    """QEMU ignores OE and UE in its DFP results (the default result is delivered, UX needs
    inexactness); not modelled: the case is not compared from this instruction on."""
    op, fpscr = step.op, step.before.fpscr
    if op.insn.mnemonic not in _DFP:
        return False
    if (step.raised & F.OX and fpscr & F.OE) or (step.raised & F.UX and fpscr & F.UE):
        raise Unmodelled("dfp-enabled-overflow-underflow")
    return False


@rule("dcmpo-snan-vxvc-despite-ve", "Book I 5.6.2: dcmpo with a signaling NaN operand sets "
      "VXVC only if VE=0 (as fcmpo, 4.6.8)")
def dcmpo_snan_vxvc_despite_ve(step: Step) -> bool:
    """QEMU's dcmpo sets VXVC for any NaN operand whatever VE is."""
    if step.op.insn.impl not in ("dcmpo", "dcmpoq") or not step.before.fpscr & F.VE:
        return False
    if not (_dfp_operand(step, "FRA").is_snan() or _dfp_operand(step, "FRB").is_snan()):
        return False
    return _set_fpscr(step, step.cpu.fpscr | F.VXVC)


@rule("dfp-fex-from-rounding-mode", "Book I 4.2.2: FEX is the OR of the enabled exceptions "
      "(VX and VE, ...)")
def dfp_fex_from_rounding_mode(step: Step) -> bool:
    """drrnd's shortcut paths (a result exponent out of range; an SNaN when the reference
    significance is 0 or covers its payload) and an invalid denbcd test FPSCR against the bit
    number of VE (7) instead of its mask: FEX is set when RN or NI is non-zero, and not for
    VE=1."""
    impl, raised = step.op.insn.impl, step.raised
    shortcut = impl in ("drrnd", "drrndq", "denbcd", "denbcdq") and raised & F.VXCVI
    if impl in ("drrnd", "drrndq") and raised & F.VXSNAN:
        # QEMU's shortcut for an SNaN: significance 0, or a payload of at most k digits.
        k = step.before.fpr[step.op.FRA] & 0x3F
        shortcut = k == 0 or max(1, len(_dfp_operand(step, "FRB").as_tuple().digits)) <= k
    if not shortcut:
        return False
    before = step.before.fpscr
    fex = F.FEX if before & (F.FEX | F.RN | F.NI) else 0
    return _set_fpscr(step, (step.cpu.fpscr & ~F.FEX) | fex)


@rule("denbcd-invalid-garbage", "Book I 5.6.6: an invalid BCD operand of denbcd gives the "
      "default QNaN and sets FPRF for it (VE=0)")
def denbcd_invalid_garbage(step: Step) -> bool:
    """QEMU's denbcd returns early on an invalid digit or sign code, and the register gets
    the helper's uninitialised result (stack contents; often the QNaN of an earlier call),
    FPRF unchanged. Not modelled: the case is not compared from this instruction on."""
    op = step.op
    if op.insn.impl in ("denbcd", "denbcdq") and step.raised & F.VXCVI:
        raise Unmodelled("denbcd-invalid-garbage")
    return False


@rule("dfp-long-nan-payload", "Book I 5.6.5.1: drsp and drdpq deliver a NaN operand's "
      "payload in the shorter format")
def dfp_long_nan_payload(step: Step) -> bool:
    """libdecnumber drops a payload with as many digits as the target format's precision,
    and rounds (and quiets, for an SNaN) a longer one to that many digits first. Not
    modelled: the case is not compared from this instruction on."""
    impl = step.op.insn.impl
    if impl not in ("drsp", "drdpq"):
        return False
    b = _dfp_operand(step, "FRB")
    precision = dfp.SHORT.prec if impl == "drsp" else dfp.LONG.prec
    if b.is_nan() and len(b.as_tuple().digits) >= precision:
        raise Unmodelled("dfp-long-nan-payload")
    return False


@rule("fex-sticky", "Book I 4.2.2: FEX is the OR of the exception bits ANDed with their "
      "enables")
def fex_sticky(step: Step) -> bool:
    """QEMU recomputes FEX only in the instructions that write the FPSCR (mtfsf, mtfsfi,
    mtfsb0/1, mcrfs, mffsce, mffscdrn[i], mffscrn[i]); every other instruction can only set
    it. It differs from the ISA's summary only after a wrong FEX (dfp-fex-from-rounding-mode):
    QEMU keeps it until such a move."""
    op = step.op
    if op.insn.facility != "fp" or _base(op) in ("mffs", "mffsl"):
        return False
    if _base(op) in ("mtfsb0", "mtfsb1"):
        # QEMU writes (and so recomputes) the FPSCR only when the bit changes, never for
        # BT = 1 or 2 (FEX, VX).
        bit = 1 << (31 - op.BT)
        if op.BT in (1, 2) or (step.before.fpscr ^ step.cpu.fpscr) & bit == 0:
            return _set_fpscr(step, (step.cpu.fpscr & ~F.FEX) | (step.before.fpscr & F.FEX))
        return False
    if _base(op) in _FPSCR_MOVES:
        return _set_fpscr(step, FP._summarised(step.cpu.fpscr))
    if not step.before.fpscr & F.FEX or step.cpu.fpscr & F.FEX:
        return False
    return _set_fpscr(step, step.cpu.fpscr | F.FEX)


class Counter:
    """Applies the rules after each instruction and counts how often each one changed it."""

    def __init__(self) -> None:
        self.counts: Dict[str, int] = {}

    def hook(self, cpu: CPUState, fn: Callable, op, before) -> None:
        if op is None:
            return
        fp = op.insn.facility == "fp"
        step = Step(cpu, fn, op, before, _raised(fn, op, cpu, before) if fp else 0)
        changed = False
        for r in RULES:
            try:
                fired = r.apply(step)
            except (Interrupt, Unmodelled):
                self.counts[r.name] = self.counts.get(r.name, 0) + 1
                raise
            if fired:
                self.counts[r.name] = self.counts.get(r.name, 0) + 1
                changed = True
        if changed and fp and op.rc:
            cpu.set_cr_field(1, cpu.fpscr >> 28)


def _probe(cpu: CPUState, before, fpscr: int) -> CPUState:
    """A scratch vCPU with the registers of `before` and the given FPSCR."""
    probe = CPUState(cpu.mem, pvr=cpu.pvr)
    probe.msr = cpu.msr
    probe.gpr[:] = before.gpr
    probe.fpr[:] = before.fpr
    probe.cr = before.cr
    probe.fpscr = fpscr
    return probe


def _raised(fn: Callable, op, cpu: CPUState, before) -> int:
    """The exception bits `fn` raises from the `before` state, found by running it again
    with every exception bit clear."""
    probe = _probe(cpu, before, before.fpscr & ~(F.EXCEPTIONS | F.FX | F.VX | F.FEX))
    if op.insn.mnemonic.startswith("st"):
        return 0        # stores raise nothing and must not write the scratch area twice
    try:
        fn(probe, op)
    except Exception:   # an interrupt: the real run raised it as well
        return 0
    return probe.fpscr & F.EXCEPTIONS
