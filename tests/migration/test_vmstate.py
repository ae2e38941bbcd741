"""VMState descriptions, the CPU snapshot and RAM pre-copy, in one process."""

from __future__ import annotations

import hashlib

import pytest

from ppcd.cpu.engine_lockstep import STATE_ATTRIBUTES
from ppcd.cpu.spr import SPRS
from ppcd.machine.console import Console
from ppcd.machine.pseries import Machine
from ppcd.machine.ram import PAGE_SIZE, GuestRAM
from ppcd.migration import snapshot
from ppcd.migration.machine import CPU, DEVICE_SECTIONS, MACHINE_TYPES, dump_vmstate
from ppcd.migration.ram import RAMLoader, RAMSaver
from ppcd.migration.vmstate import (
    UINT32,
    Cursor,
    Field,
    Truncated,
    VMStateDescription,
    VMStateError,
    load,
    save,
)

from .guests import self_checking

PROPERTIES = MACHINE_TYPES[-1].properties


def _machine(ram: GuestRAM, program: str = "") -> Machine:
    from ppcd.cpu.assembler import assemble_all
    machine = Machine(ram, "power9", Console(None))
    machine.reset_cpu(0)
    code = b"".join(word.to_bytes(4, "big") for word in assemble_all(program or "b 0"))
    ram.write(0x400000, code)
    return machine


def _roundtrip(state):
    out = bytearray()
    snap = dict(state)
    for section in DEVICE_SECTIONS:
        body = bytearray()
        save(section.vmsd, section.export(snap), PROPERTIES, body)
        out += body
    restored: dict = {}
    cursor = Cursor(bytes(out) + b"\0")     # something always follows the last section
    for section in DEVICE_SECTIONS:
        section.apply(load(section.vmsd, cursor, section.vmsd.version_id), restored)
    return restored


def test_snapshot_covers_every_architected_attribute() -> None:
    carried = set(snapshot.CPU_ATTRIBUTES) | {"xer", "gpr", "fpr", "spr", "reserve",
                                              "dec_expiry"}
    flags = {"so", "ov", "ca", "ov32", "ca32", "xer_rest"}     # composed into xer
    derived = {"pcr", "isa_limit"}      # recomputed from compat_pvr when the state loads
    assert set(STATE_ATTRIBUTES) - flags - derived <= carried


def test_distinctive_values_survive_the_stream() -> None:
    ram = GuestRAM(16 << 20)
    machine = _machine(ram)
    cpu = machine.cpu
    for i in range(32):
        cpu.gpr[i] = 0x0101010101010101 * (i + 1) & (1 << 64) - 1
        cpu.fpr[i] = 0x3FF0000000000000 + i
    cpu.cr, cpu.xer, cpu.lr, cpu.ctr, cpu.tar = 0x12345678, 0xE00C0045, 0x1111, 0x2222, 0x3333
    cpu.msr, cpu.pc, cpu.fpscr, cpu.cfar = 0x8000000000001032, 0x400100, 0x82004000, 0x4444
    for number, spr in SPRS.items():
        if spr.write is not None and number not in (1, 8, 9, 22, 815, 898):
            spr.write(cpu, (0xA5A5A5A5A5A5A5A5 ^ number) & spr.mask)
    cpu.reserve, cpu.reserve_len = 0x2000, 8
    cpu.icount, cpu.tb_offset = 123456, -77
    cpu.dec = 5000
    cpu.lpcr_ile, cpu.halted, cpu.dabr, cpu.dabrx = True, True, 0x5000, 3
    machine.set_compat(0x0F000004)      # power8 mode: cpu/compat travels, the PCR follows
    machine.console.pending = b"typed"
    machine.rtc_offset = 12.5
    state = snapshot.capture(machine)
    state["runstate"] = "running"
    restored = _roundtrip(state)
    assert restored == state
    fresh = _machine(GuestRAM(16 << 20))
    snapshot.restore(fresh, restored)
    assert snapshot.capture(fresh) == snapshot.capture(machine)
    assert fresh.cpu.xer == 0xE00C0045 and fresh.cpu.dec == cpu.dec


def test_subsections_only_when_needed() -> None:
    machine = _machine(GuestRAM(16 << 20))
    state = snapshot.capture(machine)
    out = bytearray()
    desc = save(CPU, DEVICE_SECTIONS[1].export(state), PROPERTIES, out)
    assert [s["vmsd_name"] for s in desc["subsections"]] == ["cpu/fpu", "cpu/timebase"]
    machine.cpu.reserve, machine.cpu.reserve_len = 0x100, 4
    desc = save(CPU, DEVICE_SECTIONS[1].export(snapshot.capture(machine)), PROPERTIES,
                bytearray())
    assert "cpu/reservation" in [s["vmsd_name"] for s in desc["subsections"]]


