"""Live-migration benchmark: ppcd and qemu-system-ppc64 side by side (docs/performance.md).

    python benchmarks/migration.py [--sizes 256M,1G] [--no-qemu]

For each RAM size: an idle guest (it spins on one page) and, for ppcd, the self-checking guest
of tests/migration dirtying 1024 pages per pass, migrated over a UNIX socket with QEMU's default
parameters (max-bandwidth 128 MiB/s, downtime-limit 300 ms). QEMU migrates a pseries guest of
the same size (x-vof=on, the same spinning ELF) to an `-incoming` peer. Prints one Markdown
table row per run: total time, downtime, MB/s and passes as query-migrate reports them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from migration.guests import write_self_checking  # noqa: E402
from qmp.conftest import RawClient  # noqa: E402
from qmp.guests import SPIN, write_guest  # noqa: E402

from ppcd.machine.ram import parse_size  # noqa: E402


def _wait_socket(path: str, process: subprocess.Popen) -> RawClient:
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{process.args[0]} did not start")
        time.sleep(0.02)
    for _ in range(100):
        try:
            client = RawClient(path)
            client.command("qmp_capabilities")
            return client
        except (ConnectionRefusedError, FileNotFoundError):
            time.sleep(0.05)
    raise RuntimeError("QMP did not answer")


def _ppcd(directory: Path, name: str, kernel: Path, memory: str, *extra: str):
    qmp = str(directory / f"{name}.qmp")
    process = subprocess.Popen(
        [sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(kernel), "--memory", memory,
         "--serial", "null", "--qmp", f"unix:{qmp}", *extra],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), stderr=subprocess.DEVNULL)
    return process, _wait_socket(qmp, process)


def _qemu(directory: Path, name: str, kernel: Path, memory: str, *extra: str):
    qmp = str(directory / f"{name}.qmp")
    process = subprocess.Popen(
        ["qemu-system-ppc64", "-nodefaults", "-M", "pseries,x-vof=on", "-accel", "tcg",
         "-m", memory, "-display", "none", "-serial", "null", "-kernel", str(kernel),
         "-qmp", f"unix:{qmp},server=on,wait=off", *extra], stderr=subprocess.DEVNULL)
    return process, _wait_socket(qmp, process)


def _migrate(start, directory: Path, kernel: Path, memory: str) -> dict:
    uri = f"unix:{directory}/migration.sock"
    source, source_qmp = start(directory, "source", kernel, memory)
    destination, _ = start(directory, "destination", kernel, memory, "-incoming"
                           if start is _qemu else "--incoming", uri)
    try:
        time.sleep(0.5)           # the guest runs a little first
        source_qmp.command("migrate", {"uri": uri})
        while True:
            info = source_qmp.command("query-migrate")
            if info.get("status") in ("completed", "failed", "cancelled"):
                return info
            time.sleep(0.005)
    finally:
        for process in (source, destination):
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256M,1G")
    parser.add_argument("--no-qemu", action="store_true")
    args = parser.parse_args()
    print("| emulator | RAM | guest | total ms | downtime ms | MB/s | passes |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        idle = write_guest(directory / "idle.elf", SPIN)
        dirtying = write_self_checking(directory / "dirtying.elf", pages=1024)
        runs = []
        for size in args.sizes.split(","):
            parse_size(size)
            runs += [("ppcd", _ppcd, size, "idle", idle),
                     ("ppcd", _ppcd, size, "dirtying 4 MiB/pass", dirtying)]
            if not args.no_qemu:
                runs.append(("qemu-system-ppc64 7.2", _qemu, size, "idle", idle))
        for emulator, start, size, guest, kernel in runs:
            for leftover in [*directory.glob("*.sock"), *directory.glob("*.qmp")]:
                leftover.unlink()
            info = _migrate(start, directory, kernel, size)
            if info.get("status") != "completed":
                print(f"| {emulator} | {size} | {guest} | failed: {json.dumps(info)} |")
                continue
            ram = info["ram"]
            rate = ram["transferred"] / 1e3 / max(info["total-time"], 1)
            print(f"| {emulator} | {size} | {guest} | {info['total-time']} | "
                  f"{info.get('downtime')} | {rate:.0f} | {ram['dirty-sync-count']} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
