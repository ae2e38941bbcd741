"""The worker's debug execution path: breakpoints, watchpoints and single steps, all exact.

While a breakpoint or watchpoint is set, or for a single step, the vCPU runs on the reference
interpreter one instruction at a time: the pc is looked up in the breakpoints before each
instruction, and each load and store is checked against the watchpoints before it touches
storage (GuestMemory.access_hook). A watchpoint therefore stops the vCPU at the accessing
instruction with the access not yet made, as a data storage interrupt does, and the access
happens once when the vCPU goes on. With nothing set the worker runs its own engine (the
translator by default) and none of this costs anything.

A single step runs the way QEMU's gdbstub steps by default (SSTEP_NOIRQ): interrupts are masked
for the step, so the stepped instruction executes and a decrementer that is or comes due stays
pending, to be taken once the vCPU runs on after a continue. Synchronous interrupts are not
masked: a step of `sc` or of a trapping instruction ends at the first instruction of its handler.
A ceded vCPU (H_CEDE) that is stepped waits for what would wake it (its clock jumps to the
decrementer), then executes the next instruction, the decrementer still pending: QEMU does the
same, waiting in real time.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ppcd.cpu import msr as M
from ppcd.cpu.interpreter import IDLE, LIMIT, Interpreter
from ppcd.cpu.interrupts import Interrupt, deliver
from ppcd.cpu.state import MASK32, MASK64, CPUState

BREAKPOINT_KINDS = ("sw", "hw")
# Watchpoint kind -> the stop reason gdb's stop reply names.
WATCHPOINT_KINDS = {"write": "watch", "read": "rwatch", "access": "awatch"}
# Stop reasons besides the watchpoints': a breakpoint and a finished single step.
BREAKPOINT_REASONS = {"sw": "swbreak", "hw": "hwbreak"}
STEP = "step"

Stop = Dict[str, Any]


class WatchHit(Exception):
    """An access matched a watchpoint: the instruction stops before making it."""

    def __init__(self, kind: str, address: int) -> None:
        super().__init__(kind, address)
        self.kind = kind
        self.address = address


class Debugger:
    """The breakpoints and watchpoints of one vCPU, and the engine that honours them."""

    def __init__(self) -> None:
        self.cpu: Optional[CPUState] = None
        self.interp: Optional[Interpreter] = None
        # Counted like QEMU's lists: inserting twice needs removing twice.
        self.breakpoints: Dict[Tuple[str, int], int] = {}
        self.addresses: Dict[int, str] = {}
        self.watchpoints: List[Tuple[str, int, int]] = []
        # The pc of the last watchpoint stop: resuming there makes the access it stopped, once.
        self.watched_at: Optional[int] = None
        self.passing = False

    def attach(self, cpu: CPUState, interp: Optional[Interpreter] = None) -> None:
        """Debug this vCPU (a new one after a reset, or the next one whose turn it is, with
        its own interpreter), keeping the breakpoints."""
        self.cpu = cpu
        self.interp = interp or Interpreter(cpu)
        self._changed()

    @property
    def active(self) -> bool:
        return bool(self.breakpoints or self.watchpoints)

    # --- setting and clearing -------------------------------------------------------------
    def insert(self, kind: str, address: int, length: int) -> None:
        if address < 0 or length <= 0:
            raise ValueError(f"bad address {address:#x} or length {length}")
        if kind in BREAKPOINT_KINDS:
            key = (kind, address)
            self.breakpoints[key] = self.breakpoints.get(key, 0) + 1
        elif kind in WATCHPOINT_KINDS:
            self.watchpoints.append((kind, address, length))
        else:
            raise ValueError(f"unknown breakpoint kind {kind!r}")
        self._changed()

    def remove(self, kind: str, address: int, length: int) -> bool:
        """False when no such breakpoint or watchpoint was set."""
        if kind in BREAKPOINT_KINDS:
            key = (kind, address)
            count = self.breakpoints.get(key, 0)
            if not count:
                return False
            if count == 1:
                del self.breakpoints[key]
            else:
                self.breakpoints[key] = count - 1
        elif kind in WATCHPOINT_KINDS:
            try:
                self.watchpoints.remove((kind, address, length))
            except ValueError:
                return False
        else:
            raise ValueError(f"unknown breakpoint kind {kind!r}")
        self._changed()
        return True

    def clear(self) -> None:
        self.breakpoints.clear()
        self.watchpoints.clear()
        self._changed()

    def _changed(self) -> None:
        # A software breakpoint wins over a hardware one at the same address, as gdb inserts
        # the kind it reports.
        self.addresses = {}
        for kind, address in sorted(self.breakpoints, reverse=True):
            self.addresses[address] = kind
        if self.cpu is not None:
            self.cpu.mem.access_hook = self._access if self.watchpoints else None

    def _access(self, ra: int, n: int, store: bool) -> None:
        if self.passing:
            return
        for kind, address, length in self.watchpoints:
            if ra < address + length and address < ra + n and (
                    kind == "access" or (kind == "write") == store):
                raise WatchHit(kind, max(address, ra))

    def _matches(self, pc: int) -> Optional[str]:
        # Breakpoints hold effective addresses; real mode also reaches code through aliases
        # that differ in the top bits, which gdb never uses for one program.
        return self.addresses.get(pc)

    # --- running ----------------------------------------------------------------------------
    def run(self, budget: int, step: bool = False) -> Tuple[Optional[str], Optional[Stop]]:
        """Run up to `budget` instructions, or one with `step`.

        Returns (LIMIT or IDLE or None, stop) where stop names why the vCPU stopped for the
        debugger: {"reason": "swbreak"|"hwbreak"|"watch"|"rwatch"|"awatch"|"step", ...}.
        A single step executes the instruction at pc even if a breakpoint is set there,
        as QEMU's does, and takes no interrupt (see the module docstring); resuming at the
        instruction a watchpoint stopped lets its accesses through, so they happen exactly once.
        """
        if step:
            return self._step()
        cpu, interp = self.cpu, self.interp
        assert cpu is not None and interp is not None
        end = cpu.icount + budget
        first = True
        resumed_at, self.watched_at = self.watched_at, None
        while True:
            outcome = self._boundary(end)
            if outcome is not None:
                return outcome, None
            kind = self._matches(cpu.pc)
            if kind is not None:
                return None, {"reason": BREAKPOINT_REASONS[kind]}
            self.passing = first and cpu.pc == resumed_at
            first = False
            try:
                interp.run(1)
            except WatchHit as hit:
                return None, self._watch_stop(hit)
            finally:
                self.passing = False

    def _watch_stop(self, hit: WatchHit) -> Stop:
        # The instruction made no access and retired nothing: it runs again on resume.
        cpu = self.cpu
        assert cpu is not None
        cpu.pc = self.watched_at = cpu.cia
        return {"reason": WATCHPOINT_KINDS[hit.kind], "address": hit.address}

    def _step(self) -> Tuple[Optional[str], Stop]:
        """One instruction with interrupts masked (QEMU's SSTEP_NOIRQ)."""
        cpu = self.cpu
        assert cpu is not None
        resumed_at, self.watched_at = self.watched_at, None
        if cpu.dec_expiry is not None and cpu.icount >= cpu.dec_expiry:
            cpu.pending_dec = True      # due: pending, not taken
            cpu.dec_expiry = None
        if cpu.halted:
            if not cpu.msr & M.EE or (cpu.dec_expiry is None and not cpu.pending_dec):
                return IDLE, {"reason": STEP}   # nothing can wake it: nothing executes
            if not cpu.pending_dec:
                # Idle until the decrementer wakes the vCPU, which does not take it.
                cpu.icount = max(cpu.icount, cpu.dec_expiry)
                cpu.pending_dec = True
                cpu.dec_expiry = None
            cpu.halted = False
        self.passing = cpu.pc == resumed_at
        try:
            self._execute_one()
        except WatchHit as hit:
            return None, self._watch_stop(hit)
        finally:
            self.passing = False
        return LIMIT, {"reason": STEP}

    def _execute_one(self) -> None:
        """The interpreter's instruction, without its look at the timer before it."""
        cpu, interp = self.cpu, self.interp
        assert cpu is not None and interp is not None
        pc = cpu.pc
        try:
            word = cpu.fetch(pc)
            handler, fields = interp.lookup(word)
            cpu.cia = pc
            cpu.pc = (pc + 4) & (MASK64 if cpu.msr & M.SF else MASK32)
            handler(cpu, fields)
        except Interrupt as exc:
            cpu.cia = pc
            deliver(cpu, exc)
        cpu.icount += 1

    def _boundary(self, end: int) -> Optional[str]:
        """The interpreter's timer and idle handling before an instruction, split out so the
        breakpoint check sees the first instruction of an interrupt handler."""
        cpu, interp = self.cpu, self.interp
        assert cpu is not None and interp is not None
        take_timer = interp._take_timer
        while True:
            if cpu.icount >= end:
                return LIMIT
            if cpu.pending_dec or (cpu.dec_expiry is not None and cpu.icount >= cpu.dec_expiry):
                if take_timer(cpu):
                    return None
            if not cpu.halted:
                return None
            if not cpu.msr & M.EE or (cpu.dec_expiry is None and not cpu.pending_dec):
                return IDLE
            if not cpu.pending_dec:
                # Idle: the virtual clock jumps straight to the next timer event.
                cpu.icount = max(cpu.icount, min(cpu.dec_expiry, end))
            if take_timer(cpu):
                return None
