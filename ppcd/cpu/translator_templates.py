"""Python source templates for the hottest instructions, used by the translating engine.

Each template turns one decoded instruction into straight-line Python source that does what
its semantic function in ppcd/cpu/semantics does, but on local variables: `r0`..`r31` for
GPRs, `cr`, `lr` and `ctr`. The emitter `c` (ppcd.cpu.translator.Emitter) names those locals,
knows the mode the unit is translated for (c.sf, c.le) and builds the shared pieces (CR0,
storage access). A template returns None for a variant it does not cover (OE=1, an invalid
form); the engine then calls the semantic function instead, so the semantics stay the one
definition and tests/cpu/test_translator.py checks every template against it.

Branches are described rather than emitted: (code before the test, the condition or None for
"always", the target: an address or the name of a local holding it).
"""

from __future__ import annotations

import re
from typing import Callable, Dict, Optional, Tuple, Union

from .isa import INSTRUCTIONS

M64 = 0xFFFF_FFFF_FFFF_FFFF
M32 = 0xFFFF_FFFF

Template = Callable[..., Optional[str]]
TEMPLATES: Dict[str, Template] = {}
BranchTemplate = Callable[..., Optional[Tuple[str, Optional[str], Union[int, str]]]]
BRANCHES: Dict[str, BranchTemplate] = {}


def template(*names: str) -> Callable[[Template], Template]:
    def register(fn: Template) -> Template:
        for name in names:
            TEMPLATES[name] = fn
        return fn
    return register


def _s32(expr: str) -> str:
    """The low word of expr as a signed number."""
    return f"((({expr}) & {M32}) ^ 0x80000000) - 0x80000000"


def _s64(expr: str) -> str:
    # Conditional, so that a non-negative value meets no big-integer constant (Emitter.wrap).
    return f"({expr} - {1 << 64} if {expr} >> 63 else {expr})"


def _with_record(c, op, target: str, expr: str) -> str:
    """`target = expr`, then CR0 from it when Rc=1."""
    line = f"{target} = {expr}"
    return line + "\n" + c.record(target) if op.rc else line


def _wrapped(c, op, target: str, expr: str) -> str:
    """`target = expr` modulo 2**64 (Emitter.wrap), then CR0 from it when Rc=1."""
    return _with_record(c, op, target, f"{expr}\n{c.wrap(target)}")


# --- Arithmetic (Book I 3.3.9) ------------------------------------------------------------

def _add_immediate(c, op, immediate: int) -> str:
    if not op.RA:
        return f"{c.w(op.RT)} = {immediate & M64}"           # li, lis
    return _wrapped(c, op, c.w(op.RT), f"{c.r(op.RA)} + {immediate}")


@template("addi")
def addi(c, op) -> str:
    return _add_immediate(c, op, op.SI)


@template("addis")
def addis(c, op) -> str:
    return _add_immediate(c, op, op.SI << 16)


@template("add")
def add(c, op) -> Optional[str]:
    if op.oe:
        return None
    return _wrapped(c, op, c.w(op.RT), f"{c.r(op.RA)} + {c.r(op.RB)}")


@template("subf")
def subf(c, op) -> Optional[str]:
    if op.oe:
        return None
    return _wrapped(c, op, c.w(op.RT), f"{c.r(op.RB)} - {c.r(op.RA)}")


@template("neg")
def neg(c, op) -> Optional[str]:
    if op.oe:
        return None
    return _wrapped(c, op, c.w(op.RT), f"-{c.r(op.RA)}")


def _carrying(c, op, x: str, y: str, cin: str, record: bool) -> str:
    """RT = x + y + cin with CA and CA32 (the semantics' _sum with carrying=True, OE=0)."""
    ca = "s >> 64" if c.sf else "cpu.ca32"
    lines = [f"x = {x}", f"y = {y}", f"s = x + y + {cin}",
             f"cpu.ca32 = ((x & {M32}) + (y & {M32}) + {cin}) >> 32",
             f"cpu.ca = {ca}", f"{c.w(op.RT)} = s", c.wrap(c.w(op.RT))]
    if record:
        lines.append(c.record(c.w(op.RT)))
    return "\n".join(lines)


