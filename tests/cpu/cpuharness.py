"""Run short instruction sequences on a bare vCPU for instruction-level tests."""

from __future__ import annotations

from typing import Iterable, Union

from ppcd.cpu import msr as M
from ppcd.cpu.assembler import assemble_all
from ppcd.cpu.interpreter import Interpreter
from ppcd.cpu.state import CPUState, GuestMemory

CODE_BASE = 0x1000
POWER9_PVR = 0x004E1200


def make_cpu(ram_size: int = 1 << 20, msr: int = M.SF | M.FP | M.ME) -> CPUState:
    """A POWER9 vCPU in 64-bit big-endian supervisor real mode over zeroed RAM."""
    memory = GuestMemory(bytearray(ram_size), ram_size, bytearray(ram_size >> 12))
    cpu = CPUState(memory, pvr=POWER9_PVR)
    cpu.msr = msr
    cpu.pc = CODE_BASE
    return cpu


def load_code(cpu: CPUState, code: Union[str, Iterable[int]], base: int = CODE_BASE) -> int:
    """Write instructions at `base` in the CPU's byte order; returns how many."""
    words = assemble_all(code) if isinstance(code, str) else list(code)
    order = "little" if cpu.msr & M.LE else "big"
    for i, word in enumerate(words):
        cpu.mem.buf[base + 4 * i: base + 4 * i + 4] = word.to_bytes(4, order)
    cpu.pc = base
    return len(words)


def run(cpu: CPUState, code: Union[str, Iterable[int]]) -> CPUState:
    """Execute `code` (straight-line: exactly as many steps as instructions)."""
    n = load_code(cpu, code)
    Interpreter(cpu).run(n)
    return cpu
