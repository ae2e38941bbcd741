"""Daemons for the migration tests: real `ppcd run` processes, QMP on UNIX sockets."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
from qmp.conftest import ROOT, RawClient, spawn_ppcd

from .guests import COUNTER_ADDRESS, FAILED_ADDRESS, write_self_checking

# QEMU's own stream reader, from Debian's qemu source package: scripts/test fetches it there.
ANALYZE_MIGRATION = os.environ.get("PPCD_ANALYZE_MIGRATION",
                                   str(ROOT / "tests" / ".cache" / "analyze-migration.py"))


class Daemon:
    def __init__(self, directory: Path, name: str, kernel: Path, *args: str) -> None:
        self.socket_path = str(directory / f"{name}.qmp")
        self.command, self.process = spawn_ppcd(self.socket_path, kernel, *args,
                                                stdout=subprocess.DEVNULL)
        self.qmp = RawClient(self.socket_path)
        self.qmp.command("qmp_capabilities")

    def word(self, address: int) -> int:
        text = self.qmp.hmp(f"xp/1xw {address:#x}")
        return int(text.split(":")[1].split()[0], 16)

    def counter(self) -> int:
        return self.word(COUNTER_ADDRESS)

    def failed_page(self) -> int:
        return self.word(FAILED_ADDRESS)

    def wait_migration(self, timeout: float = 60) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.qmp.command("query-migrate")
            if info.get("status") in ("completed", "failed", "cancelled"):
                return info
            time.sleep(0.02)
        raise AssertionError(f"migration did not finish: {info}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        finally:
            self.process.stderr.close()


@pytest.fixture
def daemons(tmp_path):
    started: List[Daemon] = []

    def start(name: str, kernel: Path, *args: str) -> Daemon:
        daemon = Daemon(tmp_path, name, kernel, *args)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture(scope="session")
def checking_elf(tmp_path_factory) -> Path:
    return write_self_checking(tmp_path_factory.mktemp("guests") / "checking.elf", pages=1024)


def set_capabilities(daemon: Daemon, **states: bool) -> None:
    daemon.qmp.command("migrate-set-capabilities", {"capabilities": [
        {"capability": name.replace("_", "-"), "state": state} for name, state in states.items()]})


def be32(value: int) -> bytes:
    return struct.pack(">I", value)
