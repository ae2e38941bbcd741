"""Declarative state descriptions: QEMU's VMState idea (docs/devel/migration/main.rst), in Python.

A VMStateDescription names its fields (typed, big-endian, with the section version each first
appeared in) and its subsections (descriptions of their own, each with a version and a
`needed(state, properties)` predicate). The same description drives:
- save(): the bytes QEMU's vmstate_save_state() would write, and the stream's JSON vmdesc entry
  (only what was actually written, as QEMU's own writer records it);
- load(): reading those bytes back, checking every section and subsection version;
- schema(): the description itself for `ppcd dump-vmstate`, shaped like QEMU's -dump-vmstate.

State is a flat dict of field values per section, subsections included: like QEMU's, a
subsection describes more fields of the same object. Fields a stream does not carry (an older
version, an absent subsection) load as their defaults.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Callable, Collection, Dict, List, Mapping, Optional, Tuple

State = Dict[str, Any]
# A machine type's compat properties ("migration.send-section-footer": True, ...).
Properties = Mapping[str, Any]

QEMU_VM_SUBSECTION = 0x05


class VMStateError(Exception):
    """A stream that cannot be loaded; the message is one line in QEMU's words."""


class Truncated(VMStateError):
    """The data ended inside a value: more may still arrive on a live stream."""

    def __init__(self) -> None:
        super().__init__("unexpected end of the migration stream")


class Cursor:
    """Reads big-endian values from a buffer, raising Truncated at its end."""

    def __init__(self, data: bytes, position: int = 0) -> None:
        self.data = data
        self.position = position

    def read(self, length: int) -> bytes:
        end = self.position + length
        if end > len(self.data):
            raise Truncated()
        chunk = bytes(self.data[self.position:end])
        self.position = end
        return chunk

    def peek(self) -> int:
        if self.position >= len(self.data):
            raise Truncated()
        return self.data[self.position]

    def unpack(self, codec: struct.Struct) -> Any:
        return codec.unpack(self.read(codec.size))[0]

    def byte(self) -> int:
        return self.read(1)[0]

    def be32(self) -> int:
        return self.unpack(_BE32)

    def be64(self) -> int:
        return self.unpack(_BE64)

    def idstr(self) -> str:
        """A name as QEMU writes one: a length byte, then the bytes."""
        return self.read(self.byte()).decode("utf-8", "replace")


_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")


def idstr(name: str) -> bytes:
    raw = name.encode()
    if len(raw) > 255:
        raise ValueError(f"name {name!r} is longer than 255 bytes")
    return bytes([len(raw)]) + raw


@dataclass(frozen=True)
class FieldType:
    """A wire type: its name in the JSON vmdesc (QEMU's VMStateInfo names) and its codec."""

    name: str
    codec: Optional[struct.Struct]       # None for byte buffers

    @property
    def size(self) -> int:
        return self.codec.size if self.codec else 1


UINT8 = FieldType("uint8", struct.Struct(">B"))
UINT16 = FieldType("uint16", struct.Struct(">H"))
UINT32 = FieldType("uint32", struct.Struct(">I"))
UINT64 = FieldType("uint64", struct.Struct(">Q"))
INT8 = FieldType("int8", struct.Struct(">b"))
INT16 = FieldType("int16", struct.Struct(">h"))
INT32 = FieldType("int32", struct.Struct(">i"))
INT64 = FieldType("int64", struct.Struct(">q"))
BOOL = FieldType("bool", struct.Struct(">?"))
FLOAT64 = FieldType("float64", struct.Struct(">d"))
BUFFER = FieldType("buffer", None)


@dataclass(frozen=True)
class Field:
    """One field. `length` makes it an array; a BUFFER has a fixed `size` or takes its length
    from the earlier field `size_field` (QEMU's VMSTATE_VBUFFER)."""

    name: str
    type: FieldType
    length: Optional[int] = None
    size: Optional[int] = None
    size_field: Optional[str] = None
    version: int = 0            # first section version carrying the field (QEMU: version_id)
    default: Any = 0

    def exists(self, version_id: int) -> bool:
        return version_id >= self.version

    def initial(self) -> Any:
        if self.type is BUFFER:
            return bytes(self.size or 0) if self.default == 0 else self.default
        if self.length is not None:
            return [self.default] * self.length
        return self.default

    def buffer_size(self, state: State) -> int:
        return self.size if self.size is not None else int(state[self.size_field])

    def encode(self, value: Any, state: State, out: bytearray) -> int:
        """Append the value; returns the element size for the vmdesc."""
        if self.type is BUFFER:
            size = self.buffer_size(state)
            data = bytes(value)
            if len(data) != size:
                raise ValueError(f"field {self.name!r} holds {len(data)} bytes, not {size}")
            out += data
            return size
        codec = self.type.codec
        assert codec is not None
        if self.length is None:
            out += codec.pack(value)
        else:
            if len(value) != self.length:
                raise ValueError(f"field {self.name!r} has {len(value)} elements, "
                                 f"not {self.length}")
            out += struct.pack(f">{self.length}{codec.format[1:]}", *value)
        return codec.size

    def decode(self, cursor: Cursor, state: State) -> Any:
        if self.type is BUFFER:
            return cursor.read(self.buffer_size(state))
        codec = self.type.codec
        assert codec is not None
        if self.length is None:
            return cursor.unpack(codec)
        return list(struct.unpack(f">{self.length}{codec.format[1:]}",
                                  cursor.read(codec.size * self.length)))


