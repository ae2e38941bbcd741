"""The translating engine against the reference interpreter, in lockstep (engine_lockstep.py).

The short GCC-built guests run with both engines compared after every translated unit
(registers, SPRs, clock, stored pages); PPCD_LOCKSTEP_ALL=1 adds the long ones (about two
minutes). Every guest also runs translated, the default engine, in test_guests_ppcd.py against
QEMU. Random instruction sequences from the ISA table run in lockstep too: a CI-sized subset
here; `python -m ppcd.cpu.engine_lockstep --count 100000` runs the long version.
"""

from __future__ import annotations

import os

import pytest
from guests import build

from ppcd.cpu.engine_lockstep import run_random
from ppcd.cpu.interpreter import MachineStop
from ppcd.machine.boot import BootConfig, fdt_address, prepare
from ppcd.machine.pseries import Machine
from ppcd.machine.ram import GuestRAM

MEMORY = 32 << 20


class _Console:
    def __init__(self) -> None:
        self.output = bytearray()

    def write(self, data: bytes) -> None:
        self.output += data

    def read(self, limit: int) -> bytes:
        return b""

    def wait_for_input(self) -> bool:
        return False


def run_guest(name: str, endian: str, engine: str) -> bytes:
    try:
        elf = build.build_guest(name, endian)
    except build.CompilerMissing as exc:
        pytest.skip(str(exc))
    ram = GuestRAM(MEMORY)
    try:
        prepare(BootConfig(str(elf)), ram)
        console = _Console()
        machine = Machine(ram, "power9", console, engine=engine)  # type: ignore[arg-type]
        machine.reset_cpu(fdt_address(MEMORY))
        with pytest.raises(MachineStop):
            machine.run(20_000_000)
        return bytes(console.output)
    finally:
        ram.close()


# The guests of fewer than a million instructions, unless all are asked for.
SHORT_GUESTS = ("hello", "demo", "hcalls", "interrupts", "fnptr", "switch", "mul128", "bswap",
                "packed", "sdiv")
LOCKSTEP_GUESTS = build.GUEST_PROGRAMS if os.environ.get("PPCD_LOCKSTEP_ALL") else SHORT_GUESTS


@pytest.mark.parametrize("endian", ("be", "le"))
@pytest.mark.parametrize("name", LOCKSTEP_GUESTS)
def test_guest_in_lockstep(name: str, endian: str) -> None:
    assert run_guest(name, endian, "lockstep").endswith(b"DONE\n")


@pytest.mark.parametrize("seed", range(2))
def test_random_sequences_in_lockstep(seed: int) -> None:
    assert run_random(seed, 150) > 0
