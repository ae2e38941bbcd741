"""Fixed-point storage access (Power ISA 3.0 Book I 3.3.2-3.3.7): loads and stores, with
update and indexed forms, byte-reversed, multiple and string forms; load-and-reserve and
store-conditional (Book II 4.4.2); the cache management instructions guests use (Book II 4.3).

lq and stq live in quadword.py with the other pair accesses. Bit 31 of an X-form is
reserved; where QEMU 7.2 decodes it as "don't care" (decodetree "-", checked with qemu-ppc64
7.2) the row ignores it too, so a guest that runs under QEMU runs here. The byte-reversed
loads, the multiple/string forms and the cache instructions keep it reserved, as QEMU does.
"""

from .table import Insn, row

_B31 = 1                # the reserved bit 31 of an X-form (EH of the larx instructions)
_DCBZ_L = 1 << 21       # bit 10: dcbzl on the 970; POWER9 and QEMU ignore it



def _record_only(*args, **kwargs) -> Insn:
    """The "." row alone: the store conditional instructions have no Rc=0 form."""
    return row(*args, rc=True, **kwargs)[1]


INSTRUCTIONS = [
    # Book I 3.3.2 Fixed-point load instructions
    *row("lbz", 34, "D", "RT,D(RA)"),
    *row("lbzu", 35, "D", "RT,D(RA)"),
    *row("lbzx", 31, "X", "RT,RA,RB", xo=87, ignore=_B31),
    *row("lbzux", 31, "X", "RT,RA,RB", xo=119, ignore=_B31),
    *row("lhz", 40, "D", "RT,D(RA)"),
    *row("lhzu", 41, "D", "RT,D(RA)"),
    *row("lhzx", 31, "X", "RT,RA,RB", xo=279, ignore=_B31),
    *row("lhzux", 31, "X", "RT,RA,RB", xo=311, ignore=_B31),
    *row("lha", 42, "D", "RT,D(RA)"),
    *row("lhau", 43, "D", "RT,D(RA)"),
    *row("lhax", 31, "X", "RT,RA,RB", xo=343, ignore=_B31),
    *row("lhaux", 31, "X", "RT,RA,RB", xo=375, ignore=_B31),
    *row("lwz", 32, "D", "RT,D(RA)"),
    *row("lwzu", 33, "D", "RT,D(RA)"),
    *row("lwzx", 31, "X", "RT,RA,RB", xo=23, ignore=_B31),
    *row("lwzux", 31, "X", "RT,RA,RB", xo=55, ignore=_B31),
    *row("lwa", 58, "DS", "RT,DS(RA)", xo=2),
    *row("lwax", 31, "X", "RT,RA,RB", xo=341, ignore=_B31),
    *row("lwaux", 31, "X", "RT,RA,RB", xo=373, ignore=_B31),
    *row("ld", 58, "DS", "RT,DS(RA)", xo=0),
    *row("ldu", 58, "DS", "RT,DS(RA)", xo=1),
    *row("ldx", 31, "X", "RT,RA,RB", xo=21, ignore=_B31),
    *row("ldux", 31, "X", "RT,RA,RB", xo=53, ignore=_B31),
    # Book I 3.3.3 Fixed-point store instructions
    *row("stb", 38, "D", "RS,D(RA)"),
    *row("stbu", 39, "D", "RS,D(RA)"),
    *row("stbx", 31, "X", "RS,RA,RB", xo=215, ignore=_B31),
    *row("stbux", 31, "X", "RS,RA,RB", xo=247, ignore=_B31),
    *row("sth", 44, "D", "RS,D(RA)"),
    *row("sthu", 45, "D", "RS,D(RA)"),
    *row("sthx", 31, "X", "RS,RA,RB", xo=407, ignore=_B31),
    *row("sthux", 31, "X", "RS,RA,RB", xo=439, ignore=_B31),
    *row("stw", 36, "D", "RS,D(RA)"),
    *row("stwu", 37, "D", "RS,D(RA)"),
    *row("stwx", 31, "X", "RS,RA,RB", xo=151, ignore=_B31),
    *row("stwux", 31, "X", "RS,RA,RB", xo=183, ignore=_B31),
    *row("std", 62, "DS", "RS,DS(RA)", xo=0),
    *row("stdu", 62, "DS", "RS,DS(RA)", xo=1),
    *row("stdx", 31, "X", "RS,RA,RB", xo=149, ignore=_B31),
    *row("stdux", 31, "X", "RS,RA,RB", xo=181, ignore=_B31),
    # Book I 3.3.5 Fixed-point load and store with byte reversal
    *row("lhbrx", 31, "X", "RT,RA,RB", xo=790),
    *row("lwbrx", 31, "X", "RT,RA,RB", xo=534),
    *row("ldbrx", 31, "X", "RT,RA,RB", xo=532, isa=206),
    *row("sthbrx", 31, "X", "RS,RA,RB", xo=918, ignore=_B31),
    *row("stwbrx", 31, "X", "RS,RA,RB", xo=662, ignore=_B31),
    *row("stdbrx", 31, "X", "RS,RA,RB", xo=660, ignore=_B31, isa=206),
    # Book I 3.3.6 Fixed-point load and store multiple
    *row("lmw", 46, "D", "RT,D(RA)"),
    *row("stmw", 47, "D", "RS,D(RA)"),
    # Book I 3.3.7 Fixed-point move assist (string) instructions
    *row("lswi", 31, "X", "RT,RA,NB", xo=597),
    *row("lswx", 31, "X", "RT,RA,RB", xo=533),
    *row("stswi", 31, "X", "RS,RA,NB", xo=725),
    *row("stswx", 31, "X", "RS,RA,RB", xo=661),
    # Book II 4.4.2 Load and reserve (EH, bit 31, is a hint) and store conditional (Rc=1 only)
    *row("lbarx", 31, "X", "RT,RA,RB", xo=52, ignore=_B31, isa=206),
    *row("lharx", 31, "X", "RT,RA,RB", xo=116, ignore=_B31, isa=206),
    *row("lwarx", 31, "X", "RT,RA,RB", xo=20, ignore=_B31),
    *row("ldarx", 31, "X", "RT,RA,RB", xo=84, ignore=_B31),
    _record_only("stbcx", 31, "X", "RS,RA,RB", xo=694, isa=206),
    _record_only("sthcx", 31, "X", "RS,RA,RB", xo=726, isa=206),
    _record_only("stwcx", 31, "X", "RS,RA,RB", xo=150),
    _record_only("stdcx", 31, "X", "RS,RA,RB", xo=214),
    # Book II 4.3 Cache management
    *row("dcbt", 31, "X", "RA,RB,TH", xo=278),
    *row("dcbtst", 31, "X", "RA,RB,TH", xo=246),
    # dcbf's L field: 0 dcbf, 1 dcbfl, 3 dcbflp; 2 is reserved (QEMU 7.2 also refuses 3).
    *row("dcbf", 31, "X", "RA,RB", xo=86),
    *row("dcbfl", 31, "X", "RA,RB", xo=86, fixed={"L9": 1}, impl="dcbf"),
    *row("dcbflp", 31, "X", "RA,RB", xo=86, fixed={"L9": 3}, impl="dcbf"),
    *row("dcbst", 31, "X", "RA,RB", xo=54),
    *row("dcbz", 31, "X", "RA,RB", xo=1014, ignore=_DCBZ_L),
    *row("icbi", 31, "X", "RA,RB", xo=982),
    *row("icbt", 31, "X", "CT,RA,RB", xo=22, isa=207),
]
