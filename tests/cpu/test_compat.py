"""Compatibility modes in the CPU: PCR values, the table's ISA levels and the decoder's check,
KVMPPC_H_CAS as QEMU 7.2 answers it, and the translating engine against the interpreter."""

from __future__ import annotations

import struct

import pytest

from ppcd.cpu import msr as M
from ppcd.cpu.assembler import assemble_all
from ppcd.cpu.compat import (
    COMPAT_MODES,
    NO_LIMIT,
    CompatError,
    isa_limit,
    mode_named,
    pcr_for,
    set_compat,
    supported,
)
from ppcd.cpu.decoder import Op, _guarded
from ppcd.cpu.interpreter import Interpreter
from ppcd.cpu.interrupts import (
    PROGRAM_ILLEGAL,
    FloatingPointUnavailable,
    ProgramInterrupt,
    VectorUnavailable,
    VSXUnavailable,
)
from ppcd.cpu.isa import BY_MNEMONIC, INSTRUCTIONS
from ppcd.cpu.state import CPUState, GuestMemory
from ppcd.cpu.translator import Translator

POWER6, POWER7, POWER8, POWER9 = 0x0F000002, 0x0F000003, 0x0F000004, 0x0F000005


def _cpu(size: int = 1 << 20) -> CPUState:
    return CPUState(GuestMemory(bytearray(size), size, bytearray(size >> 12)), pvr=0x004E1200)


@pytest.mark.parametrize("cpu_isa,pvr,pcr", [
    # QEMU's compat_table PCR bits, masked by the CPU class's pcr_mask.
    (300, POWER9, 0), (300, POWER8, 0x8), (300, POWER7, 0xC), (300, POWER6, 0xE),
    (207, POWER8, 0), (207, POWER7, 0x4), (310, POWER9, 0x10), (310, POWER8, 0x18),
    (300, 0, 0),
])
def test_pcr_of_each_mode(cpu_isa: int, pvr: int, pcr: int) -> None:
    assert pcr_for(pvr, cpu_isa) == pcr


def test_modes_the_cpu_supports() -> None:
    assert supported(POWER9, 300) and not supported(0x0F000006, 300)
    assert not supported(0x0F000001, 300)       # no such logical PVR in QEMU's table
    assert not supported(POWER9, 300, max_pvr=POWER8)
    assert not supported(POWER7, 300, min_pvr=POWER8)
    assert mode_named("power8", 300).pvr == POWER8
    with pytest.raises(CompatError, match="Compatibility mode 'power10' not valid"):
        mode_named("power10", 300)


def test_isa_limit_follows_the_lowest_pcr_bit() -> None:
    assert isa_limit(0) == NO_LIMIT
    assert isa_limit(0x8) == 207 and isa_limit(0xC) == 206


def test_every_row_newer_than_the_mode_is_refused_in_problem_state() -> None:
    """Per ISA level: with each mode's PCR, exactly the rows newer than it are refused, as
    illegal instructions before the semantics, the privilege or the facility checks run."""
    annotated = [insn for insn in INSTRUCTIONS if insn.isa]
    assert {insn.isa for insn in annotated} == {205, 206, 207, 300}
    for mode in (m for m in COMPAT_MODES if m.isa <= 300):
        cpu = _cpu()
        set_compat(cpu, mode.pvr, 300)
        cpu.msr = M.PR          # FP, VEC and VSX off: a facility interrupt if not refused
        for insn in annotated:
            ran: list = []
            checked = _guarded(lambda c, op, ran=ran: ran.append(op), insn)
            try:
                checked(cpu, Op(insn, insn.match))
                cause = None
            except ProgramInterrupt as e:
                cause = e.cause
            except (FloatingPointUnavailable, VectorUnavailable, VSXUnavailable):
                cause = "facility"
            refused = cause == PROGRAM_ILLEGAL and not ran
            assert refused == (insn.isa > mode.isa), (mode.name, insn.mnemonic)


def test_privileged_state_is_not_limited() -> None:
    cpu = _cpu()
    set_compat(cpu, POWER7, 300)
    ran = []
    _guarded(lambda c, op: ran.append(op), BY_MNEMONIC["modsw"])(cpu, "op")
    assert ran == ["op"]


def test_enforcement_off_sets_the_pcr_only() -> None:
    cpu = _cpu()
    set_compat(cpu, POWER7, 300, enforce=False)
    assert (cpu.compat_pvr, cpu.pcr, cpu.isa_limit) == (POWER7, 0xC, NO_LIMIT)


def test_table_levels_of_known_rows() -> None:
    levels = {"modsw": 300, "darn": 300, "addpcis": 300, "cnttzw": 300, "lxv": 300,
              "mffsl": 300, "bctar": 207, "icbt": 207, "mfvsrd": 207, "popcntd": 206,
              "ldbrx": 206, "divde": 206, "lfiwzx": 206, "fcfids": 206, "isel": 206,
              "cmpb": 205, "add": 0, "lwz": 0, "fadd": 0}
    assert {name: BY_MNEMONIC[name].isa for name in levels} == levels


HANDLER = "addi 20,20,1; mfspr 11,26; addi 11,11,4; mtspr 26,11; rfid"


def _loop_in_problem_state(engine, loop: str, pvr: int, budget: int) -> tuple:
    """Run `loop` in problem state under compat mode `pvr`: (illegal count, iterations)."""
    cpu = _cpu()
    buf = cpu.mem.buf
    for address, text in ((0x700, HANDLER), (0x10000, loop)):
        for i, word in enumerate(assemble_all(text)):
            struct.pack_into(">I", buf, address + 4 * i, word)
    set_compat(cpu, pvr, 300)
    cpu.msr = M.PR | M.SF
    cpu.pc = 0x10000
    cpu.dec_bits = 56
    cpu.dec = 0x7FFF_FFFF
    engine(cpu).run(budget)
    return cpu.gpr[20], cpu.gpr[21]


def test_interpreter_refuses_in_a_hot_loop() -> None:
    illegal, iterations = _loop_in_problem_state(Interpreter, "icbt 0,0,0; addi 21,21,1; b -8",
                                                 POWER7, 30_000)
    assert illegal == iterations > 1000


def test_translator_refuses_like_the_interpreter() -> None:
    loop = "icbt 0,0,0; addi 21,21,1; b -8"
    assert _loop_in_problem_state(Translator, loop, POWER7, 30_000) == \
        _loop_in_problem_state(Interpreter, loop, POWER7, 30_000)
