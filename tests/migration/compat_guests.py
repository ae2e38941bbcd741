"""Hand-assembled guests for the compatibility-mode tests (no cross compiler needed).

The guest optionally negotiates a mode with KVMPPC_H_CAS, then loops forever in problem state
(where the PCR applies, Book III 2.6) executing one ISA 3.0 instruction (modsw) and one ISA
2.07 instruction (icbt). Its program-interrupt handler counts illegal instructions and skips
them, so the counters tell the mode the vCPU enforces, before and after a migration:
raw or power9 mode: no illegal instruction; power8: one per iteration; power7: two.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from qmp.guests import write_guest

LOAD_ADDRESS = 0x400000
CAS_RESULT = 0x1100         # r3 of KVMPPC_H_CAS (0x11 when the guest does not negotiate)
LAST_SRR1 = 0x1104          # low word of SRR1 at the last program interrupt
ILLEGAL = 0x1108            # program interrupts taken (illegal instructions skipped)
ITERATIONS = 0x110C         # loop iterations completed in problem state
VECTOR = 0x2000             # the architecture vector handed to KVMPPC_H_CAS
CAS_BUFFER = 0x10000        # where the updated device tree lands
CAS_BUFFER_SIZE = 0x10000
NO_CAS = 0x11

POWER7, POWER8, POWER9 = 0x0F000003, 0x0F000004, 0x0F000005
PVR_POWER9_RAW = (0xFFFF0000, 0x004E0000)
MSR_PR = 0x4000
PROGRAM_ILLEGAL = 0x80000


def _li32(reg: int, value: int) -> str:
    high = (value >> 16) & 0xFFFF
    high -= 0x10000 if high & 0x8000 else 0
    return f"addis {reg},0,{high}; ori {reg},{reg},{value & 0xFFFF}"


def _store_words(base: int, data: bytes) -> str:
    data += bytes(-len(data) % 4)
    lines = [_li32(8, base)]
    for offset in range(0, len(data), 4):
        (word,) = struct.unpack(">I", data[offset:offset + 4])
        lines.append(f"{_li32(9, word)}; stw 9,{offset}(8)")
    return "\n".join(lines)


def _words(source: str) -> bytes:
    from ppcd.cpu.assembler import assemble_all
    return b"".join(struct.pack(">I", w) for w in assemble_all(source))


def architecture_vector(pvrs: Sequence[tuple]) -> bytes:
    """(mask, PVR) pairs, the terminator, then five one-byte option vectors (1 and 5 needed)."""
    body = b"".join(struct.pack(">II", mask, pvr) for mask, pvr in pvrs)
    return body + struct.pack(">II", 0, 0xFFFFFFFF) + bytes([4]) + b"\x00\x00" * 5


# Program interrupt (0x700): count, remember SRR1, skip the instruction. Decrementer (0x900):
# push the next one far away.
_PROGRAM_HANDLER = f"""
mfspr 11,27; stw 11,{LAST_SRR1}(0)
lwz 12,{ILLEGAL}(0); addi 12,12,1; stw 12,{ILLEGAL}(0)
mfspr 11,26; addi 11,11,4; mtspr 26,11
rfid
"""
_DECREMENTER_HANDLER = "addis 11,0,0x7fff; mtspr 22,11; rfid"
_LOOP = f"""
modsw 5,6,7
icbt 0,0,0
lwz 12,{ITERATIONS}(0); addi 12,12,1; stw 12,{ITERATIONS}(0)
b -20
"""


def compat_guest(cas_pvrs: Optional[Sequence[tuple]]) -> str:
    """The guest's source: KVMPPC_H_CAS with these (mask, PVR) pairs first, unless None."""
    setup: List[str] = [_store_words(0x700, _words(_PROGRAM_HANDLER)),
                        _store_words(0x900, _words(_DECREMENTER_HANDLER))]
    if cas_pvrs is None:
        setup.append(f"addi 3,0,{NO_CAS}")
    else:
        setup += [_store_words(VECTOR, architecture_vector(cas_pvrs)),
                  f"{_li32(3, 0xF002)}; {_li32(4, VECTOR)}; {_li32(5, CAS_BUFFER)}; "
                  f"{_li32(6, CAS_BUFFER_SIZE)}; sc 1"]
    setup.append(f"stw 3,{CAS_RESULT}(0)")
    prologue = "\n".join(setup)
    # Into problem state at the loop, which follows these instructions.
    def enter(start: int) -> str:
        return f"{_li32(10, start)}; mtspr 26,10; addi 10,0,{MSR_PR}; mtspr 27,10; rfid; b 0"

    start = LOAD_ADDRESS + len(_words(prologue)) + len(_words(enter(0)))
    return "\n".join([prologue, enter(start), _LOOP])


def write_compat_guest(path: Path, cas_pvrs: Optional[Sequence[tuple]]) -> Path:
    return write_guest(path, compat_guest(cas_pvrs))


def counters(read_word) -> Dict[str, int]:
    """The guest's counters, through read_word(address) -> 32-bit value."""
    return {"cas": read_word(CAS_RESULT), "srr1": read_word(LAST_SRR1),
            "illegal": read_word(ILLEGAL), "iterations": read_word(ITERATIONS)}
