"""Process lifecycle: the trio control process, its vCPU worker and the machine's run state.

The control process (DESIGN.md) loads the guest into shared RAM, starts the worker with RAM,
the dirty map, the attention flag and its end of the control channel, and then only
supervises: run-state changes go to the worker as requests (ppcd/control.py), QMP clients are
answered here without the worker, and guest RAM is read straight from the shared mapping.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import trio

from . import control, journal, service
from .chardev.link import ConsoleLink, open_console
from .chardev.spec import ChardevError, parse_chardev
from .gdbstub.server import GDBServer, parse_gdb_address
from .machine.boot import BootConfig, fdt_address, prepare
from .machine.elfload import GuestImageError
from .machine.ram import GuestRAM
from .migration.machine import machine_type
from .migration.manager import MigrationManager
from .migration.transport import TransportError
from .qmp.schema import QMPError
from .qmp.server import QMPServer, open_listener, parse_address

# QEMU's RunState names (qapi/run-state.json); the migration states are for migration.
PRELAUNCH = "prelaunch"
RUNNING = "running"
PAUSED = "paused"
SHUTDOWN = "shutdown"
INTERNAL_ERROR = "internal-error"
DEBUG = "debug"                     # stopped by the debugger (a breakpoint, a step)
INMIGRATE = "inmigrate"
POSTMIGRATE = "postmigrate"
FINISH_MIGRATE = "finish-migrate"

# A worker answers between two slices, milliseconds apart; silence this long means it hangs.
WORKER_TIMEOUT = 10.0
# How long the last events may take to reach the clients when ppcd exits.
FLUSH_TIMEOUT = 1.0
# How long the guest's last console output may take to reach the console when ppcd exits.
CONSOLE_FLUSH_TIMEOUT = 5.0
# Real-mode addressing ignores the top four bits of an effective address (Book III 5.7.3).
REAL_ADDRESS_MASK = 0x0FFF_FFFF_FFFF_FFFF

EventListener = Callable[[str, Optional[Dict[str, Any]]], None]


class ConfigError(Exception):
    """A bad option or backend; the message is one line for the person."""


@dataclass
class RunOptions:
    boot: BootConfig
    serial: str = "stdio"
    max_instructions: Optional[int] = None
    worker_python: str = sys.executable
    engine: Optional[str] = None
    qmp: List[str] = field(default_factory=list)
    start_paused: bool = False      # -S: stay in prelaunch until cont
    name: Optional[str] = None
    gdb: Optional[str] = None       # --gdb tcp:HOST:PORT or unix:PATH
    machine: str = "pseries"
    incoming: Optional[str] = None  # --incoming URI or "defer"
    allow_exec_migration: bool = False


class WorkerGone(Exception):
    """The worker exited or stopped answering while a request was outstanding."""


class _Pending:
    def __init__(self) -> None:
        self.done = trio.Event()
        self.reply: Dict[str, Any] = {}


class WorkerLink:
    """The control process's end of one worker: requests with replies, events handed on."""

    def __init__(self, process: trio.Process, sock: socket.socket,
                 attention: control.Attention) -> None:
        self.process = process
        self.stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
        self.attention = attention
        self.alive = True
        self.quitting = False
        self._ids = 0
        self._pending: Dict[int, _Pending] = {}
        self._send_lock = trio.Lock()

    async def request(self, op: str, **args: Any) -> Any:
        if not self.alive:
            raise WorkerGone()
        self._ids += 1
        request_id = self._ids
        pending = self._pending[request_id] = _Pending()
        try:
            async with self._send_lock:
                await self.stream.send_all(control.encode({"id": request_id, "op": op,
                                                           "args": args}))
            self.attention.set()
            with trio.move_on_after(WORKER_TIMEOUT):
                await pending.done.wait()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise WorkerGone() from None
        finally:
            del self._pending[request_id]
        if not pending.done.is_set() or "gone" in pending.reply:
            raise WorkerGone()
        if "error" in pending.reply:
            raise QMPError(f"vCPU worker: {pending.reply['error']}")
        return pending.reply.get("return")

    async def pump(self, on_event: Callable[[str, Dict[str, Any]], None]) -> None:
        """Deliver replies and events until the worker closes its end."""
        decoder = control.FrameDecoder()
        try:
            async for data in self.stream:
                for message in decoder.feed(data):
                    if "event" in message:
                        on_event(message["event"], message.get("data") or {})
                    elif message.get("id") in self._pending:
                        pending = self._pending[message["id"]]
                        pending.reply = message
                        pending.done.set()
        except (trio.BrokenResourceError, trio.ClosedResourceError, control.ChannelError):
            pass
        finally:
            # Also when cancelled at exit: nobody is left to deliver the replies.
            self.alive = False
            for pending in self._pending.values():
                pending.reply = {"gone": True}
                pending.done.set()

    async def close(self) -> None:
        """Ask the worker to quit, then make sure it is gone and reaped."""
        self.quitting = True
        with trio.CancelScope(shield=True):
            # No reply is awaited: the pump may already be gone with its nursery.
            with trio.move_on_after(FLUSH_TIMEOUT):
                try:
                    async with self._send_lock:
                        await self.stream.send_all(control.encode({"op": control.OP_QUIT}))
                    self.attention.set()
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
                await self.process.wait()
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
            await self.stream.aclose()
            self.attention.close()


