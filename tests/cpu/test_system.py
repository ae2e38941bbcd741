"""CR/XER/SPR/MSR moves, sc, rfid, synchronisation and the TLB instructions.

The SPR access rules are the ones ppcd/cpu/spr.py documents (ISA 3.0B Book III 4.4.4 with
QEMU 7.2's pseries choices, observed under qemu-system-ppc64 -M pseries).
"""

import pytest
from cpuharness import CODE_BASE, load_code, make_cpu, run

from ppcd.cpu import msr as M
from ppcd.cpu.interpreter import Interpreter
from ppcd.cpu.interrupts import PROGRAM_PRIVILEGED, SRR1_CAUSE_BITS

MASK64 = (1 << 64) - 1
BE64 = M.SF | M.FP | M.ME
USER = BE64 | M.PR | M.EE | M.IR | M.DR
SRR0, SRR1 = 26, 27


def assert_privileged(cpu, at=CODE_BASE):
    assert cpu.pc == 0x700
    assert cpu.spr[SRR0] == at
    assert cpu.spr[SRR1] & SRR1_CAUSE_BITS == PROGRAM_PRIVILEGED


def assert_no_interrupt(cpu, steps=1):
    assert cpu.pc == CODE_BASE + 4 * steps


# --- CR and XER moves ------------------------------------------------------------------------

def test_mfcr_and_mfocrf():
    cpu = make_cpu()
    cpu.cr = 0x1234_5678
    cpu.gpr[4] = 0x5555
    run(cpu, "mfcr 3; mfocrf 5,0x20; mfocrf 6,0x01; mfocrf 4,0x21")
    assert cpu.gpr[3] == 0x1234_5678
    assert cpu.gpr[5] == 0x0030_0000          # field 2 only, the rest zero
    assert cpu.gpr[6] == 0x0000_0008
    assert cpu.gpr[4] == 0x5555               # two fields: unchanged, as QEMU


@pytest.mark.parametrize("fxm, cr", [
    (0xFF, 0x9ABC_DEF0), (0x00, 0x1234_5678), (0x81, 0x9234_5670), (0x10, 0x123C_5678),
])
def test_mtcrf_masks(fxm, cr):
    cpu = make_cpu()
    cpu.cr = 0x1234_5678
    cpu.gpr[3] = 0xFFFF_FFFF_9ABC_DEF0        # the high word is ignored
    run(cpu, f"mtcrf {fxm},3")
    assert cpu.cr == cr


def test_mtocrf_one_field_and_several():
    cpu = make_cpu()
    cpu.cr = 0x1234_5678
    cpu.gpr[3] = 0x9ABC_DEF0
    run(cpu, "mtocrf 0x02,3")
    assert cpu.cr == 0x1234_56F8
    run(cpu, "mtocrf 0x06,3")                 # undefined; QEMU leaves CR alone
    assert cpu.cr == 0x1234_56F8


def test_mcrxrx():
    cpu = make_cpu()
    cpu.ov, cpu.ov32, cpu.ca, cpu.ca32 = 1, 0, 1, 1
    run(cpu, "mcrxrx 3")
    assert cpu.cr_field(3) == 0b1011


# --- SPRs ------------------------------------------------------------------------------------

def test_lr_ctr_xer_tar_through_spr_moves():
    cpu = make_cpu()
    cpu.gpr[3] = 0xFFFF_FFFF_E00C_0000
    run(cpu, "mtspr 8,3; mtspr 9,3; mtspr 815,3; mtspr 1,3; mfspr 4,1")
    assert cpu.lr == cpu.ctr == cpu.tar == 0xFFFF_FFFF_E00C_0000
    assert (cpu.so, cpu.ov, cpu.ca, cpu.ov32, cpu.ca32) == (1, 1, 1, 1, 1)
    assert cpu.gpr[4] == cpu.xer


@pytest.mark.parametrize("number, width", [
    (18, 32), (19, 64), (26, 64), (27, 64), (272, 64), (159, 32), (48, 32), (256, 32),
    (153, 64), (896, 64), (898, 32), (787, 32), (795, 64),
])
def test_spr_width(number, width):
    cpu = make_cpu()
    cpu.gpr[3] = MASK64
    run(cpu, f"mtspr {number},3; mfspr 4,{number}")
    assert cpu.gpr[4] == (1 << width) - 1


def test_aliases_share_storage():
    cpu = make_cpu()
    cpu.gpr[3], cpu.gpr[4] = 0x77, 0x1234
    run(cpu, "mtspr 275,3; mfspr 5,259; mtspr 3,4; mfspr 6,17; mtspr 152,3; mfspr 7,136")
    assert (cpu.gpr[5], cpu.gpr[6], cpu.gpr[7]) == (0x77, 0x1234, 0x77)


