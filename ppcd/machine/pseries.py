"""The pseries board as the vCPU worker runs it: RAM, one vCPU, the virtual hypervisor.

The control process has already written the guest image and device tree into RAM;
this puts the vCPU in QEMU's entry state and runs it until the guest stops the machine.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from ppcd.cpu.engine_lockstep import Lockstep
from ppcd.cpu.interpreter import IDLE, Interpreter
from ppcd.cpu.state import CPUState, GuestMemory
from ppcd.cpu.translator import Translator

from .console import Console
from .hypervisor import Hypervisor
from .ram import GuestRAM


class CpuModel(NamedTuple):
    name: str        # as the device tree spells it
    pvr: int
    dec_bits: int    # decrementer width: QEMU's pseries turns on the large decrementer on POWER9+


# The CPU models ppcd offers, with QEMU 7.2's PVRs for the same -cpu names (its device tree).
CPU_MODELS = {
    "power8": CpuModel("POWER8", 0x004D0200, 32),
    "power9": CpuModel("POWER9", 0x004E1200, 56),
    "power10": CpuModel("POWER10", 0x00800200, 56),
}

ENTRY_POINT = 0x400000

# Execution engines: the translator (default), the reference interpreter, and both in lockstep.
ENGINES = {"translate": Translator, "interp": Interpreter, "lockstep": Lockstep}


class Machine:
    def __init__(self, ram: GuestRAM, cpu_model: str, console: Console,
                 engine: str = "translate") -> None:
        self.ram = ram
        self.console = console
        self.rtc_offset = 0.0
        model = CPU_MODELS[cpu_model]
        memory = GuestMemory(ram.ram, ram.size, ram.dirty)
        self.cpu = CPUState(memory, pvr=model.pvr)
        self.cpu.dec_bits = model.dec_bits
        self.cpu.hypervisor = Hypervisor(self)
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
        self.engine = ENGINES[engine](self.cpu)

    def reset_cpu(self, fdt_address: int) -> None:
        """QEMU's entry state: 32-bit big-endian real mode at 0x400000, r3 = device tree."""
        cpu = self.cpu
        cpu.msr = 0
        cpu.pc = ENTRY_POINT
        cpu.gpr[3] = fdt_address
        cpu.gpr[4] = 0
        cpu.gpr[5] = 0

    def run(self, max_instructions: Optional[int] = None, slice_size: int = 100_000) -> str:
        """Run until MachineStop is raised (propagated) or the instruction limit is reached.

        Returns "limit" when --max-instructions ran out. An idle vCPU with nothing armed
        waits for console input.
        """
        cpu = self.cpu
        while True:
            budget = slice_size
            if max_instructions is not None:
                budget = min(budget, max_instructions - cpu.icount)
                if budget <= 0:
                    return "limit"
            if self.engine.run(budget) == IDLE:
                if not self.console.wait_for_input():
                    return "idle"
                cpu.halted = False
