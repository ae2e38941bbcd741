"""The migration schema checker: QEMU's vmstate-static-checker.py idea, for ppcd's dumps.

`ppcd dump-vmstate --machine TYPE FILE` writes what a machine type's streams may carry. The
test suite keeps the dump of every released machine type (tests/migration/schemas); this
compares such a stored dump with the current code's and lists every change that breaks a
migration in either direction: a stream of the released ppcd loaded by the current one, and
a stream of the current ppcd loaded by the released one.

    python -m ppcd.migration.checker STORED.json CURRENT.json
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, List, Optional

Dump = Dict[str, Any]
MACHINE_KEY = "vmschkmachine"


def _fields_at(description: Dump, version: int) -> List[tuple]:
    """The fields a stream of this version carries, as comparable tuples."""
    return [(f["field"], f["type"], f["size"], f.get("array_len"), f.get("size_field"))
            for f in description.get("Fields", []) if f["version_id"] <= version]


def _check_description(path: str, source: Dump, destination: Dump, version: int,
                       problems: List[str]) -> None:
    """Can `destination` load what `source` writes at `version`?"""
    theirs, ours = _fields_at(source, version), _fields_at(destination, version)
    if theirs != ours:
        for index in range(max(len(theirs), len(ours))):
            a = theirs[index] if index < len(theirs) else None
            b = ours[index] if index < len(ours) else None
            if a != b:
                problems.append(f"{path}: field {index} is {_show(a)} in the stream but "
                                f"{_show(b)} where it is loaded")
                break
    loadable = {sub["name"]: sub for sub in destination.get("Subsections", [])}
    for sub in source.get("Subsections", []):
        name = sub["name"]
        target = loadable.get(name)
        if target is None:
            problems.append(f"{path}: subsection '{name}' cannot be loaded (unknown there)")
            continue
        # Subsection names already carry their section's ("cpu/fpu").
        if _check_version(name, sub["version_id"], target, problems):
            _check_description(name, sub, target, sub["version_id"], problems)


def _check_version(path: str, version: int, destination: Dump, problems: List[str]) -> bool:
    if not destination.get("minimum_version_id", 0) <= version <= destination["version_id"]:
        problems.append(f"{path}: version {version} cannot be loaded (loads "
                        f"{destination.get('minimum_version_id', 0)} to "
                        f"{destination['version_id']})")
        return False
    return True


def _show(field: Optional[tuple]) -> str:
    if field is None:
        return "absent"
    name, kind, size, length, size_field = field
    text = f"{name} ({kind}, {size} bytes"
    if length is not None:
        text += f" x {length}"
    if size_field:
        text += f", sized by {size_field}"
    return text + ")"


def check(source: Dump, destination: Dump) -> List[str]:
    """Problems loading the streams described by `source` where `destination` describes."""
    problems: List[str] = []
    for name, section in source.items():
        if name == MACHINE_KEY:
            continue
        target = destination.get(name)
        if target is None:
            problems.append(f"section '{name}' cannot be loaded (unknown there)")
            continue
        if section.get("instance_id") != target.get("instance_id"):
            problems.append(f"section '{name}': instance {section.get('instance_id')} is "
                            f"{target.get('instance_id')} there")
        if _check_version(name, section["version_id"], target, problems):
            description = section["Description"]
            if "Fields" in description or "Fields" in target["Description"]:
                _check_description(name, description, target["Description"],
                                   section["version_id"], problems)
    for name in destination:
        if name != MACHINE_KEY and name not in source:
            problems.append(f"section '{name}' is required where the stream is loaded but "
                            "never sent")
    return problems


def check_released(stored: Dump, current: Dump) -> List[str]:
    """Every break between a released machine type's dump and the current code's, both ways."""
    problems = [f"released -> current: {p}" for p in check(stored, current)]
    problems += [f"current -> released: {p}" for p in check(current, stored)]
    old = stored.get(MACHINE_KEY, {}).get("Properties", {})
    new = current.get(MACHINE_KEY, {}).get("Properties", {})
    for key, value in old.items():
        if new.get(key) != value:
            problems.append(f"compat property {key} changed from {value!r} to "
                            f"{new.get(key)!r}")
    return problems


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m ppcd.migration.checker STORED.json CURRENT.json\n")
        return 2
    dumps = []
    for path in argv:
        try:
            with open(path) as f:
                dumps.append(json.load(f))
        except (OSError, ValueError) as e:
            sys.stderr.write(f"checker: cannot read {path}: {e}\n")
            return 2
    problems = check_released(*dumps)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
