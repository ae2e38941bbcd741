"""Several vCPUs on the worker's one thread, in a fixed order: same inputs, same execution.

Like QEMU's single-threaded TCG, the vCPUs take turns; each turn (a quantum) runs one vCPU
for up to QUANTUM instructions. Every vCPU keeps its own clock (CPUState.icount, the
timebase's source); a round brings every vCPU that can run up to the same time, so the clocks
stay within a quantum of each other and the timebases agree as well as a guest can tell.
A vCPU that idles (ceded with nothing armed, or stopped) drops out and its clock stands; when
it is woken, its clock catches up with the machine's at its next round.

Reservations: a vCPU that resumes after another vCPU ran loses its reservation (the ISA allows
a reservation to be lost for any reason), so a store another vCPU made to the reserved
granule in between can never be missed by its stcx.
"""

from __future__ import annotations

from typing import Callable, List, Optional

from ppcd.cpu import msr as M
from ppcd.cpu.interpreter import IDLE, LIMIT
from ppcd.cpu.state import CPUState

# Instructions per turn: short enough that a vCPU spinning on a lock hands over soon, long
# enough that switching costs nothing measurable.
QUANTUM = 2_000
# What run() returns when a vCPU's turn ended for the debugger (a breakpoint or watchpoint).
STOPPED = "stopped"

RunOne = Callable[[int, int], Optional[str]]


def is_idle(cpu: CPUState) -> bool:
    """True when the vCPU cannot run until something outside it wakes it: halted with
    external interrupts off (stopped, or never started) or with no timer to wake it."""
    return cpu.halted and (not cpu.msr & M.EE
                           or (cpu.dec_expiry is None and not cpu.pending_dec))


class Scheduler:
    def __init__(self, cpus: List[CPUState], engines: List) -> None:
        self.cpus = cpus
        self.engines = engines
        self.current = 0          # the vCPU whose turn it is (or was last)

    def now(self) -> int:
        """The machine's virtual time: the furthest vCPU clock."""
        cpus = self.cpus
        return cpus[0].icount if len(cpus) == 1 else max(cpu.icount for cpu in cpus)

    def runnable(self) -> List[int]:
        """The indexes of the vCPUs that can run now."""
        return [index for index, cpu in enumerate(self.cpus) if not is_idle(cpu)]

    def _engine_run(self, index: int, budget: int) -> Optional[str]:
        return self.engines[index].run(budget)

    def run(self, budget: int, run_one: Optional[RunOne] = None) -> Optional[str]:
        """Advance the machine by up to `budget` instructions of virtual time.

        `run_one(index, budget)` runs one vCPU (default: its engine) and returns LIMIT, IDLE
        or STOPPED. Returns LIMIT when the time is reached, IDLE when every vCPU is idle, or
        STOPPED with `current` naming the vCPU that stopped. MachineStop propagates.
        """
        run_one = run_one or self._engine_run
        cpus = self.cpus
        if len(cpus) == 1:
            self.current = 0
            return run_one(0, budget)
        start = self.now()
        target = start + budget
        time = start
        while time < target:
            # Turns end at multiples of QUANTUM whatever the slices are: how the vCPUs
            # interleave depends on the virtual time only, not on when the worker looked up.
            turn_end = min((time // QUANTUM + 1) * QUANTUM, target)
            for index in self.runnable():
                cpu = cpus[index]
                if is_idle(cpu):        # ceded or stopped during this round
                    continue
                if cpu.icount < time:
                    cpu.icount = time       # it was idle until now: its clock catches up
                if cpu.icount >= turn_end:
                    continue
                if self.current != index:
                    cpu.reserve = None
                    self.current = index
                if run_one(index, turn_end - cpu.icount) == STOPPED:
                    return STOPPED
            if all(is_idle(cpu) for cpu in cpus):
                return IDLE
            time = turn_end
        return LIMIT
