"""Run a guest ELF under QEMU's pseries machine, the oracle that ppcd must match."""

from __future__ import annotations

import os
import shutil
import subprocess

QEMU = "qemu-system-ppc64"


def qemu_command(elf: str | os.PathLike[str], smp: int = 1) -> list[str]:
    """The QEMU command line of DESIGN.md's guest ABI, console on stdout (with `smp` vCPUs)."""
    return [
        QEMU,
        "-nodefaults",
        "-M", "pseries,x-vof=on",
        "-accel", "tcg",
        "-m", "256M",
        "-display", "none",
        "-serial", "stdio",
        "-kernel", os.fspath(elf),
    ] + (["-smp", str(smp)] if smp != 1 else [])  # fmt: skip


def qemu_available() -> bool:
    """Whether qemu-system-ppc64 is installed."""
    return shutil.which(QEMU) is not None


def run_qemu(
    elf: str | os.PathLike[str], timeout: float = 30, smp: int = 1
) -> subprocess.CompletedProcess[bytes]:
    """Boot `elf` and return QEMU's result: stdout is the guest's console output (bytes).

    A guest that powers off through RTAS makes QEMU exit with status 0; one that hangs raises
    subprocess.TimeoutExpired after `timeout` seconds.
    """
    return subprocess.run(
        qemu_command(elf, smp),
        stdin=subprocess.DEVNULL,  # -serial stdio would otherwise read the terminal
        capture_output=True,
        timeout=timeout,
        check=False,
    )
