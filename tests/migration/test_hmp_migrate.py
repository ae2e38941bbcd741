"""HMP info migrate, info migrate_capabilities and info migrate_parameters against
qemu-system-ppc64 7.2, the oracle: the same sequence (before, during and after a live migration,
at the source and at the destination) runs against two real QEMUs and two real ppcds, and the
texts must match line for line once numbers and paths are normalised."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
from qemu_runner import qemu_available, qemu_command
from qmp.conftest import RawClient

from .conftest import set_capabilities

pytestmark = pytest.mark.skipif(not qemu_available(), reason="qemu-system-ppc64 not installed")

START_TIMEOUT = 20.0


class Qemu:
    """qemu-system-ppc64 with DESIGN.md's guest ABI command line and QMP on a UNIX socket;
    the same .qmp and .stop() as the migration tests' ppcd Daemon."""

    def __init__(self, directory: Path, name: str, kernel: Path, *args: str) -> None:
        self.socket_path = str(directory / f"{name}.qmp")
        self.log = open(directory / f"{name}.log", "wb")
        self.process = subprocess.Popen(
            [*qemu_command(kernel), "-qmp", f"unix:{self.socket_path},server=on,wait=off",
             *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.qmp = RawClient(self.socket_path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"QEMU did not start: "
                                       f"{(directory / f'{name}.log').read_text()}") from None
                time.sleep(0.02)
        self.qmp.command("qmp_capabilities")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.kill()
        try:
            return self.process.wait(timeout=20)
        finally:
            self.qmp.close()
            self.log.close()


@pytest.fixture
def qemus(tmp_path):
    started: List[Qemu] = []

    def start(name: str, kernel: Path, *args: str) -> Qemu:
        qemu = Qemu(tmp_path, name, kernel, *args)
        started.append(qemu)
        return qemu

    yield start
    for qemu in started:
        qemu.stop()


def until(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def statuses(client: RawClient) -> List[str]:
    return [e["data"]["status"] for e in client.events if e["event"] == "MIGRATION"]


def counter(machine: Any) -> int:
    """The self-checking guest's pass number, read with HMP xp (QEMU's and ppcd's alike)."""
    return int(machine.qmp.hmp("xp/1xw 0x1000").split(":")[1].split()[0], 16)


def status(machine: Any) -> str:
    return machine.qmp.command("query-migrate").get("status", "none")


def lines(machine: Any, command: str) -> List[str]:
    text = machine.qmp.hmp(command)
    assert text.endswith("\r\n"), repr(text)
    return text[:-2].split("\r\n")


def _first_pass_under_way(machine: Any) -> bool:
    info = machine.qmp.command("query-migrate")
    ram = info.get("ram", {})
    return (info.get("status") == "active" and ram.get("dirty-sync-count") == 1
            and ram.get("transferred", 0) > 0)


def migrate_sequence(source: Any, destination: Any, uri: str) -> Dict[str, List[str]]:
    """Every HMP text of interest along one live migration, as printed."""
    seen = {"capabilities": lines(source, "info migrate_capabilities"),
            "parameters": lines(source, "info migrate_parameters"),
            "source before": lines(source, "info migrate"),
            "destination before": lines(destination, "info migrate")}
    set_capabilities(source, events=True)
    set_capabilities(destination, events=True)
    # Slow enough that the first pass is still going when the texts are taken.
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 1 << 20,
                                                  "cpu-throttle-initial": 30})
    seen["capabilities set"] = lines(source, "info migrate_capabilities")
    seen["parameters set"] = lines(source, "info migrate_parameters")
    source.qmp.command("migrate", {"uri": uri})
    until(lambda: _first_pass_under_way(source) and status(destination) == "active")
    seen["source during"] = lines(source, "info migrate")
    seen["destination during"] = lines(destination, "info migrate")
    assert _first_pass_under_way(source)
    source.qmp.command("migrate-set-parameters", {"max-bandwidth": 0, "downtime-limit": 20000})
    until(lambda: status(source) in ("completed", "failed", "cancelled"))
    assert status(source) == "completed"
    until(lambda: status(destination) in ("completed", "failed"))
    seen["source after"] = lines(source, "info migrate")
    seen["destination after"] = lines(destination, "info migrate")
    seen["source events"] = statuses(source.qmp)
    seen["destination events"] = statuses(destination.qmp)
    return seen


def normalise(text: List[str], path: str) -> List[str]:
    return [re.sub(r"\d+", "N", line.replace(path, "PATH")) for line in text]


def ppcd_view(qemu: List[str], ppcd: List[str], extra=()) -> List[str]:
    """QEMU's name: value lines for the names ppcd has, in QEMU's order; ppcd's own extras
    (`extra`) must be the only lines QEMU lacks."""
    names = {line.split(":")[0] for line in ppcd} - set(extra)
    return [line for line in qemu if line.split(":")[0] in names]


def test_info_migrate_as_qemu_prints_it(qemus, daemons, checking_elf, tmp_path) -> None:
    qemu_uri = f"unix:{tmp_path}/qemu-migration.sock"
    ppcd_uri = f"unix:{tmp_path}/ppcd-migration.sock"
    qemu = migrate_sequence(qemus("qemu-source", checking_elf),
                            qemus("qemu-destination", checking_elf, "-incoming", qemu_uri),
                            qemu_uri)
    source = daemons("source", checking_elf)
    destination = daemons("destination", checking_elf, "--incoming", ppcd_uri)
    ppcd = migrate_sequence(source, destination, ppcd_uri)

    for stage in ("source before", "destination before", "source during",
                  "destination during", "source after", "destination after"):
        assert normalise(ppcd[stage], ppcd_uri[5:]) == normalise(qemu[stage], qemu_uri[5:]), \
            (stage, qemu[stage], ppcd[stage])
    # The destination's listening socket shows until its load ends.
    assert qemu["destination during"][-3:] == ["socket address: [", f"\t{qemu_uri}", "]"]
    assert ppcd["destination during"][-3:] == ["socket address: [", f"\t{ppcd_uri}", "]"]
    assert ppcd["source events"] == qemu["source events"] == ["setup", "active", "completed"]
    assert ppcd["destination events"] == qemu["destination events"] == ["active", "completed"]

    # Capabilities and parameters: the same lines, values included, for what ppcd has.
    for stage in ("capabilities", "capabilities set"):
        assert ppcd[stage] == ppcd_view(qemu[stage], ppcd[stage]), (stage, qemu[stage])
    assert "events: on" in ppcd["capabilities set"]
    for stage in ("parameters", "parameters set"):
        # avail-switchover-bandwidth is QEMU 8.2's; 7.2 prints none.
        assert [line for line in ppcd[stage] if not line.startswith("avail-")] == \
            ppcd_view(qemu[stage], ppcd[stage], extra=("avail-switchover-bandwidth",)), \
            (stage, qemu[stage])
    assert "max-bandwidth: 1048576 bytes/second" in ppcd["parameters set"]

    # The query-migrate the texts come from: the destination's is QEMU's shape as well.
    assert destination.qmp.command("query-migrate") == {"status": "completed"}


def test_destination_socket_address_tcp(daemons, qemus, checking_elf) -> None:
    """A tcp: destination names the address it listens on, as QEMU's does."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        ports = [probe.getsockname()[1]]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        ports.append(probe.getsockname()[1])
    qemu = qemus("qemu", checking_elf, "-incoming", f"tcp:127.0.0.1:{ports[0]}")
    ppcd = daemons("ppcd", checking_elf, "--incoming", f"tcp:127.0.0.1:{ports[1]}")
    for machine, port in ((qemu, ports[0]), (ppcd, ports[1])):
        assert machine.qmp.command("query-migrate") == {"socket-address": [
            {"type": "inet", "host": "127.0.0.1", "port": str(port), "ipv4": True}]}
        assert lines(machine, "info migrate")[-3:] == [
            "socket address: [", f"\ttcp:127.0.0.1:{port}", "]"]

