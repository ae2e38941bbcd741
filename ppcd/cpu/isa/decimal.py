"""Instruction table rows: the decimal floating-point facility (Power ISA 3.0 Book I chapter 5).

DFP instructions live in the FPRs, so every row has facility="fp" (Floating-Point Unavailable
with MSR[FP]=0). The long (64-bit) forms are opcode 59, the extended (128-bit, "q") forms
opcode 63 with their 128-bit operands in even-odd FPR pairs (FRTp, FRAp, FRBp): an odd
register number is an invalid form, which decodes as illegal as in QEMU 7.2. A few extended
forms take a 64-bit operand (dctqpq's FRB, dctfixq's FRT, dtstsf's and diexq's FRA).
"""

from typing import List

from .table import Insn, row


def _dfp(*args, isa: int = 205, **kwargs) -> List[Insn]:
    """A DFP row: ISA 2.05 unless stated (dtstsfi is ISA 3.0)."""
    return row(*args, facility="fp", isa=isa, **kwargs)


def _pair(name: str, form: str, xo: int, long_ops: str, quad_ops: str,
          rc: bool = True, isa: int = 205) -> List[Insn]:
    """The long form (opcode 59) and its extended twin (opcode 63, "q" suffix)."""
    return (_dfp(name, 59, form, long_ops, xo=xo, rc=rc, isa=isa)
            + _dfp(name + "q", 63, form, quad_ops, xo=xo, rc=rc, isa=isa))


INSTRUCTIONS = [
    # Book I 5.6.1 DFP arithmetic
    *_pair("dadd", "X", 2, "FRT,FRA,FRB", "FRTp,FRAp,FRBp"),
    *_pair("dsub", "X", 514, "FRT,FRA,FRB", "FRTp,FRAp,FRBp"),
    *_pair("dmul", "X", 34, "FRT,FRA,FRB", "FRTp,FRAp,FRBp"),
    *_pair("ddiv", "X", 546, "FRT,FRA,FRB", "FRTp,FRAp,FRBp"),
    # Book I 5.6.2 DFP compare
    *_pair("dcmpu", "X", 642, "BF,FRA,FRB", "BF,FRAp,FRBp", rc=False),
    *_pair("dcmpo", "X", 130, "BF,FRA,FRB", "BF,FRAp,FRBp", rc=False),
    # Book I 5.6.3 DFP test
    *_pair("dtstdc", "Z22", 194, "BF,FRA,DCM", "BF,FRAp,DCM", rc=False),
    *_pair("dtstdg", "Z22", 226, "BF,FRA,DGM", "BF,FRAp,DGM", rc=False),
    *_pair("dtstex", "X", 162, "BF,FRA,FRB", "BF,FRAp,FRBp", rc=False),
    *_pair("dtstsf", "X", 674, "BF,FRA,FRB", "BF,FRA,FRBp", rc=False),
    *_pair("dtstsfi", "X", 675, "BF,UIM,FRB", "BF,UIM,FRBp", rc=False, isa=300),
    # Book I 5.6.4 DFP quantum adjustment
    *_pair("dquai", "Z23", 67, "TE,FRT,FRB,RMC", "TE,FRTp,FRBp,RMC"),
    *_pair("dqua", "Z23", 3, "FRT,FRA,FRB,RMC", "FRTp,FRAp,FRBp,RMC"),
    *_pair("drrnd", "Z23", 35, "FRT,FRA,FRB,RMC", "FRTp,FRA,FRBp,RMC"),
    *_pair("drintx", "Z23", 99, "R,FRT,FRB,RMC", "R,FRTp,FRBp,RMC"),
    *_pair("drintn", "Z23", 227, "R,FRT,FRB,RMC", "R,FRTp,FRBp,RMC"),
    # Book I 5.6.5 DFP conversion
    *_dfp("dctdp", 59, "X", "FRT,FRB", xo=258, rc=True),
    *_dfp("dctqpq", 63, "X", "FRTp,FRB", xo=258, rc=True),
    *_dfp("drsp", 59, "X", "FRT,FRB", xo=770, rc=True),
    *_dfp("drdpq", 63, "X", "FRTp,FRBp", xo=770, rc=True),
    *_pair("dcffix", "X", 802, "FRT,FRB", "FRTp,FRB"),
    *_pair("dctfix", "X", 290, "FRT,FRB", "FRT,FRBp"),
    # Book I 5.6.6 DFP format
    *_pair("ddedpd", "X", 322, "SP,FRT,FRB", "SP,FRTp,FRBp"),
    *_pair("denbcd", "X", 834, "S,FRT,FRB", "S,FRTp,FRBp"),
    *_pair("dxex", "X", 354, "FRT,FRB", "FRT,FRBp"),
    *_pair("diex", "X", 866, "FRT,FRA,FRB", "FRTp,FRA,FRBp"),
    *_pair("dscli", "Z22", 66, "FRT,FRA,SHD", "FRTp,FRAp,SHD"),
    *_pair("dscri", "Z22", 98, "FRT,FRA,SHD", "FRTp,FRAp,SHD"),
]
