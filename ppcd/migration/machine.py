"""What a ppcd pseries machine migrates: its device sections and its machine types.

Each DeviceSection pairs a VMStateDescription with the two conversions between the worker's
snapshot (ppcd/migration/snapshot.py, plus the run state the control process adds) and the
section's field values, QEMU's pre_save and post_load. The CPU section keeps the shape of
QEMU's ppc "cpu" section (target/ppc/machine.c: GPRs, CR fields, NIP, the 1024-entry SPR
array with LR, CTR and XER folded in, the reservation, MSR; then subsections); ppcd's virtual
clock and PAPR state travel in subsections of their own.

Every vCPU has a "cpu" section of its own, as in QEMU: instance_id is the vCPU's index, and
each carries the same description with its subsections. So the sections a machine migrates
depend on its vCPU count (device_sections); a 1-vCPU machine's are DEVICE_SECTIONS. The
section list of `ppcd dump-vmstate` is per machine type, so it names "cpu" once.

A MachineType pins what its streams may contain through compat properties, as QEMU's
hw_compat lists do: a newer ppcd keeps every released machine type loadable and emits only
what that type allows.

The compat mode travels in "cpu/compat" (QEMU's: version 1, compat_pvr as be32). When it is
sent is the CPU property "cpu.compat-subsection", with the three rules its history produced:
"nonzero" (QEMU's merged rule: whenever compat_pvr != 0), "differs" (the rule reviewers
proposed: when compat_pvr differs from the max-cpu-compat the destination starts with), and
"never" (what ppcd 0.1 streams carry; QEMU's pre-2.10-migration). Without the subsection the
destination keeps the mode its own max-cpu-compat gives at reset, as QEMU's does.

The segment lookaside buffer travels in "cpu/slb" (QEMU's vmstate_slb: version 1, 64 entries of
the "slbe" type, each the ESID word then the VSID word as be64), from machine type pseries-0.3
on: the compat property "cpu.slb-subsection" says whether a type's streams may carry it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Dict, Iterable, List, Mapping, Tuple

from ..cpu.semantics.supervisor import ESID_MASK, ESID_V, PAGE_SIZES, VSID_B, VSID_B_1T, VSID_LLP
from ..cpu.state import SLB_ENTRIES
from .snapshot import BACKING_SPRS, NONE
from .vmstate import (
    BOOL,
    BUFFER,
    FLOAT64,
    INT64,
    UINT8,
    UINT32,
    UINT64,
    Cursor,
    Field,
    FieldType,
    Properties,
    State,
    VMStateDescription,
    VMStateError,
    schema,
)

Snapshot = Dict[str, Any]
MASK64 = (1 << 64) - 1
SPR_COUNT = 1024
# SPR numbers whose value the CPU keeps outside cpu.spr; QEMU's cpu_pre_save folds LR, CTR and
# XER into env.spr the same way.
SPR_XER, SPR_LR, SPR_CTR, SPR_CFAR, SPR_PVR, SPR_TAR, SPR_PIR = 1, 8, 9, 28, 287, 815, 1023
SPR_PCR = 338
_ATTRIBUTE_SPRS = {SPR_XER: "xer", SPR_LR: "lr", SPR_CTR: "ctr", SPR_CFAR: "cfar",
                   SPR_PVR: "pvr", SPR_TAR: "tar", SPR_PIR: "pir"}

# The CPU property deciding when cpu/compat is sent, its values, and the runtime property
# naming the max-cpu-compat logical PVR the destination derives the mode from without it.
COMPAT_SUBSECTION = "cpu.compat-subsection"
COMPAT_NONZERO, COMPAT_DIFFERS, COMPAT_NEVER = "nonzero", "differs", "never"
COMPAT_RULES = (COMPAT_NONZERO, COMPAT_DIFFERS, COMPAT_NEVER)
DESTINATION_MAX_COMPAT = "cpu.destination-max-cpu-compat"
COMPAT_SECTION = "cpu/compat"
RUNSTATE_SIZE = 100     # QEMU's globalstate runstate buffer

# The compat property saying whether a machine type's streams may carry cpu/slb (absent: no).
SLB_SUBSECTION = "cpu.slb-subsection"
SLB_SECTION = "cpu/slb"
# QEMU's MAX_SLB_ENTRIES (target/ppc/cpu.h): the stream's array is this long whatever the CPU's
# SLB size (32 on POWER7 to POWER9); the entries past it travel as zeros.
MAX_SLB_ENTRIES = 64
# QEMU's vmstate_info_slbe: one SLB entry, its ESID word then its VSID word.
SLBE = FieldType("slbe", struct.Struct(">QQ"))


def _nonzero(*names: str) -> Callable[[State, Properties], bool]:
    return lambda state, properties: any(state[name] for name in names)


def compat_needed(state: State, properties: Properties) -> bool:
    """Whether cpu/compat must travel, by the CPU's cpu.compat-subsection rule."""
    rule = properties.get(COMPAT_SUBSECTION, COMPAT_NONZERO)
    if rule == COMPAT_NONZERO:
        return state["compat_pvr"] != 0
    if rule == COMPAT_DIFFERS:
        return state["compat_pvr"] != properties.get(DESTINATION_MAX_COMPAT, 0)
    return False