# (x, y, carry in) of each carrying add/subtract, as _sum gets them: subtraction adds ~RA + 1.
_CARRYING = {
    "addic": ("{RA}", "{SI}", "0"), "addic.": ("{RA}", "{SI}", "0"),
    "subfic": ("{RA} ^ M64", "{SI}", "1"),
    "addc": ("{RA}", "{RB}", "0"), "subfc": ("{RA} ^ M64", "{RB}", "1"),
    "adde": ("{RA}", "{RB}", "cpu.ca"), "subfe": ("{RA} ^ M64", "{RB}", "cpu.ca"),
    "addze": ("{RA}", "0", "cpu.ca"), "subfze": ("{RA} ^ M64", "0", "cpu.ca"),
    "addme": ("{RA}", "M64", "cpu.ca"), "subfme": ("{RA} ^ M64", "M64", "cpu.ca"),
}


def _carrying_template(name: str) -> None:
    x, y, cin = _CARRYING[name]

    @template(name)
    def carrying(c, op) -> Optional[str]:
        if op.oe:
            return None
        values = {"RA": c.r(op.RA), "RB": c.r(op.RB) if "RB" in op.insn.fields else "",
                  "SI": str(op.SI & M64) if "SI" in op.insn.fields else ""}
        return _carrying(c, op, x.format(**values).replace("M64", str(M64)),
                         y.format(**values).replace("M64", str(M64)), cin,
                         bool(op.rc) or name == "addic.")


for _name in _CARRYING:
    _carrying_template(_name)


@template("mulli")
def mulli(c, op) -> str:
    # The low doubleword of a product is the same for signed and unsigned operands.
    return _wrapped(c, op, c.w(op.RT), f"{c.r(op.RA)} * {op.SI}")


@template("mulld")
def mulld(c, op) -> Optional[str]:
    if op.oe:
        return None
    return _wrapped(c, op, c.w(op.RT), f"{c.r(op.RA)} * {c.r(op.RB)}")


@template("mullw")
def mullw(c, op) -> Optional[str]:
    if op.oe:
        return None
    return _wrapped(c, op, c.w(op.RT), f"({_s32(c.r(op.RA))}) * ({_s32(c.r(op.RB))})")


# --- Compare (3.3.10) ---------------------------------------------------------------------

def _compare(c, bf: int, a: str, b: str) -> str:
    shift = 28 - 4 * bf
    keep = ~(0xF << shift) & M32
    return "\n".join([f"a = {a}", f"b = {b}",
                      f"{c.cr_w()} = (cr & {keep}) | "
                      f"(((8 if a < b else 4 if a > b else 2) | cpu.so) << {shift})"])


@template("cmpi")
def cmpi(c, op) -> str:
    a = _s64(c.r(op.RA)) if op.L else _s32(c.r(op.RA))
    return _compare(c, op.BF, a, str(op.SI))


@template("cmp")
def cmp(c, op) -> str:
    sign = _s64 if op.L else _s32
    return _compare(c, op.BF, sign(c.r(op.RA)), sign(c.r(op.RB)))


@template("cmpli")
def cmpli(c, op) -> str:
    a = c.r(op.RA) if op.L else f"{c.r(op.RA)} & {M32}"
    return _compare(c, op.BF, a, str(op.UI))


@template("cmpl")
def cmpl(c, op) -> str:
    if op.L:
        return _compare(c, op.BF, c.r(op.RA), c.r(op.RB))
    return _compare(c, op.BF, f"{c.r(op.RA)} & {M32}", f"{c.r(op.RB)} & {M32}")


@template("isel")
def isel(c, op) -> str:
    bit = 1 << (31 - op.BC)
    return f"{c.w(op.RT)} = {c.ra0(op.RA)} if {c.cr_r()} & {bit} else {c.r(op.RB)}"


# --- Logical (3.3.13) -----------------------------------------------------------------------

_IMMEDIATE_LOGICAL = {"ori": ("|", 0), "oris": ("|", 16), "xori": ("^", 0),
                      "xoris": ("^", 16), "andi.": ("&", 0), "andis.": ("&", 16)}


def _immediate_logical(name: str) -> None:
    operator, shift = _IMMEDIATE_LOGICAL[name]

    @template(name)
    def logical(c, op) -> str:
        line = f"{c.w(op.RA)} = {c.r(op.RS)} {operator} {op.UI << shift}"
        return line + "\n" + c.record(c.w(op.RA)) if operator == "&" else line


