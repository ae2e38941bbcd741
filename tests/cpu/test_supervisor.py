"""System call vectored and the returns, rfebb, SLB management, message passing and
transactional memory (Book II 5-6; Book III 4.3, 4.4, 5.9.3) as a POWER9 LPAR sees them."""

import pytest
from cpuharness import CODE_BASE, make_cpu, run

from ppcd.cpu import msr as M
from ppcd.cpu.interrupts import PROGRAM_ILLEGAL, PROGRAM_PRIVILEGED
from ppcd.cpu.semantics import supervisor as S

SUPERVISOR = M.SF | M.FP | M.ME
PROBLEM = SUPERVISOR | M.PR | M.EE | M.IR | M.DR
FSCR, BESCR, EBBRR, DPDES, TEXASR = 153, 804, 806, 176, 130


def fscr_cause(cpu) -> int:
    return cpu.spr[FSCR] >> 56


# --- scv / rfscv ------------------------------------------------------------------------------

def test_scv_saves_nia_in_lr_and_msr_in_ctr():
    cpu = make_cpu(msr=PROBLEM | M.RI)
    cpu.spr[FSCR] = S.FSCR_SCV
    run(cpu, "scv 1")
    assert cpu.pc == 0x17020
    assert cpu.lr == CODE_BASE + 4 and cpu.ctr == PROBLEM | M.RI
    assert cpu.msr == M.SF | M.ME | M.EE | M.RI
    assert 26 not in cpu.spr and 27 not in cpu.spr     # SRR0/SRR1 untouched


def test_scv_in_problem_state_needs_fscr_scv():
    cpu = run(make_cpu(msr=PROBLEM), "scv 0")
    assert cpu.pc == 0xF60 and fscr_cause(cpu) == S.IC_SCV
    assert cpu.spr[26] == CODE_BASE
    assert run(make_cpu(msr=SUPERVISOR), "scv 0").pc == 0x17000


def test_rfscv_returns_to_lr_with_msr_from_ctr():
    cpu = make_cpu(msr=SUPERVISOR)
    cpu.lr, cpu.ctr = 0x2000, PROBLEM
    run(cpu, "rfscv")
    assert cpu.pc == 0x2000 and cpu.msr & M.PR and cpu.msr & M.EE


def test_rfscv_is_privileged():
    cpu = run(make_cpu(msr=PROBLEM), "rfscv")
    assert cpu.pc == 0x700 and cpu.spr[27] & PROGRAM_PRIVILEGED


@pytest.mark.parametrize("insn", ["hrfid", "msgsnd 3", "msgclr 3", "msgsync"])
def test_hypervisor_instructions_are_privileged_in_an_lpar(insn):
    cpu = run(make_cpu(msr=SUPERVISOR), insn)
    assert cpu.pc == 0x700 and cpu.spr[27] & PROGRAM_PRIVILEGED


def test_urfid_is_illegal_without_an_ultravisor():
    cpu = run(make_cpu(msr=SUPERVISOR), "urfid")
    assert cpu.pc == 0x700 and cpu.spr[27] & PROGRAM_ILLEGAL


# --- rfebb ------------------------------------------------------------------------------------

def test_rfebb_branches_to_ebbrr_and_sets_ge():
    cpu = make_cpu(msr=PROBLEM)
    cpu.spr[FSCR] = S.FSCR_EBB
    cpu.spr[EBBRR] = 0x3001
    run(cpu, "rfebb 1")
    assert cpu.pc == 0x3000 and cpu.spr[BESCR] == S.BESCR_GE
    cpu = make_cpu(msr=SUPERVISOR)
    cpu.spr[BESCR] = S.BESCR_GE
    cpu.spr[EBBRR] = 0x3000
    run(cpu, "rfebb 0")
    assert cpu.spr[BESCR] == 0


def test_rfebb_in_problem_state_needs_fscr_ebb():
    cpu = run(make_cpu(msr=PROBLEM), "rfebb 1")
    assert cpu.pc == 0xF60 and fscr_cause(cpu) == S.IC_EBB


def test_rfebb_with_bescr_32_33_set_is_illegal():
    cpu = make_cpu(msr=SUPERVISOR)
    cpu.spr[BESCR] = 0x8000_0000
    assert run(cpu, "rfebb 1").pc == 0x700


# --- SLB --------------------------------------------------------------------------------------

ESID = 0xC000_0000_0000_0000
VSID = (0x1234 << 12) | 0x400 | 0x80          # Kp, class 1


