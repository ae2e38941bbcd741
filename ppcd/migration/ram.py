"""RAM in the stream: QEMU's "ram" section, version 4 (migration/ram.c), and pre-copy.

Records are a be64 of page address | flags, then per flag:
  MEM_SIZE  (setup) for each RAMBlock its id and be64 length; the address is the total size
  ZERO      the block id unless CONTINUE, then one fill byte (0)
  PAGE      the block id unless CONTINUE, then the page
  EOS       end of this section's records
ppcd has one RAMBlock, QEMU pseries's "ppc_spapr.ram".

No dirty store is missed (DESIGN.md): the worker writes a page and then sets its mark in the
shared dirty map; migration clears a page's mark and only then copies the page. A store that
lands before the clear is in the copy, one after it leaves the mark set for the next pass.

Pages nobody has written since reset are sent as ZERO records without being read: the control
process keeps `GuestRAM.written`, the pages whose marks migration took, and a page that is in
neither map has held zeros since reset.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass
from typing import Iterator

from ..machine.ram import PAGE_SIZE, GuestRAM
from .vmstate import Cursor, Truncated, VMStateError, idstr

RAM_SAVE_FLAG_ZERO = 0x02
RAM_SAVE_FLAG_MEM_SIZE = 0x04
RAM_SAVE_FLAG_PAGE = 0x08
RAM_SAVE_FLAG_EOS = 0x10
RAM_SAVE_FLAG_CONTINUE = 0x20
RAM_SAVE_FLAG_XBZRLE = 0x40
RAM_SECTION = "ram"
RAM_VERSION = 4
BLOCK_ID = "ppc_spapr.ram"

PAGE_SHIFT = 12
ZERO_PAGE = bytes(PAGE_SIZE)
ZERO_RECORD = 9                 # be64 header + fill byte
# Pages handled per step: a few milliseconds of work between two awaits of the control loop.
CHUNK_PAGES = 2048
_FLAG_MASK = PAGE_SIZE - 1


def _be64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def zero_records(first_page: int, count: int) -> bytes:
    """`count` ZERO|CONTINUE records for consecutive pages, built without a Python loop."""
    flags = RAM_SAVE_FLAG_ZERO | RAM_SAVE_FLAG_CONTINUE
    headers = array("Q", range((first_page << PAGE_SHIFT) | flags,
                               ((first_page + count) << PAGE_SHIFT) | flags, PAGE_SIZE))
    if sys.byteorder == "little":
        headers.byteswap()
    raw = headers.tobytes()
    out = bytearray(ZERO_RECORD * count)      # the ninth byte of each record is the fill, 0
    for i in range(8):
        out[i::ZERO_RECORD] = raw[i::8]
    return bytes(out)


def _runs(marks: bytes, start: int = 0) -> Iterator[tuple]:
    """(first, end) of each run of non-zero bytes in a 0/1 map."""
    end = len(marks)
    position = start
    while True:
        first = marks.find(1, position)
        if first < 0:
            return
        last = marks.find(0, first)
        last = end if last < 0 else last
        yield first, last
        position = last


def _or(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(len(a), "little")


@dataclass
class RAMStats:
    """QEMU's MigrationStats for RAM (qapi/migration.json MigrationStats)."""

    transferred: int = 0
    duplicate: int = 0          # zero pages
    normal: int = 0             # pages sent in full
    dirty_sync_count: int = 0
    precopy_bytes: int = 0
    downtime_bytes: int = 0


