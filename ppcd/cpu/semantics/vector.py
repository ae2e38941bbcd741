"""Semantics of the vector facilities (VMX, VSX): not implemented yet.

The decoder has already raised Vector/VSX Unavailable if the facility is off (Book III
7.5.14-7.5.16); with it on, the instruction is treated as illegal.
"""

from __future__ import annotations

from ..interrupts import illegal
from . import implements


@implements("vector_unimplemented")
def vector_unimplemented(cpu, op) -> None:
    raise illegal()
