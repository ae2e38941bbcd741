"""The QMP server: listeners, one session per client, negotiation, dispatch (QEMU's qmp-spec).

Each session is a nursery of a reader, an in-band executor and a writer. In-band commands run
one after the other in arrival order; with the "oob" capability, exec-oob commands that allow
it run at once, possibly overtaking in-band ones (qmp-spec 2.3.1). A client that sends faster
than commands finish is simply not read until the queue drains; one that stops reading its
replies is disconnected once its output queue is full, so no client can stall the others.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set, Tuple, Union

import trio

from ..outbox import Outbox
from .commands import CAPABILITIES, COMMANDS, version_info
from .events import event_message
from .framing import ParseError, StreamParser, encode
from .hmp import HMPState
from .schema import QMPError

if TYPE_CHECKING:
    from ..daemon import VirtualMachine

IN_BAND_QUEUE = 8        # commands read ahead of the one executing (QEMU: 8)
OUT_QUEUE = 1000         # replies and events not yet taken by the client
OOB_TASKS = 8            # exec-oob commands in flight per session
CLOSE_TIMEOUT = 5.0      # for the last replies to a client that has sent EOF


@dataclass(frozen=True)
class UnixAddress:
    path: str

    def __str__(self) -> str:
        return f"unix:{self.path}"


@dataclass(frozen=True)
class TCPAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"tcp:{self.host}:{self.port}"


Address = Union[UnixAddress, TCPAddress]


def parse_address(spec: str) -> Address:
    """--qmp unix:PATH or tcp:HOST:PORT (HOST is required: nothing listens on all addresses
    unless asked to with 0.0.0.0 or [::])."""
    kind, _, rest = spec.partition(":")
    if kind == "unix" and rest:
        return UnixAddress(rest)
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if host and port.isdigit() and int(port) < 65536:
            return TCPAddress(host, int(port))
    raise ValueError(f"bad --qmp address {spec!r}: use unix:PATH or tcp:HOST:PORT")


class Listener:
    """A listening socket; closing a UNIX one removes its path."""

    def __init__(self, listener: trio.SocketListener, address: Address) -> None:
        self.listener = listener
        self.address = address

    async def aclose(self) -> None:
        await self.listener.aclose()
        if isinstance(self.address, UnixAddress):
            try:
                os.unlink(self.address.path)
            except FileNotFoundError:
                pass


def _remove_stale_socket(path: str) -> None:
    """A socket file left by a ppcd that died: remove it if nothing answers there."""
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return
    except FileNotFoundError:
        return
    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)
    except OSError:
        pass
    finally:
        probe.close()


async def open_listener(address: Address) -> Listener:
    if isinstance(address, TCPAddress):
        listeners = await trio.open_tcp_listeners(address.port, host=address.host)
        if len(listeners) != 1:
            for extra in listeners:
                await extra.aclose()
            raise OSError(errno.EINVAL, "the host name must name exactly one address")
        return Listener(listeners[0], address)
    _remove_stale_socket(address.path)
    if os.path.lexists(address.path):
        raise OSError(errno.EADDRINUSE, "the path exists and is not a stale socket")
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    # Bound and listening under a temporary name, then renamed: the path never exists
    # without a listener behind it. Only the owner may connect (mode 0600).
    temporary = f"{address.path}.{os.getpid()}.tmp"
    old_umask = os.umask(0o177)
    try:
        await sock.bind(temporary)
        sock.listen(16)
        os.rename(temporary, address.path)
    except OSError:
        sock.close()
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    finally:
        os.umask(old_umask)
    return Listener(trio.SocketListener(sock), address)


class QMPServer:
    """Sessions on every listener, and the events they all receive."""

    def __init__(self, vm: "VirtualMachine") -> None:
        self.vm = vm
        self.sessions: Set[Session] = set()
        vm.listeners.append(self.broadcast)

    async def serve(self, listener: Listener) -> None:
        await trio.serve_listeners(self._session, [listener.listener])

    async def _session(self, stream: trio.abc.Stream) -> None:
        session = Session(self, stream)
        self.sessions.add(session)
        try:
            await session.run()
        except Exception:
            # A bug in one session must not take the machine and the other clients with it.
            traceback.print_exc()
        finally:
            self.sessions.discard(session)

    def broadcast(self, event: str, data: Optional[Dict[str, Any]]) -> None:
        message = event_message(event, data)
        for session in list(self.sessions):
            if session.negotiated:
                session.send(message)

    async def flush(self) -> None:
        """Wait until every session has written out what it was given."""
        for session in list(self.sessions):
            await session.flushed()


class Session:
    """One client connection."""

    def __init__(self, server: QMPServer, stream: trio.abc.Stream) -> None:
        self.server = server
        self.vm = server.vm
        self.stream = stream
        self.negotiated = False
        self.oob_enabled = False
        self.hmp = HMPState()
        self._outbox = Outbox(stream, OUT_QUEUE, encode)
        self._in_send, self._in_receive = trio.open_memory_channel[Any](IN_BAND_QUEUE)
        self._oob_slots = trio.Semaphore(OOB_TASKS)

    def send(self, message: Dict[str, Any]) -> None:
        """Queue a reply or event; a client that lets the queue fill up is dropped."""
        self._outbox.send(message)

    async def flushed(self) -> None:
        await self._outbox.flushed()

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            self._outbox.start(nursery)
            self.send({"QMP": {"version": version_info(), "capabilities": list(CAPABILITIES)}})
            async with trio.open_nursery() as commands:
                commands.start_soon(self._executor)
                await self._reader(commands)
            # The client has gone quiet: let the writer finish, but not forever.
            self._outbox.close()
            nursery.cancel_scope.deadline = trio.current_time() + CLOSE_TIMEOUT

    async def _reader(self, commands: trio.Nursery) -> None:
        parser = StreamParser()
        async with self._in_send:
            while True:
                try:
                    data = await self.stream.receive_some(1 << 16)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
                if not data:
                    return
                for value in parser.feed(data):
                    if self._is_oob(value):
                        await self._oob_slots.acquire()
                        commands.start_soon(self._run_oob, value)
                    else:
                        await self._in_send.send(value)

    def _is_oob(self, value: Any) -> bool:
        return self.oob_enabled and isinstance(value, dict) and "exec-oob" in value

    async def _executor(self) -> None:
        async with self._in_receive:
            async for value in self._in_receive:
                self.send(await self.dispatch(value))

    async def _run_oob(self, value: Dict[str, Any]) -> None:
        try:
            self.send(await self.dispatch(value))
        finally:
            self._oob_slots.release()

    async def dispatch(self, request: Any) -> Dict[str, Any]:
        """The reply to one request (qapi/qmp-dispatch.c's checks, in its order)."""
        reply: Dict[str, Any] = {}
        if isinstance(request, dict) and "id" in request:
            reply["id"] = request["id"]
        try:
            reply["return"] = await self._execute(request)
        except QMPError as e:
            reply["error"] = e.to_json()
        return reply

    async def _execute(self, request: Any) -> Any:
        if isinstance(request, ParseError):
            raise QMPError(request.desc)
        name, arguments = check_request(request, self.oob_enabled)
        if not self.negotiated and name != "qmp_capabilities":
            raise QMPError("Expecting capabilities negotiation with 'qmp_capabilities'",
                           "CommandNotFound")
        if self.negotiated and name == "qmp_capabilities":
            raise QMPError("Capabilities negotiation is already complete, command ignored",
                           "CommandNotFound")
        command = COMMANDS.get(name)
        if command is None:
            raise QMPError(f"The command {name} has not been found", "CommandNotFound")
        if "exec-oob" in request and not command.allow_oob:
            raise QMPError(f"The command {name} does not support OOB")
        return await command.handler(self, **command.schema.check(arguments))


def check_request(request: Any, oob_enabled: bool) -> Tuple[str, Dict[str, Any]]:
    """The command name and arguments of a request object, or QMPError."""
    if not isinstance(request, dict):
        raise QMPError("QMP input must be a JSON object")
    execute_keys: List[str] = []
    for key, value in request.items():
        if key == "execute" or (key == "exec-oob" and oob_enabled):
            if not isinstance(value, str):
                raise QMPError(f"QMP input member '{key}' must be a string")
            execute_keys.append(key)
            if len(execute_keys) > 1:
                raise QMPError("QMP input member 'exec-oob' clashes with 'execute'")
        elif key == "arguments":
            if not isinstance(value, dict):
                raise QMPError("QMP input member 'arguments' must be an object")
        elif key != "id":
            raise QMPError(f"QMP input member '{key}' is unexpected")
    if not execute_keys:
        raise QMPError("QMP input lacks member 'execute'")
    return request[execute_keys[0]], request.get("arguments", {})
