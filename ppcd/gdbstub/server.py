"""The gdb server: a listener, one debugger session at a time, stop replies as they happen.

Each session is a nursery of a reader, which handles packets in order (a handler may wait for
the worker, milliseconds), and a writer fed by a queue, so a stop that happens while gdb waits
(a breakpoint, a QMP stop, an interrupt byte) is sent from the machine's event callback. As
with QEMU's socket chardev, a second debugger waits until the first has gone.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Optional, Set

import trio

from ..outbox import Outbox
from ..qmp.server import Address, Listener, parse_address
from . import commands
from .machine import MachineTarget
from .protocol import Ack, BadPacket, Interrupt, Packet, PacketReader, frame
from .target import SIGINT, SIGTRAP, Stop, Target, TargetError

if TYPE_CHECKING:
    from ..daemon import VirtualMachine

OUT_QUEUE = 1000        # packets not yet taken by the client; more and it is dropped
CLOSE_TIMEOUT = 5.0     # for the last replies to a client that has sent EOF
CLEANUP_TIMEOUT = 2.0   # for removing a departed debugger's breakpoints


def parse_gdb_address(spec: str) -> Address:
    try:
        return parse_address(spec)
    except ValueError:
        raise ValueError(f"bad --gdb address {spec!r}: use tcp:HOST:PORT or unix:PATH") from None


class GDBServer:
    def __init__(self, vm: "VirtualMachine") -> None:
        self.vm = vm
        self.session: Optional[Session] = None
        self._one_at_a_time = trio.Lock()

    async def serve(self, listener: Listener) -> None:
        await trio.serve_listeners(self._connection, [listener.listener])

    async def _connection(self, stream: trio.abc.Stream) -> None:
        async with self._one_at_a_time:
            target = MachineTarget(self.vm)
            session = self.session = Session(target, stream)
            try:
                await session.run()
            except Exception:
                # A bug in the stub must not take the machine and its QMP clients with it.
                traceback.print_exc()
            finally:
                self.session = None
                target.close()
                with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT):
                    try:
                        await target.clear_breakpoints()
                    except TargetError:
                        pass

    def exit(self, status: int) -> None:
        """ppcd is ending: tell the debugger the process exited (QEMU's gdb_exit)."""
        if self.session is not None:
            self.session.send(b"W%02x" % (status & 0xFF))

    async def flush(self) -> None:
        if self.session is not None:
            await self.session.flushed()


class Session:
    """One debugger connection: protocol state and the packets' shared context."""

    def __init__(self, target: Target, stream: trio.abc.Stream) -> None:
        self.target = target
        target.on_stop = self._on_stop
        self.stream = stream
        self.no_ack = False
        self.start_no_ack = False
        self.client_features: Set[str] = set()
        self.general_thread = target.threads()[0]
        self.continue_thread = self.general_thread      # Hc: the thread s and c act on
        self.waiting = False            # gdb waits for a stop reply
        self.last_stop = Stop(SIGTRAP, self.general_thread)
        self._last_sent = b""
        self._outbox = Outbox(stream, OUT_QUEUE)

    # --- output ----------------------------------------------------------------------------
    def send(self, payload: bytes) -> None:
        """Queue a packet; a client that lets the queue fill up is dropped."""
        self._last_sent = frame(payload)
        self._queue(self._last_sent)

    def _queue(self, data: bytes) -> None:
        self._outbox.send(data)

    async def flushed(self) -> None:
        await self._outbox.flushed()

    def _on_stop(self, stop: Stop) -> None:
        if self.waiting:
            self.waiting = False
            self.last_stop = stop
            self.send(commands.stop_reply(self, stop))

    # --- input -----------------------------------------------------------------------------
    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            self._outbox.start(nursery)
            self.last_stop = await self.target.attach()
            await self._reader()
            # The client has gone quiet: let the writer finish, but not forever.
            self._outbox.close()
            nursery.cancel_scope.deadline = trio.current_time() + CLOSE_TIMEOUT

    async def _reader(self) -> None:
        reader = PacketReader(commands.PACKET_SIZE)
        while True:
            try:
                data = await self.stream.receive_some(1 << 16)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            for event in reader.feed(data):
                await self._handle(event)

    async def _handle(self, event: object) -> None:
        if isinstance(event, Packet):
            if not self.no_ack:
                self._queue(b"+")
            await self._dispatch(event.payload)
        elif isinstance(event, Interrupt):
            await self._interrupt()
        elif isinstance(event, Ack):
            if not event.positive and not self.no_ack and self._last_sent:
                self._queue(self._last_sent)
        elif isinstance(event, BadPacket) and not self.no_ack:
            self._queue(b"-")

    async def _dispatch(self, payload: bytes) -> None:
        handler, args = commands.find_handler(payload)
        if handler is None:
            self.send(b"")
            return
        try:
            reply = await handler(self, args)
        except commands.ProtocolError:
            reply = b"E01"
        except TargetError:
            reply = commands.E_INVALID
        if reply is not None:
            self.send(reply)
        if self.start_no_ack:
            self.no_ack = True

    async def _interrupt(self) -> None:
        """The 0x03 byte: stop the machine; its stop reply is SIGINT (QEMU: T02)."""
        if not self.waiting:
            return
        if self.target.running():
            await self.target.interrupt()
        # Already stopped, or stopped by someone else meanwhile: gdb still needs its reply.
        if self.waiting and not self.target.running():
            self._on_stop(Stop(SIGINT, self.general_thread))
