"""An echo guest for the console tests, hand-assembled (no cross compiler needed).

It prints "ready\\n", then polls H_GET_TERM_CHAR and puts back every byte it receives with
H_PUT_TERM_CHAR; a received "q" powers it off through RTAS after its echo. It polls instead of
ceding because QEMU's hvterm raises no interrupt, so the same ELF runs under QEMU with its
input on stdin (test_echo_guest_under_qemu) and under ppcd with any console backend.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Dict, List

from elfmaker import elf64

from ppcd.cpu.assembler import assemble
from ppcd.machine.devicetree import RTAS_TOKENS

BUFFER = 0x2000
RTAS_BUFFER = 0x3000

ECHO = f"""
    addi 3,0,0x58; addi 4,0,0; addi 5,0,6
    addis 6,0,0x7265; ori 6,6,0x6164; rldicr 6,6,32,31; oris 6,6,0x790a; addi 7,0,0; sc 1
    addi 20,0,{BUFFER}
poll:
    addi 3,0,0x54; addi 4,0,0; sc 1
    cmpi 0,1,4,0; bc 12,2,@poll
    std 5,0(20); std 6,8(20); addi 22,4,0
    addi 3,0,0x58; addi 4,0,0; addi 5,22,0; ld 6,0(20); ld 7,8(20); sc 1
    addi 21,0,0
scan:
    cmp 0,0,21,22; bc 4,0,@poll
    lbzx 8,20,21; cmpi 0,0,8,0x71; bc 12,2,@off
    addi 21,21,1; b @scan
off:
    addi 9,0,{RTAS_BUFFER}; addi 10,0,{RTAS_TOKENS['power-off']}; stw 10,0(9)
    addi 10,0,2; stw 10,4(9); addi 10,0,1; stw 10,8(9)
    addi 10,0,0; stw 10,12(9); stw 10,16(9)
    addis 3,0,0; ori 3,3,0xF000; addi 4,9,0; sc 1
    b 0
"""


def assemble_with_labels(source: str) -> List[int]:
    """Instructions separated by newlines or semicolons; "name:" labels, "@name" targets."""
    labels: Dict[str, int] = {}
    lines: List[str] = []
    for line in (x.strip() for x in re.split(r"[;\n]", source)):
        if line.endswith(":"):
            labels[line[:-1]] = 4 * len(lines)
        elif line:
            lines.append(line)
    def resolve(line: str, here: int) -> str:
        return re.sub(r"@(\w+)", lambda m: str(labels[m.group(1)] - here), line)
    return [assemble(resolve(line, 4 * index)) for index, line in enumerate(lines)]


def write_echo_guest(path: Path) -> Path:
    code = b"".join(struct.pack(">I", word) for word in assemble_with_labels(ECHO))
    path.write_bytes(elf64([(0, code, len(code))]))
    return path
