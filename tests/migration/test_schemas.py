"""The stored schema of every released machine type, and the checker that guards them: any
change of the code that breaks a migration to or from a released machine type fails here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from qmp.conftest import ROOT

from ppcd.migration.checker import check_released
from ppcd.migration.machine import MACHINE_TYPES, dump_vmstate, machine_type

SCHEMAS = Path(__file__).parent / "schemas"


def _stored(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def test_every_machine_type_has_a_stored_schema() -> None:
    assert sorted(p.stem for p in SCHEMAS.glob("*.json")) == sorted(m.name for m in MACHINE_TYPES)


@pytest.mark.parametrize("name", [m.name for m in MACHINE_TYPES])
def test_current_code_migrates_to_and_from_each_released_type(name: str, tmp_path) -> None:
    dump = tmp_path / "current.json"
    subprocess.run([sys.executable, "-m", "ppcd.cli", "dump-vmstate", "--machine", name,
                    str(dump)], check=True, cwd=ROOT)
    assert check_released(_stored(name), json.loads(dump.read_text())) == []


def test_pseries_is_the_newest() -> None:
    assert machine_type("pseries") is MACHINE_TYPES[-1]
    listing = subprocess.run([sys.executable, "-m", "ppcd.cli", "run", "--machine", "help"],
                             capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert [line.split()[0] for line in listing.splitlines()] == [m.name for m in MACHINE_TYPES]


def _cpu(dump: dict) -> dict:
    return dump["cpu"]["Description"]


@pytest.mark.parametrize("change,problem", [
    (lambda d: d["cpu"].update(version_id=6) or _cpu(d).update(version_id=6),
     "current -> released: cpu: version 6 cannot be loaded (loads 5 to 5)"),
    (lambda d: d["cpu"].update(minimum_version_id=6, version_id=6),
     "released -> current: cpu: version 5 cannot be loaded (loads 6 to 6)"),
    (lambda d: _cpu(d)["Fields"][2].update(type="uint32", size=4),
     "released -> current: cpu: field 2 is env.nip (uint64, 8 bytes) in the stream but "
     "env.nip (uint32, 4 bytes) where it is loaded"),
    (lambda d: _cpu(d)["Fields"].pop(),
     "released -> current: cpu: field 5 is env.msr (uint64, 8 bytes) in the stream but absent "
     "where it is loaded"),
    (lambda d: _cpu(d)["Subsections"].append(
        {"name": "cpu/new", "version_id": 1, "minimum_version_id": 1, "Fields": [],
         "Subsections": []}),
     "current -> released: cpu: subsection 'cpu/new' cannot be loaded (unknown there)"),
    (lambda d: _cpu(d)["Subsections"].pop(0),
     "released -> current: cpu: subsection 'cpu/fpu' cannot be loaded (unknown there)"),
    (lambda d: d.pop("spapr-vty"),
     "released -> current: section 'spapr-vty' cannot be loaded (unknown there)"),
    (lambda d: d["vmschkmachine"]["Properties"].update(
        {"cpu.compat-subsection": "nonzero"}),
     "compat property cpu.compat-subsection changed from 'never' to 'nonzero'"),
])
def test_checker_finds_breaking_changes(change, problem: str) -> None:
    current = dump_vmstate(machine_type("pseries-0.1"))
    change(current)
    assert problem in check_released(_stored("pseries-0.1"), current)

