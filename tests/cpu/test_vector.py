"""The vector facilities' interrupts, chosen per instruction as the ISA 3.0 pseudocode does
(Book I 7.6, Book III 7.5.14-7.5.16), and the moves between GPRs and FPRs (VSRs 0-31).

Which facility each row needs is in ppcd/cpu/isa/vector.py; QEMU 7.2 agrees for the rows the
differential test draws (docs/isa-fidelity.md, "Vector facilities").
"""

from __future__ import annotations

import itertools

import pytest
from cpuharness import CODE_BASE, make_cpu, run

from ppcd.cpu import msr as M
from ppcd.cpu.assembler import assemble_all
from ppcd.cpu.interpreter import Interpreter
from ppcd.cpu.interrupts import PROGRAM_ILLEGAL
from ppcd.cpu.isa import BY_MNEMONIC, INSTRUCTIONS
from ppcd.cpu.translator import Translator

FPU, VPU, VSXU, PROGRAM = 0x800, 0xF20, 0xF40, 0x700
EXECUTED = CODE_BASE + 4
VSR_FIELDS = ("XT", "XS", "XTQ", "XSQ", "VRT", "VRS")
# Every combination of MSR[FP], MSR[VEC] and MSR[VSX].
FACILITY_STATES = [sum(bit for bit, on in zip((M.FP, M.VEC, M.VSX), bits) if on)
                   for bits in itertools.product((0, 1), repeat=3)]

FP_HALF = ("mfvsrd", "mfvsrwz", "mtvsrd", "mtvsrwa", "mtvsrwz")
VEC_ONLY = ("lxsd", "lxssp", "stxsd", "stxssp")
VSX_HALF = ("lxvx", "lxvl", "lxvll", "lxvwsx", "lxsibzx", "lxvh8x", "lxsihzx", "lxvb16x",
            "stxvx", "stxvl", "stxvll", "stxsibx", "stxvh8x", "stxsihx", "stxvb16x",
            "lxv", "stxv", "mfvsrld", "mtvsrws", "mtvsrdd")
VSX_ONLY = ("lxsiwzx", "lxsiwax", "lxvdsx", "lxsspx", "lxsdx", "lxvw4x", "lxvd2x",
            "stxsiwx", "stxsspx", "stxsdx", "stxvw4x", "stxvd2x")


def _word(mnemonic: str, vsr: int) -> int:
    insn = BY_MNEMONIC[mnemonic]
    values = {"RA": 3, "RB": 4, "DS": 8, "DQ": 16}
    return insn.encode(*(vsr if name in VSR_FIELDS else values[name] for name in insn.fields))


def _outcome(word: int, facilities: int) -> int:
    """Where the instruction went: an interrupt vector, or EXECUTED."""
    cpu = make_cpu(msr=M.SF | M.ME | facilities)
    cpu.gpr[3], cpu.gpr[4] = 0x2000, 0x10
    run(cpu, [word])
    if cpu.pc == PROGRAM:
        assert cpu.spr[27] & PROGRAM_ILLEGAL
    if cpu.pc != EXECUTED:
        assert cpu.spr[26] == CODE_BASE
    return cpu.pc


def test_every_vsx_row_is_classified() -> None:
    named = {i.mnemonic for i in INSTRUCTIONS if i.facility in ("vsx", "vsx/vec", "fp/vec")
             and not i.catch_all}
    named |= set(VEC_ONLY)
    assert named == set(FP_HALF + VEC_ONLY + VSX_HALF + VSX_ONLY)
    for group, facility in ((FP_HALF, "fp/vec"), (VEC_ONLY, "vec"), (VSX_HALF, "vsx/vec"),
                            (VSX_ONLY, "vsx")):
        assert {BY_MNEMONIC[m].facility for m in group} == {facility}


@pytest.mark.parametrize("facilities", FACILITY_STATES)
@pytest.mark.parametrize("mnemonic", FP_HALF)
def test_fpr_moves_need_fp_for_vsrs_0_31_and_vec_for_32_63(mnemonic, facilities) -> None:
    """mfvsrd ... mtvsrwz: "if SX=0 & MSR.FP=0 then FP_Unavailable(); if SX=1 & MSR.VEC=0
    then Vector_Unavailable()" (Book I 7.6). MSR[VSX] plays no part. VSRs 32-63 (the VRs)
    are not modelled: with MSR[VEC]=1 the move is illegal in ppcd."""
    low = EXECUTED if facilities & M.FP else FPU
    high = PROGRAM if facilities & M.VEC else VPU
    for vsr in (0, 1, 31):
        assert _outcome(_word(mnemonic, vsr), facilities) == low, vsr
    for vsr in (32, 33, 63):
        assert _outcome(_word(mnemonic, vsr), facilities) == high, vsr


@pytest.mark.parametrize("facilities", FACILITY_STATES)
@pytest.mark.parametrize("mnemonic", VSX_HALF)
def test_isa_300_vsx_rows_need_vsx_for_vsrs_0_31_and_vec_for_32_63(mnemonic, facilities):
    """The ISA 3.0 VSX storage accesses and mfvsrld/mtvsrdd/mtvsrws: "if TX=0 & MSR.VSX=0
    then VSX_Unavailable(); if TX=1 & MSR.VEC=0 then Vector_Unavailable()". Not implemented
    (doubleword 1 and the VRs are not modelled): illegal with the facility on."""
    low = PROGRAM if facilities & M.VSX else VSXU
    high = PROGRAM if facilities & M.VEC else VPU
    for vsr in (0, 31):
        assert _outcome(_word(mnemonic, vsr), facilities) == low, vsr
    for vsr in (32, 63):
        assert _outcome(_word(mnemonic, vsr), facilities) == high, vsr