class SLBArray(Field):
    """QEMU's VMSTATE_SLB_ARRAY: `length` slbe entries; the value is a list of (esid, vsid)."""

    def initial(self) -> List[Tuple[int, int]]:
        return [(0, 0)] * (self.length or 0)

    def encode(self, value: Any, state: State, out: bytearray) -> int:
        if len(value) != self.length:
            raise ValueError(f"field {self.name!r} has {len(value)} entries, not {self.length}")
        codec = SLBE.codec
        assert codec is not None
        for esid, vsid in value:
            out += codec.pack(esid, vsid)
        return SLBE.size

    def decode(self, cursor: Cursor, state: State) -> List[Tuple[int, int]]:
        codec = SLBE.codec
        assert codec is not None
        data = cursor.read(codec.size * (self.length or 0))
        return [codec.unpack_from(data, offset) for offset in range(0, len(data), codec.size)]


def slb_needed(state: State, properties: Properties) -> bool:
    """Whether cpu/slb must travel: when any entry holds a non-zero word.

    QEMU sends it whenever the CPU has a 64-bit hash MMU, so on every POWER9 pseries. ppcd
    sends it whenever its content differs from what a destination has without it: one that
    loads no cpu/slb keeps its reset SLB, every word zero, which is exactly an all-zero array.
    So nothing is lost, and a guest that never wrote its SLB (every guest until it sets up its
    MMU) sends what it sent under pseries-0.2, as cpu/dabr and cpu/reservation travel only
    when set. Words, not valid entries: slbie and slbia clear only V, and slbmfee/slbmfev
    still read the rest back.
    """
    return any(esid or vsid for esid, vsid in state["env.slb"])


CPU = VMStateDescription(
    "cpu", version_id=5, minimum_version_id=5,
    fields=(
        Field("env.gpr", UINT64, length=32),
        Field("env.crf", UINT32, length=8),
        Field("env.nip", UINT64),
        Field("env.spr", UINT64, length=SPR_COUNT),
        Field("env.reserve_addr", UINT64, default=MASK64),
        Field("env.msr", UINT64),
    ),
    subsections=(
        VMStateDescription("cpu/fpu", 1, 1, (Field("env.fpr", UINT64, length=32),
                                             Field("env.fpscr", UINT64))),
        # ppcd's virtual clock: the timebase and decrementer count retired instructions.
        VMStateDescription("cpu/timebase", 1, 1, (
            Field("icount", UINT64),
            Field("tb_offset", INT64),
            Field("dec_written", INT64),
            Field("dec_written_at", UINT64),
            Field("dec_expiry", INT64, default=NONE),
            Field("pending_dec", BOOL, default=False),
            Field("dec_bits", UINT8, default=32),
        )),
        VMStateDescription("cpu/reservation", 1, 1, (Field("env.reserve_length", UINT64),),
                           needed=lambda state, properties:
                           state["env.reserve_addr"] != MASK64),
        # PAPR state the virtual hypervisor keeps per vCPU (H_SET_MODE, H_CEDE).
        VMStateDescription("cpu/papr", 1, 1, (Field("lpcr_ile", BOOL, default=False),
                                              Field("halted", BOOL, default=False)),
                           needed=_nonzero("lpcr_ile", "halted")),
        VMStateDescription("cpu/dabr", 1, 1, (Field("env.dabr", UINT64),
                                              Field("env.dabrx", UINT64)),
                           needed=_nonzero("env.dabr", "env.dabrx")),
        # QEMU's vmstate_slb. QEMU's mig_slb_nr field (VMSTATE_INT32_TEST) is sent only by
        # its pre-3.0 machine types (cpu_pre_3_0_migration); no ppcd type is one, so it is left
        # out: the field list is what QEMU 3.0 and later write on the wire.
        VMStateDescription(SLB_SECTION, 1, 1,
                           (SLBArray("env.slb", SLBE, length=MAX_SLB_ENTRIES),),
                           needed=slb_needed,
                           present=lambda properties: bool(properties.get(SLB_SUBSECTION))),
        # QEMU's vmstate_compat (target/ppc/machine.c). Absent: None, the destination's own.
        VMStateDescription(COMPAT_SECTION, 1, 1, (Field("compat_pvr", UINT32, default=None),),
                           needed=compat_needed,
                           present=lambda properties:
                           properties.get(COMPAT_SUBSECTION) != COMPAT_NEVER),
    ),
)


