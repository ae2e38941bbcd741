"""Instruction table rows: the vector facilities, VMX (Book I chapter 6) and VSX (chapter 7).

ppcd does not implement them yet, but their instructions must raise the right interrupt
(the decoder checks the row's facility), and an illegal instruction otherwise. Which facility
an instruction needs is in its ISA 3.0 pseudocode, and for many VSX instructions it depends on
the VSR operand's half (Book I 7.2.1: VSRs 0-31 overlay the FPRs, VSRs 32-63 the VRs):

- "vec": MSR[VEC] (the VMX instructions, and lxsd/lxssp/stxsd/stxssp, whose VRT/VRS is VSR
  32+VRT);
- "vsx": MSR[VSX], whatever the register (the VSX instructions of ISA 2.06 and 2.07, which
  use the whole VSR);
- "fp/vec": MSR[FP] for VSRs 0-31, MSR[VEC] for 32-63 (the moves that touch doubleword 0 only:
  mfvsrd, mfvsrwz, mtvsrd, mtvsrwa, mtvsrwz);
- "vsx/vec": MSR[VSX] for VSRs 0-31, MSR[VEC] for 32-63 (the ISA 3.0 storage accesses and
  moves: an FPR's doubleword 1 is VSX state, a VR is VMX state).

The moves of doubleword 0 to and from an FPR are implemented (semantics/vector.py).

Primary opcodes 4 (VMX) and 60 (VSX) are covered whole by catch-all rows, which the decoder
tries after every specific row (so the fixed-point maddhd/maddhdu/maddld of opcode 4 keep
working); the VMX and VSX storage instructions of opcode 31, 57 and 61 and the VSX moves GCC
emits have rows of their own.
Opcode 61's DS-form xo 0 is stfdp, a floating-point instruction (quadword.py).
"""

from .table import row

_UNIMPLEMENTED = "vector_unimplemented"
_REST = 0x03FF_FFFF      # everything below the primary opcode


def _vec(*args, **kwargs):
    return row(*args, facility="vec", impl=_UNIMPLEMENTED, **kwargs)


def _vsx(*args, **kwargs):
    """ISA 2.06/2.07 VSX rows: "if MSR.VSX=0 then VSX_Unavailable()" for any register."""
    return row(*args, facility="vsx", impl=_UNIMPLEMENTED, **kwargs)


def _vsx_half(*args, **kwargs):
    """ISA 3.0 VSX rows: "if TX=0 & MSR.VSX=0 then VSX_Unavailable(); if TX=1 & MSR.VEC=0
    then Vector_Unavailable()"."""
    return row(*args, facility="vsx/vec", impl=_UNIMPLEMENTED, **kwargs)


def _vec_vsr(*args, **kwargs):
    """lxsd, lxssp, stxsd, stxssp: VSR 32+VRT is a VR, "if MSR.VEC=0 then
    Vector_Unavailable()" (Book I 7.6)."""
    return row(*args, facility="vec", impl=_UNIMPLEMENTED, **kwargs)


def _move(mnemonic, *args, **kwargs):
    """mfvsrd, mfvsrwz, mtvsr[dwa,wz]: "if SX=0 & MSR.FP=0 then FP_Unavailable(); if SX=1 &
    MSR.VEC=0 then Vector_Unavailable()" (Book I 7.6, ISA 2.07 and 3.0)."""
    return row(mnemonic, *args, facility="fp/vec", **kwargs)


