"""A one-line assembler and disassembler derived from the instruction table.

Syntax is GNU as's with plain register numbers: `add 3,4,5`, `lwz 3,8(1)`, `rldicl 3,4,5,6`.
Branch targets are byte displacements (`b 8`, `bc 12,2,-16`). Tests use it to write
instruction sequences; the table's encodings are checked against GNU as itself.
"""

from __future__ import annotations

import re
from typing import List, Optional

from .decoder import decode
from .isa import BY_MNEMONIC
from .isa.fields import FIELDS

_MEMORY = re.compile(r"^(-?(?:0x[0-9a-fA-F]+|\d+))\((\w+)\)$")


def _number(text: str) -> int:
    text = text.strip()
    for prefix in ("r", "f", "cr"):
        if text.startswith(prefix) and text[len(prefix):].isdigit():
            return int(text[len(prefix):])
    return int(text, 0)


def assemble(line: str) -> int:
    """Encode one instruction, e.g. assemble("addi 3,0,5") == 0x38600005."""
    parts = line.strip().split(None, 1)
    if not parts:
        raise ValueError("empty instruction")
    insn = BY_MNEMONIC.get(parts[0])
    if insn is None:
        raise ValueError(f"unknown mnemonic {parts[0]!r}")
    tokens = [t.strip() for t in parts[1].split(",")] if len(parts) > 1 else []
    values: List[int] = []
    for syntax, token in zip(insn.operands, tokens):
        if "(" in syntax:
            m = _MEMORY.match(token.replace(" ", ""))
            if not m:
                raise ValueError(f"{line!r}: expected displacement(register), got {token!r}")
            values += [int(m.group(1), 0), _number(m.group(2))]
        else:
            values.append(_number(token))
    if len(tokens) != len(insn.operands):
        raise ValueError(f"{line!r}: {insn.mnemonic} takes operands {','.join(insn.operands)}")
    return insn.encode(*values)


def assemble_all(text: str) -> List[int]:
    """Encode several instructions separated by newlines or semicolons."""
    lines = [x for x in re.split(r"[;\n]", text) if x.strip()]
    return [assemble(x) for x in lines]


def disassemble(word: int) -> Optional[str]:
    """The table's mnemonic and operands for `word`, or None if it is not an instruction."""
    insn = decode(word)
    if insn is None:
        return None
    values = {name: FIELDS[name].decode(word) for name in insn.fields}
    text = []
    for syntax in insn.operands:
        if "(" in syntax:
            disp, reg = syntax[:-1].split("(")
            text.append(f"{values[disp]}({values[reg]})")
        else:
            text.append(str(values[syntax]))
    return insn.mnemonic + (" " + ",".join(text) if text else "")
