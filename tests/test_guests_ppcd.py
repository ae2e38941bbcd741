"""GCC-built guests under ppcd print exactly what they print under QEMU, in both byte orders.

QEMU (Debian's qemu-system-ppc, pseries with VOF) is the oracle: the same ELF is booted under
both and the console output must be identical byte for byte, and both must power off cleanly.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from guests import build
from qemu_runner import qemu_available, run_qemu

ENDIANS = ("be", "le")
PPCD_TIMEOUT = 300


def _guest(name: str, endian: str):
    try:
        return build.build_guest(name, endian)
    except build.CompilerMissing as exc:
        pytest.skip(str(exc))


def run_ppcd(elf, *args: str, timeout: float = PPCD_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(elf), *args],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


# The vCPU worker must also run under PyPy (Python 3.9): the guest suite runs under both, so
# nothing newer than 3.9 slips into the worker's code.
WORKERS = ("cpython", pytest.param("pypy3", marks=pytest.mark.skipif(
    shutil.which("pypy3") is None, reason="pypy3 is not installed")))


@pytest.mark.skipif(not qemu_available(), reason="qemu-system-ppc64 is not installed")
@pytest.mark.parametrize("worker", WORKERS)
@pytest.mark.parametrize("endian", ENDIANS)
@pytest.mark.parametrize("name", build.GUEST_PROGRAMS)
def test_guest_output_matches_qemu(name: str, endian: str, worker: str) -> None:
    elf = _guest(name, endian)
    reference = run_qemu(elf)
    assert reference.returncode == 0, reference.stderr.decode(errors="replace")
    ours = run_ppcd(elf, *(("--worker-python", "pypy3") if worker == "pypy3" else ()))
    assert ours.returncode == 0, ours.stderr.decode(errors="replace")
    assert ours.stdout.decode(errors="replace") == reference.stdout.decode(errors="replace")
    assert ours.stdout.endswith(b"DONE\n")


def test_instruction_limit_stops_the_guest() -> None:
    result = run_ppcd(_guest("sieve", "be"), "--max-instructions", "5000")
    assert result.returncode == 2
    assert result.stderr.decode().startswith("ppcd: guest stopped: instruction limit of 5000")
    assert result.stderr.count(b"\n") == 1


def test_serial_file_backend(tmp_path) -> None:
    out = tmp_path / "console.txt"
    result = run_ppcd(_guest("hello", "le"), "--serial", f"file:{out}")
    assert result.returncode == 0
    assert result.stdout == b""
    assert out.read_bytes().endswith(b"DONE\n")


def test_shipped_demo_is_built_from_its_source() -> None:
    """ppcd/machine/demo/demo.elf must be exactly tests/guests/demo.c's big-endian build."""
    from ppcd.machine.boot import demo_kernel_path

    fresh = _guest("demo", "be")
    with open(demo_kernel_path(), "rb") as shipped:
        assert shipped.read() == fresh.read_bytes(), (
            "the shipped demo is stale: copy tests/guests/build/be/demo.elf to "
            "ppcd/machine/demo/demo.elf")


def test_run_without_kernel_boots_the_demo() -> None:
    result = subprocess.run([sys.executable, "-m", "ppcd.cli", "run"], stdin=subprocess.DEVNULL,
                            capture_output=True, timeout=PPCD_TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"ppcd demo guest")
    assert b"PVR 004e1200 (POWER9)" in result.stdout
    assert result.stdout.endswith(b"DONE\n")


def test_closed_console_pipe_does_not_kill_the_guest() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "ppcd.cli", "run"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(10)
    proc.stdout.close()
    assert proc.wait(timeout=PPCD_TIMEOUT) == 0
    assert b"Traceback" not in proc.stderr.read()


@pytest.mark.skipif(not qemu_available(), reason="qemu-system-ppc64 is not installed")
def test_position_independent_et_dyn_guest_runs_like_qemu(tmp_path) -> None:
    """An ET_DYN ELF loads at the same place as ET_EXEC: (p_paddr & 0x0fffffff) + 0x400000."""
    from elfmaker import elf64

    from ppcd.cpu.assembler import assemble_all

    # Print "ok\n" with H_PUT_TERM_CHAR, then RTAS power-off with a buffer found via bcl/mflr.
    code = assemble_all("""addi 3,0,0x58; addi 4,0,0; addi 5,0,3; addis 6,0,0x6f6b
        ori 6,6,0x0a00; rldicr 6,6,32,31; addi 7,0,0; sc 1
        bcl 20,31,4; mfspr 4,8; addi 4,4,24; addi 3,0,0; ori 3,3,0xf000; sc 1; b 0""")
    rtas_power_off = [0x2003, 2, 1, 0, 0, 0]
    blob = b"".join(w.to_bytes(4, "big") for w in code + rtas_power_off)
    elf = tmp_path / "pie.elf"
    elf.write_bytes(elf64([(0, blob, len(blob))], etype=3))
    reference = run_qemu(elf)
    ours = run_ppcd(elf)
    assert (reference.returncode, reference.stdout) == (0, b"ok\n")
    assert (ours.returncode, ours.stdout) == (0, b"ok\n")
