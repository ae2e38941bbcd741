"""Fuzzing: the stream parser, every command's arguments, and raw noise at a live daemon.

CI runs a few hundred examples each; PPCD_FUZZ_EXAMPLES=10000 runs the long campaign.
"""

from __future__ import annotations

import json
import os
import socket
import time
from types import SimpleNamespace
from typing import Any, Dict, Optional

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ppcd.machine.boot import BootConfig
from ppcd.migration.machine import MACHINE_TYPES
from ppcd.migration.manager import MigrationManager
from ppcd.qmp.commands import COMMANDS
from ppcd.qmp.framing import ParseError, StreamParser
from ppcd.qmp.schema import QMPError
from ppcd.qmp.server import Session

from .guests import COUNTER_ADDRESS

EXAMPLES = int(os.environ.get("PPCD_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8)


def _chunks(data: bytes, cuts) -> list:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


@FUZZ
@given(st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=4), max_size=5),
       st.lists(st.integers(min_value=0), max_size=8))
def test_parser_splits_back_to_back_objects(objects, cuts) -> None:
    data = b"".join(json.dumps(o).encode() for o in objects)
    parser = StreamParser()
    values = [v for chunk in _chunks(data, cuts) for v in parser.feed(chunk)]
    assert values == objects


@FUZZ
@given(st.binary(max_size=512), st.lists(st.integers(min_value=0), max_size=8))
def test_parser_survives_noise_and_recovers(noise, cuts) -> None:
    parser = StreamParser(max_message=256, max_depth=8)
    for chunk in _chunks(noise, cuts):
        for value in parser.feed(chunk):
            assert isinstance(value, ParseError) or value is None or isinstance(
                value, (dict, list, str, int, float, bool))
    # Whatever state the noise left, closing every open construct and a newline resyncs
    # (the space completes a pending escape inside a string, the quote ends the string).
    parser.feed(b' "' if parser._in_string else b"")
    parser.feed(b"]" * 300 + b"\n")
    assert parser.feed(b'{"execute": "x"}') == [{"execute": "x"}]


class FakeVM:
    """What the commands use of VirtualMachine, with no processes behind it."""

    def __init__(self, tmp_path) -> None:
        self.state = "paused"
        self.options = SimpleNamespace(name=None, boot=BootConfig(kernel=None))
        self.worker_pid = 1
        self.ram = SimpleNamespace(size=1 << 20)
        self.console = SimpleNamespace(backend=SimpleNamespace(filename="null"), dropped=0,
                                       info=lambda: {"filename": "null", "dropped": 0})
        self.finished: Optional[str] = None
        self.worker = None
        self.cpu_count = 2
        self.migration = MigrationManager(self, MACHINE_TYPES[-1], allow_exec=False)

    running = property(lambda self: self.state == "running")

    async def stop(self) -> None:
        self.state = "paused"

    async def cont(self) -> None:
        self.state = "running"

    async def system_reset(self) -> None:
        self.state = "prelaunch"

    def system_powerdown(self) -> None:
        pass

    def finish(self, status: int, quit_reason: Optional[str] = None) -> None:
        self.finished = quit_reason

    async def registers(self, cpu: int = 0) -> Dict[str, Any]:
        return {"pc": 0x400000, "msr": 0, "gpr": [0] * 32, "fpr": [0] * 32, "lr": 0,
                "ctr": 0, "cr": 0, "xer": 0, "fpscr": 0, "cfar": 0, "dec": 0, "icount": 0,
                "tb_offset": 0, "reserve": None, "spr": {"338": 0}, "compat_pvr": 0}

    async def clock(self) -> int:
        return 0

    async def replay_break(self, icount: Optional[int]) -> None:
        pass

    def read_physical(self, address: int, size: int) -> Optional[bytes]:
        if address < 0 or size < 0 or address + size > self.ram.size:
            return None
        return bytes(size)

    @staticmethod
    def real_address(address: int) -> int:
        return address & 0x0FFF_FFFF_FFFF_FFFF


def _arguments(tmp_path):
    names = st.sampled_from(["val", "size", "filename", "cpu-index", "command-line",
                             "enable", "x"])
    values = (json_values | st.sampled_from([str(tmp_path / "dump"), "info registers",
                                             "info registers -a", "cpu 1", "info cpus",
                                             "x/4i $pc", "xp/2xg 0", ["oob"], 0, 1, 16, -1]))
    return st.dictionaries(names, values, max_size=5)


def test_every_command_checks_its_arguments(tmp_path) -> None:
    @FUZZ
    @given(st.sampled_from(sorted(COMMANDS)), _arguments(tmp_path), st.booleans())
    def check(name, arguments, oob) -> None:
        session = Session(SimpleNamespace(vm=FakeVM(tmp_path)), None)
        session.negotiated = name != "qmp_capabilities"
        session.oob_enabled = True
        key = "exec-oob" if oob else "execute"
        reply = trio.run(session.dispatch, {key: name, "arguments": arguments, "id": 1})
        assert reply["id"] == 1
        if "error" in reply:
            assert reply["error"]["class"] == "GenericError"
            assert reply["error"]["desc"]
        else:
            assert set(reply) == {"id", "return"}
            json.dumps(reply)
    check()


def test_schema_errors_are_qmp_errors() -> None:
    for command in COMMANDS.values():
        try:
            command.schema.check({"\0": 1})
        except QMPError as e:
            assert e.desc == "Parameter '\0' is unexpected"


def test_live_daemon_shrugs_off_noise(start_daemon, spin_elf) -> None:
    daemon = start_daemon(spin_elf)
    watcher = daemon.connect()

    def counter() -> int:
        return int(watcher.hmp(f"xp/1xw {COUNTER_ADDRESS:#x}").split()[1], 16)

    @FUZZ
    @given(st.binary(min_size=1, max_size=2048))
    def blast(noise) -> None:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(daemon.socket_path)
            sock.recv(4096)
            sock.sendall(b'{"execute": "qmp_capabilities"}' + noise)
    before = counter()
    blast()
    time.sleep(0.05)
    assert watcher.command("query-status")["status"] == "running"
    assert counter() != before          # the guest kept running all along
    assert daemon.process.poll() is None
