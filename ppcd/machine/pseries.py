"""The pseries board as the vCPU worker runs it: RAM, one vCPU, the virtual hypervisor.

The control process has already written the guest image and device tree into RAM;
this puts the vCPU in QEMU's entry state and runs it until the guest stops the machine.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from ppcd.cpu.compat import mode_named, set_compat
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
    isa: int         # ISA version x100: the newest compat mode it can run


# The CPU models ppcd offers, with QEMU 7.2's PVRs for the same -cpu names (its device tree).
CPU_MODELS = {
    "power8": CpuModel("POWER8", 0x004D0200, 32, 207),
    "power9": CpuModel("POWER9", 0x004E1200, 56, 300),
    "power10": CpuModel("POWER10", 0x00800200, 56, 310),
}
# QEMU enables the large decrementer only when max-cpu-compat allows ISA 3.00.
LARGE_DECREMENTER_ISA = 300

ENTRY_POINT = 0x400000

# Execution engines: the translator (default), the reference interpreter, and both in lockstep.
ENGINES = {"translate": Translator, "interp": Interpreter, "lockstep": Lockstep}


def max_compat_pvr(cpu_model: str, max_compat: Optional[str]) -> int:
    """The logical PVR of --max-cpu-compat (0: none); CompatError when the model cannot."""
    return mode_named(max_compat, CPU_MODELS[cpu_model].isa).pvr if max_compat else 0


def has_large_decrementer(cpu_model: str, max_compat: Optional[str]) -> bool:
    """QEMU's cap-large-decr default: POWER9 and later, unless max-cpu-compat is older."""
    model = CPU_MODELS[cpu_model]
    limit = mode_named(max_compat, model.isa).isa if max_compat else model.isa
    return model.dec_bits > 32 and limit >= LARGE_DECREMENTER_ISA


class Machine:
    def __init__(self, ram: GuestRAM, cpu_model: str, console: Console,
                 engine: str = "translate", max_compat: Optional[str] = None,
                 compat_enforce: bool = True) -> None:
        self.ram = ram
        self.console = console
        self.rtc_offset = 0.0
        model = self.model = CPU_MODELS[cpu_model]
        # QEMU's max-cpu-compat machine property; compat_enforce=False is QEMU's TCG, which
        # sets the PCR without refusing the instructions it disables.
        self.max_compat_pvr = max_compat_pvr(cpu_model, max_compat)
        self.compat_enforce = compat_enforce
        self.large_decrementer = has_large_decrementer(cpu_model, max_compat)
        memory = GuestMemory(ram.ram, ram.size, ram.dirty)
        self.cpu = CPUState(memory, pvr=model.pvr)
        self.cpu.dec_bits = model.dec_bits if self.large_decrementer else 32
        self.cpu.hypervisor = Hypervisor(self)
        # At reset the vCPU runs in the max-cpu-compat mode, as QEMU's spapr_machine_reset.
        self.set_compat(self.max_compat_pvr)
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
        self.engine = ENGINES[engine](self.cpu)

    def set_compat(self, pvr: int) -> None:
        """Switch the vCPU to compat mode `pvr` (0: raw mode): compat_pvr, PCR, the limit."""
        set_compat(self.cpu, pvr, self.model.isa, self.compat_enforce)

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
