"""Loading a guest ELF the way QEMU's pseries machine does (hw/ppc/spapr.c).

Every PT_LOAD segment goes to (p_paddr & 0x0fffffff) + 0x400000 and the guest is entered
at 0x400000, whatever the ELF's entry point says: with QEMU's VOF firmware the kernel is
always started at its load address. Runs in the control process (pyelftools).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

KERNEL_LOAD_ADDR = 0x400000
EM_PPC64 = 21


class GuestImageError(Exception):
    """The --kernel file cannot be run; the message is one line for the person."""


@dataclass
class GuestImage:
    path: str
    little_endian: bool
    segments: List[Tuple[int, bytes, int]]   # (guest physical address, file bytes, memsz)
    entry: int = KERNEL_LOAD_ADDR

    @property
    def end(self) -> int:
        return max(addr + memsz for addr, _, memsz in self.segments)


def read_guest_elf(path: str) -> GuestImage:
    """Parse and check a guest ELF; raises GuestImageError with a one-line reason."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise GuestImageError(f"cannot open kernel {path!r}: {e.strerror}") from None
    with f:
        if f.read(4) != b"\x7fELF":
            raise GuestImageError(f"{path!r} is not an ELF file")
        f.seek(0)
        try:
            elf = ELFFile(f)
            return _read(elf, path)
        except (ELFError, ValueError, OSError) as e:   # pyelftools' errors on truncated files
            raise GuestImageError(f"{path!r} is not a valid ELF file: {e}") from None


def _read(elf: ELFFile, path: str) -> GuestImage:
    if elf["e_machine"] != "EM_PPC64" or elf.elfclass != 64:
        raise GuestImageError(
            f"{path!r} is a {elf.elfclass}-bit {elf['e_machine']} ELF; ppcd runs 64-bit "
            "PowerPC (EM_PPC64) guests")
    if elf["e_type"] not in ("ET_EXEC", "ET_DYN"):
        raise GuestImageError(f"{path!r} is {elf['e_type']}, not an executable (ET_EXEC/ET_DYN)")
    segments = []
    for seg in elf.iter_segments():
        if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
            continue
        if seg["p_filesz"] > seg["p_memsz"]:
            raise GuestImageError(f"{path!r}: a segment's file size exceeds its memory size")
        addr = (seg["p_paddr"] & 0x0FFF_FFFF) + KERNEL_LOAD_ADDR
        segments.append((addr, seg.data(), seg["p_memsz"]))
    if not segments:
        raise GuestImageError(f"{path!r} has no loadable segments")
    return GuestImage(path, elf.little_endian, segments)


def load_into(image: GuestImage, ram) -> None:
    """Write the segments into guest RAM (zero-filling each segment's BSS part)."""
    for addr, _, memsz in image.segments:
        if addr + memsz > ram.size:
            raise GuestImageError(
                f"{image.path!r}: segment at {addr:#x}..{addr + memsz:#x} does not fit in "
                f"{ram.size >> 20} MiB of RAM (use a larger --memory)")
    for addr, data, memsz in image.segments:
        ram.write(addr, data + bytes(memsz - len(data)))