def _cpu_export(cpu: Dict[str, Any]) -> State:
    """One vCPU's snapshot (snapshot.capture_cpu) as the cpu section's fields."""
    spr = [0] * SPR_COUNT
    for key, value in cpu["spr"].items():
        spr[int(key)] = value
    for number, name in _ATTRIBUTE_SPRS.items():
        spr[number] = cpu[name]
    spr[SPR_PCR] = cpu["pcr"]
    return {
        "env.gpr": cpu["gpr"], "env.crf": [(cpu["cr"] >> (28 - 4 * i)) & 0xF for i in range(8)],
        "env.nip": cpu["pc"], "env.spr": spr, "env.reserve_addr": cpu["reserve"] & MASK64,
        "env.msr": cpu["msr"], "env.fpr": cpu["fpr"], "env.fpscr": cpu["fpscr"],
        "icount": cpu["icount"], "tb_offset": cpu["tb_offset"],
        "dec_written": cpu["dec_written"], "dec_written_at": cpu["dec_written_at"],
        "dec_expiry": cpu["dec_expiry"], "pending_dec": cpu["pending_dec"],
        "dec_bits": cpu["dec_bits"], "env.reserve_length": cpu["reserve_len"],
        "lpcr_ile": cpu["lpcr_ile"], "halted": cpu["halted"],
        "env.dabr": cpu["dabr"], "env.dabrx": cpu["dabrx"], "compat_pvr": cpu["compat_pvr"],
        "env.slb": _slb_export(cpu["slb_esid"], cpu["slb_vsid"]),
    }


def _slb_export(esids: List[int], vsids: List[int]) -> List[Tuple[int, int]]:
    entries = list(zip(esids, vsids))
    return entries + [(0, 0)] * (MAX_SLB_ENTRIES - len(entries))


def _slb_valid(esid: int, vsid: int) -> bool:
    """What slbmte accepts (ppcd/cpu/semantics/supervisor.py); slbie and slbia only clear V."""
    return not esid & ~(ESID_MASK | ESID_V) and vsid & VSID_B <= VSID_B_1T \
        and vsid & VSID_LLP in PAGE_SIZES


def _slb_import(entries: List[Tuple[int, int]]) -> Tuple[List[int], List[int]]:
    """QEMU's slb_post_load: the entries the CPU has must be ones slbmte could have written
    (QEMU's ppc_store_slb fails the load otherwise). QEMU ignores the entries past its CPU's
    SLB size; ppcd never sends any, so a non-zero one means a foreign stream and is refused."""
    for n, (esid, vsid) in enumerate(entries):
        if n >= SLB_ENTRIES:
            if esid or vsid:
                raise VMStateError(f"{SLB_SECTION}: entry {n} is beyond this CPU's "
                                   f"{SLB_ENTRIES}-entry SLB")
        elif not _slb_valid(esid, vsid):
            raise VMStateError(f"{SLB_SECTION}: entry {n} (ESID {esid:#018x}, VSID "
                               f"{vsid:#018x}) is not one slbmte can write")
    return ([esid for esid, _ in entries[:SLB_ENTRIES]],
            [vsid for _, vsid in entries[:SLB_ENTRIES]])