for _name in _IMMEDIATE_LOGICAL:
    _immediate_logical(_name)

# RA = f(RS, RB) for the X-form logical instructions, as the semantics compute them.
_LOGICAL = {"and": "{s} & {b}", "or": "{s} | {b}", "xor": "{s} ^ {b}",
            "nand": "({s} & {b}) ^ M64", "nor": "({s} | {b}) ^ M64", "eqv": "({s} ^ {b}) ^ M64",
            "andc": "{s} & ~{b}", "orc": "{s} | ({b} ^ M64)"}


def _logical(name: str) -> None:
    @template(name)
    def logical(c, op) -> str:
        expr = _LOGICAL[name].format(s=c.r(op.RS), b=c.r(op.RB)).replace("M64", str(M64))
        return _with_record(c, op, c.w(op.RA), expr)


for _name in _LOGICAL:
    _logical(_name)


@template("extsb")
def extsb(c, op) -> str:
    return _wrapped(c, op, c.w(op.RA), f"(({c.r(op.RS)} & 0xFF) ^ 0x80) - 0x80")


@template("extsh")
def extsh(c, op) -> str:
    return _wrapped(c, op, c.w(op.RA), f"(({c.r(op.RS)} & 0xFFFF) ^ 0x8000) - 0x8000")


@template("extsw")
def extsw(c, op) -> str:
    return _wrapped(c, op, c.w(op.RA), _s32(c.r(op.RS)))


@template("cntlzw")
def cntlzw(c, op) -> str:
    return _with_record(c, op, c.w(op.RA), f"32 - ({c.r(op.RS)} & {M32}).bit_length()")


@template("cntlzd")
def cntlzd(c, op) -> str:
    return _with_record(c, op, c.w(op.RA), f"64 - {c.r(op.RS)}.bit_length()")


# --- Rotate and shift (3.3.14) --------------------------------------------------------------

def _mask(mb: int, me: int) -> int:
    """MASK(mb, me) as the semantics define it (wrapping when mb > me)."""
    from_mb = M64 >> mb
    through_me = (M64 << (63 - me)) & M64
    return from_mb & through_me if mb <= me else from_mb | through_me


def _rotl64(x: str, n: int) -> str:
    return f"(({x} << {n}) | ({x} >> {64 - n}))" if n else x


def _rotated_word(c, op, sh: int, mask: int) -> str:
    """Lines leaving ROTL32(RS, sh) & mask in `v` (shorter when the mask is in the low word)."""
    rs = c.r(op.RS)
    if mask <= M32:
        if sh == 0:
            return f"v = {rs} & {mask}"
        return f"t = {rs} & {M32}\nv = ((t << {sh}) | (t >> {32 - sh})) & {mask}"
    return f"t = {rs} & {M32}\nt |= t << 32\nv = {_rotl64('t', sh)} & {mask}"


@template("rlwinm")
def rlwinm(c, op) -> str:
    code = _rotated_word(c, op, op.SH, _mask(op.MB + 32, op.ME + 32))
    return code + "\n" + _with_record(c, op, c.w(op.RA), "v")


@template("rlwimi")
def rlwimi(c, op) -> str:
    mask = _mask(op.MB + 32, op.ME + 32)
    code = _rotated_word(c, op, op.SH, mask)
    return code + "\n" + _with_record(c, op, c.w(op.RA), f"v | ({c.r(op.RA)} & {~mask & M64})")


def _rotated_doubleword(c, op, sh: int, mask: int) -> str:
    rs = c.r(op.RS)
    if sh and mask == M64 >> (64 - sh):
        return f"{rs} >> {64 - sh}"                          # srdi
    if mask == (M64 << sh) & M64:
        return f"({rs} << {sh}) & {mask}"                    # sldi
    return f"{_rotl64(rs, sh)} & {mask}"


@template("rldicl")
def rldicl(c, op) -> str:
    return _with_record(c, op, c.w(op.RA), _rotated_doubleword(c, op, op.SH6, _mask(op.MB6, 63)))


