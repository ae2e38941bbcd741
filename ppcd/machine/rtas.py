"""RTAS, reached through the KVMPPC_H_RTAS hypercall as on QEMU's pseries.

The argument buffer is always big-endian 32-bit cells, whatever the guest's byte order:
token, nargs, nret, args[nargs], rets[nret] (PAPR 7.2.2). Token numbers are QEMU's.
"""

from __future__ import annotations

import calendar
import struct
import time
from typing import TYPE_CHECKING, List

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
_IMPLEMENTED = {RTAS_TOKENS[name] for name in ("display-character", "get-time-of-day",
                                               "set-time-of-day", "power-off", "system-reboot")}


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
    rets = _dispatch(machine, token, args, nret) if known else [RTAS_OUT_PARAM_ERROR]
    for i, value in enumerate(rets[:nret]):
        _CELL.pack_into(ram, rets_at + 4 * i, value & 0xFFFF_FFFF)
    machine.ram.dirty[rets_at >> 12] = 1
    machine.ram.dirty[(rets_at + 4 * max(nret, 1) - 1) >> 12] = 1
    return known


def _dispatch(machine: "Machine", token: int, args: List[int], nret: int) -> List[int]:
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
    raise AssertionError(f"RTAS token {token:#x} is listed as implemented but not handled")
