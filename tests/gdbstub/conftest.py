"""ppcd and QEMU under gdb-multiarch: debug builds of the guests, daemons on free ports."""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
from typing import Iterator, List, Optional

import pytest
from guests import build as guest_build
from qemu_runner import qemu_command

ROOT = pathlib.Path(__file__).resolve().parents[2]

GDB = "gdb-multiarch"
HERE = pathlib.Path(__file__).resolve().parent
START_TIMEOUT = 20.0
GDB_TIMEOUT = 60.0

needs_gdb = pytest.mark.skipif(shutil.which(GDB) is None, reason="gdb-multiarch is not installed")


def build_debug_guest(name: str, endian: str, build_dir: pathlib.Path) -> pathlib.Path:
    """A guest program of this folder (debuggee, stepirq) or of tests/guests with DWARF, at -Og."""
    local = HERE / f"{name}.c"
    source = local if local.exists() else guest_build.GUEST_DIR / f"{name}.c"
    flags = [f for f in guest_build.GUEST_FLAGS if f != "-O2"] + ["-Og", "-g"]
    args = [*flags, "-T", str(guest_build.GUEST_DIR / guest_build.LINKER_SCRIPT)]
    # Absolute sources: _build joins names onto the guests' folder, which keeps these as they are.
    sources = [*guest_build.RUNTIME_SOURCES, str(source), *guest_build.EXTRA_SOURCES.get(name, ())]
    return guest_build._build(guest_build.guest_compiler(endian), args, sources,
                              [guest_build.LINKER_SCRIPT], build_dir / endian / f"{name}.elf")


@pytest.fixture(scope="session")
def debug_build_dir() -> pathlib.Path:
    return guest_build.DEFAULT_BUILD_DIR / "debug"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Machine:
    """ppcd or QEMU with a gdb stub on a TCP port, started paused (-S)."""

    def __init__(self, command: List[str], port: int, qmp: Optional[str] = None) -> None:
        self.port = port
        self.qmp = qmp
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=dict(os.environ, PYTHONPATH=str(ROOT)))
        if qmp is not None:
            deadline = time.monotonic() + START_TIMEOUT
            while not os.path.exists(qmp):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ppcd did not start: {self.process.stderr.read()!r}")
                time.sleep(0.02)
        else:
            # The stub accepts one client: probing QEMU's would take its place.
            time.sleep(0.5)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            self.process.stdout.close()
            self.process.stderr.close()


def ppcd_command(elf: pathlib.Path, port: int, *extra: str) -> List[str]:
    return [sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(elf), "--serial", "null",
            "--gdb", f"tcp:127.0.0.1:{port}", "-S", *extra]


@pytest.fixture
def start_ppcd(tmp_path) -> Iterator:
    machines: List[Machine] = []

    def start(elf: pathlib.Path, *extra: str) -> Machine:
        port = free_port()
        qmp = str(tmp_path / f"qmp{len(machines)}.sock")
        machine = Machine(ppcd_command(elf, port, "--qmp", f"unix:{qmp}", *extra), port, qmp)
        machines.append(machine)
        return machine
    yield start
    for machine in machines:
        machine.stop()


@pytest.fixture
def start_qemu() -> Iterator:
    machines: List[Machine] = []

    def start(elf: pathlib.Path, smp: int = 1) -> Machine:
        port = free_port()
        command = qemu_command(elf, smp) + ["-gdb", f"tcp:127.0.0.1:{port}", "-S"]
        command[command.index("-serial") + 1] = "null"
        machine = Machine(command, port)
        machines.append(machine)
        return machine
    yield start
    for machine in machines:
        machine.stop()


def gdb_command(elf: pathlib.Path, port: int, commands: List[str], endian: str) -> List[str]:
    args = [GDB, "-nx", "-batch", "-ex", "set confirm off", "-ex", "set pagination off",
            "-ex", f"set endian {'big' if endian == 'be' else 'little'}",
            "-ex", f"file {elf}", "-ex", f"target remote 127.0.0.1:{port}"]
    for command in commands:
        args += ["-ex", command]
    return args


def run_gdb(elf: pathlib.Path, port: int, commands: List[str], endian: str = "be",
            timeout: float = GDB_TIMEOUT) -> str:
    """gdb-multiarch in batch mode: connect, run the commands, return what it printed."""
    result = subprocess.run(gdb_command(elf, port, commands, endian), capture_output=True,
                            text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return result.stdout + result.stderr


def start_gdb(elf: pathlib.Path, port: int, commands: List[str], endian: str = "be",
              output: bool = False) -> subprocess.Popen:
    """The same session in the background; its output (stderr too) on a pipe if asked."""
    return subprocess.Popen(gdb_command(elf, port, commands, endian), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE if output else subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, text=True)


class RawGDB:
    """The remote protocol over a plain socket: exactly the bytes on the wire."""

    def __init__(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
                break
            except ConnectionRefusedError:
                # QMP's socket, which the fixture waits for, opens just before the stub's.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.buffer = b""
        self.acks = b""

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, payload: bytes) -> None:
        self.send_raw(b"$%s#%02x" % (payload, sum(payload) & 0xFF))

    def receive(self) -> bytes:
        """The next packet's payload (checksum checked, run-length decoded); acks are kept."""
        while True:
            while self.buffer[:1] in (b"+", b"-"):
                self.acks += self.buffer[:1]
                self.buffer = self.buffer[1:]
            end = self.buffer.find(b"#")
            if self.buffer.startswith(b"$") and end > 0 and len(self.buffer) >= end + 3:
                body, check = self.buffer[1:end], self.buffer[end + 1:end + 3]
                self.buffer = self.buffer[end + 3:]
                assert int(check, 16) == sum(body) & 0xFF
                return _run_length_decode(body)
            data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError("the stub closed the connection")
            self.buffer += data

    def ask(self, payload: bytes) -> bytes:
        self.send(payload)
        return self.receive()

    def close(self) -> None:
        self.sock.close()


def _run_length_decode(body: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        if body[i:i + 1] == b"*":
            out += out[-1:] * (body[i + 1] - 29)
            i += 2
        else:
            out.append(body[i])
            i += 1
    return bytes(out)
