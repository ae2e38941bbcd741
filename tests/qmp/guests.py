"""Tiny hand-assembled guests for the daemon tests: no cross compiler needed.

They are loaded like any guest ELF (at 0x400000, entered in 32-bit big-endian real mode).
"""

from __future__ import annotations

import struct
from pathlib import Path

from elfmaker import elf64

from ppcd.cpu.assembler import assemble_all
from ppcd.machine.devicetree import RTAS_TOKENS

COUNTER_ADDRESS = 0x1000   # the spinning guest stores its loop count here
RTAS_BUFFER = 0x3000

# Counts forever: r4 += 1, stored big-endian at COUNTER_ADDRESS.
SPIN = "addi 4,0,0; addi 4,4,1; stw 4,4096(0); b -8"

# Prints "B" on the console, then asks RTAS for a reboot (and again after every reboot).
REBOOT = f"""
addi 3,0,0x58; addi 4,0,0; addi 5,0,1; addi 6,0,0x42; rldicr 6,6,56,7; sc 1
addi 9,0,{RTAS_BUFFER}; addi 10,0,{RTAS_TOKENS['system-reboot']}; stw 10,0(9)
addi 10,0,0; stw 10,4(9); addi 10,0,1; stw 10,8(9)
addis 3,0,0; ori 3,3,0xF000; addi 4,9,0; sc 1
b 0
"""

# Powers off through RTAS at once.
POWER_OFF = f"""
addi 9,0,{RTAS_BUFFER}; addi 10,0,{RTAS_TOKENS['power-off']}; stw 10,0(9)
addi 10,0,2; stw 10,4(9); addi 10,0,1; stw 10,8(9)
addi 10,0,0; stw 10,12(9); stw 10,16(9)
addis 3,0,0; ori 3,3,0xF000; addi 4,9,0; sc 1
b 0
"""


def write_guest(path: Path, source: str) -> Path:
    code = b"".join(struct.pack(">I", word) for word in assemble_all(source))
    path.write_bytes(elf64([(0, code, len(code))]))
    return path
