"""gdb-multiarch sessions against ppcd alone: exact watchpoints, Ctrl-C, QMP alongside gdb,
power-off, detach and attach again, kill, monitor."""

from __future__ import annotations

import re
import signal
import threading
import time

import pytest
from qmp.conftest import RawClient
from qmp.guests import SPIN, write_guest

from .conftest import build_debug_guest, needs_gdb, run_gdb, start_gdb

pytestmark = needs_gdb


@pytest.fixture(scope="module")
def debuggee(tmp_path_factory) -> dict:
    from guests import build
    out = build.DEFAULT_BUILD_DIR / "debug"
    return {endian: build_debug_guest("debuggee", endian, out) for endian in ("be", "le")}


@pytest.fixture(scope="module")
def spin(tmp_path_factory):
    return write_guest(tmp_path_factory.mktemp("spin") / "spin.elf", SPIN)


@pytest.mark.parametrize("endian", ["be", "le"])
def test_watchpoints_stop_at_the_accessing_instruction(endian, debuggee, start_ppcd) -> None:
    elf = debuggee[endian]
    machine = start_ppcd(elf)
    out = run_gdb(elf, machine.port, [
        "break bump", "continue", "delete",
        "watch counter", "continue", "x/2i $pc-4", "print counter",
        "delete", "rwatch readonly_seen", "continue", "x/2i $pc-4",
        "delete", "awatch counter", "continue", "x/2i $pc-4",
        "delete", "hbreak square", "continue", "bt 1", "delete",
        "continue"], endian)
    # ppcd stops before the store and gdb steps over it: the store is the previous instruction,
    # done once (QEMU stops one instruction later).
    assert re.search(r"Old value = 0\nNew value = 1\n.*in bump .*\n.*\n.*<bump\+\d+>:\tstd\s",
                     out), out
    assert "$1 = 1" in out
    assert re.search(r"Value = 7\n.*in peek .*\n.*\n.*<peek\+\d+>:\tld\s", out), out
    assert re.search(r"Value = \d+\n.*in bump .*\n.*\n.*<bump\+\d+>:\tld\s", out), out
    assert re.search(r"Breakpoint 5, .*square \(v=", out), out
    assert "[Inferior 1 (process 1) exited normally]" in out
    assert machine.process.wait(timeout=20) == 0


def _qmp(machine) -> RawClient:
    client = RawClient(machine.qmp)
    client.command("qmp_capabilities")
    return client


def _wait_status(client: RawClient, status: str) -> None:
    deadline = time.monotonic() + 30
    while client.command("query-status")["status"] != status:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_interrupt_and_qmp_stop_give_stop_replies(spin, start_ppcd) -> None:
    machine = start_ppcd(spin)
    client = _qmp(machine)

    # Ctrl-C: SIGINT to gdb while it waits in continue makes it send the 0x03 byte.
    gdb = start_gdb(spin, machine.port, ["continue", "x/i $pc"], output=True)
    _wait_status(client, "running")
    time.sleep(0.3)
    gdb.send_signal(signal.SIGINT)
    out = gdb.communicate(timeout=30)[0]
    assert "received signal SIGINT" in out, out
    assert re.search(r"=> 0x4000(0[4-9a-f]|1[0-3])", out), out
    # gdb's batch end detaches (qAttached is 1), which resumes the machine as QEMU's does.
    assert "Detaching" in out or client.command("query-status")["status"] == "running"
    watcher = _qmp(machine)

    def qmp_stop_later() -> None:
        # gdb attaches (STOP), continues (RESUME) and waits: a QMP stop must end its wait.
        watcher.wait_event("STOP")
        watcher.wait_event("RESUME")
        time.sleep(0.3)
        watcher.command("stop")

    stopper = threading.Thread(target=qmp_stop_later)
    stopper.start()
    out = run_gdb(spin, machine.port, ["continue", "monitor info status", "detach"], "be")
    stopper.join()
    assert "received signal SIGINT" in out, out
    assert "VM status: paused" in out
    # Detached: the guest runs again; a second gdb attaches, stops it and kills the machine.
    assert client.command("query-status")["status"] == "running"
    out = run_gdb(spin, machine.port, ["monitor info registers", "info threads", "kill"], "be")
    assert re.search(r"NIP 00000000004000", out), out
    assert "Thread 1.1 (CPU#0 [running])" in out
    assert machine.process.wait(timeout=20) == 0


def test_qmp_cont_resumes_a_machine_stopped_by_gdb(debuggee, start_ppcd) -> None:
    elf = debuggee["be"]
    machine = start_ppcd(elf)
    client = _qmp(machine)
    gdb = start_gdb(elf, machine.port, ["break square", "continue", "shell sleep 5"])
    _wait_status(client, "debug")
    assert client.hmp("info status") == "VM status: paused (debug)\r\n"
    client.command("cont")
    # gdb took its breakpoints out when the machine stopped: the guest runs to its power-off.
    assert client.wait_event("SHUTDOWN")["data"] == {"guest": True, "reason": "guest-shutdown"}
    assert machine.process.wait(timeout=20) == 0
    gdb.wait(timeout=30)
