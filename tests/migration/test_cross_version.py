"""Migrations between the current code and a genuinely older ppcd: the commit that released the
pseries-0.1 stream format (no compatibility modes, no handshake), checked out with
`git worktree` and run from its own tree, in both directions, raw and in compat mode."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from qmp.conftest import ROOT, START_TIMEOUT, RawClient

from ppcd.migration.checker import check_released

from .compat_guests import POWER8, counters, write_compat_guest
from .conftest import Daemon, set_capabilities
from .test_compat import assert_enforces, compat_of, migrate, started

# ppcd 0.1: live migration with machine type pseries-0.1, before compatibility modes.
RELEASED_0_1 = "016a0580dc10760a17f2d915d0742206eccfc852"
MEMORY = ("--memory", "64M")


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """The released tree, as a worktree of this repository (CI clones have the history)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and this repository's history")
    if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{RELEASED_0_1}^{{commit}}"],
                      capture_output=True).returncode:
        pytest.fail(f"commit {RELEASED_0_1} is missing: a shallow clone? git fetch --unshallow")
    tree = tmp_path_factory.mktemp("released") / "ppcd-0.1"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force",
                    str(tree), RELEASED_0_1], check=True, capture_output=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                       capture_output=True)


class ReleasedDaemon(Daemon):
    """A `ppcd run` of the released tree: its own code on PYTHONPATH, nothing of ours."""

    def __init__(self, tree: Path, directory: Path, name: str, kernel: Path, *args: str) -> None:
        self.socket_path = str(directory / f"{name}.qmp")
        self.command = [sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(kernel),
                        "--qmp", f"unix:{self.socket_path}", "--serial", "null", *args]
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        env=dict(os.environ, PYTHONPATH=str(tree)), cwd=tree)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(self.socket_path):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ppcd 0.1 did not start: {self.process.stderr.read()!r}")
            time.sleep(0.02)
        self.qmp = RawClient(self.socket_path)
        self.qmp.command("qmp_capabilities")


@pytest.fixture
def old_daemons(released, tmp_path):
    started_: list = []

    def start(name: str, kernel: Path, *args: str) -> ReleasedDaemon:
        daemon = ReleasedDaemon(released, tmp_path, name, kernel, *args)
        started_.append(daemon)
        return daemon

    yield start
    for daemon in started_:
        daemon.stop()


@pytest.fixture(scope="module")
def guests(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cross-guests")
    return {"power8": write_compat_guest(folder / "power8.elf", [(0xFFFFFFFF, POWER8)]),
            "none": write_compat_guest(folder / "none.elf", None)}


def test_released_schema_is_the_stored_one(released, tmp_path) -> None:
    dump = tmp_path / "released.json"
    subprocess.run([sys.executable, "-m", "ppcd.cli", "dump-vmstate", "--machine",
                    "pseries-0.1", str(dump)], check=True, cwd=released,
                   env=dict(os.environ, PYTHONPATH=str(released)))
    stored = json.loads((ROOT / "tests/migration/schemas/pseries-0.1.json").read_text())
    assert check_released(json.loads(dump.read_text()), stored) == []


@pytest.mark.parametrize("mode", ["raw", "compat"])
def test_released_to_current(old_daemons, daemons, guests, tmp_path, mode) -> None:
    source = old_daemons("old", guests["none"], *MEMORY)
    # The old source sends its stream at once and reads the return path: no greeting for it.
    set_capabilities(source, return_path=True)
    uri = f"unix:{tmp_path}/migration.sock"
    compat = ("--max-cpu-compat", "power8") if mode == "compat" else ()
    destination = daemons("new", guests["none"], *MEMORY, "--machine", "pseries-0.1", *compat,
                          "--incoming", uri)
    _until_iterations(source)
    assert migrate(source, destination, uri)["status"] == "completed"
    # No cpu/compat in an 0.1 stream: the destination's own max-cpu-compat decides (QEMU's).
    assert_enforces(destination, POWER8 if mode == "compat" else 0)


def test_current_to_released_raw(old_daemons, daemons, guests, tmp_path) -> None:
    source = daemons("new", guests["none"], *MEMORY, "--machine", "pseries-0.1")
    uri = f"unix:{tmp_path}/migration.sock"
    destination = old_daemons("old", guests["none"], *MEMORY, "--incoming", uri)
    started(source)
    assert migrate(source, destination, uri)["status"] == "completed"
    before = counters(destination.word)
    _until_iterations(destination, before["iterations"] + 50)
    assert counters(destination.word)["illegal"] == before["illegal"] == 0


@pytest.mark.parametrize("guest,compat", [("power8", ()), ("none", ("--max-cpu-compat",
                                                                     "power8"))])
def test_current_to_released_compat_is_refused(old_daemons, daemons, guests, tmp_path, guest,
                                               compat) -> None:
    source = daemons("new", guests[guest], *MEMORY, "--machine", "pseries-0.1", *compat)
    uri = f"unix:{tmp_path}/migration.sock"
    old_daemons("old", guests[guest], *MEMORY, "--incoming", uri)
    started(source)
    reply = source.qmp.execute("migrate", {"uri": uri})
    assert reply["error"]["desc"] == (
        "the guest runs in power8 compatibility mode, which this migration cannot carry: the "
        "destination (a ppcd without the handshake) has no compatibility modes and would run "
        "the guest in raw mode")
    assert compat_of(source)["compat-pvr"] == POWER8
    assert_enforces(source, POWER8)


def _until_iterations(daemon, at_least: int = 20) -> None:
    deadline = time.monotonic() + 30
    while counters(daemon.word)["iterations"] < at_least:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
