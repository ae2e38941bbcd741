"""HMP info migrate, migrate_cancel in setup and in the last phase, the destination's
MigrationInfo, the return path, and determinism across daemons (real processes and sockets)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from typing import List, Optional

from qmp.conftest import RawClient

from .conftest import set_capabilities

SHUT_OK = b"\x00\x01\x00\x04\x00\x00\x00\x00"
SHUT_FAILED = b"\x00\x01\x00\x04\x00\x00\x00\x01"
SMALL = ("--memory", "32M")


def _until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _statuses(daemon) -> List[str]:
    return [e["data"]["status"] for e in daemon.qmp.events if e["event"] == "MIGRATION"]


def _runs(daemon) -> None:
    assert daemon.qmp.command("query-status")["status"] == "running"
    start = daemon.counter()
    _until(lambda: daemon.counter() > start + 1)
    assert daemon.failed_page() == 0


class SilentDestination:
    """A tcp destination that accepts and reads the whole stream (if `drain`) but never says
    anything until told: no greeting (a peer without the handshake), no return-path reply."""

    def __init__(self, drain: bool) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.uri = f"tcp:127.0.0.1:{self.server.getsockname()[1]}"
        self.connection: Optional[socket.socket] = None
        self.received = 0
        self.drain = drain
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.connection, _ = self.server.accept()
        while self.drain:
            try:
                data = self.connection.recv(1 << 20)
            except OSError:
                return
            if not data:
                return
            self.received += len(data)

    def reply(self, data: bytes) -> None:
        assert self.connection is not None
        self.connection.sendall(data)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self.server.close()


def _info_migrate(daemon) -> List[str]:
    text = daemon.qmp.hmp("info migrate")
    assert text.endswith("\r\n")
    return text[:-2].split("\r\n")


def test_hmp_info_migrate(daemons, checking_elf, tmp_path) -> None:
    source = daemons("source", checking_elf, *SMALL)
    before = _info_migrate(source)
    assert before[0] == "globals:" and "send-section-footer: on" in before
    assert not any(line.startswith("Migration status") for line in before)
    set_capabilities(source, events=True)
    source.qmp.command("migrate", {"uri": f"file:{tmp_path}/state.bin"})
    info = source.wait_migration()
    assert info["status"] == "completed"
    lines = _info_migrate(source)
    assert lines[:7] == ["globals:", "store-global-state: on", "only-migratable: off",
                         "send-configuration: on", "send-section-footer: on",
                         "decompress-error-check: on", "clear-bitmap-shift: 18"]
    # QEMU 7.2 prints no capabilities line (tests/migration/test_hmp_migrate.py checks it).
    assert lines[7] == "Migration status: completed"
    assert lines[8] == f"total time: {info['total-time']} ms"
    assert lines[9] == f"downtime: {info['downtime']} ms"
    assert lines[10] == f"setup: {info['setup-time']} ms"
    ram = info["ram"]
    assert lines[11] == f"transferred ram: {ram['transferred'] >> 10} kbytes"
    assert lines[12].startswith("throughput: ") and lines[12].endswith(" mbps")
    assert lines[13:23] == [
        "remaining ram: 0 kbytes", "total ram: 32768 kbytes",
        f"duplicate: {ram['duplicate']} pages", "skipped: 0 pages",
        f"normal: {ram['normal']} pages", f"normal bytes: {ram['normal'] * 4} kbytes",
        f"dirty sync count: {ram['dirty-sync-count']}", "page size: 4 kbytes",
        "multifd bytes: 0 kbytes", f"pages-per-second: {ram['pages-per-second']}"]
    assert f"precopy ram: {ram['precopy-bytes'] >> 10} kbytes" in lines

    # A failed migration shows why on its status line.
    source2 = daemons("source2", checking_elf, *SMALL)
    source2.qmp.command("migrate", {"uri": f"unix:{tmp_path}/nobody.sock"})
    assert source2.wait_migration()["status"] == "failed"
    failed = [line for line in _info_migrate(source2) if line.startswith("Migration status")]
    assert failed[0].startswith(f"Migration status: failed (Failed to connect to "
                                f"'unix:{tmp_path}/nobody.sock'")


def test_destination_info_while_loading(daemons, checking_elf, tmp_path) -> None:
    """QEMU's destination MigrationInfo: no status until the source connects, then the status
    only (no expected-downtime, no times), with the listening socket until the load ends."""
    uri = f"unix:{tmp_path}/migration.sock"
    listening = {"socket-address": [{"type": "unix", "path": f"{tmp_path}/migration.sock"}]}
    source = daemons("source", checking_elf, *SMALL)
    destination = daemons("destination", checking_elf, *SMALL, "--incoming", uri)
    assert destination.qmp.command("query-migrate") == listening
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 4 << 20})
    source.qmp.command("migrate", {"uri": uri})
    _until(lambda: destination.qmp.command("query-migrate").get("status") == "active")
    assert destination.qmp.command("query-migrate") == {"status": "active", **listening}
    lines = _info_migrate(destination)
    assert "Migration status: active" in lines and "total time: 0 ms" in lines
    assert not any(line.startswith(("expected downtime", "transferred ram")) for line in lines)
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 0, "downtime-limit": 20000})
    assert source.wait_migration()["status"] == "completed"
    _until(lambda: destination.qmp.command("query-migrate")["status"] != "active")
    assert destination.qmp.command("query-migrate") == {"status": "completed"}


def test_cancel_during_setup(daemons, checking_elf) -> None:
    """migrate_cancel while the source waits for the destination's greeting (setup)."""
    source = daemons("source", checking_elf, *SMALL)
    set_capabilities(source, events=True)
    peer = SilentDestination(drain=False)
    other = RawClient(source.socket_path)
    try:
        other.command("qmp_capabilities")
        other.send(json.dumps({"execute": "migrate", "arguments": {"uri": peer.uri}}).encode())
        _until(lambda: source.qmp.command("query-migrate").get("status") == "setup")
        source.qmp.command("migrate_cancel")
        assert other.reply() == {"return": {}}
        info = source.wait_migration()
        assert info["status"] == "cancelled"
        assert _statuses(source) == ["setup", "cancelling", "cancelled"]
        _runs(source)
    finally:
        other.close()
        peer.close()