class VirtualMachine:
    """The machine as the control process sees it: run state, worker, RAM, events."""

    def __init__(self, options: RunOptions, ram: GuestRAM, console: ConsoleLink,
                 serving: bool) -> None:
        self.options = options
        self.ram = ram
        self.console = console
        self.serving = serving          # QMP clients may come: keep running after errors
        self.state = PRELAUNCH
        self.worker: Optional[WorkerLink] = None
        self.listeners: List[EventListener] = []
        self.exit_status: Optional[int] = None
        self.quit_reason: Optional[str] = None
        self.exited = trio.Event()
        self._lock = trio.Lock()
        self._nursery: Optional[trio.Nursery] = None
        # Why the debugger stopped the vCPU, while the state is DEBUG (ppcd/machine/debug.py).
        self.debug_stop: Optional[Dict[str, Any]] = None
        self.migration = MigrationManager(self, machine_type(options.machine),
                                          options.allow_exec_migration)

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def worker_pid(self) -> int:
        return self.worker.process.pid if self.worker else 0

    def emit(self, event: str, data: Optional[Dict[str, Any]] = None) -> None:
        for listener in self.listeners:
            listener(event, data)

    def finish(self, status: int, quit_reason: Optional[str] = None) -> None:
        """End ppcd with `status`; a quit reason means a SHUTDOWN event is still owed."""
        if self.exit_status is None:
            self.exit_status = status
            self.quit_reason = quit_reason
            self.exited.set()

    # --- the worker -------------------------------------------------------------------------
    async def start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        nursery.start_soon(self.console.run)
        await self._spawn()

    async def _spawn(self) -> None:
        assert self._nursery is not None
        ours, theirs = socket.socketpair()
        attention = control.Attention()
        out_fd, in_fd = self.console.worker_out_fd, self.console.worker_in_fd
        config = {
            "ram_size": self.ram.size, "ram_fd": self.ram.ram_fd, "dirty_fd": self.ram.dirty_fd,
            "channel_fd": theirs.fileno(), "attention_fd": attention.fd,
            "cpu": self.options.boot.cpu, "smp": self.options.boot.smp,
            "fdt_address": fdt_address(self.ram.size),
            "max_cpu_compat": self.options.boot.max_cpu_compat,
            "compat_enforce": self.options.boot.compat_enforce,
            "max_instructions": self.options.max_instructions, "engine": self.options.engine,
            "console_out_fd": out_fd, "console_in_fd": in_fd,
        }
        fds = [self.ram.ram_fd, self.ram.dirty_fd, theirs.fileno(), attention.fd, out_fd, in_fd]
        env = dict(os.environ)
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
        try:
            process = await trio.lowlevel.open_process(
                [self.options.worker_python, "-m", "ppcd.machine.worker", json.dumps(config)],
                pass_fds=[fd for fd in fds if fd is not None], env=env)
        except OSError as e:
            ours.close()
            attention.close()
            raise ConfigError(f"cannot start the vCPU worker with "
                              f"{self.options.worker_python!r}: {e.strerror}") from None
        finally:
            theirs.close()
        self.worker = WorkerLink(process, ours, attention)
        self._nursery.start_soon(self._supervise, self.worker)

    async def _supervise(self, link: WorkerLink) -> None:
        await link.pump(self._on_worker_event)
        status = await link.process.wait()
        if link.quitting or link is not self.worker or self.exit_status is not None:
            return
        how = f"killed by signal {-status}" if status < 0 else f"exited with status {status}"
        self._internal_error(f"vCPU worker {how}")

    def _internal_error(self, message: str) -> None:
        sys.stderr.write(f"ppcd: {message}\n")
        self.state = INTERNAL_ERROR
        self.emit("STOP")
        if not self.serving:
            self.finish(1)

    def _on_worker_event(self, event: str, data: Dict[str, Any]) -> None:
        if event == control.EV_SHUTDOWN:
            self.state = SHUTDOWN
            self.emit("SHUTDOWN", {"guest": True, "reason": "guest-shutdown"})
            self.finish(0)
        elif event == control.EV_RESET_REQUEST:
            assert self._nursery is not None
            self._nursery.start_soon(self._guest_reset)
        elif event == control.EV_LIMIT:
            sys.stderr.write(f"ppcd: guest stopped: {data.get('reason')}\n")
            self.state = SHUTDOWN
            self.emit("SHUTDOWN", {"guest": False, "reason": "host-error"})
            self.finish(2)
        elif event == control.EV_STUCK and not self.serving:
            # With QMP clients an idle guest just stays idle, as under QEMU.
            sys.stderr.write(f"ppcd: guest stopped: {data.get('reason')}\n")
            self.finish(2)
        elif event == control.EV_ERROR:
            self._internal_error(f"vCPU error: {data.get('reason')}")
        elif event == control.EV_DEBUG_STOP:
            assert self._nursery is not None
            self._nursery.start_soon(self._debug_stopped, data)
        elif event == control.EV_BREAK:
            assert self._nursery is not None
            self._nursery.start_soon(self._break_reached)
        elif event == control.EV_CONSOLE_DROPPED:
            self.console.worker_dropped += int(data.get("bytes", 0))

    async def _guest_reset(self) -> None:
        try:
            await self.system_reset(guest=True)
        except QMPError:
            pass    # already reported: the machine is in internal-error

    async def _ask(self, op: str, **args: Any) -> Any:
        if self.worker is None:
            raise QMPError("the vCPU worker is not running")
        try:
            return await self.worker.request(op, **args)
        except WorkerGone:
            raise QMPError("the vCPU worker is not running") from None

    # --- run-state changes (QEMU's rules, softmmu/runstate.c and cpus.c) --------------------
    async def stop(self) -> None:
        with trio.CancelScope(shield=True):
            async with self._lock:
                if self.state == INMIGRATE:
                    self.options.start_paused = True    # QEMU: autostart off
                if self.state != RUNNING:
                    return
                await self._ask(control.OP_STOP)
                if self.state == RUNNING:   # unless the guest stopped itself meanwhile
                    self.state = PAUSED
                    self.emit("STOP")

    async def cont(self) -> None:
        with trio.CancelScope(shield=True):
            async with self._lock:
                if self.state in (SHUTDOWN, INTERNAL_ERROR):
                    raise QMPError("Resetting the Virtual Machine is required")
                if self.state == RUNNING:
                    return
                if self.state == INMIGRATE:
                    self.options.start_paused = False   # QEMU: run once the load is done
                    return
                await self._ask(control.OP_CONT)
                self.state = RUNNING
                self.emit("RESUME")

    async def system_reset(self, guest: bool = False) -> None:
        """Reload the image into cleared RAM and restart the vCPU at the entry point."""
        with trio.CancelScope(shield=True):
            async with self._lock:
                was_running = self.state == RUNNING
                alive = self.worker is not None and self.worker.alive
                if alive:
                    await self._ask(control.OP_STOP)
                self.ram.clear()
                try:
                    prepare(self.options.boot, self.ram)
                except GuestImageError as e:
                    self._internal_error(f"cannot reload the guest: {e}")
                    raise QMPError(f"cannot reload the guest: {e}") from None
                if not alive:
                    if self.worker is not None:
                        await self.worker.close()
                    try:
                        await self._spawn()
                    except ConfigError as e:
                        raise QMPError(str(e)) from None
                await self._ask(control.OP_RESET)
                self.emit("RESET", {"guest": guest,
                                    "reason": "guest-reset" if guest else "host-qmp-system-reset"})
                if was_running:
                    await self._ask(control.OP_CONT)
                else:
                    self.state = PRELAUNCH

    async def _debug_stopped(self, stop: Dict[str, Any]) -> None:
        # Under the lock: the cont that let the vCPU run has finished announcing RESUME.
        async with self._lock:
            if self.state == RUNNING:
                self.state = DEBUG
                self.debug_stop = stop
                self.emit("STOP")

    async def _break_reached(self) -> None:
        # QEMU's replay_break: vm_stop(RUN_STATE_PAUSED).
        async with self._lock:
            if self.state == RUNNING:
                self.state = PAUSED
                self.emit("STOP")

    async def replay_break(self, icount: Optional[int]) -> None:
        """QMP replay-break / replay-delete-break (the virtual clock counts instructions)."""
        reply = await self._ask(control.OP_BREAK_AT, icount=icount)
        if reply.get("past"):
            raise QMPError("cannot set breakpoint at the instruction in the past")

    @property
    def cpu_count(self) -> int:
        """vCPUs of the machine (--smp)."""
        return self.options.boot.smp

    async def step(self, cpu: int = 0) -> Dict[str, Any]:
        """Execute one instruction of vCPU `cpu` for the debugger (the others stay put); the
        stop, as debug.py reports it, with the vCPU's index as "cpu"."""
        with trio.CancelScope(shield=True):
            async with self._lock:
                if self.state in (SHUTDOWN, INTERNAL_ERROR, INMIGRATE):
                    raise QMPError(f"cannot step in state {self.state}")
                # QEMU's stub runs the VM for a step: RESUME, then STOP in "debug".
                self.state = RUNNING
                self.emit("RESUME")
                stop = await self._ask(control.OP_DEBUG_STEP, cpu=cpu)
                if self.state == RUNNING:
                    self.state = DEBUG
                    self.debug_stop = stop
                    self.emit("STOP")
                return stop

    async def ask(self, op: str, **args: Any) -> Any:
        """A request to the worker (ppcd/control.py); QMPError when it is not running."""
        return await self._ask(op, **args)

    async def write_physical(self, address: int, data: bytes) -> None:
        """Write guest RAM from outside the vCPU; translations of it are dropped."""
        self.ram.write(address, data)
        await self._ask(control.OP_INVALIDATE, address=address, length=len(data))

    def system_powerdown(self) -> None:
        # QEMU's pseries raises an EPOW interrupt; ppcd has no event source for the guest yet,
        # so the request is announced to clients and the guest is not told.
        self.emit("POWERDOWN")

    async def clock(self) -> int:
        """The machine's virtual time in instructions: what replay-break counts."""
        return int((await self._ask(control.OP_CLOCK))["icount"])

    async def registers(self, cpu: int = 0) -> Dict[str, Any]:
        """All registers of vCPU `cpu` (worker.get_registers)."""
        return await self._ask(control.OP_GET_REGISTERS, cpu=cpu)

    async def set_registers(self, registers: Dict[str, Any], cpu: int = 0) -> None:
        """Change registers of vCPU `cpu` (same names as registers())."""
        await self._ask(control.OP_SET_REGISTERS, registers=registers, cpu=cpu)

    def read_physical(self, address: int, size: int) -> Optional[bytes]:
        """Guest RAM straight from the shared mapping; None outside RAM."""
        if address < 0 or size < 0 or address + size > self.ram.size:
            return None
        return self.ram.ram[address:address + size]

    @staticmethod
    def real_address(address: int) -> int:
        # ppcd's MMU is real mode only: an effective address is physical, less the top bits.
        return address & REAL_ADDRESS_MASK

    async def close(self) -> None:
        if self.worker is not None:
            await self.worker.close()


def run_guest(options: RunOptions) -> int:
    """Run the guest (and QMP servers) until it powers off or ppcd is told to quit."""
    if options.engine == "lockstep" and options.boot.smp > 1:
        # The shadow vCPU has RAM of its own, which the other vCPUs' stores never reach.
        raise ConfigError("the lockstep engine runs one vCPU: use --smp 1")
    addresses = []
    for spec in options.qmp:
        try:
            addresses.append(parse_address(spec))
        except ValueError as e:
            raise ConfigError(str(e)) from None
    try:
        parse_chardev(options.serial)
    except ChardevError as e:
        raise ConfigError(str(e)) from None
    ram = GuestRAM(options.boot.memory)
    try:
        prepare(options.boot, ram)
        return trio.run(_run, options, ram, addresses)
    finally:
        ram.close()


async def _run(options: RunOptions, ram: GuestRAM, addresses: List[Any]) -> int:
    """The console backend around the machine: open before the guest starts, and given the
    guest's last output after the worker has gone."""
    try:
        console = await open_console(options.serial)
    except ChardevError as e:
        raise ConfigError(str(e)) from None
    try:
        return await _serve(options, ram, console, addresses)
    finally:
        await console.finish(CONSOLE_FLUSH_TIMEOUT)
        if console.dropped:
            journal.report(f"{console.dropped} bytes of console output were dropped: "
                           f"{console.backend.filename} did not take them", journal.WARNING)
        console.close()


