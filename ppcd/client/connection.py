"""A small blocking QMP client: connect, negotiate, execute, read events."""

from __future__ import annotations

import json
import socket
from typing import Any, Dict, List, Optional, Tuple

CONNECT_TIMEOUT = 10.0


class ClientError(Exception):
    """Something a person must fix (a wrong path, a refused command); one line."""


class CommandFailed(ClientError):
    """The command was refused: QMP's error class and description."""

    def __init__(self, error: Dict[str, Any]) -> None:
        self.error = error
        super().__init__(f"{error.get('class', 'Error')}: {error.get('desc', '')}")


def parse_address(text: str) -> Tuple[int, Any]:
    """(family, address) for unix:PATH, tcp:HOST:PORT or a plain socket path."""
    kind, _, rest = text.partition(":")
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not host or not port.isdigit():
            raise ClientError(f"bad address {text!r}: use tcp:HOST:PORT, unix:PATH or a path")
        return socket.AF_INET6 if ":" in host else socket.AF_INET, (host, int(port))
    return socket.AF_UNIX, rest if kind == "unix" else text


def connect(text: str, timeout: Optional[float] = CONNECT_TIMEOUT) -> socket.socket:
    family, address = parse_address(text)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except OSError as e:
        sock.close()
        reason = e.strerror or str(e)
        hint = " (is ppcd running, and may you open its socket?)" if family == socket.AF_UNIX \
            else " (is ppcd running?)"
        raise ClientError(f"cannot connect to {text}: {reason}{hint}") from None
    return sock


class QMPConnection:
    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = connect(address)
        self.sock.settimeout(None)
        self._buffer = b""
        self.events: List[Dict[str, Any]] = []
        greeting = self._receive()
        if "QMP" not in greeting:
            raise ClientError(f"{address} is not a QMP socket")
        self.greeting = greeting["QMP"]
        self.execute("qmp_capabilities")

    def _receive(self) -> Dict[str, Any]:
        while b"\n" not in self._buffer:
            try:
                data = self.sock.recv(1 << 16)
            except OSError as e:
                raise ClientError(f"{self.address}: {e.strerror or e}") from None
            if not data:
                raise ClientError(f"{self.address} closed the connection")
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            raise ClientError(f"{self.address} is not a QMP socket") from None

    def execute(self, command: str, arguments: Optional[Dict[str, Any]] = None) -> Any:
        """The command's return value; CommandFailed with QMP's error otherwise."""
        request: Dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        while True:
            message = self._receive()
            if "event" in message:
                self.events.append(message)
            elif "error" in message:
                raise CommandFailed(message["error"])
            elif "return" in message:
                return message["return"]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "QMPConnection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
