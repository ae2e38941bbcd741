"""QMP and HMP with several vCPUs (`ppcd run --smp 2`), shaped as QEMU 7.2's pseries -smp 2.

The same requests go to a real qemu-system-ppc64 -smp 2 and to ppcd --smp 2, both stopped
before the guest starts (-S); the replies must be equal once thread ids (and, for vCPU 0,
register values: QEMU enters VOF at 0x100) are set aside. Then a GCC-built guest that starts
its secondary vCPU with RTAS start-cpu shows per-vCPU registers that make sense: vCPU 1 sits at
the reset vector until it is started, then runs the guest's secondary code on its own stack.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from elftools.elf.elffile import ELFFile
from guests import build
from qemu.qmp import QMPClient
from qemu_runner import QEMU, qemu_available

from ppcd.machine.pseries import MAX_CPUS
from ppcd.machine.scheduler import QUANTUM
from ppcd.qmp.hmp import HMPState, run_hmp

from .conftest import ROOT, RawClient

DEMO_ELF = ROOT / "ppcd" / "machine" / "demo" / "demo.elf"
needs_qemu = pytest.mark.skipif(not qemu_available(), reason="qemu-system-ppc64 is not installed")


def hmp(line: str, cpu_index: Optional[int] = None) -> Tuple[str, Dict[str, Any]]:
    arguments: Dict[str, Any] = {"command-line": line}
    if cpu_index is not None:
        arguments["cpu-index"] = cpu_index
    return "human-monitor-command", arguments


def q(name: str, **arguments: Any) -> Tuple[str, Dict[str, Any]]:
    return name, arguments


# Each scenario runs on one connection, in order; the last reply is compared.
SCENARIOS: Dict[str, List[Tuple[str, Dict[str, Any]]]] = {
    "query-cpus-fast": [q("query-cpus-fast")],
    "info cpus": [hmp("info cpus")],
    "info cpus, cpu-index 1": [hmp("info cpus", 1)],
    # QEMU runs each human-monitor-command in a fresh monitor: `cpu 1` ends with its command.
    "cpu 1": [hmp("cpu 1")],
    "cpu 1, then info cpus": [hmp("cpu 1"), hmp("info cpus")],
    "cpu 1, then info registers": [hmp("cpu 1"), hmp("info registers")],
    "info registers": [hmp("info registers")],
    "info registers, cpu-index 1": [hmp("info registers", 1)],
    "info registers 1": [hmp("info registers 1")],
    "info registers -a": [hmp("info registers -a")],
    "info registers -a, cpu-index 1": [hmp("info registers -a", 1)],
    "info registers 0x80000000": [hmp("info registers 0x80000000")],
    "info registers 5": [hmp("info registers 5")],
    "info registers x": [hmp("info registers x")],
    "info registers -1": [hmp("info registers -1")],
    "info registers -b": [hmp("info registers -b")],
    "info registers 1 2": [hmp("info registers 1 2")],
    "info registers 0x100000000": [hmp("info registers 0x100000000")],
    "info cpus extra": [hmp("info cpus extra")],
    "cpu 5": [hmp("cpu 5")],
    "cpu": [hmp("cpu")],
    "cpu x": [hmp("cpu x")],
    "cpu -1": [hmp("cpu -1")],
    "cpu 1 2": [hmp("cpu 1 2")],
    "cpu (1": [hmp("cpu (1")],
    "help cpu": [hmp("help cpu")],
    "help info registers": [hmp("help info registers")],
    "x/2x 0x400000 junk": [hmp("x/2x 0x400000 junk")],
    "x/2x zz": [hmp("x/2x zz")],
    "cpu-index 2": [hmp("info cpus", 2)],
    "cpu-index -1": [hmp("info cpus", -1)],
    "cpu-index 2**32 (a C int: 0)": [hmp("info cpus", 1 << 32)],
    "cpu-index true": [hmp("info cpus", True)],
    "memsave, cpu-index 2": [q("memsave", val=0, size=1, filename="/dev/null",
                               **{"cpu-index": 2})],
}

# Lines of `info registers` both print the same way for a vCPU that has not started.
_SAME_LINES = re.compile(r"(NIP|GPR\d\d|CR|FPR\d\d|FPSCR) ")


def normalise(name: str, reply: Dict[str, Any]) -> Any:
    """The reply with what may differ set aside: thread ids, vCPU 0's register values (QEMU's
    boot vCPU enters VOF, ppcd's the guest), lines only one of them prints."""
    if "error" in reply:
        return {"error": reply["error"]}
    value = reply["return"]
    if name == "query-cpus-fast":
        return [dict(cpu, **{"thread-id": "N"}) for cpu in value]
    if not isinstance(value, str):
        return value
    value = re.sub(r"thread_id=\d+", "thread_id=N", value)
    if "\r\nCPU#" not in value:
        return value
    # info registers: the "\r\nCPU#i\r\n" headings, then for a vCPU that has not started
    # (all but vCPU 0), the lines both print.
    blocks = []
    for block in value.split("\r\nCPU#")[1:]:
        heading, *lines = f"CPU#{block}".split("\r\n")
        kept = [line for line in lines if _SAME_LINES.match(line)]
        if heading == "CPU#0":
            kept = [re.sub(r"[0-9a-f]{8,}", "X", line) for line in kept]
        blocks.append((heading, kept))
    return {"starts with an empty line": value.startswith("\r\n"), "blocks": blocks}


