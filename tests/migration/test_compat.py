"""Compatibility modes across migrations: every cpu/compat rule and machine type, the handshake,
refusals with their reasons, and streams QEMU's analyze-migration.py reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from .compat_guests import (
    NO_CAS,
    POWER7,
    POWER8,
    PROGRAM_ILLEGAL,
    PVR_POWER9_RAW,
    counters,
    write_compat_guest,
)
from .conftest import ANALYZE_MIGRATION

MEMORY = ("--memory", "64M")
# Illegal instructions per loop iteration in each mode (modsw is ISA 3.0, icbt ISA 2.07).
PER_ITERATION = {0: 0, POWER8: 1, POWER7: 2}


@pytest.fixture(scope="module")
def guests(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compat-guests")
    return {
        "power8": write_compat_guest(folder / "power8.elf", [(0xFFFFFFFF, POWER8)]),
        "power7": write_compat_guest(folder / "power7.elf", [(0xFFFFFFFF, POWER7)]),
        "raw": write_compat_guest(folder / "raw.elf", [PVR_POWER9_RAW]),
        "none": write_compat_guest(folder / "none.elf", None),
    }


def _until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def guest_counters(daemon) -> dict:
    """The counters of a stopped guest, so they belong together."""
    running = daemon.qmp.command("query-status")["status"] == "running"
    if running:
        daemon.qmp.command("stop")
    try:
        return counters(daemon.word)
    finally:
        if running:
            daemon.qmp.command("cont")


def compat_of(daemon) -> dict:
    (vcpu,) = daemon.qmp.command("x-query-cpu-compat")
    return vcpu


def assert_enforces(daemon, compat_pvr: int) -> None:
    """The guest runs on and takes one illegal instruction per newer instruction it meets."""
    assert compat_of(daemon)["compat-pvr"] == compat_pvr
    before = guest_counters(daemon)
    _until(lambda: guest_counters(daemon)["iterations"] >= before["iterations"] + 50)
    after = guest_counters(daemon)
    iterations = after["iterations"] - before["iterations"]
    illegal = after["illegal"] - before["illegal"]
    expected = PER_ITERATION[compat_pvr] * iterations
    # Stopped between an illegal instruction and the end of its iteration: one off at most.
    assert abs(illegal - expected) <= PER_ITERATION[compat_pvr], (illegal, iterations)
    if compat_pvr:
        assert after["srr1"] & PROGRAM_ILLEGAL


def started(daemon) -> None:
    _until(lambda: guest_counters(daemon)["iterations"] > 20)


def migrate(source, destination, uri: str) -> dict:
    source.qmp.command("migrate", {"uri": uri})
    info = source.wait_migration()
    if info["status"] == "completed":
        _until(lambda: destination.qmp.command("query-status")["status"] == "running")
    return info


def test_query_and_info_registers(daemons, guests) -> None:
    vm = daemons("vm", guests["power7"], *MEMORY, "--max-cpu-compat", "power8")
    started(vm)
    assert compat_of(vm) == {"cpu-index": 0, "compat-pvr": POWER7, "mode": "power7",
                             "max-cpu-compat": POWER8, "pcr": 0xC}
    assert vm.qmp.hmp("info registers").splitlines()[-1] == (
        "PCR 000000000000000c compat-pvr 0f000003 max-cpu-compat 0f000004")
    assert_enforces(vm, POWER7)


def test_reset_returns_to_max_cpu_compat(daemons, guests) -> None:
    vm = daemons("vm", guests["power7"], *MEMORY, "--max-cpu-compat", "power8")
    started(vm)
    vm.qmp.command("stop")
    vm.qmp.command("system_reset")
    # Reset, not yet run: the command line's mode, the PCR of power8 on a POWER9.
    assert compat_of(vm)["compat-pvr"] == POWER8 and compat_of(vm)["pcr"] == 0x8


@pytest.mark.parametrize("machine,rule,guest,max_compat,mode", [
    # Negotiated by CAS above a destination that would restore raw mode.
    ("pseries", None, "power8", None, POWER8),
    ("pseries-0.2", "differs", "power8", None, POWER8),
    # The command line's mode: every rule and machine type keeps it.
    ("pseries-0.2", "nonzero", "none", "power8", POWER8),
    ("pseries-0.2", "differs", "none", "power8", POWER8),
    ("pseries-0.2", "never", "none", "power8", POWER8),
    ("pseries-0.1", None, "none", "power8", POWER8),
    # Negotiated below max-cpu-compat: only a rule that sends cpu/compat can carry it.
    ("pseries-0.2", "differs", "power7", "power8", POWER7),
])
def test_mode_survives_migration(daemons, guests, tmp_path, machine, rule, guest, max_compat,
                                 mode) -> None:
    args = [*MEMORY, "--machine", machine]
    args += ["--cpu-compat-subsection", rule] if rule else []
    args += ["--max-cpu-compat", max_compat] if max_compat else []
    source = daemons("source", guests[guest], *args)
    uri = f"unix:{tmp_path}/migration.sock"
    destination = daemons("destination", guests[guest], *args, "--incoming", uri)
    started(source)
    assert_enforces(source, mode)
    assert migrate(source, destination, uri)["status"] == "completed"
    assert_enforces(destination, mode)


@pytest.mark.parametrize("machine,rule", [("pseries-0.2", "never"), ("pseries-0.1", None)])
def test_refused_when_the_rule_cannot_carry_the_mode(daemons, guests, tmp_path, machine,
                                                      rule) -> None:
    args = [*MEMORY, "--machine", machine, "--max-cpu-compat", "power8"]
    args += ["--cpu-compat-subsection", rule] if rule else []
    source = daemons("source", guests["power7"], *args)
    uri = f"unix:{tmp_path}/migration.sock"
    destination = daemons("destination", guests["power7"], *args, "--incoming", uri)
    started(source)
    source.qmp.events.clear()
    reply = source.qmp.execute("migrate", {"uri": uri})
    assert reply["error"]["desc"].startswith(
        "the guest runs in power7 compatibility mode, which this migration cannot carry: ")
    assert "would restore power8 compatibility mode" in reply["error"]["desc"]
    # Refused before the guest stopped: it never did, and the destination was told why.
    assert source.qmp.command("query-status")["status"] == "running"
    assert not [e for e in source.qmp.events if e["event"] == "STOP"]
    assert_enforces(source, POWER7)
    assert destination.process.wait(timeout=20) == 1
    assert "the source refused the migration: the guest runs in power7" in \
        destination.process.stderr.read().decode()


def test_handshake_lets_a_differently_started_peer_restore_the_mode(daemons, guests,
                                                                   tmp_path) -> None:
    # pseries-0.1 never sends cpu/compat, but this destination restores power8 by itself.
    source = daemons("source", guests["power8"], *MEMORY, "--machine", "pseries-0.1")
    uri = f"unix:{tmp_path}/migration.sock"
    destination = daemons("destination", guests["power8"], *MEMORY, "--machine", "pseries-0.1",
                          "--max-cpu-compat", "power8", "--incoming", uri)
    started(source)
    assert migrate(source, destination, uri)["status"] == "completed"
    assert_enforces(destination, POWER8)


def test_file_stream_refused_synchronously(daemons, guests, tmp_path) -> None:
    source = daemons("source", guests["power8"], *MEMORY, "--machine", "pseries-0.1")
    started(source)
    reply = source.qmp.execute("migrate", {"uri": f"file:{tmp_path}/state.bin"})
    assert "machine type pseries-0.1 never sends cpu/compat" in reply["error"]["desc"]
    assert source.qmp.command("query-migrate")["status"] == "failed"
    assert_enforces(source, POWER8)


@pytest.mark.skipif(not os.path.exists(ANALYZE_MIGRATION),
                    reason="QEMU's analyze-migration.py was not fetched (scripts/test does)")
def test_file_stream_carries_cpu_compat_for_analyze_migration(daemons, guests,
                                                              tmp_path) -> None:
    source = daemons("source", guests["power8"], *MEMORY)
    started(source)
    path = tmp_path / "state.bin"
    source.qmp.command("migrate", {"uri": f"file:{path}"})
    assert source.wait_migration()["status"] == "completed"
    desc = subprocess.run([sys.executable, ANALYZE_MIGRATION, "-f", str(path), "-d", "desc"],
                          capture_output=True, text=True, check=True).stdout
    (cpu,) = [d for d in json.loads(desc)["devices"] if d["name"] == "cpu"]
    assert "cpu/compat" in [s["vmsd_name"] for s in cpu["subsections"]]
    state = subprocess.run([sys.executable, ANALYZE_MIGRATION, "-f", str(path), "-d", "state"],
                           capture_output=True, text=True, check=True).stdout
    (cpu_state,) = [v for k, v in json.loads(state).items() if k.startswith("cpu (")]
    assert cpu_state["cpu/compat"]["compat_pvr"] == "0x0f000004"
    restored = daemons("restored", guests["power8"], *MEMORY, "--incoming", f"file:{path}")
    _until(lambda: restored.qmp.command("query-status")["status"] == "running")
    assert_enforces(restored, POWER8)


def test_enforce_off_runs_newer_instructions_as_qemu(daemons, guests) -> None:
    vm = daemons("vm", guests["power7"], *MEMORY, "--cpu-compat-enforce", "off")
    started(vm)
    assert compat_of(vm)["pcr"] == 0xC
    before = guest_counters(vm)
    _until(lambda: guest_counters(vm)["iterations"] >= before["iterations"] + 50)
    assert guest_counters(vm)["illegal"] == 0


def test_no_cas_guest_runs_raw(daemons, guests) -> None:
    vm = daemons("vm", guests["none"], *MEMORY)
    started(vm)
    assert guest_counters(vm)["cas"] == NO_CAS
    assert_enforces(vm, 0)


def test_max_cpu_compat_newer_than_the_cpu_is_refused() -> None:
    result = subprocess.run([sys.executable, "-m", "ppcd.cli", "run", "--cpu", "power8",
                             "--max-cpu-compat", "power9", "--serial", "null"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr == ("ppcd: --max-cpu-compat: Compatibility mode 'power9' not valid "
                             "for this CPU: use one of power6, power7, power7+, power8\n")
