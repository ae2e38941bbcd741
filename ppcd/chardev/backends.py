"""The console backends: where output is written and where input comes from.

Each backend has three duties. `open` acquires its resource before the guest starts (so a bad
path is one line at startup); `serve` runs for the machine's life, accepting connections and
passing what the person types to the guest; `write` hands some output to whoever reads it now.
"""

from __future__ import annotations

import os
import stat
import sys
import tty
from typing import TYPE_CHECKING, Optional

import serial
import trio

from .. import journal
from ..qmp.server import Listener, TCPAddress, UnixAddress, open_listener
from .spec import ChardevError, ChardevSpec

if TYPE_CHECKING:
    from .link import ConsoleLink

# A terminal or a pipe that reads slowly still takes this much without blocking (PIPE_BUF).
SMALL_WRITE = 4096
# Output held for a backend: plenty for stdio and files, a screenful or so of scrollback for
# a console someone attaches to later.
LOCAL_BUFFER = 1 << 20
REMOTE_BUFFER = 1 << 16
# pyserial is blocking: its calls run in a thread and return within these many seconds.
SERIAL_READ_TIMEOUT = 0.1
SERIAL_WRITE_TIMEOUT = 1.0
SERIAL_DEFAULT_BAUD = 115200


class NoReader(Exception):
    """Nobody reads the output right now; keep it for the next reader."""


class ReaderGone(Exception):
    """Nobody will ever read the output again (a closed stdout): drop it from now on."""


class Backend:
    has_input = False
    buffer_size = REMOTE_BUFFER

    def __init__(self, spec: ChardevSpec) -> None:
        self.spec = spec
        self.reader_ready = trio.Event()

    @property
    def filename(self) -> str:
        """The backend as QEMU's query-chardev names it."""
        return str(self.spec)

    async def open(self) -> None:
        self.reader_ready.set()

    async def serve(self, link: "ConsoleLink") -> None:
        """Input and connections, until cancelled."""

    async def write(self, data: bytes) -> int:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _pollable(fd: int) -> bool:
    # epoll refuses regular files and /dev/null; those never make a writer wait anyway.
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)


class StdioBackend(Backend):
    """ppcd's own stdout and stdin, left in blocking mode: the terminal is shared with others."""

    buffer_size = LOCAL_BUFFER

    def __init__(self, spec: ChardevSpec) -> None:
        super().__init__(spec)
        self.out_fd = sys.stdout.fileno()
        self.in_fd: Optional[int] = None
        if sys.stdin is not None and not sys.stdin.closed:
            self.in_fd = sys.stdin.fileno()
        self.has_input = self.in_fd is not None

    async def write(self, data: bytes) -> int:
        try:
            if _pollable(self.out_fd):
                await trio.lowlevel.wait_writable(self.out_fd)
            else:
                await trio.lowlevel.checkpoint()
            return os.write(self.out_fd, data[:SMALL_WRITE])
        except BlockingIOError:
            return 0
        except OSError:
            raise ReaderGone() from None

    async def serve(self, link: "ConsoleLink") -> None:
        if self.in_fd is None:
            return
        pollable = _pollable(self.in_fd)
        while True:
            if pollable:
                await trio.lowlevel.wait_readable(self.in_fd)
            try:
                data = os.read(self.in_fd, SMALL_WRITE)
            except BlockingIOError:
                continue
            except OSError:
                return
            if not data:
                return      # end of input: the guest simply gets no more
            await link.send_input(data)


class FileBackend(Backend):
    buffer_size = LOCAL_BUFFER

    def __init__(self, spec: ChardevSpec) -> None:
        super().__init__(spec)
        self.fd: Optional[int] = None

    async def open(self) -> None:
        try:
            self.fd = os.open(self.spec.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                              0o644)
        except OSError as e:
            raise ChardevError(f"cannot open serial file {self.spec.path!r}: "
                               f"{e.strerror}") from None
        await super().open()

    async def write(self, data: bytes) -> int:
        await trio.lowlevel.checkpoint()
        assert self.fd is not None
        try:
            return os.write(self.fd, data)
        except OSError:
            raise ReaderGone() from None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class NullBackend(Backend):
    async def write(self, data: bytes) -> int:
        await trio.lowlevel.checkpoint()
        return len(data)


class PtyBackend(Backend):
    """A pseudo-terminal in raw mode; ppcd keeps its slave open so output waits there."""

    has_input = True

    def __init__(self, spec: ChardevSpec) -> None:
        super().__init__(spec)
        self.master: Optional[int] = None
        self.slave: Optional[int] = None
        self.path = ""

    @property
    def filename(self) -> str:
        return f"pty:{self.path}"

    async def open(self) -> None:
        try:
            self.master, self.slave = os.openpty()
        except OSError as e:
            raise ChardevError(f"cannot open a pseudo-terminal: {e.strerror}") from None
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        journal.report(f"console on {self.path}", journal.NOTICE)
        await super().open()

    async def write(self, data: bytes) -> int:
        assert self.master is not None
        await trio.lowlevel.wait_writable(self.master)
        try:
            return os.write(self.master, data)
        except BlockingIOError:
            return 0

    async def serve(self, link: "ConsoleLink") -> None:
        assert self.master is not None
        while True:
            await trio.lowlevel.wait_readable(self.master)
            try:
                data = os.read(self.master, SMALL_WRITE)
            except BlockingIOError:
                continue
            await link.send_input(data)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None


class SocketServerBackend(Backend):
    """tcp:HOST:PORT,server and unix:PATH,server: a raw byte stream to one client at a time;
    the next one waits in the backlog until it leaves."""

    has_input = True

    def __init__(self, spec: ChardevSpec) -> None:
        super().__init__(spec)
        self.address = (TCPAddress(spec.host, spec.port) if spec.kind == "tcp"
                        else UnixAddress(spec.path))
        self.listener: Optional[Listener] = None
        self.client: Optional[trio.SocketStream] = None
        self.peer = ""

    @property
    def filename(self) -> str:
        # QEMU's form: "disconnected:" before the address until a client is there.
        if self.client is None:
            return f"disconnected:{self.spec}"
        return f"{self.spec} <-> {self.peer}"

    async def open(self) -> None:
        try:
            self.listener = await open_listener(self.address)
        except OSError as e:
            raise ChardevError(f"cannot listen on {self.address}: {e.strerror}") from None
        if isinstance(self.address, TCPAddress) and self.address.port == 0:
            # Port 0 asks for any free port: say which one was chosen.
            port = self.listener.listener.socket.getsockname()[1]
            self.address = TCPAddress(self.address.host, port)
            self.spec = ChardevSpec("tcp", host=self.spec.host, port=port)
            journal.report(f"console on {self.address}", journal.NOTICE)

    async def serve(self, link: "ConsoleLink") -> None:
        assert self.listener is not None
        while True:
            stream = await self.listener.listener.accept()
            assert isinstance(stream, trio.SocketStream)
            name = stream.socket.getpeername()
            self.peer = f"{name[0]}:{name[1]}" if isinstance(name, tuple) else "unix"
            self.client = stream
            self.reader_ready.set()
            try:
                async for data in stream:
                    await link.send_input(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            # Not when cancelled: at exit the client still gets the guest's last output.
            self._disconnect()

    def _disconnect(self) -> None:
        if self.client is not None:
            self.client.socket.close()
            self.client = None
            self.reader_ready = trio.Event()

    async def write(self, data: bytes) -> int:
        client = self.client
        if client is None:
            raise NoReader()
        try:
            await client.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._disconnect()
            raise NoReader() from None
        return len(data)

    def close(self) -> None:
        self._disconnect()
        if self.listener is not None:
            # The socket file goes with the listener (a UNIX socket is unlinked).
            self.listener.listener.socket.close()
            if isinstance(self.address, UnixAddress):
                try:
                    os.unlink(self.address.path)
                except FileNotFoundError:
                    pass
            self.listener = None


class SerialBackend(Backend):
    """Any device or URL pyserial opens: /dev/ttyUSB0, rfc2217://HOST:PORT, socket://..."""

    has_input = True

    def __init__(self, spec: ChardevSpec) -> None:
        super().__init__(spec)
        self.port = None

    async def open(self) -> None:
        def connect():
            return serial.serial_for_url(
                self.spec.path, baudrate=self.spec.baud or SERIAL_DEFAULT_BAUD,
                timeout=SERIAL_READ_TIMEOUT, write_timeout=SERIAL_WRITE_TIMEOUT)
        try:
            self.port = await trio.to_thread.run_sync(connect)
        except (serial.SerialException, ValueError, OSError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise ChardevError(f"cannot open serial {self.spec.path!r}: {reason}") from None
        await super().open()

    async def serve(self, link: "ConsoleLink") -> None:
        port = self.port
        assert port is not None

        def read() -> bytes:
            # One byte (or the read timeout), then whatever else has arrived with it.
            first = port.read(1)
            return first + port.read(port.in_waiting) if first else first
        while True:
            try:
                data = await trio.to_thread.run_sync(read)
            except (serial.SerialException, OSError) as e:
                journal.report(f"serial console input ended: {e}", journal.WARNING)
                return
            if data:
                await link.send_input(data)

    async def write(self, data: bytes) -> int:
        assert self.port is not None
        try:
            return await trio.to_thread.run_sync(self.port.write, data) or 0
        except serial.SerialTimeoutException:
            return 0
        except (serial.SerialException, OSError):
            raise ReaderGone() from None

    def close(self) -> None:
        if self.port is not None:
            self.port.close()
            self.port = None


BACKENDS = {"stdio": StdioBackend, "file": FileBackend, "null": NullBackend,
            "pty": PtyBackend, "tcp": SocketServerBackend, "unix": SocketServerBackend,
            "serial": SerialBackend}


def make_backend(spec: ChardevSpec) -> Backend:
    return BACKENDS[spec.kind](spec)

