"""Guests for the migration tests, hand-assembled so no cross compiler is needed."""

from __future__ import annotations

from pathlib import Path

from qmp.guests import write_guest

PAGES_BASE = 0x800000
COUNTER_ADDRESS = 0x1000    # the pass number the guest has completed
FAILED_ADDRESS = 0x1008     # the page that held a stale value, when the check failed


def self_checking(pages: int) -> str:
    """Forever: for each of `pages` pages from PAGES_BASE, check that its first word holds the
    previous pass's number, then store this pass's. A page a migration failed to send again
    shows up as a stale value: the guest stores the page's address at FAILED_ADDRESS and spins.
    """
    return f"""
addi 20,0,1
addis 21,0,{PAGES_BASE >> 16}
addi 22,0,{pages}
mtspr 9,22
lwz 23,0(21)
addi 24,20,-1
cmp 0,0,23,24
bc 4,2,28
stw 20,0(21)
addi 21,21,4096
bc 16,0,-24
stw 20,{COUNTER_ADDRESS}(0)
addi 20,20,1
b -48
stw 21,{FAILED_ADDRESS}(0)
b 0
"""


def write_self_checking(path: Path, pages: int) -> Path:
    return write_guest(path, self_checking(pages))
