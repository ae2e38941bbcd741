"""The pre-flight handshake between ppcd peers, and what a stream can carry to its destination.

On a connection (tcp:, unix:) the source connects and stays silent; a ppcd destination that
hears nothing for GREET_AFTER greets it first:

    "PPCDHELO" be32 length, JSON {"ppcd": version, "machine": type, "max-cpu-compat": PVR,
                                  "sections": {name: {"version_id", "minimum_version_id",
                                                      "subsections": {name: version_id}}},
                                  "cpus": vCPU count}

The source answers before its stream, so the destination knows the greeting was read:

    "PPCDPLAN" be32 length, JSON {"accept": true} or {"refuse": "why, one line"}

A greeting without "cpus" (ppcd before SMP) says nothing of the vCPU count; one with it lets
the source refuse a destination whose --smp differs before the guest stops (the stream has
one "cpu" section per vCPU, which the destination would refuse only at the end).

On acceptance the QEVM stream follows, left as QEMU's analyze-migration.py reads it (the
handshake is not part of the stream). A source that hears no greeting within GREETING_TIMEOUT
talks to a peer without the handshake (ppcd 0.1, or a file/exec stream it never waits on):
it sends what the machine type allows. A ppcd 0.1 source sends its stream at once, so a
destination that receives data before greeting keeps quiet: the old source's return path
must see nothing but its SHUT message.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Optional, Sequence, Tuple

import trio

from .. import __version__
from ..cpu.compat import mode_name
from .machine import (
    COMPAT_NEVER,
    COMPAT_SECTION,
    COMPAT_SUBSECTION,
    DESTINATION_MAX_COMPAT,
    MACHINE_TYPES,
    DeviceSection,
    MachineType,
    compat_needed,
    cpu_count_of,
    section_key,
)
from .vmstate import Cursor, Truncated, VMStateDescription

GREETING = b"PPCDHELO"
PLAN = b"PPCDPLAN"
MAGIC_SIZE = 8
_LENGTH = struct.Struct(">I")
MAX_MESSAGE = 1 << 20
# The destination greets a source silent this long; an old source has sent its header by then.
GREET_AFTER = 0.02
# A source waits this long for a greeting before it takes its peer for one without handshake
# (a busy destination greets within milliseconds; only a ppcd 0.1 peer costs the wait).
GREETING_TIMEOUT = 2.0


class HandshakeError(Exception):
    """A malformed greeting or plan; one line."""


def _message(magic: bytes, body: Dict[str, Any]) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    return magic + _LENGTH.pack(len(data)) + data


def parse_message(cursor: Cursor, magic: bytes) -> Optional[Dict[str, Any]]:
    """A message with this magic at the cursor (Truncated when incomplete), else None and the
    cursor left where it was."""
    start = cursor.position
    if cursor.read(MAGIC_SIZE) != magic:
        cursor.position = start
        return None
    length = cursor.be32()
    if length > MAX_MESSAGE:
        raise HandshakeError("the migration handshake message is too long")
    try:
        body = json.loads(cursor.read(length))
    except ValueError:
        raise HandshakeError("the migration handshake message is not JSON") from None
    if not isinstance(body, dict):
        raise HandshakeError("the migration handshake message is not a JSON object")
    return body


def _loadable(vmsd: VMStateDescription) -> Dict[str, Any]:
    return {"version_id": vmsd.version_id, "minimum_version_id": vmsd.minimum_version_id,
            "subsections": {sub.name: sub.version_id for sub in vmsd.subsections}}


def greeting(machine: MachineType, max_compat_pvr: int,
             sections: Sequence[DeviceSection]) -> bytes:
    """What this destination can load (every known subsection, whatever its machine type), and
    how many vCPUs it has (one "cpu" section each)."""
    return _message(GREETING, {
        "ppcd": __version__, "machine": machine.name, "max-cpu-compat": max_compat_pvr,
        "sections": {s.name: _loadable(s.vmsd) for s in sections},
        "cpus": cpu_count_of(sections)})


def plan_message(refusal: Optional[str]) -> bytes:
    return _message(PLAN, {"refuse": refusal} if refusal else {"accept": True})


@dataclass(frozen=True)
class Peer:
    """What the source knows of its destination."""

    version: Optional[str]              # None: no handshake (ppcd 0.1 or a file)
    max_compat_pvr: int                 # the mode it derives when cpu/compat is absent
    sections: Dict[str, Any] = field(default_factory=dict)
    handshake: bool = False
    cpu_count: Optional[int] = None     # None: not said (no handshake, or ppcd before SMP)

    @classmethod
    def from_greeting(cls, body: Dict[str, Any]) -> "Peer":
        try:
            sections = {str(name): {
                "version_id": int(section["version_id"]),
                "minimum_version_id": int(section["minimum_version_id"]),
                "subsections": {str(sub): int(version)
                                for sub, version in section["subsections"].items()}}
                for name, section in body["sections"].items()}
            cpus = body.get("cpus")
            cpu_count = None if cpus is None else int(cpus)
            if cpu_count is not None and cpu_count < 1:
                raise ValueError(cpu_count)
            return cls(str(body["ppcd"]), int(body["max-cpu-compat"]), sections,
                       handshake=True, cpu_count=cpu_count)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise HandshakeError("the destination's migration greeting is malformed") from None

    def describe(self) -> str:
        return f"ppcd {self.version}" if self.version else "a ppcd without the handshake"


def _mode(pvr: int) -> str:
    return f"{mode_name(pvr) or hex(pvr)} compatibility mode" if pvr else "raw mode"


def _max_compat(pvr: int) -> str:
    return f"--max-cpu-compat {mode_name(pvr)}" if pvr else "no --max-cpu-compat"


@dataclass(frozen=True)
class Plan:
    """What to leave out of the stream for this peer, or why it cannot be sent at all."""

    omit: FrozenSet[str] = frozenset()
    refusal: Optional[str] = None


Key = Tuple[str, int]


def plan(sections: Sequence[DeviceSection], state_of: Dict[Key, Dict[str, Any]],
         properties: Dict[str, Any], machine: MachineType, peer: Peer) -> Plan:
    """Check the vCPU count (when the peer said it), every section and needed subsection
    against what the peer loads (when it said), and each vCPU's compat mode against what the
    peer will restore (QEMU's cpu_post_load rule: the mode from cpu/compat, else the
    destination's max-cpu-compat). `state_of` holds each section's fields by (name,
    instance_id), a "cpu" entry per vCPU at least."""
    cpus = sorted(key for key in state_of if key[0] == "cpu")
    if peer.cpu_count is not None and peer.cpu_count != len(cpus):
        return Plan(refusal=f"the guest has {len(cpus)} vCPU{'s' if len(cpus) != 1 else ''} "
                            f"but the destination ({peer.describe()}) has {peer.cpu_count}: "
                            f"start the destination with --smp {len(cpus)}")
    omit = set()
    for section in sections:
        state = state_of[section_key(section)]
        if peer.handshake:
            theirs = peer.sections.get(section.name)
            version = section.vmsd.version_id
            if theirs is None or not (theirs["minimum_version_id"] <= version
                                      <= theirs["version_id"]):
                return Plan(refusal=f"the destination ({peer.describe()}) cannot load section "
                                    f"'{section.name}' version {version}")
        for sub in section.vmsd.subsections:
            if not (sub.present(properties) and sub.needed(state, properties)):
                continue
            if peer.version is None and sub.name == COMPAT_SECTION:
                omit.add(sub.name)      # ppcd 0.1 knows no cpu/compat
            elif peer.handshake:
                loads = peer.sections[section.name]["subsections"]
                if loads.get(sub.name, 0) >= sub.version_id:
                    continue
                if sub.name != COMPAT_SECTION:
                    return Plan(refusal=f"the destination ({peer.describe()}) cannot load "
                                        f"subsection '{sub.name}' version {sub.version_id}")
                omit.add(sub.name)      # decided below: equivalent, or refused
    for key in cpus:
        # ppcd keeps every vCPU in one mode (CAS sets them all): vCPU 0 speaks for the guest.
        refusal = _compat_refusal(state_of[key], properties, machine, peer, omit,
                                  f" (vCPU {key[1]})" if key[1] else "")
        if refusal is not None:
            return Plan(refusal=refusal)
    return Plan(frozenset(omit))


def _compat_refusal(state: Dict[str, Any], properties: Dict[str, Any], machine: MachineType,
                    peer: Peer, omit: "set[str]", which: str) -> Optional[str]:
    """Why one vCPU's mode cannot travel (None: it can), `which` naming the vCPU if several."""
    compat_pvr = state["compat_pvr"]
    sends = (compat_needed(state, properties) and COMPAT_SECTION not in omit
             and properties.get(COMPAT_SUBSECTION) != COMPAT_NEVER)
    if sends or compat_pvr == peer.max_compat_pvr:
        return None
    if properties.get(COMPAT_SUBSECTION) == COMPAT_NEVER and not peer.handshake \
            and peer.version is not None:
        carrier = next(m.name for m in MACHINE_TYPES
                       if m.properties.get(COMPAT_SUBSECTION) != COMPAT_NEVER)
        why = (f"machine type {machine.name} never sends cpu/compat and a destination "
               f"started like this one ({_max_compat(peer.max_compat_pvr)}) would "
               f"restore {_mode(peer.max_compat_pvr)}: migrate with --machine "
               f"{carrier} or newer")
    elif peer.version is None:
        why = (f"the destination ({peer.describe()}) has no compatibility modes and would "
               f"run the guest in raw mode")
    elif COMPAT_SECTION in omit:
        why = (f"the destination ({peer.describe()}) cannot load cpu/compat and would "
               f"restore {_mode(peer.max_compat_pvr)} from its "
               f"{_max_compat(peer.max_compat_pvr)}")
    else:
        why = (f"cpu/compat is not sent under rule "
               f"{properties.get(COMPAT_SUBSECTION)!r} and the destination would restore "
               f"{_mode(peer.max_compat_pvr)} from its {_max_compat(peer.max_compat_pvr)}")
    return (f"the guest{which} runs in {_mode(compat_pvr)}, which this migration cannot "
            f"carry: {why}")


def runtime_properties(machine: MachineType, rule: Optional[str],
                       peer: Peer) -> Dict[str, Any]:
    """The machine type's properties with the CPU's rule and the destination's max compat."""
    properties = dict(machine.properties)
    if rule is not None:
        properties[COMPAT_SUBSECTION] = rule
    properties[DESTINATION_MAX_COMPAT] = peer.max_compat_pvr
    return properties


async def receive_greeting(receive, timeout: float) -> Optional[Dict[str, Any]]:
    """The source's wait for a greeting: its body, or None when none came in time."""
    buffer = bytearray()
    with trio.move_on_after(timeout):
        while True:
            try:
                body = parse_message(Cursor(buffer), GREETING)
            except Truncated:
                pass
            else:
                if body is None:
                    raise HandshakeError("the destination sent something other than a "
                                         "migration greeting")
                return body
            data = await receive()
            if not data:
                raise HandshakeError("the destination closed the connection")
            buffer += data
    return None
