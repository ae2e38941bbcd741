"""Live migration between real ppcd processes over real sockets, files and bad streams."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from .conftest import ANALYZE_MIGRATION, set_capabilities


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _ram(daemon) -> dict:
    # MigrationInfo has no "ram" during setup.
    return daemon.qmp.command("query-migrate").get("ram", {"dirty-sync-count": 0,
                                                          "transferred": 0})


def _running_and_checking(daemon) -> None:
    # The source completes once it has sent everything; the destination may still be loading.
    _until(lambda: daemon.qmp.command("query-status")["status"] != "inmigrate")
    assert daemon.qmp.command("query-status")["status"] == "running"
    start = daemon.counter()
    _until(lambda: daemon.counter() > start + 2)
    assert daemon.failed_page() == 0


def _many_passes(source, destination_uri: str, syncs: int = 3, **capabilities: bool) -> dict:
    set_capabilities(source, events=True, **capabilities)
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 16 << 20,
                                                  "downtime-limit": 1,
                                                  "cpu-throttle-initial": 30,
                                                  "cpu-throttle-increment": 20})
    source.qmp.command("migrate", {"uri": destination_uri})
    _until(lambda: _ram(source)["dirty-sync-count"] >= syncs)
    during = source.qmp.command("query-migrate")
    # Converge now: a downtime as long as QEMU's migration tests allow at the end.
    source.qmp.command("migrate-set-parameters", {"downtime-limit": 20000})
    info = source.wait_migration()
    assert info["status"] == "completed", info
    assert source.qmp.command("query-status")["status"] == "postmigrate"
    passes = [e["data"]["pass"] for e in source.qmp.events if e["event"] == "MIGRATION_PASS"]
    assert passes[:3] == [1, 2, 3]
    return during


def test_unix_many_passes_lose_no_store(daemons, checking_elf, tmp_path) -> None:
    source = daemons("source", checking_elf)
    uri = f"unix:{tmp_path}/migration.sock"
    destination = daemons("destination", checking_elf, "--incoming", uri)
    assert destination.qmp.command("query-status")["status"] == "inmigrate"
    _until(lambda: source.counter() > 3)
    _many_passes(source, uri)
    statuses = [e["data"]["status"] for e in source.qmp.events if e["event"] == "MIGRATION"]
    assert statuses == ["setup", "active", "completed"]
    _running_and_checking(destination)


def test_tcp_with_auto_converge(daemons, checking_elf) -> None:
    source = daemons("source", checking_elf)
    uri = f"tcp:127.0.0.1:{_free_port()}"
    destination = daemons("destination", checking_elf, "--incoming", uri)
    # Pass N's count shows when it starts (QEMU's order): after 4, three passes have ended,
    # two of them with more dirtied than half of what they sent, so the throttle is on.
    during = _many_passes(source, uri, syncs=4, **{"auto_converge": True})
    assert during.get("cpu-throttle-percentage", 0) >= 30
    _running_and_checking(destination)


def test_back_and_forth(daemons, checking_elf, tmp_path) -> None:
    current = daemons("hop0", checking_elf)
    for hop in range(1, 4):
        uri = f"unix:{tmp_path}/hop{hop}.sock"
        following = daemons(f"hop{hop}", checking_elf, "--incoming", uri)
        current.qmp.command("migrate", {"uri": uri})
        assert current.wait_migration()["status"] == "completed"
        current.stop()
        _running_and_checking(following)
        current = following


def test_file_stream_for_analyze_migration_and_restore(daemons, checking_elf, tmp_path) -> None:
    source = daemons("source", checking_elf)
    _until(lambda: source.counter() > 2)
    path = tmp_path / "state.bin"
    source.qmp.command("migrate", {"uri": f"file:{path}"})
    assert source.wait_migration()["status"] == "completed"
    counter = source.counter()
    restored = daemons("restored", checking_elf, "-S", "--incoming", f"file:{path}")
    _until(lambda: restored.qmp.command("query-migrate").get("status") == "completed")
    assert restored.qmp.command("query-status")["status"] == "paused"
    assert restored.counter() == counter
    restored.qmp.command("cont")
    _running_and_checking(restored)


@pytest.mark.skipif(not os.path.exists(ANALYZE_MIGRATION),
                    reason="QEMU's analyze-migration.py not found: scripts/test fetches it from "
                           "Debian's qemu source package, or set PPCD_ANALYZE_MIGRATION")
def test_qemu_analyze_migration_reads_a_ppcd_stream(daemons, checking_elf, tmp_path) -> None:
    source = daemons("source", checking_elf)
    path = tmp_path / "guest.migration"
    source.qmp.command("migrate", {"uri": f"file:{path}"})
    assert source.wait_migration()["status"] == "completed"
    for dump in ("state", "desc"):
        result = subprocess.run([sys.executable, ANALYZE_MIGRATION, "-f", str(path), "-d", dump],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert '"cpu' in result.stdout


def test_cancel_keeps_the_source_running(daemons, checking_elf, tmp_path) -> None:
    source = daemons("source", checking_elf)
    uri = f"unix:{tmp_path}/migration.sock"
    daemons("destination", checking_elf, "--incoming", uri)
    set_capabilities(source, events=True)
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 1 << 20})
    source.qmp.command("migrate", {"uri": uri})
    _until(lambda: source.qmp.command("query-migrate")["status"] == "active")
    source.qmp.command("migrate_cancel")
    assert source.wait_migration()["status"] == "cancelled"
    statuses = [e["data"]["status"] for e in source.qmp.events if e["event"] == "MIGRATION"]
    assert statuses == ["setup", "active", "cancelling", "cancelled"]
    _running_and_checking(source)


def test_destination_killed_mid_stream(daemons, checking_elf, tmp_path) -> None:
    source = daemons("source", checking_elf)
    uri = f"unix:{tmp_path}/migration.sock"
    destination = daemons("destination", checking_elf, "--incoming", uri)
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 1 << 20})
    source.qmp.command("migrate", {"uri": uri})
    _until(lambda: _ram(source)["transferred"] > 100_000)
    destination.process.kill()
    info = source.wait_migration()
    assert info["status"] == "failed" and info["error-desc"]
    _running_and_checking(source)
    assert source.qmp.command("query-migrate")["status"] == "failed"


def _stream(daemons, checking_elf, tmp_path):
    source = daemons("source", checking_elf)
    path = tmp_path / "good.bin"
    source.qmp.command("migrate", {"uri": f"file:{path}"})
    assert source.wait_migration()["status"] == "completed"
    return path.read_bytes()


def _load_fails(checking_elf, tmp_path, data: bytes) -> str:
    path = tmp_path / "bad.bin"
    path.write_bytes(data)
    result = subprocess.run([sys.executable, "-m", "ppcd.cli", "run", "--kernel",
                             str(checking_elf), "--serial", "null", "--incoming",
                             f"file:{path}"], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=str(checking_elf.parents[0])
                                     + os.pathsep + os.environ.get("PYTHONPATH", "")),
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ppcd: load of migration failed: ")
    return lines[0]


def test_bad_streams_are_rejected(daemons, checking_elf, tmp_path) -> None:
    good = _stream(daemons, checking_elf, tmp_path)
    assert "Not a migration stream" in _load_fails(checking_elf, tmp_path, b"XEVM" + good[4:])
    assert "Unsupported migration stream version 4" in _load_fails(
        checking_elf, tmp_path, good[:7] + b"\x04" + good[8:])
    assert "truncated" in _load_fails(checking_elf, tmp_path, good[:len(good) // 2])
    cpu = good.find(b"\x03cpu\x00\x00\x00\x00\x00\x00\x00\x05")
    assert cpu > 0
    future = good[:cpu + 11] + b"\x06" + good[cpu + 12:]
    assert "cpu: incoming version_id 6 is too new for local version_id 5" in _load_fails(
        checking_elf, tmp_path, future)
    renamed = good.replace(b"\x05spapr\x00", b"\x05spapx\x00", 1)
    assert "Unknown savevm section or instance 'spapx' 0" in _load_fails(
        checking_elf, tmp_path, renamed)


def test_failed_load_without_exit_on_error_stays_up(daemons, checking_elf, tmp_path) -> None:
    path = tmp_path / "corrupt.bin"
    path.write_bytes(b"QEVM\x00\x00\x00\x03\x07\x00\x00\x00\x0bpseries-0.3\x09")
    destination = daemons("destination", checking_elf, "--incoming", "defer")
    reply = destination.qmp.execute("migrate", {"uri": "unix:/nonexistent"})
    assert reply["error"]["desc"] == "Guest is waiting for an incoming migration"
    destination.qmp.command("migrate-incoming", {"uri": f"file:{path}", "exit-on-error": False})
    _until(lambda: destination.qmp.command("query-migrate").get("status") == "failed")
    info = destination.qmp.command("query-migrate")
    assert info["error-desc"] == "Unknown savevm section type 9"
    assert destination.qmp.command("query-status")["status"] == "inmigrate"
    again = destination.qmp.execute("migrate-incoming", {"uri": f"file:{path}"})
    assert again["error"]["desc"] == "The incoming migration has already been started"


def test_exec_needs_the_option(daemons, checking_elf, tmp_path) -> None:
    source = daemons("source", checking_elf)
    reply = source.qmp.execute("migrate", {"uri": f"exec:cat > {tmp_path}/x"})
    assert reply["error"]["desc"] == "Parameter 'uri' expects a valid migration protocol"
    allowed = daemons("allowed", checking_elf, "--allow-exec-migration")
    allowed.qmp.command("migrate", {"uri": f"exec:cat > {tmp_path}/x.bin"})
    assert allowed.wait_migration()["status"] == "completed"
    assert (tmp_path / "x.bin").read_bytes()[:4] == b"QEVM"


@pytest.mark.parametrize("name,value,message", [
    ("downtime-limit", 2_000_001, "Parameter 'downtime_limit' expects an integer in the "
                                  "range of 0 to 2000000 milliseconds"),
    ("cpu-throttle-initial", 0, "Parameter 'cpu_throttle_initial' expects an integer in the "
                                "range of 1 to 99"),
])
def test_parameters_are_checked(daemons, checking_elf, name, value, message) -> None:
    source = daemons("source", checking_elf)
    assert source.qmp.execute("migrate-set-parameters",
                              {name: value})["error"]["desc"] == message
    assert source.qmp.command("query-migrate-parameters")["downtime-limit"] == 300