def test_slbmte_then_read_back_and_find():
    cpu = make_cpu(msr=SUPERVISOR)
    cpu.gpr[3], cpu.gpr[4] = VSID, ESID | S.ESID_V | 5
    cpu.gpr[6] = ESID | 0x1234
    run(cpu, "slbmte 3,4; slbmfee 7,4; slbmfev 8,4; slbfee. 9,6")
    assert cpu.gpr[7] == ESID | S.ESID_V and cpu.gpr[8] == VSID
    assert cpu.gpr[9] == VSID and cpu.cr_field(0) == 0b0010
    run(cpu, "slbie 6; slbfee. 9,6")
    assert cpu.gpr[9] == 0 and cpu.cr_field(0) == 0


def test_slbia_keeps_entry_0_and_honours_ih():
    cpu = make_cpu(msr=SUPERVISOR)
    for slot in (0, 1, 2):
        cpu.slb_esid[slot] = (slot << 28) | S.ESID_V
    cpu.slb_vsid[2] = 0x80
    run(cpu, "slbia 3")
    assert [bool(e & S.ESID_V) for e in cpu.slb_esid[:3]] == [True, True, False]
    run(cpu, "slbia 0")
    assert [bool(e & S.ESID_V) for e in cpu.slb_esid[:3]] == [True, False, False]
    run(cpu, "slbia 7; slbsync")
    assert cpu.slb_esid[0] & S.ESID_V


@pytest.mark.parametrize("rs, rb", [(0, 32), (0, 0x100), (2 << 62, 0), (0x130, 0)])
def test_slbmte_invalid_forms_are_illegal(rs, rb):
    cpu = make_cpu(msr=SUPERVISOR)
    cpu.gpr[3], cpu.gpr[4] = rs, rb
    cpu = run(cpu, "slbmte 3,4")
    assert cpu.pc == 0x700 and cpu.spr[27] & PROGRAM_ILLEGAL


def test_slb_instructions_are_privileged():
    for insn in ("slbie 3", "slbia 0", "slbmte 3,4", "slbmfev 3,4", "slbmfee 3,4",
                 "slbfee. 3,4", "slbieg 3,4", "slbsync", "msgsndp 3", "msgclrp 3"):
        cpu = run(make_cpu(msr=PROBLEM), insn)
        assert cpu.pc == 0x700 and cpu.spr[27] & PROGRAM_PRIVILEGED, insn


# --- message passing --------------------------------------------------------------------------

def test_msgsndp_to_this_thread_sets_dpdes_and_msgclrp_clears_it():
    cpu = make_cpu(msr=SUPERVISOR)
    cpu.gpr[3] = S.DOORBELL_SERVER << 27
    run(cpu, "msgsndp 3")
    assert cpu.spr[DPDES] == 1
    run(cpu, "msgclrp 3")
    assert cpu.spr[DPDES] == 0
    cpu.gpr[3] = 1 << 27                     # another message type: no effect
    assert DPDES not in run(make_cpu(msr=SUPERVISOR), "msgsndp 4").spr


# --- transactional memory ---------------------------------------------------------------------

@pytest.mark.parametrize("insn", ["tbegin. 0", "tend. 0", "tabort. 3", "tabortwc. 1,3,4",
                                  "tabortwci. 1,3,-5", "tabortdc. 1,3,4", "tabortdci. 1,3,4",
                                  "tsr. 1", "tcheck 2", "trechkpt.", "treclaim. 3"])
def test_tm_instructions_raise_facility_unavailable_with_msr_tm_0(insn):
    cpu = run(make_cpu(msr=SUPERVISOR), insn)
    assert cpu.pc == 0xF60 and fscr_cause(cpu) == S.IC_TM and cpu.spr[26] == CODE_BASE


def test_privileged_tm_instructions_check_privilege_first():
    cpu = run(make_cpu(msr=PROBLEM), "treclaim. 3")
    assert cpu.pc == 0x700 and cpu.spr[27] & PROGRAM_PRIVILEGED


def test_with_msr_tm_1_tbegin_fails_at_once():
    cpu = make_cpu(msr=SUPERVISOR | S.MSR_TM)
    run(cpu, "tbegin. 0; tcheck 3; tend. 0")
    assert cpu.cr_field(3) == 0b1000 and cpu.cr_field(0) == 0
    assert cpu.spr[TEXASR] >> 63 - 7 & 1                # failure persistent
    assert cpu.spr[128] == CODE_BASE + 4                 # TFHAR: the next instruction
    cpu = run(make_cpu(msr=SUPERVISOR | S.MSR_TM), "tbegin. 0")
    assert cpu.cr_field(0) == 0b1010
