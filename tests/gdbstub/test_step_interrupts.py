"""A single step takes no interrupt, as QEMU's gdbstub steps by default (SSTEP_NOIRQ).

stepirq.c makes a decrementer interrupt pending with MSR[EE] off and turns EE on at ee_on; later
it cedes with the decrementer armed. The same gdb session runs against ppcd and QEMU: stepping
from ee_on executes the mtmsrd and the instructions after it without taking the interrupt,
which comes when gdb continues, with SRR0 at the first instruction not stepped; stepping after
the cede waits for the decrementer to wake the vCPU and executes the next instruction, again
without taking it.
"""

from __future__ import annotations

import re

import pytest
from qemu_runner import qemu_available

from .conftest import build_debug_guest, needs_gdb, run_gdb

pytestmark = needs_gdb

EE = "(long)$pc - (long)&after_ee"
CEDE = "(long)$pc - (long)&after_cede"
SESSION = [
    "break *ee_on",
    "continue",
    "stepi", f"p {EE}",
    "stepi", f"p {EE}",
    "stepi", f"p {EE}",
    "break *0x900",
    "continue",
    "p (long)$srr0 - (long)&after_ee",
    "delete",
    "break *cede_sc",
    "continue",
    "stepi", f"p {CEDE}",
    "p/x $msr & 0x8000",
    "stepi", f"p {CEDE}",
    "break *0x900",
    "continue",
    "p (long)$srr0 - (long)&after_cede",
    "delete",
    "continue",
]


def _session(machine, elf, endian: str) -> str:
    out = run_gdb(elf, machine.port, SESSION, endian)
    start = out.find("Breakpoint 1, ")
    assert start >= 0, out
    return out[start:]


@pytest.mark.parametrize("endian", ["be", "le"])
def test_a_step_takes_no_interrupt(endian, start_ppcd, start_qemu, debug_build_dir) -> None:
    elf = build_debug_guest("stepirq", endian, debug_build_dir)
    ours = _session(start_ppcd(elf), elf, endian)
    # pc after each step, then SRR0 at the interrupt, as offsets from after_ee, after_cede.
    values = re.findall(r"^\$\d+ = (\S+)$", ours, re.M)
    assert values == ["0", "4", "8", "8", "0", "0x8000", "4", "4"], ours
    assert len(re.findall(r"Breakpoint \d+, 0x0+900 in", ours)) == 2, ours
    assert "exited normally" in ours
    if not qemu_available():
        pytest.skip("qemu-system-ppc64 is not installed: ppcd checked alone")
    assert ours == _session(start_qemu(elf), elf, endian)
