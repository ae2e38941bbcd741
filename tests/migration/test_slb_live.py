"""cpu/slb between real ppcd daemons: a guest's SLB entries, the SPRs it wrote and the doorbell
it sent itself (DPDES) survive a live migration over unix:; older machine types never send
cpu/slb, and a destination of an older machine type refuses a pseries-0.3 stream."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time

import pytest
from qmp.conftest import ROOT

from ppcd.cpu.semantics.supervisor import DPDES
from ppcd.migration.machine import CPU, MAX_SLB_ENTRIES
from ppcd.migration.vmstate import Cursor, load

from .conftest import ANALYZE_MIGRATION
from .guests import (
    FOUND_SLOT,
    GUEST_SPRS,
    SLB_FOUND,
    SLB_SIZE,
    SLB_TABLE,
    SLB_WRITTEN,
    SPR_TABLE,
    expected_slb,
    write_slb_and_sprs,
)

MEMORY = ("--memory", "64M")
CR0_EQ = 0x2000_0000


@pytest.fixture(scope="module")
def slb_elf(tmp_path_factory):
    return write_slb_and_sprs(tmp_path_factory.mktemp("slb-guest") / "slb.elf")


def _until(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _passes(daemon, count: int = 3) -> None:
    """Let the guest complete `count` more passes here, each reading everything back."""
    start = daemon.counter()
    _until(lambda: daemon.counter() >= start + count)


def _read_back(daemon, tmp_path) -> dict:
    """What the guest's last passes read: its SLB, slbfee.'s result and CR, and its SPRs."""
    path = tmp_path / f"{os.path.basename(daemon.socket_path)}.tables"
    size = SPR_TABLE + 8 * len(GUEST_SPRS) - SLB_TABLE
    daemon.qmp.command("pmemsave", {"val": SLB_TABLE, "size": size, "filename": str(path)})
    data = path.read_bytes()
    found = SLB_FOUND - SLB_TABLE
    return {"slb": [struct.unpack_from(">QQ", data, 16 * n) for n in range(SLB_SIZE)],
            "slbfee": struct.unpack_from(">QI", data, found),
            "sprs": dict(zip(GUEST_SPRS, struct.unpack_from(f">{len(GUEST_SPRS)}Q", data,
                                                            SPR_TABLE - SLB_TABLE)))}


def _expected() -> dict:
    return {"slb": expected_slb(), "slbfee": (SLB_WRITTEN[FOUND_SLOT][1], CR0_EQ),
            "sprs": dict(GUEST_SPRS)}


def _to_file(daemon, path) -> bytes:
    daemon.qmp.command("migrate", {"uri": f"file:{path}"})
    assert daemon.wait_migration()["status"] == "completed"
    return path.read_bytes()


def _cpu_section(stream: bytes) -> dict:
    """The "cpu" section's fields and subsections, as a destination loads them."""
    at = stream.rfind(b"\x03cpu" + struct.pack(">II", 0, 5))
    assert at > 0
    return load(CPU, Cursor(stream, at + 12), 5)


def test_slb_sprs_and_dpdes_survive_a_unix_migration(daemons, slb_elf, tmp_path) -> None:
    source = daemons("source", slb_elf, *MEMORY)
    uri = f"unix:{tmp_path}/migration.sock"
    destination = daemons("destination", slb_elf, *MEMORY, "--incoming", uri)
    _passes(source)
    assert _read_back(source, tmp_path) == _expected()
    source.qmp.command("migrate", {"uri": uri})
    assert source.wait_migration()["status"] == "completed"
    _until(lambda: destination.qmp.command("query-status")["status"] == "running")
    # Passes on the destination overwrite the migrated tables with what it reads itself.
    _passes(destination)
    assert _read_back(destination, tmp_path) == _expected()
    # DPDES is hypervisor state the guest cannot read: the destination's own stream shows it.
    cpu = _cpu_section(_to_file(destination, tmp_path / "destination.bin"))
    assert cpu["env.spr"][DPDES] == 1
    assert cpu["env.slb"] == expected_slb() + [(0, 0)] * (MAX_SLB_ENTRIES - SLB_SIZE)
    assert {n: cpu["env.spr"][n] for n in GUEST_SPRS} == GUEST_SPRS


def test_pseries_0_2_source_never_sends_cpu_slb(daemons, slb_elf, tmp_path) -> None:
    source = daemons("source", slb_elf, *MEMORY, "--machine", "pseries-0.2")
    _passes(source)
    assert _read_back(source, tmp_path) == _expected()
    stream = _to_file(source, tmp_path / "old.bin")
    assert b"cpu/slb" not in stream         # neither the section nor its vmdesc entry
    assert b"\x0bpseries-0.2" in stream[:32]
    cpu = _cpu_section(stream)
    assert cpu["env.spr"][DPDES] == 1       # in the SPR array, which every type carries
    assert cpu["env.slb"] == [(0, 0)] * MAX_SLB_ENTRIES     # not carried: a reset SLB


def test_pseries_0_3_stream_on_a_pseries_0_2_destination_fails(daemons, slb_elf,
                                                                tmp_path) -> None:
    source = daemons("source", slb_elf, *MEMORY)
    _passes(source)
    path = tmp_path / "new.bin"
    assert b"\x07cpu/slb" in _to_file(source, path)
    result = subprocess.run([sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(slb_elf),
                             *MEMORY, "--serial", "null", "--machine", "pseries-0.2",
                             "--incoming", f"file:{path}"], capture_output=True, text=True,
                            timeout=60, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 1
    assert result.stderr == ("ppcd: load of migration failed: Machine type received is "
                             "'pseries-0.3' and local is 'pseries-0.2'\n")


@pytest.mark.skipif(not os.path.exists(ANALYZE_MIGRATION),
                    reason="QEMU's analyze-migration.py was not fetched (scripts/test does)")
def test_analyze_migration_reads_cpu_slb(daemons, slb_elf, tmp_path) -> None:
    source = daemons("source", slb_elf, *MEMORY)
    _passes(source)
    path = tmp_path / "slb.bin"
    _to_file(source, path)
    desc = subprocess.run([sys.executable, ANALYZE_MIGRATION, "-f", str(path), "-d", "desc"],
                          capture_output=True, text=True, check=True).stdout
    (cpu,) = [d for d in json.loads(desc)["devices"] if d["name"] == "cpu"]
    (slb,) = [s for s in cpu["subsections"] if s["vmsd_name"] == "cpu/slb"]
    assert slb["fields"] == [{"name": "env.slb", "array_len": 64, "type": "slbe", "size": 16}]
    state = subprocess.run([sys.executable, ANALYZE_MIGRATION, "-f", str(path), "-d", "state"],
                           capture_output=True, text=True, check=True).stdout
    (cpu_state,) = [v for k, v in json.loads(state).items() if k.startswith("cpu (")]
    entries = [bytes.fromhex(text.replace(" ", ""))
               for text in cpu_state["cpu/slb"]["env.slb"]]
    assert [struct.unpack(">QQ", e) for e in entries[:SLB_SIZE]] == expected_slb()
