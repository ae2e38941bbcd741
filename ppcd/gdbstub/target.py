"""What the packet handlers need of a debugged machine; it knows nothing of packets.

Like the gdbstub crate's Target trait: threads (one per vCPU, numbered from 1), registers as
the raw bytes of gdb's numbering, memory at effective addresses, breakpoints and watchpoints,
resuming and stopping, a monitor, detach and kill. A stop that happens later (a breakpoint hit
while running, an interrupt) reaches the session through the `on_stop` callback.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

# Signals as gdb numbers them (gdb/signals.def), the ones QEMU's stub reports.
SIGNAL_NONE = 0
SIGINT = 2
SIGTRAP = 5
SIGABRT = 6
SIGXCPU = 24

# Breakpoint kinds by Z packet type (0-4).
BREAKPOINT_KINDS = ("sw", "hw", "write", "read", "access")

# Per-thread resume actions.
CONTINUE = "c"
STEP = "s"
HOLD = "t"


@dataclass(frozen=True)
class Stop:
    """Why the machine stopped: a signal, the thread, and a breakpoint or watchpoint."""

    signal: int
    thread: int
    reason: Optional[str] = None        # swbreak, hwbreak, watch, rwatch, awatch
    address: Optional[int] = None       # the data address of a watchpoint


class TargetError(Exception):
    """The target refused a request (bad address, nothing to remove, ...)."""


class Target(abc.ABC):
    on_stop: Callable[[Stop], None] = staticmethod(lambda stop: None)

    @abc.abstractmethod
    def threads(self) -> List[int]:
        """Thread ids, one per vCPU, from 1."""

    @abc.abstractmethod
    async def thread_name(self, thread: int) -> str:
        """What `info threads` shows next to the thread's id."""

    @abc.abstractmethod
    def features(self) -> Dict[str, bytes]:
        """Target description documents by annex name (target.xml first)."""

    @abc.abstractmethod
    def register_count(self) -> int: ...

    @abc.abstractmethod
    async def read_registers(self, thread: int) -> List[bytes]: ...

    @abc.abstractmethod
    async def write_registers(self, thread: int, values: Dict[int, bytes]) -> None:
        """Registers by number; TargetError for a wrong size or number."""

    @abc.abstractmethod
    async def set_pc(self, thread: int, address: int) -> None: ...

    @abc.abstractmethod
    def read_memory(self, address: int, length: int) -> Optional[bytes]:
        """None when part of the range is not accessible."""

    @abc.abstractmethod
    async def write_memory(self, address: int, data: bytes) -> bool: ...

    @abc.abstractmethod
    async def insert_breakpoint(self, kind: str, address: int, length: int) -> None: ...

    @abc.abstractmethod
    async def remove_breakpoint(self, kind: str, address: int, length: int) -> None: ...

    @abc.abstractmethod
    async def clear_breakpoints(self) -> None: ...

    @abc.abstractmethod
    async def attach(self) -> Stop:
        """A debugger connected: stop the machine; the stop to report to `?`."""

    @abc.abstractmethod
    async def resume(self, actions: Dict[int, str]) -> Optional[Stop]:
        """Resume threads (action per thread). A step's stop is returned; a continued
        machine reports its stop through on_stop later and this returns None. All-stop:
        stepping one thread holds the others, whatever their actions."""

    @abc.abstractmethod
    async def interrupt(self) -> None:
        """Stop a running machine; its stop arrives through on_stop."""

    @abc.abstractmethod
    def running(self) -> bool: ...

    @abc.abstractmethod
    async def monitor(self, command: str) -> str: ...

    @abc.abstractmethod
    async def detach(self) -> None:
        """Remove every breakpoint and let the machine run."""

    @abc.abstractmethod
    def kill(self) -> None: ...
