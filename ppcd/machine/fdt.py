"""Flattened device tree (DTB) writer and reader.

The blob layout is the one of the Devicetree Specification, format version 17 (last compatible
version 16), which is what QEMU hands a pseries guest and what ``dtc``/libfdt read:
a 40-byte header, the memory reservation block, the structure block and the strings block.

Standard library only: the worker process (maybe under PyPy) inspects trees with it too.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple, Union

FDT_MAGIC = 0xD00DFEED
FDT_VERSION = 17
FDT_LAST_COMP_VERSION = 16

FDT_BEGIN_NODE = 0x1
FDT_END_NODE = 0x2
FDT_PROP = 0x3
FDT_NOP = 0x4
FDT_END = 0x9

_HEADER = struct.Struct(">10I")
_RSV_ENTRY = struct.Struct(">QQ")

# Character sets of dtc's checks (node_name_chars, property_name_chars): what dtc accepts is what
# every consumer of the tree (Linux, SLOF, libfdt users) has been tested with.
_NODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,._+-")
_PROP_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,._+*#?-")

PropValue = Union[bytes, bytearray, str, int, Sequence[str], Sequence[int]]


def _check_u32(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{what} {value:#x} does not fit in 32 bits")
    return value


def _check_u64(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value <= 0xFFFFFFFFFFFFFFFF:
        raise ValueError(f"{what} {value:#x} does not fit in 64 bits")
    return value


def u64(value: int) -> bytes:
    """One 64-bit value as two big-endian cells (e.g. a ``reg`` entry with 2 address cells)."""
    return struct.pack(">Q", _check_u64(value, "64-bit value"))


def cells64(values: Iterable[int]) -> bytes:
    """A list of 64-bit values, each as two big-endian cells."""
    return b"".join(u64(v) for v in values)


def _encode_string(text: str, what: str) -> bytes:
    if "\0" in text:
        raise ValueError(f"{what} contains a NUL character: {text!r}")
    try:
        return text.encode("ascii") + b"\0"
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not ASCII: {text!r}") from None


def encode_value(value: PropValue, what: str = "property value") -> bytes:
    """Encode a property value: bytes raw, str NUL-terminated, [str] string list, int or [int]
    big-endian 32-bit cells. 64-bit quantities go through ``u64``/``cells64`` (explicit, because
    the cell count is part of the binding and cannot be guessed from the number)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return _encode_string(value, what)
    if isinstance(value, int) and not isinstance(value, bool):
        return struct.pack(">I", _check_u32(value, what))
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return b"".join(_encode_string(v, what) for v in value)
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return b"".join(struct.pack(">I", _check_u32(v, what)) for v in value)
        raise TypeError(f"{what} list must hold only str or only int: {value!r}")
    raise TypeError(f"{what} has unsupported type {type(value).__name__}")


def _check_node_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"node name must be a str, not {type(name).__name__}")
    base, at, unit = name.partition("@")
    if not base:
        raise ValueError(f"invalid node name {name!r}: empty base name")
    if at and not unit:
        raise ValueError(f"invalid node name {name!r}: empty unit address after '@'")
    bad = set(base + unit) - _NODE_CHARS
    if bad:
        raise ValueError(f"invalid node name {name!r}: bad characters {''.join(sorted(bad))!r}")
    return name


def _check_prop_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"property name must be a str, not {type(name).__name__}")
    if not name:
        raise ValueError("invalid property name: empty")
    bad = set(name) - _PROP_CHARS
    if bad:
        raise ValueError(f"invalid property name {name!r}: bad characters {''.join(sorted(bad))!r}")
    return name


