"""Instruction semantics: one small function per instruction, registered by name.

Each function is `fn(cpu, op)`: `cpu` is the CPUState, `op` the decoded operand fields of
this instruction word (see ppcd.cpu.decoder.Op). The instruction table names the function
each mnemonic uses; variants (".", "o") share one function and read `op.rc` and `op.oe`.
"""

from __future__ import annotations

from typing import Callable, Dict

SEMANTICS: Dict[str, Callable] = {}


def implements(*names: str) -> Callable[[Callable], Callable]:
    """Register a semantic function under the table's `impl` names."""
    def register(fn: Callable) -> Callable:
        for name in names:
            if name in SEMANTICS:
                raise ValueError(f"semantics for {name} defined twice")
            SEMANTICS[name] = fn
        return fn
    return register


def load_all() -> Dict[str, Callable]:
    """Import every semantics module (they register themselves) and return the registry."""
    from . import (  # noqa: F401
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
    return SEMANTICS
