"""`ppcd bench`: guest workloads timed under ppcd (CPython and PyPy workers) and QEMU.

Each workload is a guest ELF from benchmarks/ (or tests/guests/), built with the tests' cross
compilers. ppcd runs it in a worker process of the chosen interpreter, exactly as `ppcd run`
does (the control process loads the ELF into shared RAM; the worker only runs the vCPU), and
the worker times the vCPU alone: start-up, ELF loading and imports are not counted. QEMU runs
the same ELF (or, for the loops, one built with QEMU_SCALE times the iterations, so that its
run is long enough to time); its start-up is measured with the hello guest and subtracted.
Instruction counts are ppcd's (QEMU's count is the same program's, scaled for the loops).

    python -m ppcd.bench [--json] [--engine translate|interp] [--only NAME,...] [--no-qemu]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

REPO = pathlib.Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "benchmarks"
TESTS_DIR = REPO / "tests"
MEMORY = 256 << 20
QEMU = "qemu-system-ppc64"
QEMU_SCALE = 20          # QEMU runs the loops this many times longer
ENDIAN = "le"


class Workload:
    """A guest program: its source (benchmarks/NAME.c or a test guest) and its build flags."""

    def __init__(self, name: str, source: Optional[str], defines: Sequence[str] = (),
                 scale_define: Optional[str] = None, scale_base: int = 0,
                 kind: str = "run") -> None:
        self.name = name
        self.source = source            # None: a test guest of that name
        self.defines = tuple(defines)
        self.scale_define = scale_define   # the iteration macro QEMU's build multiplies
        self.scale_base = scale_base
        self.kind = kind                # "run", "idle" (CPU use per guest second)


C_WORKLOADS = ("sieve", "crc32", "sorting", "recursion", "stringops", "sdiv", "mul128", "switch")
WORKLOADS = [
    Workload("alu", "alu", scale_define="ITERATIONS", scale_base=5_000_000),
    Workload("loadstore", "loadstore", scale_define="ITERATIONS", scale_base=1000),
    Workload("call", "call", scale_define="ITERATIONS", scale_base=1_000_000),
    Workload("smc", "smc", scale_define="ITERATIONS", scale_base=200_000),
    Workload("smc-plain", "smc", defines=("PLAIN",), scale_define="ITERATIONS",
             scale_base=200_000),
    *[Workload(name, None) for name in C_WORKLOADS],
    Workload("idle", "idle", kind="idle"),
]


# --- building ---------------------------------------------------------------------------------

def _guest_build():
    """tests/guests/build.py: the cross-compiler flags, runtime and cache the tests use."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    from guests import build
    return build


def build_workload(workload: Workload, scale: int = 1) -> pathlib.Path:
    build = _guest_build()
    if workload.source is None:
        return build.build_guest(workload.name, ENDIAN)
    defines = list(workload.defines)
    if workload.scale_define and scale != 1:
        defines.append(f"{workload.scale_define}={workload.scale_base * scale}UL")
    flags = [*build.GUEST_FLAGS, *(f"-D{d}" for d in defines),
             "-T", str(build.GUEST_DIR / build.LINKER_SCRIPT)]
    suffix = "-".join(d.replace("=", "").lower() for d in defines)
    out = (build.DEFAULT_BUILD_DIR / "bench" / ENDIAN
           / f"{workload.source}{'-' + suffix if suffix else ''}.elf")
    sources = [*build.RUNTIME_SOURCES, str(BENCH_DIR / f"{workload.source}.c")]
    # The same cached builder as the test guests, with the benchmark source and defines.
    return build._build(build.guest_compiler(ENDIAN), flags, sources, [build.LINKER_SCRIPT],
                        out)


# --- running under ppcd -------------------------------------------------------------------------

