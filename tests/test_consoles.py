"""Console backends with real clients: pyserial on tcp, pty and socket://, a UNIX socket,
stdin, and a guest whose output nobody reads (it must keep running, the loss counted)."""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial
from console_guest import write_echo_guest
from elfmaker import elf64
from qemu_runner import qemu_available, qemu_command
from qmp.conftest import ROOT, RawClient

from ppcd.cpu.assembler import assemble_all

ENV = dict(os.environ, PYTHONPATH=str(ROOT))
# Prints 16 bytes with every H_PUT_TERM_CHAR, forever.
CHATTY = """addi 3,0,0x58; addi 4,0,0; addi 5,0,16; addis 6,0,0x6162; ori 6,6,0x6364
            rldicr 6,6,32,31; addi 7,0,0x0a; sc 1; b -32"""


@pytest.fixture(scope="session")
def echo_elf(tmp_path_factory) -> Path:
    return write_echo_guest(tmp_path_factory.mktemp("echo") / "echo.elf")


@pytest.fixture(scope="session")
def chatty_elf(tmp_path_factory) -> Path:
    code = b"".join(struct.pack(">I", w) for w in assemble_all(CHATTY))
    path = tmp_path_factory.mktemp("chatty") / "chatty.elf"
    path.write_bytes(elf64([(0, code, len(code))]))
    return path


def start(kernel: Path, serial_spec: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(kernel),
                             "--serial", serial_spec, *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)


def announced(process: subprocess.Popen) -> str:
    """Where the console is, from ppcd's "console on ..." line."""
    line = process.stderr.readline().decode()
    match = re.match(r"ppcd: console on (\S+)$", line.strip())
    assert match, line
    return match.group(1)


def read_until(port, marker: bytes, timeout: float = 20) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        data += port.read(1)
    return data


def talk_to_echo_guest(port) -> None:
    assert read_until(port, b"ready\n") == b"ready\n"
    port.write(b"hello\n")
    assert read_until(port, b"hello\n") == b"hello\n"
    port.write(b"q")
    assert read_until(port, b"q") == b"q"


def test_tcp_server_with_pyserial_socket_url(echo_elf) -> None:
    process = start(echo_elf, "tcp:127.0.0.1:0,server")
    address = announced(process)
    port = serial.serial_for_url(f"socket://{address.removeprefix('tcp:')}", timeout=1)
    talk_to_echo_guest(port)
    assert process.wait(timeout=20) == 0
    port.close()


def test_unix_server_raw_stream(echo_elf, tmp_path) -> None:
    # pyserial has no unix:// handler: a plain socket is the client.
    path = tmp_path / "console.sock"
    process = start(echo_elf, f"unix:{path},server")
    deadline = time.monotonic() + 20
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.stat().st_mode & 0o777 == 0o600
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(path))
    client.settimeout(20)

    class Port:
        read = staticmethod(lambda n: client.recv(n))
        write = staticmethod(client.sendall)
    talk_to_echo_guest(Port)
    assert process.wait(timeout=20) == 0
    assert not path.exists()


def test_pty_with_pyserial(echo_elf) -> None:
    process = start(echo_elf, "pty")
    path = announced(process)
    assert path.startswith("/dev/pts/")
    port = serial.Serial(path, baudrate=115200, timeout=1)
    talk_to_echo_guest(port)
    assert process.wait(timeout=20) == 0
    port.close()


def test_pyserial_url_backend_dials_out(echo_elf) -> None:
    """serial:socket://... makes ppcd the client of a raw TCP service (a terminal server)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(20)
        host, port_number = server.getsockname()
        process = start(echo_elf, f"serial:socket://{host}:{port_number}")
        connection, _ = server.accept()
        with connection:
            connection.settimeout(20)

            class Port:
                read = staticmethod(lambda n: connection.recv(n))
                write = staticmethod(connection.sendall)
            talk_to_echo_guest(Port)
            assert process.wait(timeout=20) == 0


def test_stdin_reaches_the_guest(echo_elf) -> None:
    result = subprocess.run([sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(echo_elf)],
                            input=b"hello\nq", capture_output=True, timeout=60, env=ENV)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"ready\nhello\nq", b"")


@pytest.mark.skipif(not qemu_available(), reason="qemu-system-ppc64 is not installed")
def test_echo_guest_under_qemu(echo_elf) -> None:
    """The echo guest is a fair test of H_GET_TERM_CHAR: QEMU answers it the same way."""
    qemu = subprocess.Popen(qemu_command(echo_elf), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert qemu.stdout.read(6) == b"ready\n"
    out, _ = qemu.communicate(b"hello\nq", timeout=60)
    assert (qemu.returncode, out) == (0, b"hello\nq")


def test_output_nobody_reads_is_dropped_and_counted(chatty_elf, tmp_path) -> None:
    path, qmp_path = tmp_path / "console.sock", tmp_path / "qmp.sock"
    process = start(chatty_elf, f"unix:{path},server", "--qmp", f"unix:{qmp_path}")
    deadline = time.monotonic() + 30
    while not qmp_path.exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    qmp = RawClient(str(qmp_path))
    qmp.command("qmp_capabilities")
    while qmp.command("x-query-console")["dropped"] < 100_000:
        assert time.monotonic() < deadline, qmp.command("x-query-console")
        time.sleep(0.1)
    info = qmp.command("x-query-console")
    assert info["buffered"] <= 1 << 16
    assert info["filename"] == f"disconnected:unix:{path},server"
    # A late reader gets the newest output (what the buffer holds), then what follows.
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(path))
    client.settimeout(10)
    received = b""
    while len(received) < 200_000:
        received += client.recv(1 << 16)
    assert set(received) <= set(b"abcd\n\0")
    client.close()
    assert re.search(r"serial0: [1-9]\d* bytes of output dropped", qmp.hmp("info chardev"))
    qmp.command("quit")
    assert process.wait(timeout=20) == 0
    assert b"bytes of console output were dropped" in process.stderr.read()


@pytest.mark.parametrize("spec, message", [
    ("tcp:127.0.0.1:4555", "socket consoles listen, add ',server'"),
    ("unix:", "unknown serial backend"),
    ("file:/nonexistent/dir/console.txt", "cannot open serial file"),
    ("serial:/dev/nonexistent-tty", "cannot open serial '/dev/nonexistent-tty'"),
    ("serial:/dev/ttyS0,speed=9600", "the only option is baud=N"),
])
def test_bad_backend_is_one_line(echo_elf, spec, message) -> None:
    result = subprocess.run([sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(echo_elf),
                             "--serial", spec], capture_output=True, text=True, timeout=60,
                            env=ENV)
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
