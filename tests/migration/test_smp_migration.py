"""Migrating a machine with several vCPUs (`--smp N`): one "cpu" section per vCPU, instance_id
the vCPU's index, as QEMU's streams have. In one process: the sections, the snapshot, the
handshake's and the destination's checks, and a run that moves mid-way against one that does
not. With real daemons: a GCC-built SMP guest moved in the middle of its run prints what an
unmoved one prints, a live migration of busy vCPUs, every vCPU's registers and the RAM
identical to an unmigrated run at the same instruction count, a destination with another vCPU
count refused while the source runs on, and QEMU's analyze-migration.py on a 2-vCPU stream."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from guests import build
from qmp.conftest import ROOT

from ppcd import __version__
from ppcd.cpu.assembler import assemble_all
from ppcd.machine.console import Console
from ppcd.machine.pseries import Machine
from ppcd.machine.ram import GuestRAM
from ppcd.migration import snapshot
from ppcd.migration import stream as S
from ppcd.migration.handshake import (
    GREETING,
    HandshakeError,
    Peer,
    greeting,
    parse_message,
    plan,
    runtime_properties,
)
from ppcd.migration.machine import (
    CPU,
    DEVICE_SECTIONS,
    MACHINE_TYPES,
    check_cpu,
    device_sections,
    dump_vmstate,
    find_section,
    machine_type,
    missing_sections,
    section_key,
)
from ppcd.migration.ram import RAMLoader, RAMSaver
from ppcd.migration.vmstate import Cursor, VMStateError, load, save

from .conftest import ANALYZE_MIGRATION, set_capabilities
from .smp_guests import (
    FAILED_ADDRESS,
    SHARED_ADDRESS,
    busy_vcpus,
    private_address,
    write_busy_vcpus,
)

NEWEST = machine_type("pseries")
MEMORY = ("--memory", "32M")
MEMORY_SIZE = 32 << 20
SLICE = 10_000      # instructions of virtual time between two stops, in one process
UNKNOWN_CPU_2 = ("Unknown savevm section or instance 'cpu' 2. Make sure that your current VM "
                 "setup matches your saved VM setup, including any hotplugged devices")


def _until(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- in one process ------------------------------------------------------------------------
def _machine(smp: int, ram: "GuestRAM | None" = None) -> Machine:
    ram = ram or GuestRAM(16 << 20)
    machine = Machine(ram, "power9", Console(None), smp=smp)
    machine.reset_cpu(0)
    ram.write(0x400000, b"".join(w.to_bytes(4, "big") for w in assemble_all(busy_vcpus())))
    return machine


def _run_to(machine: Machine, icount: int) -> None:
    """As the worker runs a guest, in slices (of SLICE instructions of virtual time here): a
    running guest stops between two slices."""
    while machine.scheduler.now() < icount:
        machine.scheduler.run(min(SLICE, icount - machine.scheduler.now()))


def _through_the_stream(state: dict, smp: int, properties=NEWEST.properties) -> dict:
    """The snapshot written as a machine with `smp` vCPUs writes it, read back as one with as
    many reads it, section by section."""
    sections = device_sections(smp)
    out = bytearray()
    for section in sections:
        out += S.section_start(S.QEMU_VM_SECTION_FULL, 0, section.name, section.instance_id,
                               section.vmsd.version_id)
        save(section.vmsd, section.export(state), properties, out)
    cursor = Cursor(bytes(out) + bytes([S.QEMU_VM_EOF]))
    restored: dict = {}
    loaded = []
    while cursor.byte() == S.QEMU_VM_SECTION_FULL:
        cursor.be32()
        name, instance_id, version_id = cursor.idstr(), cursor.be32(), cursor.be32()
        section = find_section(name, instance_id, sections)
        section.apply(load(section.vmsd, cursor, version_id), restored)
        loaded.append(section_key(section))
    missing_sections(sections, loaded)
    return restored


def test_one_cpu_section_per_vcpu() -> None:
    assert device_sections(1) == DEVICE_SECTIONS
    assert [section_key(s) for s in device_sections(3)] == [
        ("spapr", 0), ("cpu", 0), ("cpu", 1), ("cpu", 2), ("spapr-vty", 0), ("globalstate", 0)]
    assert all(s.vmsd is CPU for s in device_sections(3) if s.name == "cpu")
    # dump-vmstate describes a machine type, whatever its vCPU count: one "cpu".
    for machine in MACHINE_TYPES:
        assert dump_vmstate(machine)["cpu"]["instance_id"] == 0


def test_every_vcpu_survives_the_stream() -> None:
    machine = _machine(3)
    _run_to(machine, 50_000)
    for index, cpu in enumerate(machine.cpus):
        cpu.fpr[7] = 0x4000000000000000 + index
        cpu.dabr = 0x1000 * (index + 1) if index else 0       # cpu/dabr on vCPUs 1 and 2
    machine.cpus[2].halted = True       # as after stop-self
    machine.cpus[2].msr = 0
    machine.set_compat(0x0F000004)      # power8 mode: cpu/compat travels with every vCPU
    state = snapshot.capture(machine)
    assert [cpu["gpr"][3] for cpu in state["cpus"]] == [0, 1, 2]
    state["runstate"] = "running"
    restored = _through_the_stream(state, 3)
    assert restored == state
    fresh = _machine(3)
    snapshot.restore(fresh, restored)
    assert snapshot.capture(fresh) == snapshot.capture(machine)
    assert fresh.cpus[2].halted and not fresh.cpus[1].halted


def test_a_destination_with_another_vcpu_count_cannot_load() -> None:
    state = snapshot.capture(_machine(3))
    state["runstate"] = "running"
    sections = device_sections(3)
    with pytest.raises(VMStateError) as fewer:
        find_section("cpu", 2, device_sections(2))
    assert str(fewer.value) == UNKNOWN_CPU_2
    loaded = [section_key(s) for s in sections]
    with pytest.raises(VMStateError) as more:
        missing_sections(device_sections(5), loaded)
    assert str(more.value) == (
        "the stream lacks the state of cpu 3, cpu 4: it carries 3 vCPUs and this machine has "
        "5; start the destination with the source's --smp")
    # The worker refuses a snapshot of another vCPU count before changing anything.
    smaller = _machine(2)
    before = snapshot.capture(smaller)
    with pytest.raises(ValueError, match="the state holds 3 vCPUs and this machine has 2"):
        snapshot.restore(smaller, state)
    assert snapshot.capture(smaller) == before


def test_every_vcpu_runs_the_destinations_cpu_model() -> None:
    state = snapshot.capture(_machine(2))
    pvr = state["cpus"][0]["pvr"]
    check_cpu(state, pvr)
    state["cpus"][1]["pvr"] = 0x00800200
    with pytest.raises(VMStateError, match="^cpu 1: the stream's PVR 0x00800200 does not match "
                                           "this machine's"):
        check_cpu(state, pvr)


def test_reservations_as_the_scheduler_leaves_them() -> None:
    """Only the vCPU whose turn it was can still hold a reservation when it next runs (the
    scheduler drops a resuming vCPU's otherwise): the others travel without, and the
    destination's scheduler takes the one that kept it as the vCPU whose turn it was."""
    machine = _machine(3)
    for cpu in machine.cpus:
        cpu.reserve, cpu.reserve_len = 0x1000, 4
    machine.scheduler.current = 1
    state = snapshot.capture(machine)
    assert [cpu["reserve"] for cpu in state["cpus"]] == [snapshot.NONE, 0x1000, snapshot.NONE]
    fresh = _machine(3)
    snapshot.restore(fresh, state)
    assert fresh.scheduler.current == 1
    assert [cpu.reserve for cpu in fresh.cpus] == [None, 0x1000, None]
    assert machine.cpus[0].reserve == 0x1000    # capturing changes nothing on the source


def _first_stop_with_a_lost_reservation() -> int:
    """The first slice's end at which a vCPU other than the one whose turn it was holds a
    reservation (the scheduler drops it when that vCPU resumes; a destination must too)."""
    machine = _machine(3)
    for stop in range(SLICE, 400_000, SLICE):
        _run_to(machine, stop)
        current = machine.scheduler.current
        if any(cpu.reserve is not None for index, cpu in enumerate(machine.cpus)
               if index != current):
            return stop
    raise AssertionError("no vCPU ever held a reservation at a slice's end")


@pytest.mark.parametrize("when", ["reservation held", "anywhere"])
def test_a_moved_run_is_the_run_that_did_not_move(when: str) -> None:
    """Three vCPUs in lwarx/stwcx. loops on a shared word, moved at a slice's end (where a
    running guest stops), go on exactly as the run that stayed: the same registers on every
    vCPU and the same RAM at the end."""
    moved_at = _first_stop_with_a_lost_reservation() if when == "reservation held" else 10_000
    end = moved_at + 60_000
    reference = _machine(3)
    _run_to(reference, end)

    first = _machine(3)
    _run_to(first, moved_at)
    state = snapshot.capture(first)
    state["runstate"] = "running"
    restored = _through_the_stream(state, 3)
    saver = RAMSaver(first.ram)
    data = bytearray(saver.setup())
    saver.begin_section()
    data += b"".join(saver.first_pass()) + saver.end_of_section()
    ram = GuestRAM(16 << 20)
    loader = RAMLoader(ram)
    cursor = Cursor(data)
    loader.setup(cursor)
    loader.records(data, cursor.position)
    second = _machine(3, ram)
    snapshot.restore(second, restored)
    _run_to(second, end)
    assert snapshot.capture(second) == snapshot.capture(reference)
    assert second.ram.ram[:] == reference.ram.ram[:]


def _peer(cpus: int, drop_count: bool = False) -> Peer:
    body = parse_message(Cursor(greeting(NEWEST, 0, device_sections(cpus))), GREETING)
    assert body["cpus"] == cpus and set(body["sections"]) == {"spapr", "cpu", "spapr-vty",
                                                              "globalstate"}
    if drop_count:
        del body["cpus"]        # as a ppcd from before SMP greets
    return Peer.from_greeting(body)


def _plan(cpus: int, peer: Peer, compat_pvr: int = 0):
    sections = device_sections(cpus)
    states = {section_key(s): s.vmsd.defaults() for s in sections}
    for index in range(cpus):
        states["cpu", index]["compat_pvr"] = compat_pvr
    return plan(sections, states, runtime_properties(NEWEST, None, peer), NEWEST, peer)


def test_the_handshake_refuses_another_vcpu_count() -> None:
    assert _plan(2, _peer(2)).refusal is None
    assert _plan(2, _peer(4)).refusal == (
        f"the guest has 2 vCPUs but the destination (ppcd {__version__}) has 4: start the "
        "destination with --smp 2")
    assert _plan(1, _peer(2)).refusal == (
        f"the guest has 1 vCPU but the destination (ppcd {__version__}) has 2: start the "
        "destination with --smp 1")
    # A peer that did not say: the stream goes, and the destination decides.
    assert _plan(2, _peer(1, drop_count=True)).refusal is None
    assert _plan(2, Peer(None, 0)).refusal is None
    body = parse_message(Cursor(greeting(NEWEST, 0, device_sections(2))), GREETING)
    for bad in (0, "two", None):
        body["cpus"] = bad
        if bad is None:
            assert Peer.from_greeting(body).cpu_count is None
        else:
            with pytest.raises(HandshakeError, match="malformed"):
                Peer.from_greeting(body)


def test_the_compat_mode_of_every_vcpu_is_checked() -> None:
    power8 = 0x0F000004
    peer = Peer(None, 0)        # ppcd 0.1: no compatibility modes
    sections = device_sections(2)
    states = {section_key(s): s.vmsd.defaults() for s in sections}
    states["cpu", 0]["compat_pvr"] = 0
    states["cpu", 1]["compat_pvr"] = power8
    refusal = plan(sections, states, runtime_properties(NEWEST, None, peer), NEWEST,
                   peer).refusal
    assert refusal.startswith("the guest (vCPU 1) runs in power8 compatibility mode, which this "
                              "migration cannot carry")


# --- real daemons ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def busy_elf(tmp_path_factory) -> Path:
    return write_busy_vcpus(tmp_path_factory.mktemp("smp-guests") / "busy.elf")


def _counts(daemon, cpus: int) -> List[int]:
    return [daemon.word(private_address(index)) for index in range(cpus)]


def _busy(daemon, cpus: int, beyond: "List[int] | None" = None, by: int = 2000) -> List[int]:
    """Every vCPU counts on, past `beyond` (each vCPU's) by `by`, and none found a bad count."""
    beyond = beyond or [0] * cpus
    _until(lambda: all(now >= then + by for now, then in zip(_counts(daemon, cpus), beyond)))
    assert daemon.word(FAILED_ADDRESS) == 0
    return _counts(daemon, cpus)


def _sums_agree(daemon, cpus: int) -> None:
    """Stopped: each vCPU adds to the shared counter right after its own, so the shared one
    is the sum of the private ones, less at most one per vCPU."""
    daemon.qmp.command("stop")
    total, shared = sum(_counts(daemon, cpus)), daemon.word(SHARED_ADDRESS)
    assert total - cpus <= shared <= total, (total, shared)


def _parse(data: bytes) -> Tuple[List[Tuple[str, int, dict]], str]:
    """A ppcd stream's device sections (name, instance, fields) in order, and its RAM's hash."""
    cursor = Cursor(data)
    assert (cursor.be32(), cursor.be32()) == (S.QEMU_VM_FILE_MAGIC, S.QEMU_VM_FILE_VERSION)
    ram = GuestRAM(MEMORY_SIZE)
    loader = RAMLoader(ram)
    vmsds = {s.name: s.vmsd for s in DEVICE_SECTIONS}
    sections = []
    while True:
        kind = cursor.byte()
        if kind == S.QEMU_VM_EOF:
            return sections, hashlib.sha256(ram.ram[:]).hexdigest()
        if kind == S.QEMU_VM_CONFIGURATION:
            cursor.read(cursor.be32())
        elif kind == S.QEMU_VM_SECTION_FOOTER:
            cursor.be32()
        elif kind == S.QEMU_VM_SECTION_START:
            cursor.be32()
            assert (cursor.idstr(), cursor.be32(), cursor.be32()) == ("ram", 0, 4)
            loader.setup(cursor)
        elif kind in (S.QEMU_VM_SECTION_PART, S.QEMU_VM_SECTION_END):
            cursor.be32()
            cursor.position, eos = loader.records(data, cursor.position)
            assert eos
        else:
            assert kind == S.QEMU_VM_SECTION_FULL
            cursor.be32()
            name, instance_id, version_id = cursor.idstr(), cursor.be32(), cursor.be32()
            sections.append((name, instance_id, load(vmsds[name], cursor, version_id)))


def _to_file(daemon, path: Path) -> bytes:
    daemon.qmp.command("migrate", {"uri": f"file:{path}"})
    assert daemon.wait_migration()["status"] == "completed"
    return path.read_bytes()


def _smp_elf() -> Path:
    try:
        return build.build_guest("smp", "be")
    except build.CompilerMissing as exc:
        pytest.skip(str(exc))


# (a) A GCC-built guest moved while its secondaries work prints what an unmoved one prints.
SMP_GUEST_MOVED_AT = 120_000     # both vCPU counts: the secondaries are in their work loop


@pytest.mark.parametrize("cpus", [2, 4])
def test_smp_guest_moved_mid_run_prints_what_an_unmoved_run_prints(daemons, tmp_path,
                                                                   cpus: int) -> None:
    elf = _smp_elf()
    smp = ("--smp", str(cpus))
    reference = subprocess.run([sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(elf),
                                *smp], stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=120, cwd=ROOT)
    assert reference.returncode == 0, reference.stderr
    assert reference.stdout.endswith(b"DONE\n")

    uri = f"unix:{tmp_path}/migration.sock"
    printed = {name: tmp_path / f"{name}.out" for name in ("source", "destination")}
    source = daemons("source", elf, *smp, "-S", "--serial", f"file:{printed['source']}")
    destination = daemons("destination", elf, *smp, "--serial",
                          f"file:{printed['destination']}", "--incoming", uri)
    source.qmp.command("replay-break", {"icount": SMP_GUEST_MOVED_AT})
    source.qmp.command("cont")
    source.qmp.wait_event("STOP", timeout=60)
    set_capabilities(source, return_path=True)
    source.qmp.command("migrate", {"uri": uri})
    assert source.wait_migration()["status"] == "completed"
    _until(lambda: destination.qmp.command("query-migrate").get("status") == "completed")
    # Paused on the source, paused here: the guest goes on when told.
    assert destination.qmp.command("query-status")["status"] == "paused"
    assert destination.qmp.command("query-replay")["icount"] == SMP_GUEST_MOVED_AT
    destination.qmp.command("cont")
    assert destination.process.wait(timeout=120) == 0
    source.stop()
    before = printed["source"].read_bytes()
    # Moved once every secondary had started and before any had finished its work.
    assert b"start-cpu of a running vCPU" in before and b"locked counter" not in before
    assert before + printed["destination"].read_bytes() == reference.stdout


# (a) A live migration of busy vCPUs: each one's registers and page travel.
@pytest.mark.parametrize("cpus", [2, 4])
def test_live_migration_of_busy_vcpus(daemons, busy_elf, tmp_path, cpus: int) -> None:
    smp = ("--smp", str(cpus))
    uri = f"unix:{tmp_path}/migration.sock"
    source = daemons("source", busy_elf, *smp, *MEMORY)
    destination = daemons("destination", busy_elf, *smp, *MEMORY, "--incoming", uri)
    _busy(source, cpus)
    source.qmp.command("migrate", {"uri": uri})
    assert source.wait_migration()["status"] == "completed"
    moved = _counts(source, cpus)
    _until(lambda: destination.qmp.command("query-status")["status"] == "running")
    _busy(destination, cpus, beyond=moved)
    _sums_agree(destination, cpus)


@pytest.mark.skipif(shutil.which("pypy3") is None, reason="pypy3 not installed")
def test_busy_vcpus_from_a_pypy_worker_to_a_cpython_one(daemons, busy_elf, tmp_path) -> None:
    """The snapshot of every vCPU is made and taken by the worker, which runs under PyPy too."""
    smp = ("--smp", "3")
    uri = f"unix:{tmp_path}/migration.sock"
    source = daemons("source", busy_elf, *smp, *MEMORY, "--worker-python", "pypy3")
    destination = daemons("destination", busy_elf, *smp, *MEMORY, "-S", "--incoming", uri)
    _busy(source, 3)
    source.qmp.command("migrate", {"uri": uri})
    assert source.wait_migration()["status"] == "completed"
    _until(lambda: destination.qmp.command("query-migrate").get("status") == "completed")
    moved = _counts(source, 3)
    assert _counts(destination, 3) == moved
    assert destination.qmp.command("query-replay") == source.qmp.command("query-replay")
    destination.qmp.command("cont")
    _busy(destination, 3, beyond=moved)
    _sums_agree(destination, 3)


# (b) Every vCPU's registers and the RAM at N equal a run that never moved.
N = 2_000_000


def _state_at_n(daemon, tmp_path: Path, name: str):
    daemon.qmp.wait_event("STOP", timeout=180)
    assert daemon.qmp.command("query-status")["status"] == "paused"
    assert daemon.qmp.command("query-replay")["icount"] == N
    path = tmp_path / f"{name}.ram"
    daemon.qmp.command("pmemsave", {"val": 0, "size": MEMORY_SIZE, "filename": str(path)})
    pmem = hashlib.sha256(path.read_bytes()).hexdigest()
    sections, ram = _parse(_to_file(daemon, tmp_path / f"{name}.bin"))
    assert ram == pmem
    return sections, ram


def test_every_vcpu_is_deterministic_across_a_migration(daemons, busy_elf, tmp_path) -> None:
    cpus = 4
    smp = ("--smp", str(cpus))
    reference = daemons("reference", busy_elf, *smp, *MEMORY, "-S")
    reference.qmp.command("replay-break", {"icount": N})
    reference.qmp.command("cont")

    uri = f"unix:{tmp_path}/migration.sock"
    source = daemons("source", busy_elf, *smp, *MEMORY)
    destination = daemons("destination", busy_elf, *smp, *MEMORY, "-S", "--incoming", uri)
    _busy(source, cpus, by=1)
    source.qmp.command("migrate", {"uri": uri})
    assert source.wait_migration()["status"] == "completed"
    _until(lambda: destination.qmp.command("query-migrate").get("status") == "completed")
    migrated_at = destination.qmp.command("query-replay")["icount"]
    assert 0 < migrated_at < N, migrated_at
    source.stop()
    destination.qmp.command("replay-break", {"icount": N})
    destination.qmp.command("cont")

    expected = _state_at_n(reference, tmp_path, "reference")
    reference.stop()
    sections, ram = _state_at_n(destination, tmp_path, "destination")
    cpu_sections = [fields for name, _, fields in sections if name == "cpu"]
    assert [(name, instance) for name, instance, _ in sections] == [
        ("spapr", 0), *(("cpu", index) for index in range(cpus)), ("spapr-vty", 0),
        ("globalstate", 0)]
    assert [fields["env.gpr"][3] for fields in cpu_sections] == list(range(cpus))
    assert all(fields["icount"] == N for fields in cpu_sections)
    for index, (ours, theirs) in enumerate(zip(sections, expected[0])):
        assert ours == theirs, f"section {index} ({ours[0]} {ours[1]}) differs"
    assert ram == expected[1]


# (c) Another vCPU count on the destination: refused, and the source runs on.
@pytest.mark.parametrize("theirs", [1, 4])
def test_another_vcpu_count_is_refused_before_the_guest_stops(daemons, busy_elf, tmp_path,
                                                              theirs: int) -> None:
    uri = f"unix:{tmp_path}/migration.sock"
    source = daemons("source", busy_elf, "--smp", "2", *MEMORY)
    destination = daemons("destination", busy_elf, "--smp", str(theirs), *MEMORY,
                          "--incoming", uri)
    set_capabilities(source, events=True)
    before = _busy(source, 2)
    reply = source.qmp.execute("migrate", {"uri": uri})
    why = (f"the guest has 2 vCPUs but the destination (ppcd {__version__}) has {theirs}: "
           "start the destination with --smp 2")
    assert reply["error"]["desc"] == why
    assert source.qmp.command("query-migrate")["error-desc"] == why
    # The guest never stopped.
    assert not any(e["event"] == "STOP" for e in source.qmp.events)
    assert source.qmp.command("query-status")["status"] == "running"
    _busy(source, 2, beyond=before)
    assert destination.process.wait(timeout=20) == 1
    assert destination.process.stderr.read().decode() == (
        f"ppcd: load of migration failed: the source refused the migration: {why}\n")


class GreetingWithoutCpus:
    """Between a source and its destination (UNIX sockets), passing everything through but
    the "cpus" of the destination's greeting: a destination that does not say its vCPU count,
    as a ppcd from before SMP, so only the stream can tell it."""

    def __init__(self, directory: Path, destination: str) -> None:
        self.path = str(directory / "proxy.sock")
        self.destination = destination
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(self.path)
        self.server.listen(1)
        self.stripped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        source, _ = self.server.accept()
        destination = socket.socket(socket.AF_UNIX)
        destination.connect(self.destination)
        threading.Thread(target=self._pump, args=(source, destination), daemon=True).start()
        data = b""
        while len(data) < 12 or len(data) < 12 + struct.unpack(">I", data[8:12])[0]:
            chunk = destination.recv(1 << 16)
            if not chunk:
                return
            data += chunk
        assert data.startswith(GREETING)
        length = struct.unpack(">I", data[8:12])[0]
        body = json.loads(data[12:12 + length])
        del body["cpus"]
        self.stripped = True
        text = json.dumps(body).encode()
        source.sendall(GREETING + struct.pack(">I", len(text)) + text + data[12 + length:])
        self._pump(destination, source)

    @staticmethod
    def _pump(reader: socket.socket, writer: socket.socket) -> None:
        while True:
            try:
                chunk = reader.recv(1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                try:
                    writer.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            try:
                writer.sendall(chunk)
            except OSError:
                return


@pytest.mark.parametrize("theirs, error", [
    (1, "Unknown savevm section or instance 'cpu' 1. Make sure that your current VM setup "
        "matches your saved VM setup, including any hotplugged devices"),
    (3, "the stream lacks the state of cpu 2: it carries 2 vCPUs and this machine has 3; start "
        "the destination with the source's --smp"),
], ids=["fewer", "more"])
def test_a_destination_that_cannot_load_every_vcpu_fails_and_the_source_runs_on(
        daemons, busy_elf, tmp_path, theirs: int, error: str) -> None:
    """Without the vCPU count in the greeting the stream goes out; the destination refuses it
    whole (never running a guest of which part loaded) and the source's guest runs again."""
    destination_uri = f"unix:{tmp_path}/migration.sock"
    source = daemons("source", busy_elf, "--smp", "2", *MEMORY)
    destination = daemons("destination", busy_elf, "--smp", str(theirs), *MEMORY,
                          "--incoming", destination_uri)
    proxy = GreetingWithoutCpus(tmp_path, destination_uri[len("unix:"):])
    set_capabilities(source, return_path=True)
    before = _busy(source, 2)
    source.qmp.command("migrate", {"uri": f"unix:{proxy.path}"})
    info = source.wait_migration()
    assert proxy.stripped
    assert info["status"] == "failed", info
    assert info["error-desc"] == "the destination failed to load the migration stream"
    assert destination.process.wait(timeout=20) == 1
    assert destination.process.stderr.read().decode() == (
        f"ppcd: load of migration failed: {error}\n")
    assert source.qmp.command("query-status")["status"] == "running"
    _busy(source, 2, beyond=before)


def _load_file(elf: Path, path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(elf),
                           "--serial", "null", *MEMORY, *args, "--incoming", f"file:{path}"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_a_file_stream_loads_only_with_its_vcpu_count(daemons, busy_elf, tmp_path) -> None:
    source = daemons("source", busy_elf, "--smp", "3", *MEMORY)
    _busy(source, 3)
    path = tmp_path / "smp3.bin"
    _to_file(source, path)
    moved = _counts(source, 3)
    source.stop()
    fewer = _load_file(busy_elf, path, "--smp", "2")
    assert (fewer.returncode, fewer.stderr) == (
        1, f"ppcd: load of migration failed: {UNKNOWN_CPU_2}\n")
    more = _load_file(busy_elf, path, "--smp", "4")
    assert (more.returncode, more.stderr) == (
        1, "ppcd: load of migration failed: the stream lacks the state of cpu 3: it carries 3 "
           "vCPUs and this machine has 4; start the destination with the source's --smp\n")
    restored = daemons("restored", busy_elf, "--smp", "3", *MEMORY, "-S", "--incoming",
                       f"file:{path}")
    _until(lambda: restored.qmp.command("query-migrate").get("status") == "completed")
    assert _counts(restored, 3) == moved
    restored.qmp.command("cont")
    _busy(restored, 3, beyond=moved)
    _sums_agree(restored, 3)


# (d) QEMU's analyze-migration.py reads a 2-vCPU stream and shows both vCPUs.
@pytest.mark.skipif(not os.path.exists(ANALYZE_MIGRATION),
                    reason="QEMU's analyze-migration.py not found: scripts/test fetches it from "
                           "Debian's qemu source package, or set PPCD_ANALYZE_MIGRATION")
def test_analyze_migration_shows_every_vcpu(daemons, busy_elf, tmp_path) -> None:
    source = daemons("source", busy_elf, "--smp", "2", *MEMORY)
    _busy(source, 2)
    path = tmp_path / "smp2.migration"
    _to_file(source, path)

    def analyze(dump: str) -> Dict:
        result = subprocess.run([sys.executable, ANALYZE_MIGRATION, "-f", str(path), "-d", dump],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    devices = analyze("desc")["devices"]
    assert [(d["name"], d["instance_id"]) for d in devices] == [
        ("spapr", 0), ("cpu", 0), ("cpu", 1), ("spapr-vty", 0), ("globalstate", 0)]
    state = analyze("state")
    # analyze-migration.py names a section by its name and section id.
    cpus = [value for key, value in state.items() if key.startswith("cpu (")]
    assert len(cpus) == 2
    # Each vCPU runs the loop with its index in r3, and has its own subsections.
    assert [int(cpu["env.gpr"][3], 16) for cpu in cpus] == [0, 1]
    assert all("cpu/timebase" in cpu for cpu in cpus)
