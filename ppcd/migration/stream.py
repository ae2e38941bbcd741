"""QEMU's migration stream format (migration/savevm.c, docs/devel/migration/main.rst).

    QEVM magic, version 3
    QEMU_VM_CONFIGURATION   be32 length + machine type name
    QEMU_VM_SECTION_START   be32 id, name, be32 instance, be32 version, data   (iterable: "ram")
    QEMU_VM_SECTION_PART    be32 id, data                                     (each pass)
    QEMU_VM_SECTION_END     be32 id, data                                     (the last pass)
    QEMU_VM_SECTION_FULL    be32 id, name, be32 instance, be32 version, data  (device state)
    QEMU_VM_SECTION_FOOTER  be32 id                after every section, when the machine
                                                   type sends footers (QEMU 2.4+)
    QEMU_VM_EOF
    QEMU_VM_VMDESCRIPTION   be32 length + JSON describing the device sections as written

Writing is a few functions producing bytes; reading is StreamReader, which parses what has
arrived and waits for more, so a live socket and a file read the same way.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Awaitable, Callable, Dict, List, Tuple, TypeVar

from .vmstate import Cursor, Truncated, VMStateError, idstr

QEMU_VM_FILE_MAGIC = 0x5145564D
QEMU_VM_FILE_VERSION_COMPAT = 0x00000002
QEMU_VM_FILE_VERSION = 0x00000003

QEMU_VM_EOF = 0x00
QEMU_VM_SECTION_START = 0x01
QEMU_VM_SECTION_PART = 0x02
QEMU_VM_SECTION_END = 0x03
QEMU_VM_SECTION_FULL = 0x04
QEMU_VM_SUBSECTION = 0x05
QEMU_VM_VMDESCRIPTION = 0x06
QEMU_VM_CONFIGURATION = 0x07
QEMU_VM_COMMAND = 0x08
QEMU_VM_SECTION_FOOTER = 0x7E

_BE32 = struct.Struct(">I")
_HEADER = struct.Struct(">II")
# A buffer this far consumed is compacted: keeps memory bounded on a long stream.
COMPACT_AT = 4 << 20
T = TypeVar("T")


def header() -> bytes:
    return _HEADER.pack(QEMU_VM_FILE_MAGIC, QEMU_VM_FILE_VERSION)


def configuration(machine: str) -> bytes:
    """QEMU's vmstate_configuration: the machine type's name, so a mismatch fails early."""
    name = machine.encode()
    return bytes([QEMU_VM_CONFIGURATION]) + _BE32.pack(len(name)) + name


def section_start(kind: int, section_id: int, name: str, instance_id: int,
                  version_id: int) -> bytes:
    return (bytes([kind]) + _BE32.pack(section_id) + idstr(name)
            + _HEADER.pack(instance_id, version_id))


def section_part(kind: int, section_id: int) -> bytes:
    return bytes([kind]) + _BE32.pack(section_id)


def footer(section_id: int) -> bytes:
    return bytes([QEMU_VM_SECTION_FOOTER]) + _BE32.pack(section_id)


def eof_and_vmdesc(devices: List[Dict[str, Any]], page_size: int) -> bytes:
    # QEMU's JSON writer emits no spaces; analyze-migration.py finds the JSON after the last
    # NUL byte, which it never contains.
    text = json.dumps({"page_size": page_size, "devices": devices}, separators=(",", ":"))
    data = text.encode()
    return bytes([QEMU_VM_EOF, QEMU_VM_VMDESCRIPTION]) + _BE32.pack(len(data)) + data


class StreamReader:
    """Parses a stream as it arrives: a parse step that runs out of data is retried, from
    where it started, once more has been received."""

    def __init__(self, receive: Callable[[], Awaitable[bytes]]) -> None:
        self._receive = receive
        self.buffer = bytearray()
        self.position = 0
        self.received = 0
        self.eof = False

    async def more(self) -> None:
        if self.eof:
            raise VMStateError("the migration stream ended early (truncated)")
        data = await self._receive()
        if not data:
            self.eof = True
            return
        if self.position >= COMPACT_AT:
            del self.buffer[:self.position]
            self.position = 0
        self.buffer += data
        self.received += len(data)

    async def parse(self, step: Callable[[Cursor], T]) -> T:
        """Run step over the unread data until it completes; it commits nothing on Truncated."""
        while True:
            cursor = Cursor(self.buffer, self.position)
            try:
                result = step(cursor)
            except Truncated:
                await self.more()
                continue
            self.position = cursor.position
            return result

    async def read_header(self) -> None:
        magic, version = await self.parse(lambda c: (c.be32(), c.be32()))
        if magic != QEMU_VM_FILE_MAGIC:
            raise VMStateError("Not a migration stream")
        if version == QEMU_VM_FILE_VERSION_COMPAT:
            raise VMStateError("SaveVM v2 format is obsolete and don't work anymore")
        if version != QEMU_VM_FILE_VERSION:
            raise VMStateError(f"Unsupported migration stream version {version}")

    async def read_configuration(self, machine: str) -> None:
        def step(cursor: Cursor) -> Tuple[int, str]:
            kind = cursor.byte()
            if kind != QEMU_VM_CONFIGURATION:
                return kind, ""
            return kind, cursor.read(cursor.be32()).decode("utf-8", "replace")

        kind, name = await self.parse(step)
        if kind != QEMU_VM_CONFIGURATION:
            raise VMStateError("Configuration section missing")
        if name != machine:
            raise VMStateError(f"Machine type received is '{name}' and local is '{machine}'")

    async def read_footer(self, section_id: int, name: str) -> None:
        def step(cursor: Cursor) -> int:
            if cursor.byte() != QEMU_VM_SECTION_FOOTER:
                return -1
            return cursor.be32()

        if await self.parse(step) != section_id:
            raise VMStateError(f"Missing section footer for {name}")

    async def skip_vmdesc(self) -> None:
        """Consume the JSON description after EOF, if the source sent one."""
        def step(cursor: Cursor) -> None:
            if cursor.byte() == QEMU_VM_VMDESCRIPTION:
                cursor.read(cursor.be32())

        try:
            await self.parse(step)
        except VMStateError:
            pass        # the stream may end right after EOF