def _cpu_import(state: State) -> Dict[str, Any]:
    """The cpu section's fields as one vCPU's snapshot (snapshot.restore_cpu)."""
    spr = state["env.spr"]
    cr = 0
    for value in state["env.crf"]:
        cr = (cr << 4) | (value & 0xF)
    reserve = state["env.reserve_addr"]
    cpu = {
        "gpr": state["env.gpr"], "fpr": state["env.fpr"], "cr": cr, "pc": state["env.nip"],
        "msr": state["env.msr"], "fpscr": state["env.fpscr"],
        "spr": {str(key): spr[key] for key in BACKING_SPRS},
        "reserve": NONE if reserve == MASK64 else reserve,
        "reserve_len": state["env.reserve_length"],
        "icount": state["icount"], "tb_offset": state["tb_offset"],
        "dec_written": state["dec_written"], "dec_written_at": state["dec_written_at"],
        "dec_expiry": state["dec_expiry"], "pending_dec": state["pending_dec"],
        "dec_bits": state["dec_bits"], "lpcr_ile": state["lpcr_ile"],
        "halted": state["halted"], "dabr": state["env.dabr"], "dabrx": state["env.dabrx"],
        "compat_pvr": state["compat_pvr"],     # None: the stream did not carry it
    }
    # Without cpu/slb the entries load as zeros: the destination's reset SLB.
    cpu["slb_esid"], cpu["slb_vsid"] = _slb_import(state["env.slb"])
    for number, name in _ATTRIBUTE_SPRS.items():
        cpu[name] = spr[number]
    cpu["pcr"] = spr[SPR_PCR]       # as sent; the destination derives its own from compat_pvr
    return cpu


def _cpu_section(index: int) -> "DeviceSection":
    """vCPU `index`'s "cpu" section: instance `index`, its state snapshot["cpus"][index]."""
    def export(snapshot: Snapshot) -> State:
        return _cpu_export(snapshot["cpus"][index])

    def apply(state: State, snapshot: Snapshot) -> None:
        cpus = snapshot.setdefault("cpus", [])
        cpus.extend([None] * (index + 1 - len(cpus)))
        cpus[index] = _cpu_import(state)

    return DeviceSection(CPU, index, export, apply)


SPAPR = VMStateDescription("spapr", 1, 1, (Field("rtc_offset", FLOAT64, default=0.0),))

# The hvterm's console input that arrived but the guest has not read yet.
VTY = VMStateDescription("spapr-vty", 1, 1, (
    Field("pending_len", UINT32),
    Field("pending", BUFFER, size_field="pending_len", default=b""),
))

# QEMU's migration/global_state.c: the run state the source was in, so the destination
# starts the guest only if it was running.
GLOBALSTATE = VMStateDescription("globalstate", 1, 1, (
    Field("size", UINT32),
    Field("runstate", BUFFER, size=RUNSTATE_SIZE),
))


def _runstate_export(snapshot: Snapshot) -> State:
    name = snapshot["runstate"].encode()
    return {"size": len(name) + 1, "runstate": name.ljust(RUNSTATE_SIZE, b"\0")}


def _runstate_import(state: State, snapshot: Snapshot) -> None:
    snapshot["runstate"] = state["runstate"].split(b"\0", 1)[0].decode("ascii", "replace")


@dataclass(frozen=True)
class DeviceSection:
    vmsd: VMStateDescription
    instance_id: int
    export: Callable[[Snapshot], State]          # QEMU's pre_save
    apply: Callable[[State, Snapshot], None]     # QEMU's post_load

    @property
    def name(self) -> str:
        return self.vmsd.name


Key = Tuple[str, int]      # a section's (name, instance_id): what a stream identifies it by


def section_key(section: DeviceSection) -> Key:
    return section.name, section.instance_id


def describe_key(key: Key) -> str:
    """A section's name as messages give it: "spapr", "cpu 0", "cpu 3" (vCPUs by index)."""
    name, instance_id = key
    return f"{name} {instance_id}" if name == CPU.name or instance_id else name


@lru_cache(maxsize=None)
def device_sections(cpu_count: int) -> Tuple[DeviceSection, ...]:
    """The device sections of a machine with `cpu_count` vCPUs, in stream order: "spapr",
    then "cpu" instance 0 to cpu_count - 1 (QEMU's order: vCPUs register as they are made),
    then "spapr-vty" and "globalstate"."""
    if cpu_count < 1:
        raise ValueError(f"{cpu_count} vCPUs: a machine has at least one")
    return (
        DeviceSection(SPAPR, 0, lambda s: {"rtc_offset": float(s["rtc_offset"])},
                      lambda state, s: s.update(rtc_offset=state["rtc_offset"])),
        *(_cpu_section(index) for index in range(cpu_count)),
        DeviceSection(VTY, 0, lambda s: {"pending_len": len(s["console_pending"]) // 2,
                                         "pending": bytes.fromhex(s["console_pending"])},
                      lambda state, s: s.update(console_pending=state["pending"].hex())),
        DeviceSection(GLOBALSTATE, 0, _runstate_export, _runstate_import),
    )


# A 1-vCPU machine's sections; `ppcd dump-vmstate` describes these (one "cpu" per type).
DEVICE_SECTIONS: Tuple[DeviceSection, ...] = device_sections(1)


