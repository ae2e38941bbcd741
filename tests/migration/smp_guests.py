"""A hand-assembled guest for the SMP migration tests: every vCPU busy forever, each with state
only its own "cpu" section carries.

vCPU 0 starts every other vCPU with RTAS start-cpu (ids 1 to MAX_VCPUS - 1; the ids a machine
lacks fail), then all of them run the same loop with r3 = their index: count in r20, check
that their private page still holds the previous count (a vCPU whose registers or page did not
travel stops there and stores its page's address at FAILED_ADDRESS), store the new count, and
add one to a shared counter with lwarx/stwcx. (the reservations of several vCPUs at once).
"""

from __future__ import annotations

from pathlib import Path

from qmp.guests import RTAS_BUFFER, write_guest

from ppcd.machine.devicetree import RTAS_TOKENS

LOAD_ADDRESS = 0x400000
SHARED_ADDRESS = 0x1000     # every vCPU's iterations, added atomically
FAILED_ADDRESS = 0x1008     # the private page whose count was wrong (0: none)
PRIVATE_BASE = 0x10000      # vCPU n counts its iterations at PRIVATE_BASE + n * 0x1000
MAX_VCPUS = 8
KVMPPC_H_RTAS = 0xF000


def private_address(index: int) -> int:
    return PRIVATE_BASE + index * 0x1000


def _count(source: str) -> int:
    from ppcd.cpu.assembler import assemble_all
    return len(assemble_all(source))


def _li32(reg: int, value: int) -> str:
    return f"addis {reg},0,{value >> 16}; ori {reg},{reg},{value & 0xFFFF}"


def busy_vcpus() -> str:
    """The guest's source (see the module's docstring)."""
    # Eleven instructions a pass: a vCPU's turn (a multiple of 1000 instructions) ends at
    # another point of the loop each time, inside lwarx..stwcx. too.
    loop = [
        f"lwz 21,0(22); cmp 0,0,21,20; bc 4,2,{4 * 9}",     # to `fail` when the count is off
        "addi 20,20,1; stw 20,0(22)",
        "lwarx 23,0,25; addi 23,23,1; ori 0,0,0; stwcx. 23,0,25; bc 4,2,-16",
        f"b -{4 * 10}",
        f"stw 22,{FAILED_ADDRESS}(0); b 0",                  # fail: spin
    ]
    # Every vCPU enters here with r3 = its index.
    entry = [f"rlwinm 22,3,12,0,19; addis 22,22,{PRIVATE_BASE >> 16}; addi 20,0,0; "
             f"addi 25,0,{SHARED_ADDRESS}"]

    def boot(loop_address: int) -> str:
        start = [
            f"addi 9,0,{RTAS_BUFFER}",
            f"addi 10,0,{RTAS_TOKENS['start-cpu']}; stw 10,0(9)",
            "addi 10,0,3; stw 10,4(9); addi 10,0,1; stw 10,8(9)",
            f"stw 26,12(9); {_li32(10, loop_address)}; stw 10,16(9); stw 26,20(9)",
            f"{_li32(3, KVMPPC_H_RTAS)}; addi 4,9,0; sc 1",
            "addi 26,26,1; cmp 0,0,26,27",
        ]
        body = "\n".join(start)
        return "\n".join([f"addi 26,0,1; addi 27,0,{MAX_VCPUS}", body,
                          f"bc 12,0,-{4 * _count(body)}", "addi 3,0,0"])

    entry_address = LOAD_ADDRESS + 4 * _count(boot(0))
    return "\n".join([boot(entry_address), *entry, *loop])


def write_busy_vcpus(path: Path) -> Path:
    return write_guest(path, busy_vcpus())
