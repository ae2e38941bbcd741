"""docs/isa-coverage.md lists every row of the instruction table, and its list of
unimplemented ISA 3.0 mnemonics names none that the table has.

Regenerate the table (cheap once the guests are built) with
`python scripts/isa_coverage.py > docs/isa-coverage.md`.
"""

import importlib.util
import pathlib
import re

from ppcd.cpu.isa import BY_MNEMONIC, INSTRUCTIONS

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("isa_coverage", ROOT / "scripts/isa_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_table_row_is_in_the_coverage_table() -> None:
    text = (ROOT / "docs/isa-coverage.md").read_text()
    listed = set(re.findall(r"^\| (\S+) \|", text, re.MULTILINE))
    rows = {i.mnemonic for i in INSTRUCTIONS if not i.catch_all}
    assert rows - listed == set(), "stale: rerun scripts/isa_coverage.py"
    assert listed - rows == {"mnemonic", "---"}, "stale: rerun scripts/isa_coverage.py"


def test_unimplemented_list_names_no_implemented_mnemonic() -> None:
    names = [n for group in _script().NOT_IMPLEMENTED.values() for n in group]
    assert len(names) == len(set(names))
    assert [n for n in names if n in BY_MNEMONIC] == []
