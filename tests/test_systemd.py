"""ppcd as a systemd service: sd_notify over a real datagram socket, socket activation with
systemd's own tool, journald level prefixes, and the units checked by systemd-analyze."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest
from qmp.conftest import ROOT, RawClient
from qmp.guests import SPIN, write_guest

ENV = dict(os.environ, PYTHONPATH=str(ROOT))
UNITS = ROOT / "systemd"
WATCHDOG_USEC = 200_000
MAX_EXPOSURE = 2.0


@pytest.fixture(scope="module")
def spin_elf(tmp_path_factory) -> Path:
    return write_guest(tmp_path_factory.mktemp("spin") / "spin.elf", SPIN)


def receive(sock: socket.socket, messages: List[str], wanted: str, timeout: float = 20) -> None:
    """Collect notifications until one of them is `wanted`."""
    deadline = time.monotonic() + timeout
    while wanted not in messages:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        messages.extend(sock.recv(4096).decode().split("\n"))


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_notify_ready_watchdog_status_stopping(tmp_path, spin_elf, abstract) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        notify.bind(f"\0ppcd-test-{os.getpid()}-{time.monotonic_ns()}")
        address = "@" + notify.getsockname()[1:].decode()
    else:
        address = str(tmp_path / "notify")
        notify.bind(address)
    qmp_path = tmp_path / "qmp.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(spin_elf), "--serial", "null",
         "--qmp", f"unix:{qmp_path}"], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=dict(ENV, NOTIFY_SOCKET=address, WATCHDOG_USEC=str(WATCHDOG_USEC)))
    try:
        messages: List[str] = []
        receive(notify, messages, "READY=1")
        assert qmp_path.exists()            # READY=1 only once QMP listens
        assert "STATUS=running" in messages
        started = time.monotonic()
        count = messages.count("WATCHDOG=1")
        while messages.count("WATCHDOG=1") < count + 5:
            receive(notify, messages, "WATCHDOG=1")
            messages.remove("WATCHDOG=1")   # count the next one
            count -= 1
        # Five pings at least twice per WATCHDOG_USEC.
        assert time.monotonic() - started < 5 * WATCHDOG_USEC / 1e6
        client = RawClient(str(qmp_path))
        client.command("qmp_capabilities")
        client.command("stop")
        receive(notify, messages, "STATUS=paused")
        process.send_signal(signal.SIGTERM)
        receive(notify, messages, "STOPPING=1")
        assert process.wait(timeout=20) == 0
        assert process.stderr.read() == b""
        assert not qmp_path.exists()
    finally:
        if process.poll() is None:
            process.kill()
        notify.close()


def test_notify_socket_not_inherited_by_the_worker(tmp_path, spin_elf) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    qmp_path = tmp_path / "qmp.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(spin_elf), "--serial", "null",
         "--qmp", f"unix:{qmp_path}"], stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(ENV, NOTIFY_SOCKET=str(tmp_path / "notify")))
    try:
        receive(notify, [], "READY=1")
        client = RawClient(str(qmp_path))
        client.command("qmp_capabilities")
        worker = client.command("query-cpus-fast")[0]["thread-id"]
        with open(f"/proc/{worker}/environ", "rb") as f:
            assert b"NOTIFY_SOCKET" not in f.read()
        client.command("quit")
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None,
                    reason="systemd-socket-activate is not installed (Debian: systemd)")
def test_socket_activation(tmp_path, spin_elf) -> None:
    """systemd's own tool listens, starts ppcd at the first connection and passes it the
    listening socket as fd 3 (LISTEN_FDS=1); ppcd serves QMP there and leaves the path."""
    path = tmp_path / "vm.qmp"
    activator = subprocess.Popen(
        ["systemd-socket-activate", "-l", str(path), "--fdname=qmp", "-E", "PYTHONPATH",
         sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(spin_elf), "--serial",
         "null"], env=ENV, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not path.exists():
            assert time.monotonic() < deadline and activator.poll() is None
            time.sleep(0.02)
        client = RawClient(str(path))       # this connection starts ppcd
        assert client.greeting["QMP"]["version"]["package"].startswith("ppcd")
        client.command("qmp_capabilities")
        assert client.command("query-status")["status"] == "running"
        second = RawClient(str(path))       # the same listener serves everyone
        second.command("qmp_capabilities")
        client.command("quit")
        client.wait_event("SHUTDOWN")
        time.sleep(0.5)
        assert path.exists()                # systemd's socket: not ppcd's to remove
    finally:
        activator.send_signal(signal.SIGTERM)
        activator.wait(timeout=20)


def test_journald_level_prefixes(tmp_path) -> None:
    """With stderr as $JOURNAL_STREAM, every line carries its syslog level."""
    read_end, write_end = os.pipe()
    st = os.fstat(write_end)
    process = subprocess.Popen(
        [sys.executable, "-m", "ppcd.cli", "run", "--kernel", "/nonexistent/guest.elf"],
        stderr=write_end, stdin=subprocess.DEVNULL,
        env=dict(ENV, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}"))
    os.close(write_end)
    with os.fdopen(read_end, "rb") as stderr:
        text = stderr.read().decode()
    assert process.wait(timeout=60) == 1
    assert re.fullmatch(r"<3>ppcd: cannot open kernel .*\n", text), text


def test_pty_path_is_a_notice_in_the_journal(tmp_path, spin_elf) -> None:
    read_end, write_end = os.pipe()
    st = os.fstat(write_end)
    process = subprocess.Popen(
        [sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(spin_elf), "--serial", "pty",
         "--qmp", f"unix:{tmp_path / 'qmp.sock'}"],
        stderr=write_end, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        env=dict(ENV, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}"))
    os.close(write_end)
    with os.fdopen(read_end, "rb") as stderr:
        line = stderr.readline().decode()
        while not (tmp_path / "qmp.sock").exists():     # running: SIGTERM is handled
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert re.fullmatch(r"<5>ppcd: console on /dev/pts/\d+\n", line), line


def installed_units(tmp_path: Path) -> Path:
    """The units as the README installs them, with ExecStart naming a ppcd that exists."""
    ppcd = tmp_path / "bin" / "ppcd"
    ppcd.parent.mkdir()
    ppcd.write_text(f"#!/bin/sh\nexec {sys.executable} -m ppcd.cli \"$@\"\n")
    ppcd.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    for unit in UNITS.iterdir():
        (units / unit.name).write_text(unit.read_text().replace("/opt/ppcd/bin/ppcd", str(ppcd)))
    return units


systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                     reason="systemd-analyze is not installed (Debian: systemd)")


@systemd_analyze
def test_units_pass_systemd_analyze_verify(tmp_path) -> None:
    units = installed_units(tmp_path)
    assert "ExecStart=/opt/ppcd/bin/ppcd run --config /etc/ppcd/%i.toml" in (
        UNITS / "ppcd@.service").read_text()
    result = subprocess.run(["systemd-analyze", "verify", "ppcd@vm.service", "ppcd@vm.socket"],
                            cwd=units, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


@systemd_analyze
def test_service_exposure_is_low(tmp_path) -> None:
    units = installed_units(tmp_path)
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                             str(units / "ppcd@.service")], capture_output=True, text=True,
                            timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout
