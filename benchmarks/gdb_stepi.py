"""gdb stepi round trip: how long one single step takes, as gdb's stepi sees it.

gdb's stepi is a `vCont;s` whose stop reply it waits for, then a register read (`g`) to show
where it stopped. This drives a real `ppcd run --gdb` over TCP with exactly those packets on the
spinning guest of tests/qmp/guests.py, in no-ack mode as gdb uses it, and reports p50/p99 of
the step alone and of step + registers.

    python benchmarks/gdb_stepi.py [--steps 2000] [--worker-python pypy3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from gdbstub.conftest import RawGDB, free_port  # noqa: E402
from qmp.guests import SPIN, write_guest  # noqa: E402


def percentile(values, fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--worker-python", default=sys.executable)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        elf = write_guest(Path(tmp) / "spin.elf", SPIN)
        port = free_port()
        daemon = subprocess.Popen(
            [sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(elf), "--serial", "null",
             "--gdb", f"tcp:127.0.0.1:{port}", "-S", "--worker-python", opts.worker_python],
            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.DEVNULL)
        try:
            client = RawGDB(port)
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.ask(b"QStartNoAckMode")
            results = {"vCont;s": [], "vCont;s + g": []}
            for n in range(opts.steps):
                started = time.perf_counter()
                assert client.ask(b"vCont;s:p1.1").startswith(b"T05")
                stepped = time.perf_counter()
                if n % 2:
                    client.ask(b"g")
                    results["vCont;s + g"].append(time.perf_counter() - started)
                else:
                    results["vCont;s"].append(stepped - started)
            client.ask(b"vKill;1")
        finally:
            daemon.wait(timeout=20)
    print(f"{'exchange':<14} {'count':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, values in results.items():
        print(f"{name:<14} {len(values):>6} {percentile(values, 0.5) * 1e3:>8.2f} "
              f"{percentile(values, 0.99) * 1e3:>8.2f} {statistics.mean(values) * 1e3:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
