"""Several vCPUs: wall time of the SMP guest (tests/guests/smp.c) with 1 to 8 vCPUs.

Each vCPU adds 3,000 times to counters under a lwarx/stwcx. lock and with atomic adds, then
cedes, is prodded and stops itself; the boot vCPU waits for all of them. ppcd runs the vCPUs in
turns on one host thread (CPython and PyPy workers); QEMU runs one host thread per vCPU (on
this machine's cores). The same ELF is run by both; each figure is the best of --repeat runs.

    python benchmarks/smp.py [--cpus 1,2,4,8] [--repeat 3] [--no-qemu] [--no-pypy]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from guests import build  # noqa: E402
from qemu_runner import qemu_command  # noqa: E402


def best_of(command, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=600, check=False)
        elapsed = time.perf_counter() - start
        if result.returncode != 0 or not result.stdout.endswith(b"DONE\n"):
            raise SystemExit(f"{command[0]} failed: {result.stderr.decode()[-500:]}")
        best = min(best, elapsed)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpus", default="1,2,4,8")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-qemu", action="store_true")
    parser.add_argument("--no-pypy", action="store_true")
    opts = parser.parse_args()
    elf = build.build_guest("smp", "be")
    runners = {"ppcd CPython": [sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(elf)]}
    if not opts.no_pypy and shutil.which("pypy3"):
        runners["ppcd PyPy"] = runners["ppcd CPython"] + ["--worker-python", "pypy3"]
    print(f"{'vCPUs':>5}  " + "  ".join(f"{name:>14}" for name in runners)
          + ("  " + f"{'QEMU':>14}" if not opts.no_qemu else ""))
    for count in (int(n) for n in opts.cpus.split(",")):
        row = [best_of(command + ["--smp", str(count)], opts.repeat)
               for command in runners.values()]
        if not opts.no_qemu:
            row.append(best_of(qemu_command(elf, count), opts.repeat))
        print(f"{count:>5}  " + "  ".join(f"{seconds:>12.2f} s" for seconds in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