def run_scenarios(socket_path: str) -> Dict[str, Any]:
    client = RawClient(socket_path)
    try:
        client.command("qmp_capabilities")
        answers = {}
        for name, requests in SCENARIOS.items():
            for command, arguments in requests:
                reply = client.execute(command, arguments)
            answers[name] = normalise(command, reply)
        return answers
    finally:
        client.close()


def _wait_for(path: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        if os.path.exists(path):
            probe = socket.socket(socket.AF_UNIX)
            try:
                probe.connect(path)
                return
            except OSError:
                pass
            finally:
                probe.close()
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{process.args[0]} did not start")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def qemu_answers(tmp_path_factory) -> Dict[str, Any]:
    path = str(tmp_path_factory.mktemp("qemu") / "qmp.sock")
    process = subprocess.Popen(
        [QEMU, "-nodefaults", "-M", "pseries,x-vof=on", "-accel", "tcg", "-m", "256M",
         "-display", "none", "-smp", "2", "-kernel", str(DEMO_ELF),
         "-qmp", f"unix:{path},server=on,wait=off", "-S"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(path, process)
        return run_scenarios(path)
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def ppcd_answers(tmp_path_factory) -> Dict[str, Any]:
    from .conftest import Daemon
    daemon = Daemon(tmp_path_factory.mktemp("ppcd"), DEMO_ELF, "-S", "--smp", "2")
    try:
        return run_scenarios(daemon.socket_path)
    finally:
        daemon.stop()


@needs_qemu
@pytest.mark.parametrize("name", SCENARIOS)
def test_like_qemu_with_two_vcpus(name: str, qemu_answers, ppcd_answers) -> None:
    assert ppcd_answers[name] == qemu_answers[name]


@needs_qemu
def test_query_machines_like_qemu(tmp_path, start_daemon) -> None:
    path = str(tmp_path / "qemu.sock")
    process = subprocess.Popen(
        [QEMU, "-nodefaults", "-M", "none", "-display", "none",
         "-qmp", f"unix:{path},server=on,wait=off", "-S"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(path, process)
        client = RawClient(path)
        client.command("qmp_capabilities")
        theirs, = (m for m in client.command("query-machines") if m["name"] == "pseries-7.2")
        client.close()
    finally:
        process.kill()
        process.wait()
    ours, = start_daemon(DEMO_ELF, "-S", "--smp", "2").connect().command("query-machines")
    assert set(ours) == set(theirs)
    assert {k: ours[k] for k in ("name", "alias", "is-default", "default-ram-id")} == \
        {k: theirs[k] for k in ("name", "alias", "is-default", "default-ram-id")}
    assert ours["cpu-max"] == MAX_CPUS       # QEMU's 4096; ppcd runs up to --smp 1024


# --- a guest that starts its secondary vCPU (tests/guests/smp.c) -------------------------------
@pytest.fixture(scope="module")
def smp_elf() -> Path:
    try:
        return build.build_guest("smp", "be")
    except build.CompilerMissing as exc:
        pytest.skip(str(exc))


def _code_ranges(elf: Path) -> Dict[str, Tuple[int, int]]:
    """Where the guest's functions' code lies: ELFv1 (big-endian) symbols name descriptors,
    whose first word is the code's address; the symbol's size is the code's."""
    with open(elf, "rb") as f:
        image = ELFFile(f)
        symbols = {s.name: s for s in image.get_section_by_name(".symtab").iter_symbols()}

        def read(address: int) -> int:
            for segment in image.iter_segments():
                offset = address - segment["p_vaddr"]
                if segment["p_type"] == "PT_LOAD" and 0 <= offset < segment["p_filesz"]:
                    return int.from_bytes(segment.data()[offset:offset + 8], "big")
            raise KeyError(hex(address))
        ranges = {}
        for name in ("work", "secondary_main"):
            code = read(symbols[name]["st_value"])
            ranges[name] = (code, code + symbols[name]["st_size"])
        entry = symbols["secondary_entry"]["st_value"]
        ranges["secondary_entry"] = (entry, entry + 0x40)
        stacks = symbols["stacks"]      # MAX_CPUS (8) stacks of 16 KiB
        ranges["stacks"] = (stacks["st_value"], stacks["st_value"] + stacks["st_size"])
        ranges["boot stack"] = (ranges["stacks"][1], symbols["__stack_top"]["st_value"])
    return ranges


def _registers(text: str) -> Dict[str, Dict[str, int]]:
    """`info registers -a` as {"CPU#i": {"pc", "r1", "tb"}}."""
    cpus = {}
    for block in text.split("\r\nCPU#")[1:]:
        heading = f"CPU#{block}".split("\r\n")[0]
        pc = int(re.search(r"NIP ([0-9a-f]{16})", block).group(1), 16)
        r1 = int(re.search(r"GPR00 [0-9a-f]{16} ([0-9a-f]{16})", block).group(1), 16)
        high, low = re.search(r"TB ([0-9a-f]{8}) ([0-9a-f]{8})", block).groups()
        cpus[heading] = {"pc": pc, "r1": r1, "tb": int(high + low, 16)}
    return cpus


def _worker_parent(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^PPid:\s*(\d+)", status, re.M).group(1))


def test_secondary_vcpu_before_and_after_start(start_daemon, smp_elf: Path) -> None:
    daemon = start_daemon(smp_elf, "-S", "--smp", "2")
    ranges = _code_ranges(smp_elf)

    async def session() -> None:
        client = QMPClient("ppcd-smp-test")
        await client.connect(daemon.socket_path)

        async def monitor(line: str, cpu_index: Optional[int] = None) -> str:
            return await client.execute("human-monitor-command", dict(hmp(line, cpu_index)[1]))

        # Both vCPUs' thread is the worker process, the daemon's child.
        cpus = await client.execute("query-cpus-fast")
        assert [c["cpu-index"] for c in cpus] == [0, 1]
        worker = cpus[0]["thread-id"]
        assert cpus[1]["thread-id"] == worker and _worker_parent(worker) == daemon.process.pid
        assert await monitor("info cpus") == (f"* CPU #0: thread_id={worker}\r\n"
                                              f"  CPU #1: thread_id={worker}\r\n")

        # Run until vCPU 1 has been started: deterministic stops on the virtual clock.
        icount, before, started = 0, 0, None
        while started is None:
            icount += 20_000
            await client.execute("replay-break", {"icount": icount})
            await client.execute("cont")
            while (await asyncio.wait_for(client.events.get(), 30))["event"] != "STOP":
                pass
            assert (await client.execute("query-replay"))["icount"] == icount
            registers = _registers(await monitor("info registers -a"))
            first, second = registers["CPU#0"], registers["CPU#1"]
            if second["pc"] == 0x100:
                # Not started: at the reset vector, as QEMU's secondaries; its clock stands.
                assert second["r1"] == 0 and second["tb"] == 0
                assert await monitor("info cpus", 1) == (f"  CPU #0: thread_id={worker}\r\n"
                                                         f"* CPU #1: thread_id={worker}\r\n")
                before = icount
            else:
                started = second
        assert before >= 20_000, "vCPU 1 was never seen before its start"

        # vCPU 1 runs the guest's secondary code on its own stack (stacks[1] in smp.c), the
        # boot vCPU on the stack crt0 gave it; their timebases agree within a turn.
        assert any(lo <= started["pc"] < hi for name, (lo, hi) in ranges.items()
                   if name in ("work", "secondary_main", "secondary_entry")), hex(started["pc"])
        stacks_lo, stacks_hi = ranges["stacks"]
        stack_size = (stacks_hi - stacks_lo) // 8
        assert stacks_lo + stack_size < started["r1"] < stacks_lo + 2 * stack_size
        assert ranges["boot stack"][0] <= first["r1"] < ranges["boot stack"][1]
        assert abs(first["tb"] - started["tb"]) <= QUANTUM

        # Per-vCPU requests: registers, `$pc` and the current vCPU follow cpu-index.
        one = await monitor("info registers", 1)
        assert one.startswith("\r\nCPU#1\r\n") and f"NIP {started['pc']:016x}" in one
        assert await monitor("info registers 1") == one
        assert await monitor("info registers") == await monitor("info registers", 0)
        assert (await monitor("x/1i $pc", 1)).startswith(f"0x{started['pc']:08x}:  ")
        assert (await monitor("x/1xg $sp", 1)).startswith(f"{started['r1']:016x}: ")
        compat = await client.execute("x-query-cpu-compat")
        assert [c["cpu-index"] for c in compat] == [0, 1]
        assert compat[0]["compat-pvr"] == compat[1]["compat-pvr"]
        await client.disconnect()
    asyncio.run(session())


def test_x_query_cpu_compat_and_memsave_per_vcpu(start_daemon, smp_elf: Path, tmp_path) -> None:
    client = start_daemon(smp_elf, "-S", "--smp", "3").connect()
    assert [c["cpu-index"] for c in client.command("x-query-cpu-compat")] == [0, 1, 2]
    assert [c["qom-path"] for c in client.command("query-cpus-fast")] == [
        f"/machine/unattached/device[{i}]/thread[0]" for i in (1, 2, 3)]
    out = tmp_path / "m.bin"
    client.command("memsave", {"val": 0x400000, "size": 4, "filename": str(out),
                               "cpu-index": 2})
    assert out.stat().st_size == 4
    bad = client.execute("memsave", {"val": 0x400000, "size": 4, "filename": str(out),
                                     "cpu-index": 3})
    assert bad["error"] == {"class": "GenericError",
                            "desc": "Parameter 'cpu-index' expects a CPU number"}
    assert client.hmp("info registers -a").count("\r\nCPU#") == 3


class _Machine:
    cpu_count = 2
    worker_pid = 4242


class _Monitor:
    """A monitor that lives on, as gdb's `monitor` is: `cpu N` lasts."""

    def __init__(self) -> None:
        self.vm = _Machine()
        self.hmp = HMPState()


async def test_cpu_lasts_in_a_monitor_that_lives_on() -> None:
    monitor = _Monitor()
    assert await run_hmp(monitor, "cpu 1") == ""
    assert await run_hmp(monitor, "info cpus") == ("  CPU #0: thread_id=4242\r\n"
                                                   "* CPU #1: thread_id=4242\r\n")
    assert await run_hmp(monitor, "cpu 2") == "invalid CPU index\r\n"
    assert monitor.hmp.cpu == 1
    # human-monitor-command names the current vCPU for each command (cpu-index, or 0).
    assert (await run_hmp(monitor, "info cpus", 0)).startswith("* CPU #0")