async def _serve(options: RunOptions, ram: GuestRAM, console: ConsoleLink,
                 addresses: List[Any]) -> int:
    # Before anything starts the worker: it must not inherit systemd's variables.
    systemd = service.ServiceManager()
    listeners = service.inherited_listeners()
    gdb_listener = None
    try:
        for address in addresses:
            try:
                listeners.append(await open_listener(address))
            except OSError as e:
                raise ConfigError(f"cannot listen on {address}: {e.strerror}") from None
        if options.gdb is not None:
            try:
                gdb_address = parse_gdb_address(options.gdb)
                gdb_listener = await open_listener(gdb_address)
            except ValueError as e:
                raise ConfigError(str(e)) from None
            except OSError as e:
                raise ConfigError(f"cannot listen on {gdb_address}: {e.strerror}") from None
        vm = VirtualMachine(options, ram, console,
                            serving=bool(listeners) or gdb_listener is not None)
        server = QMPServer(vm)
        gdb_server = GDBServer(vm)
        incoming = None
        if options.incoming not in (None, "defer"):
            # Listening before QMP is up: a client that sees QMP may start the source at once.
            try:
                incoming = await vm.migration.prepare_incoming(options.incoming)
            except TransportError as e:
                raise ConfigError(str(e)) from None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_on_signals, vm)
                await vm.start(nursery)
                if options.incoming is not None:
                    vm.state = INMIGRATE
                    vm.migration.incoming_deferred = incoming is None
                    if incoming is not None:
                        vm.migration.start_incoming(incoming, exit_on_error=True)
                elif not options.start_paused:
                    await vm.cont()
                # Clients queue up until the machine is in its starting state.
                for listener in listeners:
                    nursery.start_soon(server.serve, listener)
                if gdb_listener is not None:
                    nursery.start_soon(gdb_server.serve, gdb_listener)
                nursery.start_soon(systemd.run, vm)
                await vm.exited.wait()
                systemd.stopping()
                if vm.quit_reason is not None:
                    vm.state = SHUTDOWN
                    vm.emit("SHUTDOWN", {"guest": False, "reason": vm.quit_reason})
                assert vm.exit_status is not None
                gdb_server.exit(vm.exit_status)
                with trio.move_on_after(FLUSH_TIMEOUT):
                    await server.flush()
                    await gdb_server.flush()
                nursery.cancel_scope.cancel()
        finally:
            await vm.close()
    finally:
        for listener in listeners:
            await listener.aclose()
        if gdb_listener is not None:
            await gdb_listener.aclose()
    assert vm.exit_status is not None
    return vm.exit_status


async def _on_signals(vm: VirtualMachine) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            vm.finish(0, quit_reason="host-signal")
            return
