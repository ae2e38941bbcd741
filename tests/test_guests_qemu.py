"""Guest programs under QEMU's pseries machine, the oracle that ppcd is compared with.

Every guest is built for both byte orders, booted with DESIGN.md's QEMU command line, and must
print DONE last and power off (QEMU exits 0).  A plain-C guest must print exactly what its host
build prints; the interrupts guest must report the interrupts with the SRR0/SRR1 values below.
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import re
import subprocess

import pytest
from guests import build
from qemu_runner import qemu_available, run_qemu

pytestmark = pytest.mark.skipif(not qemu_available(), reason="qemu-system-ppc64 is not installed")

ENDIANS = ("be", "le")
Built = dict[tuple[str, str], "pathlib.Path | build.BuildError"]


@pytest.fixture(scope="session")
def built() -> Built:
    """Build every guest (both byte orders) and every host variant once, in parallel."""
    jobs = {
        (name, endian): (build.build_guest, name, endian)
        for name in build.GUEST_PROGRAMS
        for endian in ENDIANS
    }
    jobs.update({(name, "host"): (build.build_host, name) for name in build.PLAIN_C_PROGRAMS})
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {key: pool.submit(*job) for key, job in jobs.items()}
    results: Built = {}
    for key, future in futures.items():
        try:
            results[key] = future.result()
        except build.BuildError as exc:
            results[key] = exc
    return results


def _binary(built: Built, name: str, variant: str) -> pathlib.Path:
    result = built[(name, variant)]
    if isinstance(result, build.CompilerMissing):
        pytest.skip(str(result))
    if isinstance(result, build.BuildError):
        raise result
    return result


def _boot(elf: pathlib.Path) -> bytes:
    result = run_qemu(elf)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 0, f"QEMU exited {result.returncode}: {stderr}"
    return result.stdout


@pytest.mark.parametrize("endian", ENDIANS)
@pytest.mark.parametrize("name", build.GUEST_PROGRAMS)
def test_guest_powers_off_after_done(built: Built, name: str, endian: str) -> None:
    output = _boot(_binary(built, name, endian))
    assert output.endswith(b"\nDONE\n"), output.decode(errors="replace")


@pytest.mark.parametrize("endian", ENDIANS)
@pytest.mark.parametrize("name", build.PLAIN_C_PROGRAMS)
def test_plain_c_guest_matches_host(built: Built, name: str, endian: str) -> None:
    host = subprocess.run(
        [_binary(built, name, "host")], capture_output=True, timeout=30, check=True
    ).stdout
    assert _boot(_binary(built, name, endian)).decode() == host.decode()


MSR_SF = 0x8000000000000000
MSR_EE = 0x8000
MSR_FP = 0x2000
MSR_LE = 0x1
SRR1_ILLEGAL = 0x80000
SRR1_TRAP = 0x20000


def expected_interrupts_output(endian: str) -> list[str]:
    """The interrupts guest's output as regular expressions, one per line.

    SRR0 is matched by label (its absolute value depends on the code layout); SRR1 is the MSR
    at the interrupt plus the cause bits, exactly as QEMU 7.2 reports them.
    """
    msr = MSR_SF | MSR_FP | (MSR_LE if endian == "le" else 0)

    def interrupt(what: str, vector: int, label: str, srr1: int) -> str:
        return (
            rf"{re.escape(what)}: vector {vector:03x} srr0=[0-9a-f]{{16}} "
            rf"\({re.escape(label)}\) srr1={srr1:016x}"
        )

    return [
        f"vectors installed, msr={msr:016x}",
        interrupt("program (trap)", 0x700, "trap_tw+0", msr | SRR1_TRAP),
        interrupt("program (trap)", 0x700, "trap_tdi+0", msr | SRR1_TRAP),
        interrupt("program (illegal instruction)", 0x700, "illegal_insn+0", msr | SRR1_ILLEGAL),
        interrupt("system call", 0xC00, "sc_insn+4", msr),
        r"syscall\(20\) returned 41",
        interrupt("floating-point unavailable", 0x800, "fp_insn+0", msr & ~MSR_FP),
        interrupt("decrementer", 0x900, "dec_spin+0", msr | MSR_EE),
        "decrementer interrupts: 1",
        "DONE",
    ]


@pytest.mark.parametrize("endian", ENDIANS)
def test_interrupts_guest_reports_srr0_srr1(built: Built, endian: str) -> None:
    lines = _boot(_binary(built, "interrupts", endian)).decode().splitlines()
    expected = expected_interrupts_output(endian)
    assert len(lines) == len(expected), lines
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(pattern, line), f"{line!r} does not match {pattern!r}"


@pytest.mark.parametrize("endian", ENDIANS)
def test_guest_elf_layout(built: Built, endian: str) -> None:
    """Segments are linked at their load address: p_paddr + 0x400000 == p_vaddr."""
    elffile = pytest.importorskip("elftools.elf.elffile")
    with open(_binary(built, "hello", endian), "rb") as f:
        elf = elffile.ELFFile(f)
        assert elf.little_endian == (endian == "le")
        assert elf["e_entry"] == 0x400000
        loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        assert loads and loads[0]["p_vaddr"] == 0x400000
        for segment in loads:
            assert segment["p_vaddr"] == (segment["p_paddr"] & 0x0FFFFFFF) + 0x400000


def test_build_is_cached(built: Built) -> None:
    elf = _binary(built, "hello", "le")
    before = elf.stat().st_mtime_ns
    assert build.build_guest("hello", "le") == elf
    assert elf.stat().st_mtime_ns == before