class RAMSaver:
    """The source side: setup records, then passes over the pages that need sending."""

    def __init__(self, ram: GuestRAM) -> None:
        self.ram = ram
        self.stats = RAMStats()
        self._first = True      # the next record names the block (no CONTINUE)

    def setup(self) -> bytes:
        return (_be64(self.ram.size | RAM_SAVE_FLAG_MEM_SIZE) + idstr(BLOCK_ID)
                + _be64(self.ram.size) + _be64(RAM_SAVE_FLAG_EOS))

    def begin_section(self) -> None:
        self._first = True

    @staticmethod
    def end_of_section() -> bytes:
        return _be64(RAM_SAVE_FLAG_EOS)

    def remaining_pages(self) -> int:
        """Pages marked dirty and not yet sent again."""
        return self.ram.dirty[:].count(1)

    def _header(self, page: int, flag: int) -> bytes:
        if self._first:
            self._first = False
            return _be64((page << PAGE_SHIFT) | flag) + idstr(BLOCK_ID)
        return _be64((page << PAGE_SHIFT) | flag | RAM_SAVE_FLAG_CONTINUE)

    def _zeros(self, first: int, end: int) -> bytes:
        self.stats.duplicate += end - first
        if self._first:
            return self._header(first, RAM_SAVE_FLAG_ZERO) + b"\0" + \
                zero_records(first + 1, end - first - 1)
        return zero_records(first, end - first)

    def _copy(self, first: int, end: int) -> bytes:
        """Send pages [first, end): marks taken (and remembered in `written`), then copied."""
        ram = self.ram
        ram.written[first:end] = b"\1" * (end - first)
        ram.dirty[first:end] = bytes(end - first)
        data = ram.ram[first << PAGE_SHIFT:end << PAGE_SHIFT]
        parts = []
        for page in range(first, end):
            offset = (page - first) << PAGE_SHIFT
            content = data[offset:offset + PAGE_SIZE]
            if content == ZERO_PAGE:
                self.stats.duplicate += 1
                parts.append(self._header(page, RAM_SAVE_FLAG_ZERO) + b"\0")
            else:
                self.stats.normal += 1
                parts.append(self._header(page, RAM_SAVE_FLAG_PAGE))
                parts.append(content)
        return b"".join(parts)

    def first_pass(self) -> Iterator[bytes]:
        """Every page once: never-written pages as ZERO records unread, the rest copied."""
        self.stats.dirty_sync_count += 1
        ram = self.ram
        for chunk in range(0, ram.pages, CHUNK_PAGES):
            chunk_end = min(chunk + CHUNK_PAGES, ram.pages)
            # A page may hold data if migration took its mark before or it is marked now. A
            # page marked after this read stays marked and goes again in the next pass.
            maybe = _or(ram.dirty[chunk:chunk_end], bytes(ram.written[chunk:chunk_end]))
            parts = []
            position = 0
            for first, end in _runs(maybe):
                if first > position:
                    parts.append(self._zeros(chunk + position, chunk + first))
                parts.append(self._copy(chunk + first, chunk + end))
                position = end
            if position < chunk_end - chunk:
                parts.append(self._zeros(chunk + position, chunk_end))
            yield b"".join(parts)

    def dirty_pass(self) -> Iterator[bytes]:
        """The pages marked dirty now, each mark cleared right before its page is copied."""
        self.stats.dirty_sync_count += 1
        marks = self.ram.dirty[:]
        batch = []
        size = 0
        for first, end in _runs(marks):
            for start in range(first, end, CHUNK_PAGES):
                stop = min(start + CHUNK_PAGES, end)
                batch.append(self._copy(start, stop))
                size += stop - start
                if size >= CHUNK_PAGES:
                    yield b"".join(batch)
                    batch, size = [], 0
        if batch:
            yield b"".join(batch)


