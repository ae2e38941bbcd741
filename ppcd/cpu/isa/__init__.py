"""The Power ISA written down once, as data: every instruction ppcd knows, one row each.

Rows are grouped by facility the way the ISA book is (Book I fixed-point and branch,
floating-point, Book III system instructions); `INSTRUCTIONS` is the whole table.
"""

from __future__ import annotations

from typing import Dict, List

from . import (
    branch,
    decimal,
    fixedpoint,
    floatingpoint,
    loadstore,
    quadword,
    supervisor,
    system,
    vector,
)
from .table import Insn

INSTRUCTIONS: List[Insn] = (branch.INSTRUCTIONS + fixedpoint.INSTRUCTIONS
                            + loadstore.INSTRUCTIONS + quadword.INSTRUCTIONS
                            + system.INSTRUCTIONS + supervisor.INSTRUCTIONS
                            + floatingpoint.INSTRUCTIONS + decimal.INSTRUCTIONS
                            + vector.INSTRUCTIONS)

BY_MNEMONIC: Dict[str, Insn] = {}
for _insn in INSTRUCTIONS:
    if _insn.mnemonic in BY_MNEMONIC:
        raise ValueError(f"mnemonic {_insn.mnemonic} listed twice")
    BY_MNEMONIC[_insn.mnemonic] = _insn