def cpu_count_of(sections: Iterable[DeviceSection]) -> int:
    return sum(1 for section in sections if section.name == CPU.name)


def find_section(name: str, instance_id: int,
                 sections: Iterable[DeviceSection] = DEVICE_SECTIONS) -> DeviceSection:
    """The section a stream names; QEMU's error for one this machine does not have (a vCPU
    the destination lacks included: "Unknown savevm section or instance 'cpu' 2. ...")."""
    for section in sections:
        if section.name == name and section.instance_id == instance_id:
            return section
    raise VMStateError(f"Unknown savevm section or instance '{name}' {instance_id}. Make sure "
                       "that your current VM setup matches your saved VM setup, including any "
                       "hotplugged devices")


def missing_sections(sections: Iterable[DeviceSection], loaded: Iterable[Key]) -> None:
    """Every section of this machine must have come: a vCPU whose state the stream lacks would
    start from reset, so the load fails instead (a destination with more vCPUs)."""
    loaded = set(loaded)
    missing = [section_key(s) for s in sections if section_key(s) not in loaded]
    if not missing:
        return
    message = f"the stream lacks the state of {', '.join(describe_key(k) for k in missing)}"
    ours = sum(1 for name, _ in missing if name == CPU.name)
    theirs = sum(1 for name, _ in loaded if name == CPU.name)
    if ours and theirs:
        message += (f": it carries {theirs} vCPU{'s' if theirs != 1 else ''} and this machine "
                    f"has {theirs + ours}; start the destination with the source's --smp")
    raise VMStateError(message)


def check_cpu(snapshot: Snapshot, pvr: int) -> None:
    """The destination runs the CPU model the source ran (QEMU checks the PVR the same way),
    on every vCPU."""
    for index, cpu in enumerate(snapshot["cpus"]):
        theirs = cpu["pvr"]
        if theirs != pvr:
            where = "cpu" if index == 0 else f"cpu {index}"
            raise VMStateError(f"{where}: the stream's PVR {theirs:#010x} does not match this "
                               f"machine's {pvr:#010x}: start the destination with the "
                               "source's --cpu")


@dataclass(frozen=True)
class MachineType:
    name: str
    properties: Mapping[str, Any]     # compat properties: what this type's streams carry
    description: str


# Oldest first; `pseries` names the newest. A released type is never changed, only added to
# (tests/migration/schemas holds each one's schema; the checker compares against them).
MACHINE_TYPES: Tuple[MachineType, ...] = (
    MachineType("pseries-0.1", {"migration.send-configuration": True,
                                "migration.send-section-footer": True,
                                COMPAT_SUBSECTION: COMPAT_NEVER},
                "pSeries Logical Partition (PAPR compliant), ppcd 0.1 stream format"),
    MachineType("pseries-0.2", {"migration.send-configuration": True,
                                "migration.send-section-footer": True,
                                COMPAT_SUBSECTION: COMPAT_NONZERO},
                "pSeries Logical Partition (PAPR compliant), ppcd 0.2 stream format "
                "(cpu/compat)"),
    MachineType("pseries-0.3", {"migration.send-configuration": True,
                                "migration.send-section-footer": True,
                                COMPAT_SUBSECTION: COMPAT_NONZERO,
                                SLB_SUBSECTION: True},
                "pSeries Logical Partition (PAPR compliant), ppcd 0.3 stream format "
                "(cpu/slb)"),
)
DEFAULT_MACHINE = "pseries"


def machine_type(name: str) -> MachineType:
    if name == DEFAULT_MACHINE:
        return MACHINE_TYPES[-1]
    for candidate in MACHINE_TYPES:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown machine type {name!r}: use one of "
                     + ", ".join(m.name for m in MACHINE_TYPES))


def dump_vmstate(machine: MachineType) -> Dict[str, Any]:
    """`ppcd dump-vmstate`: every section a machine type's streams may carry, as JSON data."""
    dump: Dict[str, Any] = {"vmschkmachine": {"Name": machine.name,
                                              "Properties": dict(machine.properties)}}
    for section in DEVICE_SECTIONS:
        dump[section.name] = {"Name": section.name, "instance_id": section.instance_id,
                              "version_id": section.vmsd.version_id,
                              "minimum_version_id": section.vmsd.minimum_version_id,
                              "Description": schema(section.vmsd, machine.properties)}
    dump["ram"] = {"Name": "ram", "instance_id": 0, "version_id": 4, "minimum_version_id": 4,
                   "Description": {"name": "ram", "iterable": True}}
    return dump
