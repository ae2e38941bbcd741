"""KVMPPC_H_CAS: the client-architecture-support hypercall, as QEMU 7.2's pseries answers it.

r4 is the real address of the guest's architecture vector: a list of (mask, PVR) pairs of
be32 values ended by a pair with PVR bits outside its mask (the terminator is consumed), then
the option vectors (a byte "count - 1", then per vector a byte "length - 1" and the bytes).
r5/r6 are a buffer and its size for the answer: a 4-byte header (version 1, written in the
host's byte order as QEMU on x86-64 writes it) and the updated, packed device tree.

The machine picks the newest logical PVR the guest lists that the CPU supports and that is
not above max-cpu-compat (hw/ppc/spapr_hcall.c cas_check_pvr); none is raw mode, which needs
the guest to list the real PVR and no max-cpu-compat. Measured on QEMU 7.2 (docs/guest-abi.md):
no usable mode answers H_HARDWARE and changes nothing; a missing option vector 1 or 5 answers
H_PARAMETER with the mode already switched; success rewrites cpu-version and pa-features.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Optional, Tuple

from ppcd.cpu.compat import supported

from .devicetree import build_pseries_tree
from .fdt import to_dtb

if TYPE_CHECKING:
    from .pseries import Machine

KVMPPC_H_CAS = 0xF002
MAX_PVRS = 512                          # QEMU scans at most this many pairs
HEADER = b"\x01\x00\x00\x00"            # SpaprDeviceTreeUpdateHeader{version_id = 1}, LE host
REAL_MASK = 0x0FFF_FFFF_FFFF_FFFF       # ppc64_phys_to_real

H_SUCCESS = 0
H_HARDWARE = -1
H_PARAMETER = -4

_PAIR = struct.Struct(">II")


class CASFailed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _read(machine: "Machine", address: int, length: int) -> bytes:
    if address + length > machine.ram.size:
        raise CASFailed(H_PARAMETER)
    return bytes(machine.ram.ram[address:address + length])


def choose_pvr(machine: "Machine", address: int) -> Tuple[int, int]:
    """(compat PVR, address of the option vectors): QEMU's cas_check_pvr."""
    cpu = machine.cpu
    explicit_match = False
    best = 0
    for _ in range(MAX_PVRS):
        mask, pvr = _PAIR.unpack(_read(machine, address, 8))
        address += 8
        if ~mask & pvr:
            break
        if cpu.pvr & mask == pvr & mask:
            explicit_match = True
        elif supported(pvr, machine.model.isa, machine.max_compat_pvr, best):
            best = pvr
    if not best and (not explicit_match or machine.max_compat_pvr):
        raise CASFailed(H_HARDWARE)     # QEMU: "Couldn't negotiate a suitable PVR during CAS"
    return best, address


def option_vector(machine: "Machine", table: int, number: int) -> Optional[bytes]:
    """Option vector `number` (1-based) of the table, or None when the guest gave none."""
    count = _read(machine, table, 1)[0] + 1
    if number > count:
        return None
    address = table + 1
    for _ in range(number - 1):
        address += _read(machine, address, 1)[0] + 2
    return _read(machine, address + 1, _read(machine, address, 1)[0] + 1)


def client_architecture_support(machine: "Machine", vector: int, buffer: int,
                                size: int) -> int:
    try:
        compat_pvr, table = choose_pvr(machine, vector & REAL_MASK)
        if machine.cpu.compat_pvr != compat_pvr:
            machine.set_compat(compat_pvr)
        if option_vector(machine, table, 1) is None or option_vector(machine, table, 5) is None:
            return H_PARAMETER
    except CASFailed as failure:
        return failure.code
    # QEMU exits when the buffer cannot hold the tree; a guest error should not end ppcd.
    dtb = HEADER + to_dtb(device_tree(machine))
    if len(dtb) > size or buffer + len(dtb) > machine.ram.size:
        return H_PARAMETER
    machine.ram.write(buffer, dtb)
    mem = machine.cpu.mem
    if mem.code_written is not None:       # the buffer may hold translated code
        mem.code_written(buffer, len(dtb))
    return H_SUCCESS


def device_tree(machine: "Machine"):
    """The tree as the guest should now see it: cpu-version follows the compat mode."""
    model = machine.model
    return build_pseries_tree(machine.ram.size, model.name, model.pvr, ncpus=len(machine.cpus),
                              cpu_version=machine.cpu.compat_pvr or None,
                              large_decrementer=machine.large_decrementer)