def test_versions_are_checked() -> None:
    v2 = VMStateDescription("dev", 2, 1, (Field("a", UINT32), Field("b", UINT32, version=2)))
    out = bytearray()
    save(v2, {"a": 1, "b": 2}, {}, out)
    assert load(v2, Cursor(bytes(out) + b"\0"), 2) == {"a": 1, "b": 2}
    assert load(v2, Cursor(bytes(out[:4]) + b"\0"), 1) == {"a": 1, "b": 0}
    with pytest.raises(VMStateError, match="incoming version_id 3 is too new for local "
                                           "version_id 2"):
        load(v2, Cursor(bytes(out)), 3)
    with pytest.raises(VMStateError, match="too old"):
        load(v2, Cursor(bytes(out)), 0)
    with pytest.raises(Truncated):
        load(v2, Cursor(bytes(out[:6])), 2)


def test_unknown_subsection_is_rejected() -> None:
    data = bytes(8 * (32 + 1 + 1024 + 2) + 4 * 8) + b"\x05\x07cpu/xyz" + bytes(4)
    with pytest.raises(VMStateError, match="unknown subsection 'cpu/xyz'"):
        load(CPU, Cursor(data), 5)


def test_dump_vmstate_lists_every_section() -> None:
    dump = dump_vmstate(MACHINE_TYPES[-1])
    assert dump["vmschkmachine"]["Name"] == "pseries-0.3"
    assert {"cpu", "spapr", "spapr-vty", "globalstate", "ram"} <= set(dump)
    names = [s["name"] for s in dump["cpu"]["Description"]["Subsections"]]
    assert names[0] == "cpu/fpu"


class _Recorder(bytearray):
    """A dirty map that logs clears, and lets a 'guest store' race with the copy."""

    def __init__(self, size: int, log: list, on_clear=None) -> None:
        super().__init__(size)
        self.log = log
        self.on_clear = on_clear

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        if isinstance(key, slice) and not any(value):
            self.log.append(("clear", key.start, key.stop))
            if self.on_clear:
                self.on_clear()


class _RecordingRAM(bytearray):
    def __init__(self, size: int, log: list) -> None:
        super().__init__(size)
        self.log = log

    def __getitem__(self, key):
        if isinstance(key, slice):
            self.log.append(("copy", key.start // PAGE_SIZE, key.stop // PAGE_SIZE))
        return super().__getitem__(key)


def test_marks_are_cleared_before_pages_are_copied() -> None:
    log: list = []
    ram = GuestRAM(16 << 20)
    ram.ram = _RecordingRAM(ram.size, log)
    store = {"done": False}

    def guest_store() -> None:
        # The vCPU stores into page 5 right after migration took the mark: the copy must
        # see the new value, or the mark must survive for the next pass.
        if not store["done"]:
            store["done"] = True
            bytearray.__setitem__(ram.ram, slice(5 * PAGE_SIZE, 5 * PAGE_SIZE + 1), b"\x77")
            bytearray.__setitem__(ram.dirty, 5, 1)

    ram.dirty = _Recorder(ram.pages, log, guest_store)
    ram.dirty[5] = 1
    saver = RAMSaver(ram)
    data = b"".join(saver.first_pass())
    clears = [entry for entry in log if entry[0] == "clear"]
    copies = [entry for entry in log if entry[0] == "copy"]
    assert clears and copies and log.index(clears[0]) < log.index(copies[0])
    assert clears[0][1:] == copies[0][1:]
    sent = (data.find(b"\x77") >= 0) or ram.dirty[5] == 1
    assert sent


def test_ram_roundtrip_and_never_written_pages_unread() -> None:
    source = GuestRAM(16 << 20)
    source.write(0x3000, b"hello")
    source.write(0x9000, bytes(PAGE_SIZE))        # written, but zero
    saver = RAMSaver(source)
    stream = bytearray(saver.setup())
    saver.begin_section()
    stream += b"".join(saver.first_pass()) + saver.end_of_section()
    assert saver.stats.normal == 1 and saver.stats.duplicate == source.pages - 1
    destination = GuestRAM(16 << 20)
    destination.write(0x5000, b"stale")            # the destination's own image: zeroed
    loader = RAMLoader(destination)
    cursor = Cursor(stream)
    loader.setup(cursor)
    position, eos = loader.records(stream, cursor.position)
    assert eos and position == len(stream)
    assert hashlib.sha256(destination.ram[:]).digest() == hashlib.sha256(source.ram[:]).digest()


def test_migrated_run_is_deterministic() -> None:
    """N instructions with a state transfer after K give what N instructions without one do."""
    program = self_checking(pages=64)
    reference_ram = GuestRAM(16 << 20)
    reference = _machine(reference_ram, program)
    reference.engine.run(30_000)

    first_ram = GuestRAM(16 << 20)
    first = _machine(first_ram, program)
    first.engine.run(12_345)
    state = snapshot.capture(first)
    state["runstate"] = "running"
    restored = _roundtrip(state)
    second_ram = GuestRAM(16 << 20)
    saver = RAMSaver(first_ram)
    stream = bytearray(saver.setup())
    saver.begin_section()
    stream += b"".join(saver.first_pass()) + saver.end_of_section()
    loader = RAMLoader(second_ram)
    cursor = Cursor(stream)
    loader.setup(cursor)
    loader.records(stream, cursor.position)
    second = _machine(second_ram, program)
    snapshot.restore(second, restored)
    second.engine.run(30_000 - 12_345)
    assert snapshot.capture(second) == snapshot.capture(reference)
    assert second_ram.ram[:] == reference_ram.ram[:]
