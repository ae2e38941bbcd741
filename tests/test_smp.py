"""Several vCPUs (`--smp N`): a GCC-built guest that starts its secondaries with RTAS start-cpu,
shares locks and atomics with them, cedes and prods, prints the same under ppcd as under
QEMU's pseries with -smp N (QEMU, with real threads, is the oracle)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from guests import build
from qemu_runner import qemu_available, run_qemu
from test_guests_ppcd import WORKERS, run_ppcd

pytestmark = pytest.mark.skipif(not qemu_available(), reason="qemu-system-ppc64 is not installed")


def _smp_guest(endian: str):
    try:
        return build.build_guest("smp", endian)
    except build.CompilerMissing as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("endian", ("be", "le"))
@pytest.mark.parametrize("smp", (2, 4))
def test_smp_guest_matches_qemu(endian: str, smp: int) -> None:
    elf = _smp_guest(endian)
    reference = run_qemu(elf, smp=smp)
    assert reference.returncode == 0, reference.stderr.decode(errors="replace")
    ours = run_ppcd(elf, "--smp", str(smp))
    assert ours.returncode == 0, ours.stderr.decode(errors="replace")
    assert ours.stdout.decode() == reference.stdout.decode()
    assert f"vCPUs: {smp}\n".encode() in ours.stdout and ours.stdout.endswith(b"DONE\n")


@pytest.mark.parametrize("worker", WORKERS)
@pytest.mark.parametrize("engine", ("translate", "interp"))
def test_smp_guest_on_every_engine_and_worker(engine: str, worker: str) -> None:
    elf = _smp_guest("le")
    reference = run_qemu(elf, smp=3)
    extra = ("--worker-python", "pypy3") if worker == "pypy3" else ()
    ours = run_ppcd(elf, "--smp", "3", "--engine", engine, *extra)
    assert ours.returncode == 0, ours.stderr.decode(errors="replace")
    assert ours.stdout == reference.stdout


def test_smp_runs_are_deterministic() -> None:
    """The vCPUs take turns in a fixed order on the virtual clock: the same guest stopped at
    the same instruction count leaves the same state (its registers and its counters)."""
    elf = _smp_guest("be")
    first = run_ppcd(elf, "--smp", "4", "--max-instructions", "200000")
    second = run_ppcd(elf, "--smp", "4", "--max-instructions", "200000")
    assert first.returncode == second.returncode == 2
    assert first.stdout == second.stdout and first.stderr == second.stderr


@pytest.mark.parametrize("value, message", [
    ("0", "--smp: must be 1 to 1024"), ("1025", "--smp: must be 1 to 1024"),
    ("two", "'two' is not a number"),
])
def test_bad_smp_is_one_clear_line(value: str, message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "ppcd.cli", "run", "--smp", value],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr


def test_lockstep_engine_refuses_several_vcpus() -> None:
    result = run_ppcd(_smp_guest("be"), "--smp", "2", "--engine", "lockstep", timeout=60)
    assert result.returncode != 0
    assert b"the lockstep engine runs one vCPU" in result.stderr
    assert result.stderr.count(b"\n") == 1
