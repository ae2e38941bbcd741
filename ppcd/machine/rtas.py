"""RTAS, reached through the KVMPPC_H_RTAS hypercall as on QEMU's pseries.

The argument buffer is always big-endian 32-bit cells, whatever the guest's byte order:
token, nargs, nret, args[nargs], rets[nret] (PAPR 7.2.2). Token numbers are QEMU's.
"""

from __future__ import annotations

import calendar
import struct
import time
from typing import TYPE_CHECKING, List

from ppcd.cpu import msr as M
from ppcd.cpu.interpreter import MachineStop

from .devicetree import RTAS_TOKENS

if TYPE_CHECKING:
    from .pseries import Machine

RTAS_OUT_SUCCESS = 0
RTAS_OUT_HW_ERROR = -1
RTAS_OUT_PARAM_ERROR = -3

_CELL = struct.Struct(">I")
_MAX_ARGS = 16

REBOOT_STATUS = 3   # worker exit status asking the control process for a reset
# Early Linux debug code calls display-character as token 0xa without reading the device
# tree; QEMU honours it, so ppcd does too.
LEGACY_DISPLAY_CHARACTER = 0xA
_IMPLEMENTED = {RTAS_TOKENS[name] for name in (
    "display-character", "get-time-of-day", "set-time-of-day", "power-off", "system-reboot",
    "query-cpu-stopped-state", "start-cpu", "stop-self")}
# query-cpu-stopped-state's answers (PAPR 7.3.3.3; QEMU counts any halted vCPU as stopped).
CPU_STOPPED = 0
CPU_RUNNING = 2
# start-cpu's entry MSR: 64-bit, machine checks enabled, big-endian real mode (QEMU's).
START_CPU_MSR = M.SF | M.ME


def _cells(ram, address: int, count: int) -> List[int]:
    return [_CELL.unpack_from(ram, address + 4 * i)[0] for i in range(count)]


def rtas_call(machine: "Machine", cpu, address: int) -> bool:
    """Run the RTAS call whose argument buffer is at real address `address`.

    Returns False for a token RTAS does not know (the hypercall then fails with H_PARAMETER,
    as on QEMU); rets[0] says how the call itself went.
    """
    ram = machine.ram.ram
    address &= 0x0FFF_FFFF_FFFF_FFFF
    if address + 12 > machine.ram.size:
        return False
    token, nargs, nret = _cells(ram, address, 3)
    if nargs > _MAX_ARGS or nret > _MAX_ARGS or address + 4 * (3 + nargs + nret) > machine.ram.size:
        return False
    args = _cells(ram, address + 12, nargs)
    rets_at = address + 12 + 4 * nargs
    if token == LEGACY_DISPLAY_CHARACTER:
        token = RTAS_TOKENS["display-character"]
    known = token in _IMPLEMENTED
    rets = _dispatch(machine, cpu, token, args, nret) if known else [RTAS_OUT_PARAM_ERROR]
    for i, value in enumerate(rets[:nret]):
        _CELL.pack_into(ram, rets_at + 4 * i, value & 0xFFFF_FFFF)
    machine.ram.dirty[rets_at >> 12] = 1
    machine.ram.dirty[(rets_at + 4 * max(nret, 1) - 1) >> 12] = 1
    return known


def _dispatch(machine: "Machine", cpu, token: int, args: List[int], nret: int) -> List[int]:
    if token == RTAS_TOKENS["power-off"]:
        if len(args) != 2 or nret != 1:
            return [RTAS_OUT_PARAM_ERROR]
        raise MachineStop("guest powered off", 0)
    if token == RTAS_TOKENS["system-reboot"]:
        if args or nret != 1:
            return [RTAS_OUT_PARAM_ERROR]
        raise MachineStop("guest requested a reboot", REBOOT_STATUS)
    if token == RTAS_TOKENS["display-character"]:
        # QEMU checks neither nargs nor nret here; a guest relying on that works the same.
        machine.console.write(bytes([(args[0] if args else 0) & 0xFF]))
        return [RTAS_OUT_SUCCESS]
    if token == RTAS_TOKENS["get-time-of-day"]:
        if nret != 8:
            return [RTAS_OUT_PARAM_ERROR]
        now = time.time() + machine.rtc_offset
        tm = time.gmtime(now)
        ns = int((now % 1) * 1e9)
        return [RTAS_OUT_SUCCESS, tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min,
                tm.tm_sec, ns]
    if token == RTAS_TOKENS["set-time-of-day"]:
        if len(args) != 7 or nret != 1:
            return [RTAS_OUT_PARAM_ERROR]
        year, mon, day, hour, minute, sec, ns = args
        try:
            wanted = calendar.timegm((year, mon, day, hour, minute, sec))
        except (OverflowError, ValueError):
            return [RTAS_OUT_PARAM_ERROR]
        machine.rtc_offset = wanted + ns / 1e9 - time.time()
        return [RTAS_OUT_SUCCESS]
    if token in _CPU_CALLS:
        return _CPU_CALLS[token](machine, cpu, args, nret)
    raise AssertionError(f"RTAS token {token:#x} is listed as implemented but not handled")


def _query_cpu_stopped_state(machine: "Machine", cpu, args: List[int], nret: int) -> List[int]:
    if len(args) != 1 or nret != 2:
        return [RTAS_OUT_PARAM_ERROR]
    target = machine.vcpu(args[0])
    if target is None:
        return [RTAS_OUT_PARAM_ERROR]
    return [RTAS_OUT_SUCCESS, CPU_STOPPED if target.halted else CPU_RUNNING]


def _start_cpu(machine: "Machine", cpu, args: List[int], nret: int) -> List[int]:
    """args: vCPU id, start address, r3. The vCPU starts in 64-bit big-endian real mode with
    the caller's timebase and compat mode; interrupts follow the boot vCPU's endianness."""
    if len(args) != 3 or nret != 1:
        return [RTAS_OUT_PARAM_ERROR]
    target = machine.vcpu(args[0])
    if target is None:
        return [RTAS_OUT_PARAM_ERROR]
    if not target.halted:
        return [RTAS_OUT_HW_ERROR]
    target.msr = START_CPU_MSR
    target.pc = args[1]
    target.gpr[3] = args[2]
    target.halted = False
    target.lpcr_ile = machine.cpu.lpcr_ile
    # Same timebase as the caller: its clock, and the offset the boot vCPU set.
    target.icount = max(target.icount, cpu.icount)
    target.tb_offset = cpu.tb_offset
    return [RTAS_OUT_SUCCESS]


def _stop_self(machine: "Machine", cpu, args: List[int], nret: int) -> List[int]:
    # No return values are written for a vCPU that stops (QEMU's rtas_stop_self); MSR 0 keeps
    # the decrementer from waking it, until start-cpu sets the whole MSR anew.
    cpu.halted = True
    cpu.msr = 0
    return []


_CPU_CALLS = {RTAS_TOKENS["query-cpu-stopped-state"]: _query_cpu_stopped_state,
              RTAS_TOKENS["start-cpu"]: _start_cpu,
              RTAS_TOKENS["stop-self"]: _stop_self}
