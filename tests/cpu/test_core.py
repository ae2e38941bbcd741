"""The core loop: decoding, add with all its variants, illegal instructions."""

from cpuharness import make_cpu, run

from ppcd.cpu.assembler import assemble, disassemble
from ppcd.cpu.interrupts import PROGRAM_ILLEGAL


def test_addi_and_add_record_overflow():
    cpu = make_cpu()
    run(cpu, "addi 4,0,-1; addis 5,0,0x7fff; addo. 6,5,5")
    assert cpu.gpr[4] == 0xFFFF_FFFF_FFFF_FFFF
    assert cpu.gpr[5] == 0x7FFF_0000
    assert cpu.gpr[6] == 0xFFFE_0000
    # 0x7fff0000 + 0x7fff0000 overflows 32 bits (OV32) but not 64 bits (OV)
    assert (cpu.ov, cpu.ov32, cpu.so) == (0, 1, 0)
    assert cpu.cr >> 28 == 0b0100


def test_illegal_instruction_takes_program_interrupt():
    cpu = make_cpu()
    run(cpu, [0])
    assert cpu.pc == 0x700
    assert cpu.spr[26] == 0x1000
    assert cpu.spr[27] & PROGRAM_ILLEGAL


def test_assembler_round_trip():
    word = assemble("add. 3,4,5")
    assert disassemble(word) == "add. 3,4,5"
