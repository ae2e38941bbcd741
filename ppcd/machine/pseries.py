"""The pseries board as the vCPU worker runs it: RAM, the vCPUs, the virtual hypervisor.

The control process has already written the guest image and device tree into RAM;
this puts vCPU 0 in QEMU's entry state (the others wait, halted, for RTAS start-cpu) and runs
the vCPUs until the guest stops the machine.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional

from ppcd.cpu import msr as M
from ppcd.cpu.compat import mode_named, set_compat
from ppcd.cpu.engine_lockstep import Lockstep
from ppcd.cpu.interpreter import IDLE, Interpreter
from ppcd.cpu.state import CPUState, GuestMemory
from ppcd.cpu.translator import Translator

from .console import Console
from .hypervisor import Hypervisor
from .ram import GuestRAM
from .scheduler import Scheduler


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
SYSTEM_RESET_VECTOR = 0x100
# QEMU 7.2's pseries accepts up to this many vCPUs with TCG; ppcd keeps the same limit.
MAX_CPUS = 1024

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
                 compat_enforce: bool = True, smp: int = 1) -> None:
        if not 1 <= smp <= MAX_CPUS:
            raise ValueError(f"{smp} vCPUs: ppcd runs 1 to {MAX_CPUS}")
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
        if engine == "lockstep" and smp > 1:
            # The shadow vCPU has RAM of its own, which the other vCPUs' stores never reach.
            raise ValueError("the lockstep engine runs one vCPU: use --smp 1")
        self.ram = ram
        self.console = console
        self.rtc_offset = 0.0
        model = self.model = CPU_MODELS[cpu_model]
        # QEMU's max-cpu-compat machine property; compat_enforce=False is QEMU's TCG, which
        # sets the PCR without refusing the instructions it disables.
        self.max_compat_pvr = max_compat_pvr(cpu_model, max_compat)
        self.compat_enforce = compat_enforce
        self.large_decrementer = has_large_decrementer(cpu_model, max_compat)
        # One view of RAM for all vCPUs: a store by any of them reaches every engine's
        # translated code and every vCPU's reservation through it.
        memory = GuestMemory(ram.ram, ram.size, ram.dirty)
        hypervisor = Hypervisor(self)
        self.cpus: List[CPUState] = []
        for _ in range(smp):
            # The device tree's vCPU ids are the indexes (one thread per core). PIR stays 0 on
            # every vCPU, as on QEMU's pseries (QEMU sets PIR only on its PowerNV machine).
            cpu = CPUState(memory, pvr=model.pvr)
            cpu.dec_bits = model.dec_bits if self.large_decrementer else 32
            cpu.hypervisor = hypervisor
            self.cpus.append(cpu)
        # At reset the vCPUs run in the max-cpu-compat mode, as QEMU's spapr_machine_reset.
        self.set_compat(self.max_compat_pvr)
        self.engines = [ENGINES[engine](cpu) for cpu in self.cpus]
        self.scheduler = Scheduler(self.cpus, self.engines)

    @property
    def cpu(self) -> CPUState:
        """vCPU 0, the boot vCPU: the one a single-vCPU machine has."""
        return self.cpus[0]

    @property
    def engine(self):
        return self.engines[0]

    def set_compat(self, pvr: int) -> None:
        """Switch every vCPU to compat mode `pvr` (0: raw mode): compat_pvr, PCR, the limit.

        QEMU's CAS sets the mode of all vCPUs at once, and start-cpu keeps the boot vCPU's.
        """
        for cpu in self.cpus:
            set_compat(cpu, pvr, self.model.isa, self.compat_enforce)

    def reset_cpu(self, fdt_address: int) -> None:
        """QEMU's entry state: vCPU 0 in 32-bit big-endian real mode at 0x400000 with r3 =
        device tree; the others halted with MSR 0 until the guest starts them (start-cpu)."""
        cpu = self.cpu
        cpu.msr = 0
        cpu.pc = ENTRY_POINT
        cpu.gpr[3] = fdt_address
        cpu.gpr[4] = 0
        cpu.gpr[5] = 0
        for secondary in self.cpus[1:]:
            secondary.msr = 0
            secondary.pc = SYSTEM_RESET_VECTOR   # where QEMU's reset leaves them
            secondary.halted = True

    def vcpu(self, vcpu_id: int) -> Optional[CPUState]:
        """The vCPU a hypercall or RTAS call names by device-tree id (ids are the indexes)."""
        return self.cpus[vcpu_id] if 0 <= vcpu_id < len(self.cpus) else None

    def wake_ceded(self) -> bool:
        """Console input wakes the vCPUs waiting in H_CEDE; True when one was waiting."""
        woken = False
        for cpu in self.cpus:
            if cpu.halted and cpu.msr & M.EE:
                cpu.halted = False
                woken = True
        return woken

    def run(self, max_instructions: Optional[int] = None, slice_size: int = 100_000) -> str:
        """Run until MachineStop is raised (propagated) or the instruction limit is reached.

        Returns "limit" when --max-instructions ran out. Idle vCPUs with nothing armed
        wait for console input.
        """
        while True:
            budget = slice_size
            if max_instructions is not None:
                budget = min(budget, max_instructions - self.scheduler.now())
                if budget <= 0:
                    return "limit"
            if self.scheduler.run(budget) == IDLE:
                if not self.console.wait_for_input():
                    return "idle"
                self.wake_ceded()
