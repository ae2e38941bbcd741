"""LLDB (Debian 12's lldb 14) against ppcd's stub: attach, registers, memory, breakpoints, steps.

lldb 14 takes every 64-bit POWER ELF for powerpc64le (a big-endian one too, and then refuses
`--arch powerpc64` for it as incompatible), so symbolic debugging works on the little-endian
guests only; a big-endian guest is debugged without its file, with target.default-arch set to
powerpc64. lldb reads registers in the byte order of its architecture while the stub sends
them in the guest's current one (as QEMU's does, following MSR[LE]): the little-endian guest
starts in big-endian mode, so its first stop shows byte-swapped values until crt0 switches.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
from typing import List

import pytest

from .conftest import GDB_TIMEOUT, build_debug_guest

LLDB = "lldb"
pytestmark = pytest.mark.skipif(shutil.which(LLDB) is None, reason="lldb is not installed")


def run_lldb(commands: List[str]) -> str:
    args = [LLDB, "--batch", "--no-lldbinit"]
    for command in commands:
        args += ["-o", command]
    result = subprocess.run(args, capture_output=True, text=True, timeout=GDB_TIMEOUT,
                            stdin=subprocess.DEVNULL)
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def debuggee() -> dict:
    from guests import build
    out = build.DEFAULT_BUILD_DIR / "debug"
    return {endian: build_debug_guest("debuggee", endian, out) for endian in ("be", "le")}


def test_little_endian_guest_with_symbols(debuggee, start_ppcd) -> None:
    elf: pathlib.Path = debuggee["le"]
    machine = start_ppcd(elf)
    out = run_lldb([
        f"target create {elf}",
        f"gdb-remote 127.0.0.1:{machine.port}",
        "breakpoint set -n main",
        "continue",
        "register read pc msr srr0 sprg0",
        "register write sprg0 5",
        "register read sprg0",
        "register write r3 0x1234",
        "register read r3",
        "memory read -c 8 0x400000",
        "frame variable total",
        "breakpoint set -n square",
        "continue",
        "bt",
        "thread step-inst",
        "register read pc",
        "process kill",
    ])
    assert "Breakpoint 1: where = debuggee.elf`main" in out, out
    assert re.search(r"stop reason = breakpoint 1\.1\n +frame #0: 0x0+400[0-9a-f]{3} "
                     r"debuggee\.elf`main at debuggee\.c", out), out
    assert re.search(r"msr = 0x8000000000002001\n +srr0 = 0x0+4000[0-9a-f]{2} +"
                     r"debuggee\.elf`_start \+ \d+\n +sprg0 = 0x0+\n", out), out
    assert re.search(r"sprg0 = 0x0+5\n", out), out
    assert re.search(r"r3 = 0x0+1234\n", out), out
    assert "0x00400000: 7d 60 00 a6 42 9f 00 05" in out, out       # mfmsr r11; bcl
    assert "(unsigned long) total = 0" in out, out
    assert re.search(r"frame #0: 0x[0-9a-f]+ debuggee\.elf`square\(v=3\) at debuggee\.c:\d+"
                     r"(:\d+)?\n +frame #1: 0x[0-9a-f]+ debuggee\.elf`distance2\(p=0x[0-9a-f]+\)"
                     r" at debuggee\.c:\d+(:\d+)?\n +frame #2: 0x[0-9a-f]+ debuggee\.elf`main",
                     out), out
    assert "stop reason = instruction step into" in out, out
    assert "Process 1 exited with status = 0" in out, out
    assert machine.process.wait(timeout=20) == 0


def test_big_endian_guest_without_its_file(debuggee, start_ppcd) -> None:
    machine = start_ppcd(debuggee["be"])
    out = run_lldb([
        "settings set target.default-arch powerpc64",
        f"gdb-remote 127.0.0.1:{machine.port}",
        "register read pc msr r1",
        "memory read -c 8 0x400000",
        "thread step-inst",
        "register read pc pvr",
        "process kill",
    ])
    assert "frame #0: 0x0000000000400000\n->  0x400000: mfmsr  11" in out, out
    assert re.search(r"pc = 0x0+400000\n +msr = 0x0+\n +r1 = 0x0+\n", out), out
    assert "0x00400000: 7d 60 00 a6 42 9f 00 05" in out, out
    assert re.search(r"pc = 0x0+400004\n +pvr = 0x0+4e1200\n", out), out
    assert "Process 1 exited with status = 0" in out, out
    assert machine.process.wait(timeout=20) == 0
