"""cpu/slb (QEMU's vmstate_slb) and machine type pseries-0.3, in one process: the subsection's
shape and wire bytes, when it is sent, what older machine types and older code do with it, the
handshake and the schema checker; and that every piece of CPU state a guest can observe is
carried by the snapshot the stream is made from."""

from __future__ import annotations

import importlib
import json
import re
import struct
from pathlib import Path

import pytest

from ppcd.cpu.semantics.supervisor import DPDES
from ppcd.cpu.state import SLB_ENTRIES, CPUState, GuestMemory
from ppcd.machine.console import Console
from ppcd.machine.pseries import Machine
from ppcd.machine.ram import GuestRAM
from ppcd.migration import snapshot
from ppcd.migration.checker import check, check_released
from ppcd.migration.handshake import (
    GREETING,
    Peer,
    greeting,
    parse_message,
    plan,
    runtime_properties,
)
from ppcd.migration.machine import (
    CPU,
    DEVICE_SECTIONS,
    MAX_SLB_ENTRIES,
    SLB_SECTION,
    dump_vmstate,
    machine_type,
)
from ppcd.migration.vmstate import Cursor, VMStateDescription, VMStateError, load, save

SCHEMAS = Path(__file__).parent / "schemas"
CPU_SECTION = DEVICE_SECTIONS[1]
V01, V02, V03 = (machine_type(f"pseries-0.{n}") for n in (1, 2, 3))
# Two entries as the guest writes them: a valid 256 MB segment in slot 0, and slot 31 after
# slbie (V clear, the rest still readable).
ENTRIES = {0: (0xC0DE000000000000 | 1 << 27, 0xABCDE00800),
           31: (0xC0DE1F1FF0000000, 0xABCDE1F9A0)}


def _machine() -> Machine:
    machine = Machine(GuestRAM(16 << 20), "power9", Console(None))
    machine.reset_cpu(0)
    return machine


def _cpu() -> CPUState:
    return _machine().cpu


def _with_slb(cpu: CPUState, entries=ENTRIES) -> CPUState:
    for slot, (esid, vsid) in entries.items():
        cpu.slb_esid[slot], cpu.slb_vsid[slot] = esid, vsid
    return cpu


def _save(cpu: CPUState, machine, omit=()) -> "tuple[bytes, dict]":
    out = bytearray()
    desc = save(CPU, CPU_SECTION.export({"cpus": [snapshot.capture_cpu(cpu)]}),
                machine.properties, out, omit)
    return bytes(out), desc


def _subsections(desc: dict) -> list:
    return [s["vmsd_name"] for s in desc.get("subsections", [])]


def _load(data: bytes, vmsd: VMStateDescription = CPU) -> dict:
    snap: dict = {}
    # Something always follows a section (its footer); 0x7E is QEMU's footer byte.
    CPU_SECTION.apply(load(vmsd, Cursor(data + b"\x7e"), vmsd.version_id), snap)
    return snap["cpus"][0]