def run_ppcd(elf: pathlib.Path, python: str, engine: str = "translate",
             max_instructions: Optional[int] = None) -> Dict[str, float]:
    """Boot `elf` in a worker under `python`; the worker's own timing of the vCPU."""
    from ppcd.machine.boot import BootConfig, fdt_address, prepare
    from ppcd.machine.ram import GuestRAM

    ram = GuestRAM(MEMORY)
    try:
        prepare(BootConfig(str(elf)), ram)
        config = {"ram_size": MEMORY, "ram_fd": ram.ram_fd, "dirty_fd": ram.dirty_fd,
                  "fdt_address": fdt_address(MEMORY), "engine": engine,
                  "max_instructions": max_instructions}
        result = subprocess.run(
            [python, "-m", "ppcd.bench", "--worker", json.dumps(config)],
            pass_fds=(ram.ram_fd, ram.dirty_fd), capture_output=True, cwd=str(REPO),
            env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    finally:
        ram.close()
    if result.returncode != 0:
        raise RuntimeError(f"{elf.name} under {python}: "
                           + result.stderr.decode(errors="replace").strip()[-2000:])
    return json.loads(result.stdout.decode().splitlines()[-1])


class _TimedConsole:
    """The guest console for a benchmark: output kept, the time of the first byte noted."""

    def __init__(self) -> None:
        self.output = bytearray()
        self.first: Optional[float] = None

    def write(self, data: bytes) -> None:
        if self.first is None:
            self.first = time.perf_counter()
        self.output += data

    def read(self, limit: int) -> bytes:
        return b""

    def wait_for_input(self) -> bool:
        return False


def worker(config: dict) -> int:
    """The benchmark worker: run the vCPU, print one JSON line with what it measured."""
    from ppcd.cpu.interpreter import MachineStop
    from ppcd.machine.pseries import Machine
    from ppcd.machine.ram import GuestRAM

    ram = GuestRAM(config["ram_size"], config["ram_fd"], config["dirty_fd"])
    console = _TimedConsole()
    machine = Machine(ram, "power9", console, engine=config["engine"])  # type: ignore[arg-type]
    machine.reset_cpu(config["fdt_address"])
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        outcome = machine.run(config["max_instructions"])
    except MachineStop:
        outcome = "stopped"
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    cpu = machine.cpu
    print(json.dumps({"instructions": cpu.icount, "seconds": seconds, "cpu_seconds": cpu_seconds,
                      "guest_seconds": (cpu.icount + cpu.tb_offset) / 512e6,
                      "first_output": (console.first - start) if console.first else None,
                      "outcome": outcome, "output": console.output.decode(errors="replace")}))
    return 0


# --- QEMU -------------------------------------------------------------------------------------

def qemu_available() -> bool:
    return shutil.which(QEMU) is not None


def run_qemu(elf: pathlib.Path) -> float:
    """Wall-clock seconds of a QEMU run of `elf` to power-off."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.insert(0, str(TESTS_DIR))
    from qemu_runner import qemu_command

    start = time.perf_counter()
    result = subprocess.run(qemu_command(elf), stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=600, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0 or not result.stdout.endswith(b"DONE\n"):
        raise RuntimeError(f"QEMU failed on {elf.name}: {result.stderr.decode(errors='replace')}")
    return seconds


# --- the table ----------------------------------------------------------------------------------

def _pythons() -> List[str]:
    found = [sys.executable]
    pypy = shutil.which("pypy3")
    if pypy:
        found.append(pypy)
    return found


def measure(workloads: List[Workload], engine: str, with_qemu: bool) -> List[dict]:
    rows = []
    qemu_startup = None
    if with_qemu:
        hello = _guest_build().build_guest("hello", ENDIAN)
        qemu_startup = min(run_qemu(hello) for _ in range(3))
    for workload in workloads:
        elf = build_workload(workload)
        row: dict = {"workload": workload.name}
        for python in _pythons():
            label = "pypy" if "pypy" in os.path.basename(python) else "cpython"
            result = run_ppcd(elf, python, engine)
            row["instructions"] = result["instructions"]
            row[f"{label}_seconds"] = result["seconds"]
            row[f"{label}_mips"] = result["instructions"] / result["seconds"] / 1e6
            if workload.kind == "idle":
                row[f"{label}_core_percent"] = (100 * result["cpu_seconds"]
                                                / result["guest_seconds"])
        if qemu_startup is not None and workload.kind == "run":
            scale = QEMU_SCALE if workload.scale_define else 1
            seconds = run_qemu(build_workload(workload, scale)) - qemu_startup
            # Below QEMU's start-up noise a run says nothing: report no figure.
            if seconds > 0.005:
                row["qemu_seconds"] = seconds
                row["qemu_mips"] = row["instructions"] * scale / seconds / 1e6
        rows.append(row)
    return rows


def summary(rows: List[dict]) -> dict:
    """The issue's figures of merit from the table."""
    by_name = {r["workload"]: r for r in rows}
    out: dict = {}
    for label in ("cpython", "pypy"):
        c_mips = [by_name[n][f"{label}_mips"] for n in C_WORKLOADS
                  if f"{label}_mips" in by_name.get(n, {})]
        if c_mips:
            out[f"{label}_c_geomean_mips"] = math.exp(sum(map(math.log, c_mips)) / len(c_mips))
        if "smc" in by_name and "smc-plain" in by_name and f"{label}_seconds" in by_name["smc"]:
            out[f"{label}_smc_slowdown"] = (by_name["smc"][f"{label}_seconds"]
                                            / by_name["smc-plain"][f"{label}_seconds"])
    return out


def _table(rows: List[dict]) -> str:
    columns = [("workload", "{}"), ("instructions", "{:,}"), ("cpython_mips", "{:.2f}"),
               ("pypy_mips", "{:.2f}"), ("qemu_mips", "{:.0f}")]
    header = ["workload", "instructions", "CPython MIPS", "PyPy MIPS", "QEMU MIPS",
              "QEMU/CPython", "QEMU/PyPy"]
    lines = []
    for r in rows:
        cells = [fmt.format(r[key]) if key in r else "-" for key, fmt in columns]
        for label in ("cpython", "pypy"):
            ok = "qemu_mips" in r and f"{label}_mips" in r
            cells.append(f"{r['qemu_mips'] / r[f'{label}_mips']:.0f}x" if ok else "-")
        if "cpython_core_percent" in r:
            cells[2] = f"{r['cpython_core_percent']:.2f}% core"
            if "pypy_core_percent" in r:
                cells[3] = f"{r['pypy_core_percent']:.2f}% core"
        lines.append(cells)
    widths = [max(len(x) for x in col) for col in zip(header, *lines)]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    return "\n".join(fmt.format(*row) for row in [header, *lines])


def first_output_seconds(python: str = sys.executable) -> float:
    """Seconds from `ppcd run` (the demo guest) starting to its first byte of output."""
    start = time.perf_counter()
    proc = subprocess.Popen([python, "-m", "ppcd.cli", "run"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(REPO))
    assert proc.stdout is not None
    first = proc.stdout.read(1)
    seconds = time.perf_counter() - start
    proc.communicate(timeout=120)
    if not first:
        raise RuntimeError("ppcd run printed nothing")
    return seconds


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="ppcd bench", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--engine", default="translate", choices=("translate", "interp"))
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--no-qemu", action="store_true", help="do not run QEMU")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.worker:
        return worker(json.loads(opts.worker))
    chosen = [w for w in WORKLOADS if not opts.only or w.name in opts.only.split(",")]
    unknown = set(filter(None, opts.only.split(","))) - {w.name for w in WORKLOADS}
    if unknown:
        print(f"ppcd bench: unknown workload {', '.join(sorted(unknown))}: choose from "
              + ", ".join(w.name for w in WORKLOADS), file=sys.stderr)
        return 1
    build = _guest_build()
    try:
        rows = measure(chosen, opts.engine, qemu_available() and not opts.no_qemu)
    except build.BuildError as exc:
        print(f"ppcd bench: {exc}", file=sys.stderr)
        return 1
    report: dict = {"machine": f"{platform.node()} {platform.machine()} "
                               f"{os.cpu_count()} cores, {platform.python_implementation()} "
                               f"{platform.python_version()}",
                    "engine": opts.engine, "rows": rows, "summary": summary(rows)}
    if not opts.only:
        try:
            report["summary"]["demo_first_output_seconds"] = first_output_seconds()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            report["summary"]["demo_first_output_error"] = str(exc)
    if opts.json:
        print(json.dumps(report, indent=2))
    else:
        print(_table(rows))
        for key, value in report["summary"].items():
            print(f"{key}: {value:.3g}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
