"""Instruction table rows: quadword and pair storage access, atomic memory operations and
copy-paste (Power ISA 3.0 Book I 3.3.4, 4.6.2-4.6.3; Book II 4.4.2, 4.5, 4.6).

The 128-bit operands live in even-odd register pairs (RTp, RSp, FRTp, FRSp): an odd
register is an invalid form and decodes as illegal, as in QEMU 7.2. Like QEMU, lq ignores
bits 28:31 of its DQ-form word (QEMU drops the displacement's low four bits), and the
larx's EH hint bit is ignored as for the other larx instructions.
"""

from .table import Insn, row

_B31 = 1                # the EH bit of lqarx
_DQ_LOW = 0xF           # lq's reserved bits 28:31


def _record_only(*args, **kwargs) -> Insn:
    """stqcx. has no Rc=0 form."""
    return row(*args, rc=True, **kwargs)[1]


INSTRUCTIONS = [
    # Book I 3.3.4 load/store quadword (problem-state instructions since ISA 2.07)
    *row("lq", 56, "DQ", "RTp,DQ(RA)", xo=0, ignore=_DQ_LOW, isa=207),
    *row("stq", 62, "DS", "RSp,DS(RA)", xo=2, isa=207),
    # Book II 4.4.2 quadword load and reserve, store conditional
    *row("lqarx", 31, "X", "RTp,RA,RB", xo=276, ignore=_B31, isa=207),
    _record_only("stqcx", 31, "X", "RSp,RA,RB", xo=182, isa=207),
    # Book I 4.6.2-4.6.3 floating-point load/store doubleword pair
    *row("lfdp", 57, "DS", "FRTp,DS(RA)", xo=0, facility="fp", isa=205),
    *row("lfdpx", 31, "X", "FRTp,RA,RB", xo=791, facility="fp", isa=205),
    *row("stfdp", 61, "DS", "FRSp,DS(RA)", xo=0, facility="fp", isa=205),
    *row("stfdpx", 31, "X", "FRSp,RA,RB", xo=919, facility="fp", isa=205),
    # Book II 4.5 atomic memory operations (FC selects the function)
    *row("lwat", 31, "X", "RT,RA,FC", xo=582, isa=300),
    *row("ldat", 31, "X", "RT,RA,FC", xo=614, isa=300),
    *row("stwat", 31, "X", "RS,RA,FC", xo=710, isa=300),
    *row("stdat", 31, "X", "RS,RA,FC", xo=742, isa=300),
    # Book II 4.6 copy-paste (ISA 3.0B: L=1 is the only defined form)
    *row("copy", 31, "X", "RA,RB", xo=774, fixed={"L": 1}, isa=300),
    *row("paste", 31, "X", "RA,RB", xo=902, fixed={"L": 1}, rc=True, isa=300)[1:],
    *row("cp_abort", 31, "X", "", xo=838, isa=300),
]
