"""Hand-built minimal ELF files for loader tests (bad input that no compiler would emit)."""

import struct


def elf64(segments, machine=21, etype=2, big_endian=True):
    """An ELF64 with the given (p_paddr, data, memsz) PT_LOAD segments."""
    order = ">" if big_endian else "<"
    ehsize, phentsize = 64, 56
    offset = ehsize + phentsize * len(segments)
    ident = b"\x7fELF" + bytes([2, 1 if not big_endian else 2, 1]) + bytes(9)
    header = ident + struct.pack(order + "HHIQQQIHHHHHH", etype, machine, 1, 0x400000,
                                 ehsize, 0, 0, ehsize, phentsize, len(segments), 64, 0, 0)
    phdrs, blobs = b"", b""
    for paddr, data, memsz in segments:
        phdrs += struct.pack(order + "IIQQQQQQ", 1, 5, offset + len(blobs), paddr, paddr,
                             len(data), memsz, 0x10000)
        blobs += data
    return header + phdrs + blobs
