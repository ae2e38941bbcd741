"""The daemon as processes: supervision of the worker, signals, sockets, guest power events."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from qmp import conftest as qmp_conftest
from qmp.conftest import ROOT, Daemon

# The daemon fixtures of tests/qmp, shared.
guest_dir = qmp_conftest.guest_dir
spin_elf = qmp_conftest.spin_elf
reboot_elf = qmp_conftest.reboot_elf
power_off_elf = qmp_conftest.power_off_elf
start_daemon = qmp_conftest.start_daemon


def _worker_pid(client) -> int:
    return client.command("query-cpus-fast")[0]["thread-id"]


def test_worker_killed_gives_internal_error(start_daemon, spin_elf) -> None:
    daemon = start_daemon(spin_elf)
    client = daemon.connect()
    assert client.command("query-status")["status"] == "running"
    os.kill(_worker_pid(client), signal.SIGKILL)
    client.wait_event("STOP")
    assert client.command("query-status") == {"status": "internal-error", "singlestep": False,
                                              "running": False}
    assert client.execute("cont")["error"]["desc"] == "Resetting the Virtual Machine is required"
    assert "not running" in client.hmp("info registers")
    # system_reset starts a fresh worker, in prelaunch as QEMU's reset leaves an errored VM.
    client.command("system_reset")
    assert client.command("query-status")["status"] == "prelaunch"
    client.command("cont")
    assert client.command("query-status")["status"] == "running"
    client.command("quit")
    assert daemon.process.wait(timeout=20) == 0
    assert b"vCPU worker killed by signal 9" in daemon.process.stderr.read()


def test_sigterm_shuts_down_cleanly(start_daemon, spin_elf) -> None:
    daemon = start_daemon(spin_elf)
    client = daemon.connect()
    worker = _worker_pid(client)
    daemon.process.send_signal(signal.SIGTERM)
    shutdown = client.wait_event("SHUTDOWN")
    assert shutdown["data"] == {"guest": False, "reason": "host-signal"}
    assert daemon.process.wait(timeout=20) == 0
    assert not os.path.exists(daemon.socket_path)
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)      # reaped, not a zombie


def test_guest_power_off_ends_the_daemon(start_daemon, power_off_elf) -> None:
    daemon = start_daemon(power_off_elf, "-S")
    client = daemon.connect()
    client.command("cont")
    assert client.wait_event("SHUTDOWN")["data"] == {"guest": True, "reason": "guest-shutdown"}
    assert daemon.process.wait(timeout=20) == 0
    assert not os.path.exists(daemon.socket_path)


def test_guest_reboot_resets_the_machine(start_daemon, reboot_elf) -> None:
    daemon = start_daemon(reboot_elf, "-S")
    client = daemon.connect()
    client.command("cont")
    for _ in range(3):
        assert client.wait_event("RESET")["data"] == {"guest": True, "reason": "guest-reset"}
    assert client.command("query-status")["status"] == "running"


def test_tcp_listens_only_where_told(tmp_path, spin_elf) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen([sys.executable, "-m", "ppcd.cli", "run", "--kernel",
                                str(spin_elf), "--serial", "null", "-S",
                                "--qmp", f"tcp:127.0.0.1:{port}"], env=env,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=20)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with conn:
            assert conn.recv(4096).startswith(b'{"QMP": ')
        if shutil.which("ss"):
            listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True,
                                       text=True).stdout
            assert [line.split()[3] for line in listening.splitlines()] == [f"127.0.0.1:{port}"]
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


@pytest.mark.parametrize("spec", ["tcp:1234", "tcp::1234", "unix:", "udp:x:1", "tcp:h:99999"])
def test_bad_qmp_address(spec) -> None:
    result = subprocess.run([sys.executable, "-m", "ppcd.cli", "run", "--qmp", spec],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("ppcd: bad --qmp address")
    assert result.stderr.count("\n") == 1


def test_socket_in_use_is_refused(start_daemon, spin_elf, tmp_path) -> None:
    daemon = start_daemon(spin_elf, "-S")
    result = subprocess.run([sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(spin_elf),
                             "--qmp", f"unix:{daemon.socket_path}"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"ppcd: cannot listen on unix:{daemon.socket_path}")
    assert daemon.connect().command("query-status")["status"] == "prelaunch"


@pytest.mark.skipif(shutil.which("pypy3") is None, reason="pypy3 is not installed")
def test_pypy_worker(tmp_path, spin_elf) -> None:
    daemon = Daemon(tmp_path, spin_elf, "--worker-python", "pypy3")
    try:
        client = daemon.connect()
        assert client.command("query-status")["status"] == "running"
        client.command("stop")
        assert "NIP 0000000000400" in client.hmp("info registers")
    finally:
        assert daemon.stop() == 0
