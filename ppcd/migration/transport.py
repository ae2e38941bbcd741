"""Where a stream goes or comes from: tcp:HOST:PORT, unix:PATH, file:PATH and exec:COMMAND.

The source connects (or creates the file, or starts the command with the stream on its stdin);
the destination listens for one connection (or reads the file, or the command's stdout).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import trio


class TransportError(Exception):
    """A URI that cannot be used; the message is one line for the person."""


@dataclass(frozen=True)
class URI:
    scheme: str            # tcp, unix, file or exec
    target: str            # PATH or COMMAND
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.scheme == "tcp":
            return f"tcp:{self.host}:{self.port}"
        return f"{self.scheme}:{self.target}"


def parse_uri(text: str, allow_exec: bool) -> URI:
    scheme, _, rest = text.partition(":")
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if host and port.isdigit() and int(port) < 65536:
            return URI("tcp", rest, host, int(port))
    elif scheme in ("unix", "file") and rest:
        return URI(scheme, rest)
    elif scheme == "exec" and rest:
        if not allow_exec:
            raise TransportError("exec: migration is disabled: start ppcd with "
                                 "--allow-exec-migration to allow it")
        return URI("exec", rest)
    raise TransportError(f"unknown migration URI {text!r}: use tcp:HOST:PORT, unix:PATH, "
                         "file:PATH or exec:COMMAND")


class Channel:
    """One direction of a stream: send_all or receive_some, then aclose."""

    def __init__(self, stream: Optional[trio.abc.Stream] = None, file=None,
                 process: Optional[trio.Process] = None) -> None:
        self.stream = stream
        self.file = file
        self.process = process

    async def send_all(self, data: bytes) -> None:
        if self.file is not None:
            await self.file.write(data)
        else:
            assert self.stream is not None
            await self.stream.send_all(data)

    async def receive_some(self) -> bytes:
        if self.file is not None:
            return await self.file.read(1 << 20)
        assert self.stream is not None
        return await self.stream.receive_some(1 << 20)

    async def aclose(self) -> None:
        with trio.CancelScope(shield=True):
            if self.file is not None:
                await self.file.aclose()
            if self.stream is not None:
                await self.stream.aclose()
            if self.process is not None:
                with trio.move_on_after(5):
                    await self.process.wait()
                if self.process.returncode is None:
                    self.process.kill()
                    await self.process.wait()


async def connect(uri: URI) -> Channel:
    """The source's end. Raises OSError when the peer is not there."""
    if uri.scheme == "tcp":
        return Channel(await trio.open_tcp_stream(uri.host, uri.port))
    if uri.scheme == "unix":
        return Channel(await trio.open_unix_socket(uri.target))
    if uri.scheme == "file":
        return Channel(file=await trio.open_file(uri.target, "wb"))
    process = await trio.lowlevel.open_process(["/bin/sh", "-c", uri.target], stdin=-1)
    return Channel(process.stdin, process=process)


class Listener:
    """The destination's end before the source has connected."""

    def __init__(self, uri: URI, listener: Optional[trio.SocketListener] = None) -> None:
        self.uri = uri
        self.listener = listener

    async def accept(self) -> Channel:
        uri = self.uri
        if self.listener is not None:
            stream = await self.listener.accept()
            await self.aclose()     # one incoming migration per listener, as QEMU's
            return Channel(stream)
        if uri.scheme == "file":
            return Channel(file=await trio.open_file(uri.target, "rb"))
        process = await trio.lowlevel.open_process(["/bin/sh", "-c", uri.target], stdout=-1)
        return Channel(process.stdout, process=process)

    async def aclose(self) -> None:
        if self.listener is not None:
            await self.listener.aclose()
            self.listener = None
            if self.uri.scheme == "unix":
                try:
                    os.unlink(self.uri.target)
                except FileNotFoundError:
                    pass


async def listen(uri: URI) -> Listener:
    """Bind at once, so a source may connect as soon as the daemon is up."""
    if uri.scheme == "tcp":
        listeners = await trio.open_tcp_listeners(uri.port, host=uri.host)
        for extra in listeners[1:]:
            await extra.aclose()
        return Listener(uri, listeners[0])
    if uri.scheme == "unix":
        sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
        await sock.bind(uri.target)
        sock.listen(1)
        return Listener(uri, trio.SocketListener(sock))
    if uri.scheme == "file" and not os.path.exists(uri.target):
        raise OSError(2, "No such file or directory")
    return Listener(uri)
