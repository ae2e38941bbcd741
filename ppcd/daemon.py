"""Process lifecycle: the control process prepares the machine and supervises the vCPU worker.

The worker runs in its own process (DESIGN.md) with guest RAM and the dirty map passed as
memfds. A reboot requested by the guest is a fresh load of the image into cleared RAM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional

from .machine.boot import BootConfig, fdt_address, prepare
from .machine.ram import GuestRAM
from .machine.rtas import REBOOT_STATUS


class ConfigError(Exception):
    """A bad option or backend; the message is one line for the person."""


@dataclass
class RunOptions:
    boot: BootConfig
    serial: str = "stdio"
    max_instructions: Optional[int] = None
    worker_python: str = sys.executable


def open_serial(spec: str):
    """(output fd, input fd or None) for a --serial backend: stdio, file:PATH or null."""
    if spec == "stdio":
        return sys.stdout.fileno(), (sys.stdin.fileno() if not sys.stdin.closed else None)
    if spec == "null":
        return os.open(os.devnull, os.O_WRONLY), None
    if spec.startswith("file:") and len(spec) > 5:
        path = spec[5:]
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), None
        except OSError as e:
            raise ConfigError(f"cannot open serial file {path!r}: {e.strerror}") from None
    raise ConfigError(f"unknown serial backend {spec!r}: use stdio, file:PATH or null")


def run_guest(options: RunOptions) -> int:
    """Run the guest to completion; returns the process exit status."""
    out_fd, in_fd = open_serial(options.serial)
    ram = GuestRAM(options.boot.memory)
    try:
        while True:
            prepare(options.boot, ram)
            status = _run_worker(options, ram, out_fd, in_fd)
            if status != REBOOT_STATUS:
                return status
            ram.clear()
    finally:
        ram.close()


def _run_worker(options: RunOptions, ram: GuestRAM, out_fd: int, in_fd: Optional[int]) -> int:
    config = {
        "ram_size": ram.size, "ram_fd": ram.ram_fd, "dirty_fd": ram.dirty_fd,
        "cpu": options.boot.cpu, "fdt_address": fdt_address(ram.size),
        "max_instructions": options.max_instructions,
        "console_out_fd": out_fd, "console_in_fd": in_fd,
    }
    fds = [fd for fd in (ram.ram_fd, ram.dirty_fd, out_fd, in_fd) if fd is not None]
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
    try:
        proc = subprocess.Popen(
            [options.worker_python, "-m", "ppcd.machine.worker", json.dumps(config)],
            pass_fds=fds, env=env)
    except OSError as e:
        raise ConfigError(f"cannot start the vCPU worker with {options.worker_python!r}: "
                          f"{e.strerror}") from None
    try:
        status = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        return 130
    if status < 0:
        sys.stderr.write(f"ppcd: vCPU worker killed by signal {-status}\n")
        return 1
    return status
