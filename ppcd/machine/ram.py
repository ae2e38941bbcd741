"""Guest RAM and its dirty map, shared between the control process and the vCPU worker.

Both are memfds so the worker maps the very same pages (DESIGN.md): RAM is guest physical
address 0 upwards; the dirty map holds one byte per 4 KiB page, set by the worker on every
store and cleared by migration before it copies a page.

`written` (the control process's own, not shared) holds the pages whose dirty marks migration
has taken: a page in neither map has held zeros since reset, so migration sends it unread.
"""

from __future__ import annotations

import mmap
import os
import re
from typing import Optional

PAGE_SIZE = 4096
MIN_RAM = 16 << 20
MAX_RAM = 64 << 30

_SIZE = re.compile(r"^\s*(\d+)\s*([kKmMgGtT]?)(i?[bB])?\s*$")
_UNITS = {"": 1 << 20, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """QEMU-style memory sizes: "256M", "1G", "512" (MiB when no unit is given)."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"invalid memory size {text!r}: use a number with an optional "
                         "K, M, G or T suffix, e.g. 256M")
    size = int(m.group(1)) * _UNITS[m.group(2).lower()]
    if size % PAGE_SIZE:
        raise ValueError(f"memory size {text!r} is not a multiple of 4 KiB")
    if not MIN_RAM <= size <= MAX_RAM:
        raise ValueError(f"memory size {text!r} is out of range (16M to 64G)")
    return size


class GuestRAM:
    """RAM plus dirty map, created here or attached from inherited memfds in the worker."""

    def __init__(self, size: int, ram_fd: Optional[int] = None,
                 dirty_fd: Optional[int] = None) -> None:
        if size % PAGE_SIZE:
            raise ValueError("RAM size must be a multiple of the page size")
        self.size = size
        self.pages = size // PAGE_SIZE
        if ram_fd is None:
            ram_fd = os.memfd_create("ppcd-ram", getattr(os, "MFD_CLOEXEC", 1))
            os.ftruncate(ram_fd, size)
        if dirty_fd is None:
            dirty_fd = os.memfd_create("ppcd-dirty", getattr(os, "MFD_CLOEXEC", 1))
            os.ftruncate(dirty_fd, self.pages)
        self.ram_fd = ram_fd
        self.dirty_fd = dirty_fd
        self.ram = mmap.mmap(ram_fd, size)
        self.dirty = mmap.mmap(dirty_fd, self.pages)
        self.written = bytearray(self.pages)

    def write(self, address: int, data: bytes) -> None:
        """Copy bytes into guest RAM from the control process, marking the pages dirty."""
        end = address + len(data)
        if address < 0 or end > self.size:
            raise ValueError(f"write of {len(data)} bytes at {address:#x} is outside RAM")
        self.ram[address:end] = data
        for page in range(address // PAGE_SIZE, (end + PAGE_SIZE - 1) // PAGE_SIZE):
            self.dirty[page] = 1

    def read(self, address: int, length: int) -> bytes:
        if address < 0 or length < 0 or address + length > self.size:
            raise ValueError(f"read of {length} bytes at {address:#x} is outside RAM")
        return self.ram[address:address + length]

    def clear(self) -> None:
        """Zero all of RAM (machine reset) by handing the memfd's pages back to the kernel."""
        self.ram.madvise(mmap.MADV_REMOVE)
        # Pages that held data are marked so a migration under way sends them again (as zeros);
        # every other page is still known to be zero.
        maybe = int.from_bytes(self.dirty[:], "little") | int.from_bytes(self.written, "little")
        self.dirty[:] = maybe.to_bytes(self.pages, "little")
        self.written[:] = bytes(self.pages)

    def close(self) -> None:
        self.ram.close()
        self.dirty.close()
        os.close(self.ram_fd)
        os.close(self.dirty_fd)