def _to_last_phase(source, peer: SilentDestination) -> None:
    set_capabilities(source, events=True, return_path=True)
    source.qmp.command("migrate", {"uri": peer.uri})
    # The whole stream went out; with the return path the source waits, vCPU stopped.
    _until(lambda: source.qmp.command("query-status")["status"] == "finish-migrate")
    time.sleep(0.3)
    assert source.qmp.command("query-status")["status"] == "finish-migrate"
    assert source.qmp.command("query-migrate")["status"] == "active"


def test_cancel_in_the_last_phase(daemons, checking_elf) -> None:
    """migrate_cancel with the vCPU stopped for the device state: the guest runs again."""
    source = daemons("source", checking_elf, *SMALL)
    peer = SilentDestination(drain=True)
    try:
        _to_last_phase(source, peer)
        source.qmp.command("migrate_cancel")
        assert source.wait_migration()["status"] == "cancelled"
        assert _statuses(source) == ["setup", "active", "cancelling", "cancelled"]
        _runs(source)
    finally:
        peer.close()


def test_return_path_waits_for_the_destination(daemons, checking_elf) -> None:
    source = daemons("source", checking_elf, *SMALL)
    peer = SilentDestination(drain=True)
    try:
        _to_last_phase(source, peer)
        peer.reply(SHUT_OK)
        assert source.wait_migration()["status"] == "completed"
        assert source.qmp.command("query-status")["status"] == "postmigrate"
        # A destination that could not load it: failed, and the guest runs on.
        again = daemons("again", checking_elf, *SMALL)
        second = SilentDestination(drain=True)
        try:
            _to_last_phase(again, second)
            second.reply(SHUT_FAILED)
            info = again.wait_migration()
            assert info["status"] == "failed"
            assert info["error-desc"] == "the destination failed to load the migration stream"
            _runs(again)
        finally:
            second.close()
    finally:
        peer.close()


def test_return_path_with_a_destination_that_fails_to_load(daemons, checking_elf,
                                                           tmp_path) -> None:
    """A real destination rejects the stream only once it has all of it (another CPU)."""
    uri = f"unix:{tmp_path}/migration.sock"
    source = daemons("source", checking_elf, *SMALL)
    destination = daemons("destination", checking_elf, *SMALL, "--cpu", "power10",
                          "--incoming", uri)
    set_capabilities(source, return_path=True)
    source.qmp.command("migrate", {"uri": uri})
    info = source.wait_migration()
    assert info["status"] == "failed", info
    assert info["error-desc"] == "the destination failed to load the migration stream"
    assert destination.process.wait(timeout=20) == 1
    assert "does not match this machine's" in destination.process.stderr.read().decode()
    _runs(source)


# --- determinism -----------------------------------------------------------------------------
N = 30_000_000


def _final_state(daemon, tmp_path, name: str):
    daemon.qmp.wait_event("STOP")
    assert daemon.qmp.command("query-status")["status"] == "paused"
    assert daemon.qmp.command("query-replay")["icount"] == N
    registers = daemon.qmp.hmp("info registers")
    path = tmp_path / f"{name}.ram"
    daemon.qmp.command("pmemsave", {"val": 0, "size": 32 << 20, "filename": str(path)})
    return registers, hashlib.sha256(path.read_bytes()).hexdigest()


def test_determinism_across_a_migration(daemons, checking_elf, tmp_path) -> None:
    """Run to N instructions with a migration in the middle: the same architected state and
    RAM as a run without; --max-instructions then stops both at the same instruction."""
    limit = ("--max-instructions", str(N + 20_000))
    reference = daemons("reference", checking_elf, *SMALL, *limit, "-S")
    reference.qmp.command("replay-break", {"icount": N})
    reference.qmp.command("cont")

    uri = f"unix:{tmp_path}/migration.sock"
    source = daemons("source", checking_elf, *SMALL, *limit)
    destination = daemons("destination", checking_elf, *SMALL, *limit, "-S", "--incoming", uri)
    _until(lambda: source.counter() >= 1)
    source.qmp.command("migrate", {"uri": uri})
    assert source.wait_migration()["status"] == "completed"
    _until(lambda: destination.qmp.command("query-migrate")["status"] == "completed")
    migrated_at = destination.qmp.command("query-replay")["icount"]
    assert 0 < migrated_at < N, migrated_at
    assert source.qmp.command("query-replay")["icount"] == migrated_at
    reply = destination.qmp.execute("replay-break", {"icount": migrated_at - 1})
    assert reply["error"]["desc"] == "cannot set breakpoint at the instruction in the past"
    destination.qmp.command("replay-break", {"icount": N})
    destination.qmp.command("cont")

    expected = _final_state(reference, tmp_path, "reference")
    assert _final_state(destination, tmp_path, "destination") == expected

    # The limit counts the guest's instructions, the source's included.
    endings = []
    for daemon in (reference, destination):
        daemon.qmp.command("cont")
        assert daemon.process.wait(timeout=20) == 2
        endings.append(daemon.process.stderr.read().decode())
    assert endings[0] == endings[1]
    assert f"instruction limit of {N + 20_000} reached at pc" in endings[0]
