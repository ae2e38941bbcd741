"""Live migration between daemons whose vCPU workers run under different interpreters: a
running self-checking guest goes from a PyPy worker (`--worker-python pypy3`) to a CPython
one and back, over several pre-copy passes, and checks every page on each destination."""

from __future__ import annotations

import os
import shutil
import sys
import time

import pytest

from .conftest import set_capabilities

pytestmark = pytest.mark.skipif(shutil.which("pypy3") is None, reason="pypy3 not installed")

SMALL = ("--memory", "32M")
PYPY = ("--worker-python", "pypy3")


def _until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _worker(daemon) -> str:
    """The interpreter the daemon's vCPU worker process runs."""
    pid = daemon.qmp.command("query-cpus-fast")[0]["thread-id"]
    return os.path.realpath(f"/proc/{pid}/exe")


def _hop(source, destination, uri: str) -> None:
    """Migrate over several passes (auto-converge may throttle the worker); the destination
    (started with -S) holds the guest paused at the instruction the source stopped at, then
    runs it and checks every page."""
    set_capabilities(source, events=True, auto_converge=True)
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 16 << 20,
                                                  "downtime-limit": 1,
                                                  "cpu-throttle-initial": 30})
    source.qmp.command("migrate", {"uri": uri})
    _until(lambda: source.qmp.command("query-migrate").get("ram", {})
           .get("dirty-sync-count", 0) >= 3)
    source.qmp.command("migrate-set-parameters", {"downtime-limit": 20000})
    assert source.wait_migration()["status"] == "completed"
    _until(lambda: destination.qmp.command("query-migrate").get("status") == "completed")
    assert destination.qmp.command("query-status")["status"] == "paused"
    # Exactly the source's machine: the same instruction count and pass counter.
    assert destination.qmp.command("query-replay") == source.qmp.command("query-replay")
    assert destination.counter() == source.counter() > 0
    destination.qmp.command("cont")
    start = destination.counter()
    _until(lambda: destination.counter() > start + 2)
    assert destination.failed_page() == 0


def test_pypy_to_cpython_and_back(daemons, checking_elf, tmp_path) -> None:
    source = daemons("pypy", checking_elf, *SMALL, *PYPY)
    middle = daemons("cpython", checking_elf, *SMALL, "-S", "--incoming",
                     f"unix:{tmp_path}/there.sock")
    back = daemons("pypy-again", checking_elf, *SMALL, *PYPY, "-S", "--incoming",
                   f"unix:{tmp_path}/back.sock")
    assert "pypy" in os.path.basename(_worker(source))
    assert _worker(middle) == os.path.realpath(sys.executable)
    assert "pypy" in os.path.basename(_worker(back))
    _until(lambda: source.counter() > 2)
    _hop(source, middle, f"unix:{tmp_path}/there.sock")
    _hop(middle, back, f"unix:{tmp_path}/back.sock")