def test_ppr32_is_the_upper_word_of_ppr():
    cpu = make_cpu()
    cpu.gpr[3], cpu.gpr[4] = 0x0010_0000_0000_0042, 0xABCD
    run(cpu, "mtspr 896,3; mtspr 898,4; mfspr 5,896; mfspr 6,898")
    assert (cpu.gpr[5], cpu.gpr[6]) == (0x0000_ABCD_0000_0042, 0xABCD)


def test_pvr_and_pir_read_only():
    cpu = make_cpu()
    run(cpu, "mfspr 3,287; mfspr 4,1023")
    assert (cpu.gpr[3], cpu.gpr[4]) == (cpu.pvr, cpu.pir)
    assert_privileged(run(make_cpu(), "mtspr 287,3"))
    assert_privileged(run(make_cpu(), "mtspr 1023,3"))


def test_timebase_reads():
    cpu = make_cpu()
    cpu.tb_offset = 0x1_2345_0000
    run(cpu, "mftb 3,268; mftb 4,269; mfspr 5,268")
    assert cpu.gpr[3] == 0x1_2345_0000
    assert cpu.gpr[4] == 1
    assert cpu.gpr[5] == 0x1_2345_0002        # one tick per retired instruction


def test_decrementer_through_mtspr():
    cpu = make_cpu()
    cpu.gpr[3] = 0x1_0000_1000                # DEC is 32 bits
    run(cpu, "mtspr 22,3; mfspr 4,22")
    assert cpu.gpr[4] == 0x1000 - 1


@pytest.mark.parametrize("line", [
    "mfspr 3,26", "mtspr 27,3", "mfspr 3,22", "mtspr 268,3", "mtspr 259,3", "mfspr 3,287",
    "mfspr 3,700", "mtspr 700,3", "mfspr 3,2", "mtspr 2,3", "mtspr 779,3", "mfmsr 3",
    "mtmsrd 3,1", "rfid", "tlbie 3,0", "tlbiel 3,0",
])
def test_privileged_in_problem_state(line):
    cpu = make_cpu(msr=USER)
    run(cpu, line)
    assert_privileged(cpu)
    assert cpu.msr & M.PR == 0


@pytest.mark.parametrize("line", [
    "mfspr 3,1", "mtspr 8,3", "mfspr 3,9", "mfspr 3,259", "mfspr 3,268", "mfspr 3,269",
    "mfspr 3,136", "mfspr 3,779", "mfspr 3,808", "mtspr 811,3", "mtspr 3,3", "mfspr 3,13",
])
def test_allowed_in_problem_state(line):
    assert_no_interrupt(run(make_cpu(msr=USER), line))


@pytest.mark.parametrize("line", [
    "mfspr 3,318", "mtspr 318,3", "mtspr 284,3", "mfspr 3,310", "mtspr 314,3", "mfspr 3,152",
    "mfspr 3,4", "mfspr 3,0", "mfspr 3,6", "mtspr 0,3", "tlbie 3,0", "tlbsync", "stop",
])
def test_hypervisor_only_or_trapping_in_supervisor(line):
    assert_privileged(run(make_cpu(), line))


@pytest.mark.parametrize("line", ["mfspr 3,700", "mfspr 3,2", "mfspr 3,7", "mtspr 4,3",
                                  "mtspr 700,3", "mfspr 3,809"])
def test_undefined_spr_is_a_no_op_in_supervisor(line):
    cpu = make_cpu()
    cpu.gpr[3] = 0x5555
    run(cpu, line)
    assert_no_interrupt(cpu)
    assert cpu.gpr[3] == 0x5555


def test_problem_state_amr_writes_only_uamor_bits():
    cpu = make_cpu()
    cpu.gpr[3], cpu.gpr[4] = 0xF0F0, 0xFF00
    run(cpu, "mtspr 29,3; mtspr 157,4")
    cpu.msr = USER
    cpu.gpr[5] = 0x0F0F
    run(cpu, "mtspr 13,5; mfspr 6,13")
    assert cpu.gpr[6] == 0x0FF0


# --- MSR -------------------------------------------------------------------------------------

def test_mfmsr():
    cpu = make_cpu()
    run(cpu, "mfmsr 3")
    assert cpu.gpr[3] == BE64


def test_mtmsrd_l1_changes_only_ee_and_ri():
    cpu = make_cpu()
    cpu.gpr[3] = MASK64 & ~M.SF
    run(cpu, "mtmsrd 3,1")
    assert cpu.msr == BE64 | M.EE | M.RI


def test_mtmsrd_l0_keeps_hv_me_le():
    cpu = make_cpu()
    cpu.gpr[3] = M.SF | M.HV | M.LE | M.VSX | M.EE | M.RI | (1 << 40)   # bit 23: reserved
    run(cpu, "mtmsrd 3,0")
    assert cpu.msr == M.SF | M.ME | M.VSX | M.EE | M.RI


def test_mtmsr_changes_only_the_low_word():
    cpu = make_cpu()
    cpu.gpr[3] = M.EE | M.FP
    run(cpu, "mtmsr 3,0")
    assert cpu.msr == M.SF | M.ME | M.EE | M.FP