def always(state: State, properties: Properties) -> bool:
    return True


def everywhere(properties: Properties) -> bool:
    return True


@dataclass(frozen=True)
class VMStateDescription:
    name: str
    version_id: int
    minimum_version_id: int
    fields: Tuple[Field, ...]
    subsections: Tuple["VMStateDescription", ...] = ()
    # Subsections only: whether this state needs to travel (QEMU's .needed); the machine
    # type's compat properties let an older machine type leave a subsection out.
    needed: Callable[[State, Properties], bool] = always
    # Subsections only: whether a machine type's streams may carry it at all (its schema).
    present: Callable[[Properties], bool] = everywhere

    def defaults(self) -> State:
        """Every field of the description and its subsections at its default value."""
        state = {f.name: f.initial() for f in self.fields}
        for sub in self.subsections:
            state.update(sub.defaults())
        return state

    def subsection(self, name: str) -> Optional["VMStateDescription"]:
        for sub in self.subsections:
            if sub.name == name:
                return sub
        return None


def save(vmsd: VMStateDescription, state: State, properties: Properties,
         out: bytearray, omit: Collection[str] = ()) -> Dict[str, Any]:
    """Write the fields and the needed subsections, less those named in `omit` (what the
    destination cannot load); returns the vmdesc entry of what was written (QEMU's
    vmstate_save_state with its JSON writer)."""
    fields: List[Dict[str, Any]] = []
    for f in vmsd.fields:
        if not f.exists(vmsd.version_id):
            continue
        size = f.encode(state[f.name], state, out)
        entry: Dict[str, Any] = {"name": f.name}
        if f.length is not None and f.length > 1:
            entry["array_len"] = f.length
        entry.update({"type": f.type.name, "size": size})
        fields.append(entry)
    desc: Dict[str, Any] = {"vmsd_name": vmsd.name, "version": vmsd.version_id,
                            "fields": fields}
    subsections = []
    for sub in vmsd.subsections:
        if sub.name not in omit and sub.present(properties) and sub.needed(state, properties):
            out.append(QEMU_VM_SUBSECTION)
            out += idstr(sub.name) + _BE32.pack(sub.version_id)
            subsections.append(save(sub, state, properties, out, omit))
    if subsections:
        desc["subsections"] = subsections
    return desc


def load(vmsd: VMStateDescription, cursor: Cursor, version_id: int,
         state: Optional[State] = None) -> State:
    """Read what save() wrote for `version_id`; messages follow QEMU's vmstate_load_state."""
    if version_id > vmsd.version_id:
        raise VMStateError(f"{vmsd.name}: incoming version_id {version_id} is too new for "
                           f"local version_id {vmsd.version_id}")
    if version_id < vmsd.minimum_version_id:
        raise VMStateError(f"{vmsd.name}: incoming version_id {version_id} is too old for "
                           f"local minimum version_id {vmsd.minimum_version_id}")
    if state is None:
        state = vmsd.defaults()
    for f in vmsd.fields:
        if f.exists(version_id):
            state[f.name] = f.decode(cursor, state)
    # Subsections follow, each introduced by QEMU_VM_SUBSECTION; anything else ends them.
    # Something always follows a section (a footer, a section or EOF), so peeking is safe.
    while cursor.peek() == QEMU_VM_SUBSECTION:
        start = cursor.position
        cursor.byte()
        name = cursor.idstr()
        sub = vmsd.subsection(name)
        if sub is None:
            if not name.startswith(vmsd.name + "/"):
                # Not ours: the parent's subsection (QEMU's vmstate_subsection_load lookup).
                cursor.position = start
                break
            raise VMStateError(f"{vmsd.name}: unknown subsection '{name}' in the stream")
        load(sub, cursor, cursor.be32(), state)
    return state


def schema(vmsd: VMStateDescription, properties: Properties) -> Dict[str, Any]:
    """The description as data, in the shape of QEMU's -dump-vmstate (vmstate-static-checker):
    what the streams of a machine type with these compat properties may carry."""
    return {
        "name": vmsd.name,
        "version_id": vmsd.version_id,
        "minimum_version_id": vmsd.minimum_version_id,
        "Fields": [{"field": f.name, "version_id": f.version, "field_exists": False,
                    "type": f.type.name,
                    "size": f.size if f.type is BUFFER and f.size is not None
                    else f.type.size,
                    **({"array_len": f.length} if f.length is not None else {}),
                    **({"size_field": f.size_field} if f.size_field else {})}
                   for f in vmsd.fields],
        "Subsections": [schema(sub, properties) for sub in vmsd.subsections
                        if sub.present(properties)],
    }
