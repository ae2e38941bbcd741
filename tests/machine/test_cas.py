"""KVMPPC_H_CAS on the machine: the mode chosen, the tree written back, the reset state.
Return codes and cpu-version are compared with QEMU by the cas guest (tests/guests/cas.c);
the tree facts below were measured on QEMU 7.2 (docs/guest-abi.md)."""

from __future__ import annotations

import struct

import pytest

from ppcd.machine.cas import H_HARDWARE, H_PARAMETER, H_SUCCESS, client_architecture_support
from ppcd.machine.console import Console
from ppcd.machine.fdt import parse_dtb
from ppcd.machine.pseries import Machine
from ppcd.machine.ram import GuestRAM

VECTOR, BUFFER = 0x2000, 0x10000
POWER7, POWER8, POWER9 = 0x0F000003, 0x0F000004, 0x0F000005
RAW = (0xFFFF0000, 0x004E0000)


@pytest.fixture
def machine():
    ram = GuestRAM(16 << 20)
    yield lambda **options: Machine(ram, "power9", Console(None, None), engine="interp",
                                    **options)
    ram.close()


def _cas(machine: Machine, pairs, vectors: int = 5, size: int = 0x10000) -> int:
    data = b"".join(struct.pack(">II", m, p) for m, p in pairs)
    data += struct.pack(">II", 0, 0xFFFFFFFF) + bytes([vectors - 1]) + b"\0\0" * vectors
    machine.ram.write(VECTOR, data)
    return client_architecture_support(machine, VECTOR, BUFFER, size)


def _cpu_node(machine: Machine):
    header = bytes(machine.ram.ram[BUFFER:BUFFER + 4])
    assert header == b"\x01\x00\x00\x00"        # version 1, in x86-64 QEMU's byte order
    size = struct.unpack(">I", machine.ram.ram[BUFFER + 8:BUFFER + 12])[0]
    tree = parse_dtb(bytes(machine.ram.ram[BUFFER + 4:BUFFER + 4 + size]))
    return tree.find("/cpus/PowerPC,POWER9@0")


def test_newest_listed_mode_not_above_max(machine) -> None:
    vm = machine(max_compat="power8")
    assert (vm.cpu.compat_pvr, vm.cpu.pcr, vm.cpu.dec_bits) == (POWER8, 0x8, 32)
    assert _cas(vm, [(0xFFFFFFFF, POWER9), (0xFFFFFFFF, POWER7)]) == H_SUCCESS
    assert (vm.cpu.compat_pvr, vm.cpu.pcr) == (POWER7, 0xC)
    cpu = _cpu_node(vm)
    assert cpu.cells("cpu-version") == [POWER7]
    assert cpu.prop("ibm,pa-features") == bytes.fromhex("0600f63fc70080c0")
    assert "ibm,dec-bits" not in cpu.props       # max-cpu-compat power8: no large decrementer


def test_negotiated_mode_keeps_the_large_decrementer(machine) -> None:
    vm = machine()
    assert _cas(vm, [(0xFFFFFFFF, POWER8)]) == H_SUCCESS
    cpu = _cpu_node(vm)
    assert cpu.cells("cpu-version") == [POWER8] and cpu.cells("ibm,dec-bits") == [56]
    assert len(cpu.prop("ibm,pa-features")) == 26


def test_raw_mode_needs_the_real_pvr_and_no_max(machine) -> None:
    vm = machine()
    assert _cas(vm, [RAW]) == H_SUCCESS and vm.cpu.compat_pvr == 0
    assert _cpu_node(vm).cells("cpu-version") == [0x004E1200]
    limited = machine(max_compat="power9")
    assert _cas(limited, [RAW]) == H_HARDWARE and limited.cpu.compat_pvr == POWER9


def test_failures(machine) -> None:
    vm = machine()
    assert _cas(vm, [(0xFFFFFFFF, 0x0F000001)]) == H_HARDWARE
    # QEMU switches the mode before it looks for the option vectors.
    assert _cas(vm, [(0xFFFFFFFF, POWER8)], vectors=1) == H_PARAMETER
    assert vm.cpu.compat_pvr == POWER8
    # QEMU exits when the tree does not fit; ppcd answers H_PARAMETER.
    assert _cas(vm, [(0xFFFFFFFF, POWER7)], size=0x100) == H_PARAMETER
    assert client_architecture_support(vm, vm.ram.size - 4, BUFFER, 0x10000) == H_PARAMETER
