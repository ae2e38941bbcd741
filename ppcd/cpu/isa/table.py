"""The shape of one row of the instruction table.

A row names a mnemonic, its primary opcode, its operands in assembler order and where
its extended opcode lives (the form). Everything else is derived: the bits an encoding
must match, the assembler, the disassembler, and which semantic function runs it.
Bits that belong to no operand are fixed: the opcode, the extended opcode, Rc/OE for
that variant, and reserved bits, which must be zero unless the row lists them in
`ignore` (as processors and QEMU ignore a few).

`isa` is the ISA version (x100: 205, 206, 207, 300) that introduced the instruction to the
Server architecture, for the PCR's compatibility modes (ppcd/cpu/compat.py); rows without
one are older than any mode ppcd offers.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from .fields import FIELDS

# Where each form keeps its extended opcode (first bit, last bit), Book I 1.6.
XO_BITS: Dict[str, Tuple[int, int]] = {
    "X": (21, 30), "XL": (21, 30), "XFX": (21, 30), "XFL": (21, 30),
    "XO": (22, 30), "XS": (21, 29), "MD": (27, 29), "MDS": (27, 30),
    "DS": (30, 31), "A": (26, 30), "VA": (26, 31), "DX": (26, 30), "DQ": (29, 31),
    "Z22": (22, 30), "Z23": (23, 30),
}
# "OPCODE" is a catch-all row: only the primary opcode is fixed (the rest is `ignore`d),
# so it matches whatever no more specific row of that opcode does.
NO_XO_FORMS = ("D", "I", "B", "SC", "M", "OPCODE")

# Operand syntax tokens that are not plain field names.
_MEMORY_OPERANDS = {"D(RA)": ("D", "RA"), "DS(RA)": ("DS", "RA"), "DQ(RA)": ("DQ", "RA")}


class Insn:
    """One mnemonic of the instruction table."""

    __slots__ = ("mnemonic", "opcd", "form", "xo", "operands", "impl", "rc", "oe",
                 "priv", "facility", "isa", "fixed", "ignore", "mask", "match", "fields")

    def __init__(self, mnemonic: str, opcd: int, form: str, xo: Optional[int],
                 operands: Sequence[str], impl: str, rc: int, oe: int, priv: bool,
                 facility: str, fixed: Dict[str, int], ignore: int, isa: int = 0) -> None:
        self.mnemonic = mnemonic
        self.opcd = opcd
        self.form = form
        self.xo = xo
        self.operands = tuple(operands)
        self.impl = impl
        self.rc = rc
        self.oe = oe
        self.priv = priv
        self.facility = facility
        self.isa = isa
        self.fixed = dict(fixed)
        self.ignore = ignore
        self.fields = self._operand_fields()
        free = ignore
        for name in self.fields:
            free |= FIELDS[name].bits
        self.mask = ~free & 0xFFFFFFFF
        self.match = self._fixed_bits()
        if self.match & ~self.mask:
            raise ValueError(f"{mnemonic}: fixed bits overlap its operands")

    def _operand_fields(self) -> Tuple[str, ...]:
        names: List[str] = []
        for token in self.operands:
            names.extend(_MEMORY_OPERANDS.get(token, (token,)))
        for name in names:
            if name not in FIELDS:
                raise ValueError(f"{self.mnemonic}: unknown operand field {name}")
        return tuple(names)

    def _fixed_bits(self) -> int:
        bits = self.opcd << 26
        if self.form in XO_BITS:
            first, last = XO_BITS[self.form]
            if self.xo is None:
                raise ValueError(f"{self.mnemonic}: form {self.form} needs an extended opcode")
            bits |= self.xo << (31 - last)
        elif self.form not in NO_XO_FORMS:
            raise ValueError(f"{self.mnemonic}: unknown form {self.form}")
        if self.rc:
            bits |= 1
        if self.oe:
            bits |= 1 << 10
        for name, value in self.fixed.items():
            bits |= FIELDS[name].encode(value)
        return bits

    @property
    def catch_all(self) -> bool:
        """A row covering a whole primary opcode: no assembler syntax of its own."""
        return self.form == "OPCODE"

    def encode(self, *values: int) -> int:
        """Assemble this mnemonic from operand values given in assembler order."""
        if len(values) != len(self.fields):
            raise ValueError(f"{self.mnemonic} takes {len(self.fields)} operands")
        word = self.match
        for name, value in zip(self.fields, values):
            word |= FIELDS[name].encode(value)
        return word

    def __repr__(self) -> str:
        return f"Insn({self.mnemonic!r})"


def row(mnemonic: str, opcd: int, form: str, operands: str = "", *, xo: Optional[int] = None,
        rc: bool = False, oe: bool = False, impl: Optional[str] = None, priv: bool = False,
        facility: str = "", fixed: Optional[Dict[str, int]] = None,
        ignore: int = 0, isa: int = 0) -> List[Insn]:
    """Rows for a mnemonic and its record (".") and overflow ("o") variants.

    `operands` is the assembler syntax, e.g. "RT,RA,SI" or "RT,D(RA)". The variants share
    one semantic function, named by `impl` (default: the base mnemonic), which reads the
    decoded `rc` and `oe` flags.
    """
    ops = [t.strip() for t in operands.split(",") if t.strip()]
    rows = []
    for oe_bit in ((0, 1) if oe else (0,)):
        for rc_bit in ((0, 1) if rc else (0,)):
            name = mnemonic + ("o" if oe_bit else "") + ("." if rc_bit else "")
            rows.append(Insn(name, opcd, form, xo, ops, impl or mnemonic, rc_bit, oe_bit,
                             priv, facility, fixed or {}, ignore, isa))
    return rows