INSTRUCTIONS = [
    *_vec("vmx", 4, "OPCODE", ignore=_REST),
    *_vsx("vsx", 60, "OPCODE", ignore=_REST),
    # Book I 6.7 VMX load and store instructions
    *_vec("lvebx", 31, "X", "VRT,RA,RB", xo=7),
    *_vec("lvehx", 31, "X", "VRT,RA,RB", xo=39),
    *_vec("lvewx", 31, "X", "VRT,RA,RB", xo=71),
    *_vec("lvx", 31, "X", "VRT,RA,RB", xo=103),
    *_vec("lvxl", 31, "X", "VRT,RA,RB", xo=359),
    *_vec("stvebx", 31, "X", "VRS,RA,RB", xo=135),
    *_vec("stvehx", 31, "X", "VRS,RA,RB", xo=167),
    *_vec("stvewx", 31, "X", "VRS,RA,RB", xo=199),
    *_vec("stvx", 31, "X", "VRS,RA,RB", xo=231),
    *_vec("stvxl", 31, "X", "VRS,RA,RB", xo=487),
    *_vec("lvsl", 31, "X", "VRT,RA,RB", xo=6),
    *_vec("lvsr", 31, "X", "VRT,RA,RB", xo=38),
    # Book I 7.6 VSX storage access instructions (XX1-form)
    *_vsx("lxsiwzx", 31, "X", "XT,RA,RB", xo=12, isa=207),
    *_vsx("lxsiwax", 31, "X", "XT,RA,RB", xo=76, isa=207),
    *_vsx_half("lxvx", 31, "X", "XT,RA,RB", xo=268, isa=300),
    *_vsx_half("lxvl", 31, "X", "XT,RA,RB", xo=269, isa=300),
    *_vsx_half("lxvll", 31, "X", "XT,RA,RB", xo=301, isa=300),
    *_vsx("lxvdsx", 31, "X", "XT,RA,RB", xo=332, isa=206),
    *_vsx_half("lxvwsx", 31, "X", "XT,RA,RB", xo=364, isa=300),
    *_vsx("lxsspx", 31, "X", "XT,RA,RB", xo=524, isa=207),
    *_vsx("lxsdx", 31, "X", "XT,RA,RB", xo=588, isa=206),
    *_vsx("lxvw4x", 31, "X", "XT,RA,RB", xo=780, isa=206),
    *_vsx_half("lxsibzx", 31, "X", "XT,RA,RB", xo=781, isa=300),
    *_vsx_half("lxvh8x", 31, "X", "XT,RA,RB", xo=812, isa=300),
    *_vsx_half("lxsihzx", 31, "X", "XT,RA,RB", xo=813, isa=300),
    *_vsx("lxvd2x", 31, "X", "XT,RA,RB", xo=844, isa=206),
    *_vsx_half("lxvb16x", 31, "X", "XT,RA,RB", xo=876, isa=300),
    *_vsx("stxsiwx", 31, "X", "XS,RA,RB", xo=140, isa=207),
    *_vsx_half("stxvx", 31, "X", "XS,RA,RB", xo=396, isa=300),
    *_vsx_half("stxvl", 31, "X", "XS,RA,RB", xo=397, isa=300),
    *_vsx_half("stxvll", 31, "X", "XS,RA,RB", xo=429, isa=300),
    *_vsx("stxsspx", 31, "X", "XS,RA,RB", xo=652, isa=207),
    *_vsx("stxsdx", 31, "X", "XS,RA,RB", xo=716, isa=206),
    *_vsx("stxvw4x", 31, "X", "XS,RA,RB", xo=908, isa=206),
    *_vsx_half("stxsibx", 31, "X", "XS,RA,RB", xo=909, isa=300),
    *_vsx_half("stxvh8x", 31, "X", "XS,RA,RB", xo=940, isa=300),
    *_vsx_half("stxsihx", 31, "X", "XS,RA,RB", xo=941, isa=300),
    *_vsx("stxvd2x", 31, "X", "XS,RA,RB", xo=972, isa=206),
    *_vsx_half("stxvb16x", 31, "X", "XS,RA,RB", xo=1004, isa=300),
    # Book I 7.6 VSX DS- and DQ-form storage access
    *_vec_vsr("lxsd", 57, "DS", "VRT,DS(RA)", xo=2, isa=300),
    *_vec_vsr("lxssp", 57, "DS", "VRT,DS(RA)", xo=3, isa=300),
    *_vec_vsr("stxsd", 61, "DS", "VRS,DS(RA)", xo=2, isa=300),
    *_vec_vsr("stxssp", 61, "DS", "VRS,DS(RA)", xo=3, isa=300),
    *_vsx_half("lxv", 61, "DQ", "XTQ,DQ(RA)", xo=1, isa=300),
    *_vsx_half("stxv", 61, "DQ", "XSQ,DQ(RA)", xo=5, isa=300),
    # Book I 7.6 VSX move to and from GPR (XX1-form)
    *_move("mfvsrd", 31, "X", "RA,XS", xo=51, isa=207),
    *_move("mfvsrwz", 31, "X", "RA,XS", xo=115, isa=207),
    *_vsx_half("mfvsrld", 31, "X", "RA,XS", xo=307, isa=300),
    *_move("mtvsrd", 31, "X", "XT,RA", xo=179, isa=207),
    *_move("mtvsrwa", 31, "X", "XT,RA", xo=211, isa=207),
    *_move("mtvsrwz", 31, "X", "XT,RA", xo=243, isa=207),
    *_vsx_half("mtvsrws", 31, "X", "XT,RA", xo=403, isa=300),
    *_vsx_half("mtvsrdd", 31, "X", "XT,RA,RB", xo=435, isa=300),
]