def _stored(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


# --- QEMU's shape --------------------------------------------------------------------------
def test_cpu_slb_has_qemus_shape() -> None:
    sub = CPU.subsection(SLB_SECTION)
    assert (sub.version_id, sub.minimum_version_id) == (1, 1)
    (schema,) = [s for s in dump_vmstate(V03)["cpu"]["Description"]["Subsections"]
                 if s["name"] == SLB_SECTION]
    assert schema["Fields"] == [{"field": "env.slb", "version_id": 0, "field_exists": False,
                                 "type": "slbe", "size": 16, "array_len": 64}]
    assert MAX_SLB_ENTRIES == 64 and SLB_ENTRIES == 32


def test_wire_bytes_are_qemus_esid_vsid_pairs() -> None:
    data, desc = _save(_with_slb(_cpu()), V03)
    header = b"\x05\x07cpu/slb" + struct.pack(">I", 1)
    start = data.index(header) + len(header)
    entries = [struct.unpack_from(">QQ", data, start + 16 * n) for n in range(MAX_SLB_ENTRIES)]
    assert entries == [ENTRIES.get(n, (0, 0)) for n in range(MAX_SLB_ENTRIES)]
    (vmdesc,) = [s for s in desc["subsections"] if s["vmsd_name"] == SLB_SECTION]
    assert vmdesc == {"vmsd_name": "cpu/slb", "version": 1, "fields": [
        {"name": "env.slb", "array_len": 64, "type": "slbe", "size": 16}]}


# --- when it travels ------------------------------------------------------------------------
def test_sent_when_any_word_is_nonzero() -> None:
    assert SLB_SECTION not in _subsections(_save(_cpu(), V03)[1])
    cpu = _cpu()
    cpu.slb_vsid[31] = 0x800        # an entry never valid: slbmfev still reads it
    assert SLB_SECTION in _subsections(_save(cpu, V03)[1])
    assert SLB_SECTION in _subsections(_save(_with_slb(_cpu()), machine_type("pseries"))[1])


@pytest.mark.parametrize("machine", [V01, V02])
def test_older_machine_types_never_send_it(machine) -> None:
    data, desc = _save(_with_slb(_cpu()), machine)
    assert SLB_SECTION not in _subsections(desc) and b"cpu/slb" not in data
    assert SLB_SECTION not in [s["name"] for s in
                               dump_vmstate(machine)["cpu"]["Description"]["Subsections"]]


def test_slb_dpdes_and_every_spr_survive_the_stream() -> None:
    cpu = _with_slb(_cpu())
    cpu.spr[DPDES] = 1
    for number, reset in snapshot.BACKING_SPRS.items():
        cpu.spr.setdefault(number, reset ^ (0x5A5A0000 + number))
    machine = _machine()
    snapshot.restore(machine, {"cpus": [_load(_save(cpu, V03)[0])], "rtc_offset": 0.0,
                               "console_pending": ""})
    fresh = machine.cpu
    assert snapshot.capture_cpu(fresh) == snapshot.capture_cpu(cpu)
    assert fresh.spr[DPDES] == 1
    assert list(zip(fresh.slb_esid, fresh.slb_vsid)) == [ENTRIES.get(n, (0, 0))
                                                         for n in range(SLB_ENTRIES)]


def test_a_stream_without_it_loads_the_reset_slb() -> None:
    loaded = _load(_save(_with_slb(_cpu()), V02)[0])
    assert loaded["slb_esid"] == [0] * SLB_ENTRIES and loaded["slb_vsid"] == [0] * SLB_ENTRIES


# --- destinations that cannot take it -------------------------------------------------------
def test_code_that_predates_it_refuses_the_stream() -> None:
    # The CPU section as ppcd 0.2 describes it: every subsection but cpu/slb.
    older = VMStateDescription(CPU.name, CPU.version_id, CPU.minimum_version_id, CPU.fields,
                               tuple(s for s in CPU.subsections if s.present(V02.properties)))
    data = _save(_with_slb(_cpu()), V03)[0]
    with pytest.raises(VMStateError, match=r"^cpu: unknown subsection 'cpu/slb' in the stream$"):
        _load(data, older)


@pytest.mark.parametrize("slot,esid,vsid,message", [
    (3, 0x1, 0, r"cpu/slb: entry 3 \(ESID 0x0000000000000001, VSID 0x0000000000000000\) is "
                r"not one slbmte can write"),
    (4, 0, 0x130, "cpu/slb: entry 4 .* is not one slbmte can write"),       # no such page size
    (5, 0, 2 << 62, "cpu/slb: entry 5 .* is not one slbmte can write"),     # B=0b10
    (40, 1 << 27, 0, "cpu/slb: entry 40 is beyond this CPU's 32-entry SLB"),
])
def test_bad_entries_are_refused(slot: int, esid: int, vsid: int, message: str) -> None:
    data = bytearray(_save(_with_slb(_cpu()), V03)[0])
    header = b"\x05\x07cpu/slb" + struct.pack(">I", 1)
    struct.pack_into(">QQ", data, data.index(header) + len(header) + 16 * slot, esid, vsid)
    with pytest.raises(VMStateError, match=message):
        _load(bytes(data))


def _peer(drop_slb: bool) -> Peer:
    body = parse_message(Cursor(greeting(V03, 0, DEVICE_SECTIONS)), GREETING)
    assert body["sections"]["cpu"]["subsections"][SLB_SECTION] == 1
    if drop_slb:
        del body["sections"]["cpu"]["subsections"][SLB_SECTION]
    return Peer.from_greeting(body)


def _plan(cpu: CPUState, peer: Peer):
    states = {(s.name, s.instance_id): s.vmsd.defaults() for s in DEVICE_SECTIONS}
    states["cpu", 0] = CPU_SECTION.export({"cpus": [snapshot.capture_cpu(cpu)]})
    return plan(DEVICE_SECTIONS, states, runtime_properties(V03, None, peer), V03, peer)


def test_handshake_advertises_it_and_refuses_a_peer_without_it() -> None:
    assert _plan(_with_slb(_cpu()), _peer(drop_slb=False)).refusal is None
    older = _peer(drop_slb=True)
    assert _plan(_with_slb(_cpu()), older).refusal == (
        f"the destination ({older.describe()}) cannot load subsection 'cpu/slb' version 1")
    assert _plan(_cpu(), older).refusal is None         # not needed: not sent


# --- the schema checker, 0.2 <-> 0.3 --------------------------------------------------------
def test_checker_pseries_0_2_streams_load_where_0_3_is_described() -> None:
    assert check(_stored("pseries-0.2"), _stored("pseries-0.3")) == []
    assert check(_stored("pseries-0.2"), dump_vmstate(V03)) == []


def test_checker_pseries_0_3_streams_need_cpu_slb_where_they_load() -> None:
    assert check(_stored("pseries-0.3"), _stored("pseries-0.2")) == [
        "cpu: subsection 'cpu/slb' cannot be loaded (unknown there)"]
    assert check_released(_stored("pseries-0.2"), dump_vmstate(V03)) == [
        "current -> released: cpu: subsection 'cpu/slb' cannot be loaded (unknown there)"]
    assert check_released(_stored("pseries-0.3"), dump_vmstate(V02)) == [
        "released -> current: cpu: subsection 'cpu/slb' cannot be loaded (unknown there)",
        "compat property cpu.slb-subsection changed from True to None"]


def _slb_schema(dump: dict) -> dict:
    (sub,) = [s for s in dump["cpu"]["Description"]["Subsections"] if s["name"] == SLB_SECTION]
    return sub


@pytest.mark.parametrize("change,problem", [
    (lambda d: _slb_schema(d)["Fields"][0].update(array_len=32),
     "released -> current: cpu/slb: field 0 is env.slb (slbe, 16 bytes x 64) in the stream but "
     "env.slb (slbe, 16 bytes x 32) where it is loaded"),
    (lambda d: _slb_schema(d).update(version_id=2, minimum_version_id=2),
     "released -> current: cpu/slb: version 1 cannot be loaded (loads 2 to 2)"),
    (lambda d: d["vmschkmachine"]["Properties"].update({"cpu.slb-subsection": False}),
     "compat property cpu.slb-subsection changed from True to False"),
])
def test_checker_guards_pseries_0_3(change, problem: str) -> None:
    current = dump_vmstate(V03)
    assert check_released(_stored("pseries-0.3"), current) == []
    change(current)
    assert problem in check_released(_stored("pseries-0.3"), current)


# --- every piece of guest-observable CPU state is carried -----------------------------------
CPU_SOURCES = Path(__file__).parents[2] / "ppcd" / "cpu"
_SPR_KEY = re.compile(r"cpu\.spr(?:\[|\.get\()\s*([A-Za-z_0-9]+)")


def _spr_keys_in_cpu_code() -> dict:
    """{SPR number: where} for every cpu.spr key the CPU code names by number or constant."""
    keys = {}
    for path in sorted(CPU_SOURCES.rglob("*.py")):
        module = None
        for match in _SPR_KEY.finditer(path.read_text()):
            name = match.group(1)
            if name.isdigit():
                keys[int(name)] = path.name
            elif name.isupper():
                if module is None:
                    relative = path.relative_to(CPU_SOURCES.parents[1]).with_suffix("")
                    module = importlib.import_module(".".join(relative.parts))
                keys[getattr(module, name)] = f"{path.name} ({name})"
    return keys


def test_every_spr_the_cpu_keeps_travels() -> None:
    keys = _spr_keys_in_cpu_code()
    assert DPDES in keys and 130 in keys      # msgsndp, tbegin.
    missing = {number: where for number, where in keys.items()
               if number not in snapshot.BACKING_SPRS}
    assert missing == {}


def test_every_cpu_state_attribute_is_carried_or_derived() -> None:
    carried = set(snapshot.CPU_ATTRIBUTES) | {"gpr", "fpr", "spr", "reserve", "dec_expiry",
                                              "slb_esid", "slb_vsid"}
    xer = {"so", "ov", "ca", "ov32", "ca32", "xer_rest"}    # composed into xer
    derived = {"pcr", "isa_limit"}      # recomputed from compat_pvr when the state loads
    # Not vCPU state: RAM, the hypervisor's callback, and the address of the instruction
    # being executed (meaningful only inside one; the vCPU stops between instructions).
    outside = {"mem", "hypervisor", "cia"}
    # A prod that came before the vCPU ceded: QEMU does not migrate it either (its
    # SpaprCpuState.prod); PAPR makes H_PROD a hint, so losing one only delays a wakeup.
    not_migrated = {"prodded"}
    attributes = set(vars(CPUState(GuestMemory(b"", 0, b""), pvr=0)))
    assert attributes - carried - xer - derived - outside - not_migrated == set()
