"""Daemons under test: real `ppcd run --qmp` processes with tiny hand-assembled guests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from .guests import POWER_OFF, REBOOT, SPIN, write_guest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0


def spawn_ppcd(socket_path: str, kernel: Path, *args: str,
               stdout: int = subprocess.PIPE) -> "tuple[list, subprocess.Popen]":
    """Start `ppcd run` with QMP on `socket_path`; returns (command, process) once it listens."""
    command = [sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(kernel),
               "--qmp", f"unix:{socket_path}", "--serial", "null", *args]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=stdout,
                               stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + START_TIMEOUT
    while not os.path.exists(socket_path):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"ppcd did not start: {process.stderr.read()!r}")
        time.sleep(0.02)
    return command, process


class Daemon:
    """One ppcd process serving QMP on a UNIX socket."""

    def __init__(self, tmp_path: Path, kernel: Path, *args: str) -> None:
        self.socket_path = str(tmp_path / "qmp.sock")
        self.command, self.process = spawn_ppcd(self.socket_path, kernel, *args)

    def connect(self, negotiate: bool = True) -> "RawClient":
        client = RawClient(self.socket_path)
        if negotiate:
            client.command("qmp_capabilities")
        return client

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        finally:
            self.process.stdout.close()
            self.process.stderr.close()


class RawClient:
    """QMP over a plain socket: exactly the bytes on the wire, nothing hidden."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(20)
        self.sock.connect(path)
        self.buffer = b""
        self.events: List[Dict[str, Any]] = []
        self.greeting = self.receive()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError(self.buffer)
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def receive(self) -> Dict[str, Any]:
        return json.loads(self.line())

    def reply(self) -> Dict[str, Any]:
        """The next reply; events on the way are kept in self.events."""
        while True:
            message = self.receive()
            if "event" in message:
                self.events.append(message)
            else:
                return message

    def execute(self, name: str, arguments: Optional[Dict[str, Any]] = None,
                **extra: Any) -> Dict[str, Any]:
        request: Dict[str, Any] = {"execute": name, **extra}
        if arguments is not None:
            request["arguments"] = arguments
        self.send(json.dumps(request).encode())
        return self.reply()

    def command(self, name: str, arguments: Optional[Dict[str, Any]] = None) -> Any:
        reply = self.execute(name, arguments)
        assert "return" in reply, reply
        return reply["return"]

    def hmp(self, line: str) -> str:
        return self.command("human-monitor-command", {"command-line": line})

    def wait_event(self, name: str, timeout: float = 20) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event["event"] == name:
                    self.events.remove(event)
                    return event
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            self.events.append(self.receive())

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="session")
def guest_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("guests")


@pytest.fixture(scope="session")
def spin_elf(guest_dir: Path) -> Path:
    return write_guest(guest_dir / "spin.elf", SPIN)


@pytest.fixture(scope="session")
def reboot_elf(guest_dir: Path) -> Path:
    return write_guest(guest_dir / "reboot.elf", REBOOT)


@pytest.fixture(scope="session")
def power_off_elf(guest_dir: Path) -> Path:
    return write_guest(guest_dir / "power_off.elf", POWER_OFF)


@pytest.fixture
def start_daemon(tmp_path: Path):
    """start_daemon(kernel, *args): a running daemon, stopped at the end of the test."""
    daemons: List[Daemon] = []

    def start(kernel: Path, *args: str) -> Daemon:
        daemon = Daemon(tmp_path, kernel, *args)
        daemons.append(daemon)
        return daemon
    yield start
    for daemon in daemons:
        daemon.stop()


@pytest.fixture
def daemon(start_daemon, spin_elf: Path) -> Daemon:
    """A daemon in prelaunch (-S) with the spinning guest."""
    return start_daemon(spin_elf, "-S", "--name", "testvm")
