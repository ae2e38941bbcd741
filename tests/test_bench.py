"""`ppcd bench` (ppcd/bench.py): its workloads build and run, and its report adds up."""

from __future__ import annotations

import sys

import pytest
from guests import build

from ppcd import bench


def test_alu_workload_runs_in_a_worker_and_is_counted() -> None:
    workload = next(w for w in bench.WORKLOADS if w.name == "alu")
    try:
        elf = bench.build_workload(workload)
    except build.CompilerMissing as exc:
        pytest.skip(str(exc))
    result = bench.run_ppcd(elf, sys.executable, max_instructions=200_000)
    assert result["instructions"] == 200_000
    assert result["outcome"] == "limit"
    assert result["seconds"] > 0


def test_summary_gives_the_issue_figures() -> None:
    rows = [{"workload": name, "cpython_mips": 4.0, "cpython_seconds": 1.0}
            for name in bench.C_WORKLOADS]
    rows += [{"workload": "smc", "cpython_seconds": 6.0},
             {"workload": "smc-plain", "cpython_seconds": 2.0}]
    figures = bench.summary(rows)
    assert figures["cpython_c_geomean_mips"] == pytest.approx(4.0)
    assert figures["cpython_smc_slowdown"] == pytest.approx(3.0)


def test_table_shows_ratio_to_qemu() -> None:
    table = bench._table([{"workload": "alu", "instructions": 1000, "cpython_mips": 10.0,
                           "qemu_mips": 2000.0}])
    assert "200x" in table.splitlines()[1]


def test_unknown_workload_is_one_clear_line(capsys) -> None:
    assert bench.main(["--only", "nosuch"]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_smp_benchmark_runs_a_small_slice() -> None:
    """benchmarks/smp.py, cut down to one configuration and one run: it prints its table."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "smp.py"
    result = subprocess.run([sys.executable, str(script), "--cpus", "2", "--repeat", "1",
                             "--no-pypy", "--no-qemu"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["vCPUs", "ppcd", "CPython"]
    assert row.split()[0] == "2" and row.split()[2] == "s" and float(row.split()[1]) > 0
