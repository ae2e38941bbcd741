"""The translating engine (ppcd/cpu/translator.py): templates against their semantic functions,
loops, the clock, interrupts in the middle of a unit and self-modifying code."""

from __future__ import annotations

import random

import pytest
from cpuharness import CODE_BASE, make_cpu

from ppcd.cpu import msr as M
from ppcd.cpu.assembler import assemble_all
from ppcd.cpu.engine_lockstep import Lockstep, clone, differences, random_cpu
from ppcd.cpu.interpreter import Interpreter
from ppcd.cpu.isa import INSTRUCTIONS
from ppcd.cpu.isa.fields import FIELDS
from ppcd.cpu.translator import _GLOBALS, MODE_BITS, Translator
from ppcd.cpu.translator_templates import BRANCHES, TEMPLATES

MODES = {"be64": M.SF, "le64": M.SF | M.LE, "be32": 0, "le32": M.LE}


def _random_operands(rng: random.Random, insn) -> list:
    values = []
    for name in insn.fields:
        width = bin(FIELDS[name].bits).count("1")
        while True:
            value = rng.randrange(-(1 << (width + 4)), 1 << (width + 4))
            try:
                FIELDS[name].encode(value)
                break
            except ValueError:
                continue
        values.append(value)
    return values


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("impl", sorted(TEMPLATES) + sorted(BRANCHES))
def test_template_matches_its_semantic_function(impl: str, mode: str) -> None:
    """Each templated instruction, with random operands and registers, in every mode, then the
    loop's bdnz and b: translated and interpreted, they leave identical state and RAM."""
    rng = random.Random(f"{impl}-{mode}")
    rows = [i for i in INSTRUCTIONS if i.impl == impl]
    for trial in range(12):
        insn = rng.choice(rows)
        cpu = random_cpu(rng, 1)
        cpu.msr = (cpu.msr & ~(M.SF | M.LE)) | MODES[mode] | M.PR * rng.randrange(2)
        word = insn.encode(*_random_operands(rng, insn))
        order = "little" if cpu.msr & M.LE else "big"
        cpu.mem.buf[CODE_BASE:CODE_BASE + 4] = word.to_bytes(4, order)
        cpu.pc = CODE_BASE
        reference = clone(cpu)
        engine = Translator(cpu, hot_after=1)
        engine.run(3)
        Interpreter(reference).run(3)
        assert engine.compiled
        pages = {CODE_BASE >> 12} | {i for i, d in enumerate(reference.mem.dirty) if d}
        assert differences(cpu, reference, pages) == [], (insn.mnemonic, hex(word), trial)


def _run_both(code: str, budget: int, setup=None, hot_after: int = 1):
    cpu = make_cpu()
    words = assemble_all(code)
    for i, word in enumerate(words):
        cpu.mem.buf[CODE_BASE + 4 * i:CODE_BASE + 4 * i + 4] = word.to_bytes(4, "big")
    if setup:
        setup(cpu)
    engine = Lockstep(cpu, hot_after)
    engine.run(budget)
    return cpu, engine


def test_loop_runs_inside_one_unit_and_stops_at_the_budget() -> None:
    cpu, engine = _run_both("addi 3,3,1; add 4,4,3; xor 5,5,4; bc 16,0,-12; b 0", 1001,
                            lambda c: setattr(c, "ctr", 10_000))
    assert cpu.icount == 1001
    assert engine.units < 10


def test_decrementer_fires_at_the_same_instruction_count() -> None:
    def setup(cpu):
        cpu.msr |= M.EE
        cpu.dec = 37
        cpu.ctr = 10_000
        cpu.mem.buf[0x900:0x904] = assemble_all("b 0")[0].to_bytes(4, "big")
    cpu, _ = _run_both("addi 3,3,1; bc 16,0,-4", 200, setup)
    assert cpu.spr[26] == CODE_BASE + 4 * ((37 + 1) % 2) and cpu.pc == 0x900
    assert cpu.gpr[3] == 19


def test_storage_interrupt_mid_unit_commits_earlier_instructions() -> None:
    def setup(cpu):
        cpu.gpr[9] = 1 << 40     # outside RAM
    cpu, _ = _run_both("addi 3,0,7; addi 4,3,1; lwz 5,0(9); addi 6,0,1", 3, setup)
    assert (cpu.gpr[3], cpu.gpr[4], cpu.gpr[6]) == (7, 8, 0)
    assert cpu.pc == 0x300 and cpu.spr[26] == CODE_BASE + 8 and cpu.icount == 3


def test_store_into_the_running_unit_executes_the_new_code() -> None:
    # stw rewrites the addi two instructions later: the new immediate must be used at once.
    new = assemble_all("addi 3,3,100")[0]

    def setup(cpu):
        cpu.gpr[7] = CODE_BASE + 8
        cpu.gpr[8] = new
        cpu.ctr = 3
    cpu, _ = _run_both("stw 8,0(7); addi 4,4,1; addi 3,3,1; bc 16,0,-12; b 0", 13, setup)
    assert cpu.gpr[3] == 300


def test_unchanged_code_stored_again_keeps_its_translation() -> None:
    cpu = make_cpu()
    words = assemble_all("stw 8,0(7); addi 3,3,1; bc 16,0,-8; b 0")
    for i, word in enumerate(words):
        cpu.mem.buf[CODE_BASE + 4 * i:CODE_BASE + 4 * i + 4] = word.to_bytes(4, "big")
    cpu.gpr[7] = CODE_BASE + 4
    cpu.gpr[8] = words[1]
    cpu.ctr = 100
    engine = Translator(cpu, hot_after=1)
    engine.run(300)
    assert cpu.gpr[3] == 100
    assert engine.compiled <= 3


def test_cold_block_is_translated_once_hot() -> None:
    # The block (addi, b) runs pre-decoded five times, then its address is translated.
    cpu, engine = _run_both("addi 3,3,1; b -4", 400, hot_after=5)
    assert (cpu.msr & MODE_BITS, CODE_BASE) in engine.fast.hot
    assert engine.fast.compiled == 1
    assert cpu.gpr[3] == 200


@pytest.mark.parametrize("hot_after", (1, 1000))
def test_store_into_a_running_block_executes_the_new_code(hot_after: int) -> None:
    # Cold (pre-decoded) or translated, the rewritten addi runs with its new immediate.
    new = assemble_all("addi 3,3,100")[0]

    def setup(cpu):
        cpu.gpr[7] = CODE_BASE + 8
        cpu.gpr[8] = new
    cpu, _ = _run_both("stw 8,0(7); addi 4,4,1; addi 3,3,1; b 0", 4, setup, hot_after)
    assert cpu.gpr[3] == 100


def test_eight_byte_loads_for_pypy_give_the_unsigned_value() -> None:
    """PyPy's generated code loads doublewords as signed (machine integers), then corrects."""
    buf = bytearray((0xFF, 0, 0, 0, 0, 0, 0, 0x80))
    assert _GLOBALS["_m8l"](buf, 0) == _GLOBALS["_u8l"](buf, 0)[0] == 0x80000000000000FF
    assert _GLOBALS["_m8b"](buf, 0) == _GLOBALS["_u8b"](buf, 0)[0] == 0xFF00000000000080