@template("rldicr")
def rldicr(c, op) -> str:
    return _with_record(c, op, c.w(op.RA), _rotated_doubleword(c, op, op.SH6, _mask(0, op.ME6)))


@template("rldic")
def rldic(c, op) -> str:
    mask = _mask(op.MB6, 63 - op.SH6)
    return _with_record(c, op, c.w(op.RA), _rotated_doubleword(c, op, op.SH6, mask))


@template("rldimi")
def rldimi(c, op) -> str:
    mask = _mask(op.MB6, 63 - op.SH6)
    rotated = f"{_rotl64(c.r(op.RS), op.SH6)} & {mask}"
    return _with_record(c, op, c.w(op.RA), f"({rotated}) | ({c.r(op.RA)} & {~mask & M64})")


@template("slw")
def slw(c, op) -> str:
    return "\n".join([f"n = {c.r(op.RB)} & 63",
                      _with_record(c, op, c.w(op.RA), f"(({c.r(op.RS)} << n) & {M32}) "
                                                       "if n < 32 else 0")])


@template("srw")
def srw(c, op) -> str:
    return "\n".join([f"n = {c.r(op.RB)} & 63",
                      _with_record(c, op, c.w(op.RA), f"(({c.r(op.RS)} & {M32}) >> n) "
                                                       "if n < 32 else 0")])


@template("sld")
def sld(c, op) -> str:
    return "\n".join([f"n = {c.r(op.RB)} & 127",
                      _with_record(c, op, c.w(op.RA), f"(({c.r(op.RS)} << n) & {M64}) "
                                                       "if n < 64 else 0")])


@template("srd")
def srd(c, op) -> str:
    return "\n".join([f"n = {c.r(op.RB)} & 127",
                      _with_record(c, op, c.w(op.RA), f"({c.r(op.RS)} >> n) if n < 64 else 0")])


def _shift_algebraic(c, op, value: str, n: int) -> str:
    # CA = CA32 = 1 if the value is negative and 1 bits were shifted out (_shift_algebraic).
    lines = [f"s = {value}"]
    lines.append(f"cpu.ca = cpu.ca32 = 1 if s < 0 and s & {(1 << n) - 1} else 0")
    return "\n".join(lines) + "\n" + _wrapped(c, op, c.w(op.RA), f"s >> {n}")


@template("srawi")
def srawi(c, op) -> str:
    return _shift_algebraic(c, op, _s32(c.r(op.RS)), op.SH)


@template("sradi")
def sradi(c, op) -> str:
    return _shift_algebraic(c, op, _s64(c.r(op.RS)), op.SH6)


# --- Loads and stores (3.3.2-3.3.5) ---------------------------------------------------------
# The name says it all: l/st, size, a(lgebraic)/z(ero), br (byte-reversed), u(pdate), x (RB).
_ACCESS = re.compile(r"^(l|st)([bhwd])([az]?)(br)?(u?)(x?)$")
_SIZES = {"b": 1, "h": 2, "w": 4, "d": 8}


def _access(c, op, name: str) -> Optional[str]:
    m = _ACCESS.match(name)
    assert m is not None
    kind, size_letter, extend, reverse, update, indexed = m.groups()
    size = _SIZES[size_letter]
    load = kind == "l"
    if update and (op.RA == 0 or (load and op.RA == op.RT)):
        return None                     # invalid form: the semantics raise illegal
    if indexed:
        offset = c.r(op.RB)
    else:
        offset = str(op.DS if "DS" in op.insn.fields else op.D)
    lines = [c.effective_address(op.RA, offset)]
    lines += c.translate_real(size, store=not load)
    if load:
        value = c.loaded(size, bool(reverse))
        if extend == "a":
            lines.append(f"v = {value}")
            value = f"v + {M64 ^ ((1 << 8 * size) - 1)} if v >> {8 * size - 1} else v"
        lines.append(f"{c.w(op.RT)} = {value}")
        if update:
            lines.append(f"{c.w(op.RA)} = ea")
    else:
        value = c.r(op.RS) if size == 8 else f"{c.r(op.RS)} & {(1 << 8 * size) - 1}"
        lines.append(f"{c.packer(size, bool(reverse))}(buf, a, {value})")
        if update:
            lines.append(f"{c.w(op.RA)} = ea")
        lines += c.stored(size)
    return "\n".join(lines)