def test_mtmsrd_problem_state_forces_ee_ir_dr():
    cpu = make_cpu()
    cpu.gpr[3] = M.SF | M.PR
    run(cpu, "mtmsrd 3,0")
    assert cpu.msr == M.SF | M.ME | M.PR | M.EE | M.IR | M.DR


def test_mtmsrd_to_32_bit_mode_truncates_the_next_address():
    cpu = make_cpu()
    cpu.gpr[3] = M.FP
    load_code(cpu, "mtmsrd 3,0")
    Interpreter(cpu).run(1)
    assert cpu.msr == M.FP | M.ME and cpu.pc == CODE_BASE + 4


def test_rfid_to_32_bit_big_endian():
    cpu = make_cpu()
    cpu.spr[SRR0] = 0x1_0000_2003
    cpu.spr[SRR1] = M.FP | M.HV             # HV cannot be set from an LPAR; ME is kept
    run(cpu, "rfid")
    assert (cpu.pc, cpu.msr, cpu.cfar) == (0x2000, M.FP | M.ME, CODE_BASE)


def test_rfid_to_64_bit_little_endian_runs_le_code():
    cpu = make_cpu()
    cpu.spr[SRR0] = 0x2000
    cpu.spr[SRR1] = M.SF | M.LE | M.FP       # ME clear in SRR1: rfid keeps the current ME
    cpu.reserve = 0x100
    run(cpu, "rfid")
    assert (cpu.pc, cpu.msr, cpu.reserve) == (0x2000, M.SF | M.LE | M.FP | M.ME, None)
    cpu.mem.buf[0x2000:0x2004] = (0x38600007).to_bytes(4, "little")   # addi 3,0,7
    Interpreter(cpu).run(1)
    assert cpu.gpr[3] == 7


def test_rfid_to_problem_state():
    cpu = make_cpu()
    cpu.spr[SRR0] = 0x2000
    cpu.spr[SRR1] = M.SF | M.PR
    run(cpu, "rfid")
    assert cpu.msr == M.SF | M.PR | M.ME | M.EE | M.IR | M.DR


# --- system call -----------------------------------------------------------------------------

def test_sc_0_delivers_to_0xc00():
    cpu = make_cpu()
    run(cpu, "addi 0,0,1; sc 0")
    assert cpu.pc == 0xC00
    assert cpu.spr[SRR0] == CODE_BASE + 8
    assert cpu.spr[SRR1] == BE64


def test_sc_1_calls_the_hypervisor():
    calls = []

    def hypervisor(cpu):
        calls.append(cpu.gpr[3])
        cpu.gpr[3] = 0

    cpu = make_cpu()
    cpu.hypervisor = hypervisor
    run(cpu, "addi 3,0,0x58; sc 1; addi 4,0,1")
    assert calls == [0x58]
    assert (cpu.gpr[3], cpu.gpr[4], cpu.pc) == (0, 1, CODE_BASE + 12)


def test_sc_1_from_problem_state_is_refused():
    cpu = make_cpu(msr=USER)
    cpu.hypervisor = lambda cpu: pytest.fail("hypervisor called from problem state")
    run(cpu, "sc 1")
    assert cpu.gpr[3] == 0xFFFF_FFFF_FFFF_FFFD      # H_PRIVILEGE
    assert_no_interrupt(cpu)


def test_sc_1_without_a_hypervisor_is_a_system_call():
    assert run(make_cpu(), "sc 1").pc == 0xC00


# --- synchronisation, wait, TLB --------------------------------------------------------------

def test_sync_isync_eieio_tlbiel_have_no_visible_effect():
    cpu = make_cpu()
    run(cpu, "sync 0; sync 1; sync 2; isync; eieio; tlbiel 3,0")
    assert_no_interrupt(cpu, 6)


def test_wait_halts():
    cpu = make_cpu()
    run(cpu, "wait")
    assert cpu.halted and cpu.pc == CODE_BASE + 4


def test_large_decrementer_reads_back_56_bit_values():
    """With LPCR[LD] (QEMU's pseries on POWER9) DEC is 56 bits, sign-extended on mfdec."""
    cpu = make_cpu()
    cpu.dec_bits = 56
    cpu.dec = 0x7FFF_FFFF_FFFF
    assert cpu.dec == 0x7FFF_FFFF_FFFF
    assert not cpu.pending_dec
    cpu.dec = 0x00FF_FFFF_FFFF_FFFF          # -1 in 56 bits
    assert cpu.dec == 0xFFFF_FFFF_FFFF_FFFF
    assert cpu.pending_dec


def test_small_decrementer_is_32_bits():
    cpu = make_cpu()
    cpu.dec = 0x1_0000_0010
    assert cpu.dec == 0x10
    cpu.icount += 0x11
    assert cpu.dec == 0xFFFF_FFFF
