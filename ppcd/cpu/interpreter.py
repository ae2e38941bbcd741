"""The reference interpreter: fetch, decode (cached by word), execute, one instruction at a time.

It is the definition of "correct" that faster engines are checked against in lockstep, so
it stays simple. Timing is the virtual clock: every instruction that executes or raises an
interrupt retires one timebase tick; the decrementer fires between instructions.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

from . import msr as M
from .decoder import make_decoder
from .interrupts import Decrementer, Interrupt, deliver
from .state import MASK32, MASK64, CPUState


class MachineStop(Exception):
    """The guest stopped the machine (power-off, reboot) or hit a permanent stop."""

    def __init__(self, reason: str, status: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


# Why `run` returned.
LIMIT = "limit"     # the instruction budget ran out
IDLE = "idle"       # the vCPU ceded with no timer armed: only outside input wakes it


class Interpreter:
    def __init__(self, cpu: CPUState) -> None:
        self.cpu = cpu
        self._decode = make_decoder()
        self._cache: Dict[int, Tuple[Callable, object]] = {}

    def lookup(self, word: int) -> Tuple[Callable, object]:
        entry = self._cache.get(word)
        if entry is None:
            entry = self._cache[word] = self._decode(word)
        return entry

    def step(self) -> None:
        """Execute exactly one instruction (or take one pending interrupt)."""
        self.run(1)

    def _take_timer(self, cpu: CPUState) -> bool:
        """Deliver the decrementer interrupt if it is pending and enabled."""
        if cpu.dec_expiry is not None and cpu.icount >= cpu.dec_expiry:
            cpu.pending_dec = True
            cpu.dec_expiry = None
        if cpu.pending_dec and cpu.msr & M.EE:
            deliver(cpu, Decrementer())
            return True
        return False

    def run(self, budget: int) -> Optional[str]:
        """Run up to `budget` instructions. Returns LIMIT, IDLE, or raises MachineStop."""
        cpu = self.cpu
        end = cpu.icount + budget
        cache = self._cache
        lookup = self.lookup
        while cpu.icount < end:
            if cpu.pending_dec or (cpu.dec_expiry is not None and cpu.icount >= cpu.dec_expiry):
                self._take_timer(cpu)
            if cpu.halted:
                if not cpu.msr & M.EE or (cpu.dec_expiry is None and not cpu.pending_dec):
                    return IDLE
                if not cpu.pending_dec:
                    # Idle: the virtual clock jumps straight to the next timer event.
                    cpu.icount = max(cpu.icount, min(cpu.dec_expiry, end))
                if not self._take_timer(cpu):
                    continue
            pc = cpu.pc
            try:
                word = cpu.fetch(pc)
                entry = cache.get(word) or lookup(word)
                cpu.cia = pc
                cpu.pc = (pc + 4) & (MASK64 if cpu.msr & M.SF else MASK32)
                entry[0](cpu, entry[1])
            except Interrupt as exc:
                cpu.cia = pc
                deliver(cpu, exc)
            cpu.icount += 1
        return LIMIT