class FdtNode:
    """A device-tree node: ordered properties (name -> encoded bytes) and ordered children.

    The root node is ``FdtNode("")``; every other node needs a valid name such as ``cpus`` or
    ``vty@71000000``.
    """

    def __init__(self, name: str = "") -> None:
        self._name = name if name == "" else _check_node_name(name)
        self._props: dict[str, bytes] = {}
        self._children: dict[str, FdtNode] = {}

    @property
    def name(self) -> str:
        """Read-only: the parent indexes its children by name."""
        return self._name

    @property
    def props(self) -> Mapping[str, bytes]:
        """Read-only view of the encoded properties, in insertion order."""
        return MappingProxyType(self._props)

    @property
    def children(self) -> tuple[FdtNode, ...]:
        return tuple(self._children.values())

    def add_child(self, name: str) -> FdtNode:
        if name == "":
            raise ValueError("invalid node name '': only the root node is unnamed")
        if name in self._children:
            raise ValueError(f"node {self.name or '/'!r} already has a child {name!r}")
        child = FdtNode(name)
        self._children[name] = child
        return child

    def set_prop(self, name: str, value: PropValue) -> None:
        """Set (or replace, keeping its position) a property; see ``encode_value``."""
        self._props[_check_prop_name(name)] = encode_value(value, f"property {name!r}")

    def set_empty(self, name: str) -> None:
        """A boolean property: present with an empty value."""
        self._props[_check_prop_name(name)] = b""

    def prop(self, name: str) -> bytes:
        try:
            return self._props[name]
        except KeyError:
            raise KeyError(f"node {self.name or '/'!r} has no property {name!r}") from None

    def cells(self, name: str) -> list[int]:
        """A property decoded as big-endian 32-bit cells."""
        raw = self.prop(name)
        if len(raw) % 4:
            raise ValueError(f"property {name!r} is {len(raw)} bytes, not a whole number of cells")
        return list(struct.unpack(f">{len(raw) // 4}I", raw))

    def strings(self, name: str) -> list[str]:
        """A property decoded as a list of NUL-terminated strings."""
        raw = self.prop(name)
        if not raw.endswith(b"\0"):
            raise ValueError(f"property {name!r} is not NUL-terminated")
        return raw[:-1].decode("ascii", "replace").split("\0")

    def string(self, name: str) -> str:
        values = self.strings(name)
        if len(values) != 1:
            raise ValueError(f"property {name!r} holds {len(values)} strings, not one")
        return values[0]

    @property
    def phandle(self) -> int | None:
        return self.cells("phandle")[0] if "phandle" in self._props else None

    def child(self, name: str) -> FdtNode | None:
        """A direct child by full name, or (like libfdt) by base name when no '@' is given."""
        found = self._children.get(name)
        if found is None and "@" not in name:
            found = next((c for c in self._children.values() if c.name.split("@")[0] == name), None)
        return found

    def find(self, path: str) -> FdtNode | None:
        """The node at ``path`` (e.g. "/cpus/PowerPC,POWER9@0") below this node, or None."""
        node: FdtNode | None = self
        for component in path.split("/"):
            if component and node is not None:
                node = node.child(component)
        return node

    def walk(self, path: str = "/") -> Iterator[tuple[str, FdtNode]]:
        """Every node of this subtree with its path, parents before children."""
        yield path, self
        for c in self._children.values():
            yield from c.walk(path.rstrip("/") + "/" + c.name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FdtNode):
            return NotImplemented
        return (
            self.name == other.name
            and list(self._props.items()) == list(other._props.items())
            and self.children == other.children
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"FdtNode({self.name!r}, {len(self._props)} props, {len(self._children)} children)"


def assign_phandles(root: FdtNode, first: int = 1) -> None:
    """Give every node without a ``phandle`` one, counting up from ``first`` and skipping the
    ones already taken (QEMU's VOF does the same, so OF client calls can name any node)."""
    taken = {node.phandle for _, node in root.walk()}
    handle = first
    for _, node in root.walk():
        if node.phandle is None:
            while handle in taken or handle in (0, 0xFFFFFFFF):  # 0 and ~0 are invalid phandles
                handle += 1
            node.set_prop("phandle", _check_u32(handle, "phandle"))
            taken.add(handle)


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def to_dtb(
    root: FdtNode,
    boot_cpuid_phys: int = 0,
    reserved: Iterable[tuple[int, int]] = (),
) -> bytes:
    """Serialise ``root`` as a version-17 DTB; ``reserved`` lists (address, size) ranges for the
    memory reservation block."""
    _check_u32(boot_cpuid_phys, "boot_cpuid_phys")
    rsv = bytearray()
    for address, size in reserved:
        _check_u64(address, "reserved address")
        # A zero size reads as the block's terminator (libfdt stops there), so reject it.
        if _check_u64(size, "reserved size") == 0:
            raise ValueError(f"reserved range at {address:#x} has zero size")
        rsv += _RSV_ENTRY.pack(address, size)
    rsv += _RSV_ENTRY.pack(0, 0)

    strings = bytearray()
    string_offsets: dict[str, int] = {}
    dt_struct = bytearray()

    def emit(node: FdtNode) -> None:
        dt_struct.extend(struct.pack(">I", FDT_BEGIN_NODE))
        dt_struct.extend(_pad4(node.name.encode("ascii") + b"\0"))
        for name, value in node.props.items():
            offset = string_offsets.get(name)
            if offset is None:
                offset = string_offsets[name] = len(strings)
                strings.extend(name.encode("ascii") + b"\0")
            dt_struct.extend(struct.pack(">III", FDT_PROP, len(value), offset))
            dt_struct.extend(_pad4(value))
        for c in node.children:
            emit(c)
        dt_struct.extend(struct.pack(">I", FDT_END_NODE))

    if root.name:
        raise ValueError(f"the root node must be named '', not {root.name!r}")
    emit(root)
    dt_struct.extend(struct.pack(">I", FDT_END))

    off_rsvmap = _HEADER.size  # 40: already 8-aligned as the reservation block requires
    off_struct = off_rsvmap + len(rsv)
    off_strings = off_struct + len(dt_struct)
    total = off_strings + len(strings)
    header = _HEADER.pack(
        FDT_MAGIC,
        total,
        off_struct,
        off_strings,
        off_rsvmap,
        FDT_VERSION,
        FDT_LAST_COMP_VERSION,
        boot_cpuid_phys,
        len(strings),
        len(dt_struct),
    )
    return header + bytes(rsv) + bytes(dt_struct) + bytes(strings)


class FdtHeader(NamedTuple):
    magic: int
    totalsize: int
    off_dt_struct: int
    off_dt_strings: int
    off_mem_rsvmap: int
    version: int
    last_comp_version: int
    boot_cpuid_phys: int
    size_dt_strings: int
    size_dt_struct: int


def read_header(blob: bytes) -> FdtHeader:
    """The validated header of a DTB (version 16 or 17 layout)."""
    if len(blob) < _HEADER.size:
        raise ValueError(f"DTB too short for a header: {len(blob)} bytes")
    hdr = FdtHeader(*_HEADER.unpack_from(blob))
    if hdr.magic != FDT_MAGIC:
        raise ValueError(f"bad DTB magic {hdr.magic:#010x}")
    if hdr.version < 16 or hdr.last_comp_version > FDT_VERSION:
        raise ValueError(
            f"unsupported DTB version {hdr.version} (last compatible {hdr.last_comp_version})"
        )
    if hdr.totalsize > len(blob):
        raise ValueError(f"DTB totalsize {hdr.totalsize} exceeds the {len(blob)} bytes given")
    # Version 16 has no size_dt_struct: the structure block then runs to the end of the blob.
    struct_size = hdr.size_dt_struct if hdr.version >= 17 else hdr.totalsize - hdr.off_dt_struct
    # The reservation block holds 64-bit entries and the structure block 32-bit tokens.
    for what, offset, size, align in (
        ("memory reservation block", hdr.off_mem_rsvmap, 0, 8),
        ("structure block", hdr.off_dt_struct, struct_size, 4),
        ("strings block", hdr.off_dt_strings, hdr.size_dt_strings, 1),
    ):
        if offset % align or offset + size > hdr.totalsize:
            raise ValueError(f"DTB {what} at {offset:#x}+{size:#x} is misaligned or out of bounds")
    return hdr._replace(size_dt_struct=struct_size)


def read_reservations(blob: bytes) -> list[tuple[int, int]]:
    """The (address, size) ranges of the memory reservation block."""
    hdr = read_header(blob)
    result = []
    offset = hdr.off_mem_rsvmap
    while True:
        if offset + _RSV_ENTRY.size > hdr.totalsize:
            raise ValueError("DTB memory reservation block has no terminating entry")
        address, size = _RSV_ENTRY.unpack_from(blob, offset)
        if size == 0:
            return result
        result.append((address, size))
        offset += _RSV_ENTRY.size


def parse_dtb(blob: bytes) -> FdtNode:
    """Read a DTB back into an ``FdtNode`` tree (the root)."""
    hdr = read_header(blob)
    blob = bytes(blob)
    pos = hdr.off_dt_struct
    end = pos + hdr.size_dt_struct
    strings = blob[hdr.off_dt_strings : hdr.off_dt_strings + hdr.size_dt_strings]

    def word() -> int:
        nonlocal pos
        if pos + 4 > end:
            raise ValueError("DTB structure block ends in the middle of a token")
        (value,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        return value

    def cstring(data: bytes, start: int, limit: int, what: str) -> str:
        stop = data.find(b"\0", start, limit)
        if stop < 0:
            raise ValueError(f"DTB {what} at {start:#x} is not NUL-terminated")
        return data[start:stop].decode("ascii", "replace")

    stack: list[FdtNode] = []
    root: FdtNode | None = None
    while True:
        token = word()
        if token == FDT_BEGIN_NODE:
            name = cstring(blob, pos, end, "node name")
            pos += len(name) + 1
            pos += -pos % 4
            if not stack:
                if root is not None:
                    raise ValueError("DTB has more than one root node")
                root = FdtNode("")
                stack.append(root)
            else:
                stack.append(stack[-1].add_child(name))
        elif token == FDT_PROP:
            if not stack:
                raise ValueError("DTB property outside any node")
            length, name_off = word(), word()
            if pos + length > end:
                raise ValueError("DTB property value runs past the structure block")
            name = cstring(strings, name_off, len(strings), "property name")
            stack[-1]._props[_check_prop_name(name)] = blob[pos : pos + length]
            pos += length + (-length % 4)
        elif token == FDT_END_NODE:
            if not stack:
                raise ValueError("DTB has an unbalanced FDT_END_NODE")
            stack.pop()
        elif token == FDT_END:
            if stack or root is None:
                raise ValueError("DTB ends inside a node or has no root node")
            return root
        elif token != FDT_NOP:
            raise ValueError(f"DTB has unknown structure token {token:#x} at {pos - 4:#x}")
