"""Instruction table rows: the scalar floating-point facility (Power ISA 3.0 Book I chapter 4).

Every row has facility="fp": with MSR[FP]=0 the decoder raises Floating-Point Unavailable
before the semantics run. Fields an instruction does not use (FRA of fsqrt, FRC of fadd,
FRB of fmul, ...) are reserved and must be zero. The ISA 3.0 mffs variants share mffs's
extended opcode and tell themselves apart by a sub-opcode in the FRA field.
"""

from .table import row


def _fp(*args, **kwargs):
    return row(*args, facility="fp", **kwargs)


def _arith(name: str, xo: int, operands: str, single: bool = True):
    """An A-form arithmetic instruction and its single-precision twin (opcode 59)."""
    rows = _fp(name, 63, "A", operands, xo=xo, rc=True)
    if single:
        rows += _fp(name + "s", 59, "A", operands, xo=xo, rc=True)
    return rows


INSTRUCTIONS = [
    # Book I 4.6.2-4.6.3 Floating-point load and store instructions
    *_fp("lfs", 48, "D", "FRT,D(RA)"),
    *_fp("lfsu", 49, "D", "FRT,D(RA)"),
    *_fp("lfsx", 31, "X", "FRT,RA,RB", xo=535),
    *_fp("lfsux", 31, "X", "FRT,RA,RB", xo=567),
    *_fp("lfd", 50, "D", "FRT,D(RA)"),
    *_fp("lfdu", 51, "D", "FRT,D(RA)"),
    *_fp("lfdx", 31, "X", "FRT,RA,RB", xo=599),
    *_fp("lfdux", 31, "X", "FRT,RA,RB", xo=631),
    *_fp("lfiwax", 31, "X", "FRT,RA,RB", xo=855, isa=205),
    *_fp("lfiwzx", 31, "X", "FRT,RA,RB", xo=887, isa=206),
    *_fp("stfs", 52, "D", "FRS,D(RA)"),
    *_fp("stfsu", 53, "D", "FRS,D(RA)"),
    *_fp("stfsx", 31, "X", "FRS,RA,RB", xo=663),
    *_fp("stfsux", 31, "X", "FRS,RA,RB", xo=695),
    *_fp("stfd", 54, "D", "FRS,D(RA)"),
    *_fp("stfdu", 55, "D", "FRS,D(RA)"),
    *_fp("stfdx", 31, "X", "FRS,RA,RB", xo=727),
    *_fp("stfdux", 31, "X", "FRS,RA,RB", xo=759),
    *_fp("stfiwx", 31, "X", "FRS,RA,RB", xo=983),
    # Book I 4.6.5 Floating-point move instructions
    *_fp("fmr", 63, "X", "FRT,FRB", xo=72, rc=True),
    *_fp("fneg", 63, "X", "FRT,FRB", xo=40, rc=True),
    *_fp("fabs", 63, "X", "FRT,FRB", xo=264, rc=True),
    *_fp("fnabs", 63, "X", "FRT,FRB", xo=136, rc=True),
    *_fp("fcpsgn", 63, "X", "FRT,FRA,FRB", xo=8, rc=True, isa=205),
    # Book I 4.6.6 Floating-point arithmetic instructions
    *_arith("fadd", 21, "FRT,FRA,FRB"),
    *_arith("fsub", 20, "FRT,FRA,FRB"),
    *_arith("fmul", 25, "FRT,FRA,FRC"),
    *_arith("fdiv", 18, "FRT,FRA,FRB"),
    *_arith("fsqrt", 22, "FRT,FRB"),
    *_arith("fre", 24, "FRT,FRB"),
    *_arith("frsqrte", 26, "FRT,FRB"),
    *_arith("fmadd", 29, "FRT,FRA,FRC,FRB"),
    *_arith("fmsub", 28, "FRT,FRA,FRC,FRB"),
    *_arith("fnmadd", 31, "FRT,FRA,FRC,FRB"),
    *_arith("fnmsub", 30, "FRT,FRA,FRC,FRB"),
    *_arith("fsel", 23, "FRT,FRA,FRC,FRB", single=False),
    *_fp("ftdiv", 63, "X", "BF,FRA,FRB", xo=128, isa=206),
    *_fp("ftsqrt", 63, "X", "BF,FRB", xo=160, isa=206),
    # Book I 4.6.7 Floating-point rounding and conversion instructions
    *_fp("frsp", 63, "X", "FRT,FRB", xo=12, rc=True),
    *_fp("fctid", 63, "X", "FRT,FRB", xo=814, rc=True),
    *_fp("fctidz", 63, "X", "FRT,FRB", xo=815, rc=True),
    *_fp("fctidu", 63, "X", "FRT,FRB", xo=942, rc=True, isa=206),
    *_fp("fctiduz", 63, "X", "FRT,FRB", xo=943, rc=True, isa=206),
    *_fp("fctiw", 63, "X", "FRT,FRB", xo=14, rc=True),
    *_fp("fctiwz", 63, "X", "FRT,FRB", xo=15, rc=True),
    *_fp("fctiwu", 63, "X", "FRT,FRB", xo=142, rc=True, isa=206),
    *_fp("fctiwuz", 63, "X", "FRT,FRB", xo=143, rc=True, isa=206),
    *_fp("fcfid", 63, "X", "FRT,FRB", xo=846, rc=True),
    *_fp("fcfids", 59, "X", "FRT,FRB", xo=846, rc=True, isa=206),
    *_fp("fcfidu", 63, "X", "FRT,FRB", xo=974, rc=True, isa=206),
    *_fp("fcfidus", 59, "X", "FRT,FRB", xo=974, rc=True, isa=206),
    *_fp("frin", 63, "X", "FRT,FRB", xo=392, rc=True),
    *_fp("friz", 63, "X", "FRT,FRB", xo=424, rc=True),
    *_fp("frip", 63, "X", "FRT,FRB", xo=456, rc=True),
    *_fp("frim", 63, "X", "FRT,FRB", xo=488, rc=True),
    # Book I 4.6.8 Floating-point compare instructions
    *_fp("fcmpu", 63, "X", "BF,FRA,FRB", xo=0),
    *_fp("fcmpo", 63, "X", "BF,FRA,FRB", xo=32),
    # Book I 4.6.10 Floating-point status and control register instructions
    *_fp("mffs", 63, "X", "FRT", xo=583, rc=True, fixed={"FRA": 0}),
    *_fp("mffsce", 63, "X", "FRT", xo=583, fixed={"FRA": 1}, isa=300),
    *_fp("mffscdrn", 63, "X", "FRT,FRB", xo=583, fixed={"FRA": 20}, isa=300),
    *_fp("mffscdrni", 63, "X", "FRT,DRM", xo=583, fixed={"FRA": 21}, isa=300),
    *_fp("mffscrn", 63, "X", "FRT,FRB", xo=583, fixed={"FRA": 22}, isa=300),
    *_fp("mffscrni", 63, "X", "FRT,RM", xo=583, fixed={"FRA": 23}, isa=300),
    *_fp("mffsl", 63, "X", "FRT", xo=583, fixed={"FRA": 24}, isa=300),
    *_fp("mcrfs", 63, "X", "BF,BFA", xo=64),
    *_fp("mtfsfi", 63, "X", "BF,U,W", xo=134, rc=True),
    *_fp("mtfsf", 63, "XFL", "FLM,FRB,FL1,W", xo=711, rc=True),
    *_fp("mtfsb0", 63, "X", "BT", xo=70, rc=True),
    *_fp("mtfsb1", 63, "X", "BT", xo=38, rc=True),
]
