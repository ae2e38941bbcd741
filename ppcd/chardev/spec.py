"""The --serial backend syntax: what each backend is called and what it needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

SYNTAX = ("stdio, file:PATH, null, pty, tcp:HOST:PORT,server, unix:PATH,server "
          "or serial:DEVICE|URL[,baud=N]")


class ChardevError(Exception):
    """A bad backend or one that cannot be opened; the message is one line for the person."""


@dataclass(frozen=True)
class ChardevSpec:
    kind: str                       # stdio, file, null, pty, tcp, unix or serial
    path: str = ""                  # file and unix: a path; serial: a device or pyserial URL
    host: str = ""
    port: int = 0
    baud: Optional[int] = None

    def __str__(self) -> str:
        if self.kind in ("stdio", "null", "pty"):
            return self.kind
        if self.kind == "file":
            return f"file:{self.path}"
        if self.kind == "tcp":
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"tcp:{host}:{self.port},server"
        if self.kind == "unix":
            return f"unix:{self.path},server"
        return f"serial:{self.path}" + (f",baud={self.baud}" if self.baud else "")


def _server_options(spec: str, options: list) -> None:
    # The console only listens: a guest console that dials out would block the boot on a peer.
    if options not in (["server"], ["server=on"], ["server", "nowait"], ["server=on", "wait=off"]):
        raise ChardevError(f"bad serial backend {spec!r}: socket consoles listen, "
                           f"add ',server' (and nothing else)")


def parse_chardev(spec: str) -> ChardevSpec:
    """A ChardevSpec for --serial SPEC, or ChardevError naming the syntax."""
    kind, _, rest = spec.partition(":")
    if spec in ("stdio", "null", "pty"):
        return ChardevSpec(spec)
    if kind == "file" and rest:
        return ChardevSpec("file", path=rest)
    if kind == "unix" and rest:
        path, *options = rest.split(",")
        _server_options(spec, options)
        if path:
            return ChardevSpec("unix", path=path)
    if kind == "tcp" and rest:
        address, *options = rest.split(",")
        _server_options(spec, options)
        host, _, port = address.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if host and port.isdigit() and int(port) < 65536:
            return ChardevSpec("tcp", host=host, port=int(port))
        raise ChardevError(f"bad serial backend {spec!r}: use tcp:HOST:PORT,server")
    if kind == "serial" and rest:
        device, *options = rest.split(",")
        baud = None
        for option in options:
            name, _, value = option.partition("=")
            if name != "baud" or not value.isdigit() or int(value) == 0:
                raise ChardevError(f"bad serial backend {spec!r}: the only option is baud=N")
            baud = int(value)
        if device:
            return ChardevSpec("serial", path=device, baud=baud)
    raise ChardevError(f"unknown serial backend {spec!r}: use {SYNTAX}")