class RAMLoader:
    """The destination side: applies records to guest RAM as they arrive."""

    def __init__(self, ram: GuestRAM) -> None:
        self.ram = ram
        self.block_seen = False
        self._zero_try = 4096       # records tried at once on a run of ZERO records

    def _block(self, cursor: Cursor, flags: int) -> None:
        if flags & RAM_SAVE_FLAG_CONTINUE:
            if not self.block_seen:
                raise VMStateError("Ack, bad migration stream!")
            return
        name = cursor.idstr()
        if name != BLOCK_ID:
            raise VMStateError(f"Unknown ramblock \"{name}\", cannot accept migration")
        self.block_seen = True

    def _zero(self, first: int, end: int) -> None:
        ram = self.ram
        if ram.written.find(1, first, end) >= 0 or ram.dirty.find(b"\1", first, end) >= 0:
            ram.ram[first << PAGE_SHIFT:end << PAGE_SHIFT] = bytes((end - first) << PAGE_SHIFT)

    def _page(self, page: int) -> int:
        if page >= self.ram.pages:
            raise VMStateError(f"Illegal RAM offset {page << PAGE_SHIFT:x}")
        return page

    def setup(self, cursor: Cursor) -> None:
        header = int.from_bytes(cursor.read(8), "big")
        flags = header & _FLAG_MASK
        if not flags & RAM_SAVE_FLAG_MEM_SIZE:
            raise VMStateError(f"Unknown combination of migration flags: {flags:#x}")
        total = header & ~_FLAG_MASK
        while total > 0:
            name = cursor.idstr()
            length = int.from_bytes(cursor.read(8), "big")
            if name != BLOCK_ID:
                raise VMStateError(f"Unknown ramblock \"{name}\", cannot accept migration")
            if length != self.ram.size:
                raise VMStateError(f"Length mismatch: {name}: 0x{length:x} in != "
                                   f"0x{self.ram.size:x}: Invalid argument")
            total -= length
        if int.from_bytes(cursor.read(8), "big") != RAM_SAVE_FLAG_EOS:
            raise VMStateError("ram: setup does not end with EOS")

    def records(self, buffer: bytearray, position: int) -> tuple:
        """Apply the complete records from `position`; returns (new position, EOS seen).

        Raises Truncated only when not even one record was complete: the caller then waits
        for more data and calls again.
        """
        view = memoryview(buffer)
        ram = self.ram
        start = position
        try:
            while True:
                cursor = Cursor(buffer, position)
                header = int.from_bytes(cursor.read(8), "big")
                flags = header & _FLAG_MASK
                page = self._page(header >> PAGE_SHIFT)
                if flags == RAM_SAVE_FLAG_EOS:
                    return cursor.position, True
                if flags == RAM_SAVE_FLAG_ZERO | RAM_SAVE_FLAG_CONTINUE and self.block_seen:
                    position = self._zero_run(buffer, position, page)
                    continue
                self._block(cursor, flags)
                kind = flags & ~RAM_SAVE_FLAG_CONTINUE
                if kind == RAM_SAVE_FLAG_ZERO:
                    if cursor.byte() != 0:
                        raise VMStateError("ram: ZERO page with a non-zero fill byte")
                    self._zero(page, page + 1)
                elif kind == RAM_SAVE_FLAG_PAGE:
                    offset = cursor.position
                    if offset + PAGE_SIZE > len(buffer):
                        raise Truncated()
                    cursor.position += PAGE_SIZE
                    ram.ram[page << PAGE_SHIFT:(page + 1) << PAGE_SHIFT] = \
                        view[offset:offset + PAGE_SIZE]
                    ram.dirty[page] = 1
                elif kind & RAM_SAVE_FLAG_XBZRLE:
                    raise VMStateError("Failed to load XBZRLE page - XBZRLE is not enabled")
                else:
                    raise VMStateError(f"Unknown combination of migration flags: {flags:#x}")
                position = cursor.position
        except Truncated:
            if position == start:
                raise
            return position, False
        finally:
            view.release()

    def _zero_run(self, buffer: bytearray, position: int, page: int) -> int:
        """A ZERO|CONTINUE record at `position`: take as many consecutive ones as match at once
        (the first pass sends long runs of them), else just this one."""
        available = (len(buffer) - position) // ZERO_RECORD
        count = min(self._zero_try, available, self.ram.pages - page)
        if count > 1 and buffer[position:position + count * ZERO_RECORD] == \
                zero_records(page, count):
            self._zero(page, page + count)
            self._zero_try = min(self._zero_try * 2, 1 << 16)
            return position + count * ZERO_RECORD
        if count > 1:
            self._zero_try = max(self._zero_try // 2, 2)
        if available < 1:
            raise Truncated()
        if buffer[position + 8] != 0:
            raise VMStateError("ram: ZERO page with a non-zero fill byte")
        self._zero(page, page + 1)
        return position + ZERO_RECORD