def _access_template(name: str) -> None:
    @template(name)
    def access(c, op) -> Optional[str]:
        return _access(c, op, name)


for _impl in sorted({insn.impl for insn in INSTRUCTIONS if _ACCESS.match(insn.impl)}):
    _access_template(_impl)


# --- Moves (Book I 3.3.17) -------------------------------------------------------------------

_CACHED_SPRS = {8: "lr", 9: "ctr"}


@template("mfspr")
def mfspr(c, op) -> Optional[str]:
    name = _CACHED_SPRS.get(op.SPR)
    return f"{c.w(op.RT)} = {c.special_r(name)}" if name else None


@template("mtspr")
def mtspr(c, op) -> Optional[str]:
    name = _CACHED_SPRS.get(op.SPR)
    return f"{c.special_w(name)} = {c.r(op.RS)}" if name else None


@template("mfcr")
def mfcr(c, op) -> str:
    return f"{c.w(op.RT)} = {c.cr_r()}"


@template("mtcrf")
def mtcrf(c, op) -> str:
    mask = 0
    for field in range(8):
        if op.FXM & (0x80 >> field):
            mask |= 0xF << (28 - 4 * field)
    return f"{c.cr_w()} = (cr & {~mask & M32}) | ({c.r(op.RS)} & {mask})"


@template("sync", "isync", "eieio", "dcbt", "dcbtst", "icbt")
def no_effect(c, op) -> str:
    return "pass"


# --- Branches (Book I 2.4) ---------------------------------------------------------------------

def _condition(c, bo: int, bi: int, pre: list) -> Optional[str]:
    """The branch condition, with CTR decremented first (in `pre`) when BO[2]=0."""
    tests = []
    if not bo & 0x04:
        pre.append(f"{c.special_w('ctr')} = ctr - 1\n{c.wrap('ctr')}")
        ctr = "ctr" if c.sf else f"(ctr & {M32})"
        tests.append(f"{ctr} == 0" if bo & 0x02 else f"{ctr} != 0")
    if not bo & 0x10:
        bit = f"{c.cr_r()} & {1 << (31 - bi)}"
        tests.append(f"({bit})" if bo & 0x08 else f"not ({bit})")
    return " and ".join(tests) or None


def _aligned(c, register: str) -> str:
    """A branch target from a register: the low two bits cleared, in the mode's width."""
    return f"{register} >> 2 << 2" if c.sf else f"{register} & {~3 & M32}"


def _link(c, op, pre: list) -> None:
    if op.word & 1:
        pre.append(f"{c.special_w('lr')} = {c.nia}")


def branch(name: str) -> Callable[[BranchTemplate], BranchTemplate]:
    def register(fn: BranchTemplate) -> BranchTemplate:
        BRANCHES[name] = fn
        return fn
    return register


@branch("b")
def b(c, op):
    pre: list = []
    _link(c, op, pre)
    target = op.LI if op.word & 2 else c.cia + op.LI
    return "\n".join(pre), None, target & c.ea_mask


@branch("bc")
def bc(c, op):
    pre: list = []
    _link(c, op, pre)
    cond = _condition(c, op.BO, op.BI, pre)
    target = op.BD if op.word & 2 else c.cia + op.BD
    return "\n".join(pre), cond, target & c.ea_mask


@branch("bclr")
def bclr(c, op):
    pre = [f"tgt = {_aligned(c, c.special_r('lr'))}"]     # before LK=1 replaces LR
    _link(c, op, pre)
    cond = _condition(c, op.BO, op.BI, pre)
    return "\n".join(pre), cond, "tgt"


@branch("bcctr")
def bcctr(c, op):
    if not op.BO & 0x04:
        return None                    # the CTR-testing form has its own order: semantics
    pre = [f"tgt = {_aligned(c, c.special_r('ctr'))}"]
    _link(c, op, pre)
    cond = _condition(c, op.BO, op.BI, pre)
    return "\n".join(pre), cond, "tgt"


@branch("bctar")
def bctar(c, op):
    pre = [f"tgt = {_aligned(c, 'cpu.tar')}"]
    _link(c, op, pre)
    cond = _condition(c, op.BO, op.BI, pre)
    return "\n".join(pre), cond, "tgt"
