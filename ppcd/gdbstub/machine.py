"""The gdb Target over ppcd's machine: the worker for vCPU state, shared RAM for memory.

Memory is read straight from the shared mapping; a write goes there too and then asks the
worker to drop translations of the range (VirtualMachine.write_physical), so patched code runs
as patched. Effective addresses are real addresses less the top four bits: ppcd's only MMU mode.
Run-state changes follow QEMU's gdbstub: a connection pauses a running machine, a debugger
stop puts it in "debug", detach resumes it, kill ends ppcd.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from .. import control
from ..qmp.hmp import HMPState, run_hmp
from ..qmp.schema import QMPError
from . import power
from .target import (
    CONTINUE,
    SIGABRT,
    SIGINT,
    SIGTRAP,
    SIGXCPU,
    STEP,
    Stop,
    Target,
    TargetError,
)

if TYPE_CHECKING:
    from ..daemon import VirtualMachine

# Thread ids are vCPU index + 1 (gdb's thread 0 means "any").
FIRST_THREAD = 1
# The signal a stop reports by the run state it left the machine in (QEMU's
# gdb_vm_state_change); a debugger stop is SIGTRAP.
STATE_SIGNALS = {"debug": SIGTRAP, "paused": SIGINT, "internal-error": SIGABRT,
                 "finish-migrate": SIGXCPU, "postmigrate": SIGXCPU}


@dataclass
class _Monitor:
    """What run_hmp needs of a session: the machine and the remembered x/xp format."""

    vm: "VirtualMachine"
    hmp: HMPState = field(default_factory=HMPState)


class MachineTarget(Target):
    def __init__(self, vm: "VirtualMachine") -> None:
        self.vm = vm
        self.monitor_session = _Monitor(vm)
        self.last_thread = FIRST_THREAD     # the thread the latest stop named
        vm.listeners.append(self._on_event)

    def close(self) -> None:
        self.vm.listeners.remove(self._on_event)

    def _on_event(self, event: str, data: Optional[Dict[str, Any]]) -> None:
        if event == "STOP":
            self.on_stop(self.current_stop())

    def current_stop(self) -> Stop:
        if self.vm.state == "debug" and self.vm.debug_stop is not None:
            return self._debug_stop(self.vm.debug_stop)
        return Stop(STATE_SIGNALS.get(self.vm.state, SIGTRAP), self.last_thread)

    # --- threads and registers ------------------------------------------------------------
    def threads(self) -> List[int]:
        return list(range(FIRST_THREAD, FIRST_THREAD + self.vm.cpu_count))

    async def thread_name(self, thread: int) -> str:
        # QEMU's words: a vCPU waiting in H_CEDE or stopped (RTAS) is halted.
        halted = (await self._registers(thread)).get("halted")
        return f"CPU#{thread - FIRST_THREAD} [{'halted ' if halted else 'running'}]"

    def features(self) -> Dict[str, bytes]:
        return power.FEATURES

    def register_count(self) -> int:
        return len(power.REGISTERS)

    async def _registers(self, thread: int) -> Dict[str, Any]:
        try:
            return await self.vm.registers(thread - FIRST_THREAD)
        except QMPError as e:
            raise TargetError(e.desc) from None

    async def read_registers(self, thread: int) -> List[bytes]:
        registers = await self._registers(thread)
        return [power.read_register(registers, n) for n in range(len(power.REGISTERS))]

    async def write_registers(self, thread: int, values: Dict[int, bytes]) -> None:
        registers = await self._registers(thread)
        changes: Dict[str, Any] = {}
        try:
            for number, data in values.items():
                if not 0 <= number < len(power.REGISTERS):
                    raise TargetError(f"no register {number}")
                for name, value in power.write_register(registers, number, data).items():
                    if isinstance(value, dict):
                        changes.setdefault(name, {}).update(value)
                    else:
                        changes[name] = value
        except ValueError as e:
            raise TargetError(str(e)) from None
        try:
            await self.vm.set_registers(changes, thread - FIRST_THREAD)
        except QMPError as e:
            raise TargetError(e.desc) from None

    async def set_pc(self, thread: int, address: int) -> None:
        try:
            await self.vm.set_registers({"pc": address}, thread - FIRST_THREAD)
        except QMPError as e:
            raise TargetError(e.desc) from None

    # --- memory -----------------------------------------------------------------------------
    def read_memory(self, address: int, length: int) -> Optional[bytes]:
        return self.vm.read_physical(self.vm.real_address(address), length)

    async def write_memory(self, address: int, data: bytes) -> bool:
        try:
            await self.vm.write_physical(self.vm.real_address(address), data)
        except (ValueError, QMPError):
            return False
        return True

    # --- breakpoints ------------------------------------------------------------------------
    async def insert_breakpoint(self, kind: str, address: int, length: int) -> None:
        try:
            await self.vm.ask(control.OP_INSERT_BREAKPOINT, kind=kind, address=address,
                              length=length)
        except QMPError as e:
            raise TargetError(e.desc) from None

    async def remove_breakpoint(self, kind: str, address: int, length: int) -> None:
        try:
            reply = await self.vm.ask(control.OP_REMOVE_BREAKPOINT, kind=kind,
                                      address=address, length=length)
        except QMPError as e:
            raise TargetError(e.desc) from None
        if not reply.get("removed"):
            raise TargetError("no such breakpoint")

    async def clear_breakpoints(self) -> None:
        try:
            await self.vm.ask(control.OP_CLEAR_BREAKPOINTS)
        except QMPError as e:
            raise TargetError(e.desc) from None

    # --- running ----------------------------------------------------------------------------
    async def attach(self) -> Stop:
        await self.vm.stop()
        return Stop(SIGTRAP, FIRST_THREAD)

    def running(self) -> bool:
        return self.vm.running

    async def resume(self, actions: Dict[int, str]) -> Optional[Stop]:
        stepping = [thread for thread, action in actions.items() if action == STEP]
        try:
            if stepping:
                # ppcd steps one vCPU while the others wait (QEMU lets them run a little).
                return self._debug_stop(await self.vm.step(stepping[0] - FIRST_THREAD))
            if CONTINUE in actions.values():
                await self.vm.cont()
                return None
        except QMPError:
            pass    # the machine cannot run (shut down, internal error): report where it is
        return self.current_stop()

    async def interrupt(self) -> None:
        await self.vm.stop()

    async def monitor(self, command: str) -> str:
        return await run_hmp(self.monitor_session, command)  # type: ignore[arg-type]

    async def detach(self) -> None:
        try:
            await self.clear_breakpoints()
            await self.vm.cont()
        except (TargetError, QMPError):
            pass    # nothing to resume: the machine is shut down or broken

    def kill(self) -> None:
        # QEMU's stub: "Terminated via GDBstub" and exit status 0, no SHUTDOWN event.
        sys.stderr.write("ppcd: terminated via the gdb stub\n")
        self.vm.finish(0)


    def _debug_stop(self, stop: Dict[str, Any]) -> Stop:
        """A stop of the worker's debugger (ppcd/machine/debug.py) as gdb reports it, in the
        thread of the vCPU that stopped; later stops without a vCPU name that thread too."""
        reason = stop.get("reason")
        self.last_thread = FIRST_THREAD + int(stop.get("cpu", 0))
        return Stop(SIGTRAP, self.last_thread, None if reason == "step" else reason,
                    stop.get("address"))