@pytest.mark.parametrize("facilities", FACILITY_STATES)
@pytest.mark.parametrize("mnemonic", VEC_ONLY)
def test_ds_form_scalar_accesses_need_vec(mnemonic, facilities) -> None:
    """lxsd, lxssp, stxsd, stxssp name VSR 32+VRT: "if MSR.VEC=0 then Vector_Unavailable()"."""
    expected = PROGRAM if facilities & M.VEC else VPU
    for vrt in (0, 31):
        assert _outcome(_word(mnemonic, vrt), facilities) == expected


@pytest.mark.parametrize("facilities", FACILITY_STATES)
@pytest.mark.parametrize("mnemonic", VSX_ONLY)
def test_isa_206_207_vsx_accesses_need_vsx_for_every_register(mnemonic, facilities) -> None:
    """lxvd2x and the other ISA 2.06/2.07 accesses: "if MSR.VSX=0 then VSX_Unavailable()"."""
    expected = PROGRAM if facilities & M.VSX else VSXU
    for vsr in (0, 31, 32, 63):
        assert _outcome(_word(mnemonic, vsr), facilities) == expected, vsr


def test_problem_state_is_no_different() -> None:
    cpu = make_cpu(msr=M.SF | M.ME | M.PR | M.FP)
    cpu.fpr[1] = 0x1122_3344_5566_7788
    run(cpu, "mfvsrwz 29,1; mtvsrwz 63,3")
    assert cpu.gpr[29] == 0x5566_7788
    assert cpu.pc == VPU and cpu.spr[26] == CODE_BASE + 4


# --- the moves' results (Book I 7.6) ------------------------------------------------------------

FPR = 0x8765_4321_FEDC_BA98


@pytest.mark.parametrize("code,gpr29", [
    ("mfvsrd 29,1", FPR),
    ("mfvsrwz 29,1", 0xFEDC_BA98),
])
def test_moves_from_an_fpr(code, gpr29) -> None:
    for msr in (M.SF | M.ME | M.FP, M.ME | M.FP):       # the width does not matter
        cpu = make_cpu(msr=msr)
        cpu.fpr[1] = FPR
        cpu.gpr[29] = 0x5555
        run(cpu, code)
        assert cpu.gpr[29] == gpr29
        assert cpu.fpr[1] == FPR


@pytest.mark.parametrize("code,gpr,fpr", [
    ("mtvsrd 2,3", 0x8000_0000_1234_5678, 0x8000_0000_1234_5678),
    ("mtvsrd 2,3", 0x0123_4567_89AB_CDEF, 0x0123_4567_89AB_CDEF),
    ("mtvsrwa 2,3", 0x0123_4567_89AB_CDEF, 0xFFFF_FFFF_89AB_CDEF),
    ("mtvsrwa 2,3", 0xFFFF_FFFF_7FFF_FFFF, 0x0000_0000_7FFF_FFFF),
    ("mtvsrwa 2,3", 0x8000_0000, 0xFFFF_FFFF_8000_0000),
    ("mtvsrwz 2,3", 0xFFFF_FFFF_89AB_CDEF, 0x0000_0000_89AB_CDEF),
    ("mtvsrwz 2,3", 0x1_0000_0001, 1),
])
def test_moves_to_an_fpr(code, gpr, fpr) -> None:
    cpu = make_cpu()
    cpu.gpr[3] = gpr
    cpu.fpr[2] = 0x5555
    run(cpu, code)
    assert cpu.fpr[2] == fpr
    assert cpu.gpr[3] == gpr


def test_moves_leave_the_fpscr_and_cr_alone() -> None:
    cpu = make_cpu()
    cpu.fpscr, cpu.cr, cpu.gpr[3], cpu.fpr[4] = 0x8200_00F8, 0x1234_5678, 0x7FF4 << 48, 1
    run(cpu, "mtvsrd 5,3; mfvsrd 6,4; mtvsrwa 7,3")
    assert (cpu.fpscr, cpu.cr) == (0x8200_00F8, 0x1234_5678)
    assert cpu.fpr[5] == 0x7FF4 << 48 and cpu.gpr[6] == 1 and cpu.fpr[7] == 0


def test_translated_moves_follow_the_msr() -> None:
    """The translator never inlines a row with a facility check (translator._guarded), and its
    translations are keyed on MSR[FP,VEC,VSX] (MODE_BITS): a hot loop of moves runs as in the
    interpreter, and raises FP Unavailable once MSR[FP] is off."""
    code = "mtvsrd 1,3; mfvsrwz 4,1; addi 3,3,1; bc 16,0,-12; b 0"
    words = assemble_all(code)

    def cpu_with(msr):
        cpu = make_cpu(msr=msr)
        for i, word in enumerate(words):
            cpu.mem.buf[CODE_BASE + 4 * i:CODE_BASE + 4 * i + 4] = word.to_bytes(4, "big")
        cpu.gpr[3], cpu.ctr = 0xFFFF_FFFF_FFFF_FFF0, 40
        return cpu

    translated, interpreted = cpu_with(M.SF | M.ME | M.FP), cpu_with(M.SF | M.ME | M.FP)
    engine = Translator(translated, hot_after=1)
    engine.run(161)
    Interpreter(interpreted).run(161)
    assert engine.compiled
    assert translated.gpr[4] == interpreted.gpr[4] == 0xFFFF_FFFF & (0xFFFF_FFFF_FFFF_FFF0 + 39)
    assert translated.fpr[1] == interpreted.fpr[1]

    translated.msr &= ~M.FP
    translated.pc, translated.ctr = CODE_BASE, 5
    engine.run(1)
    assert translated.pc == FPU and translated.spr[26] == CODE_BASE
