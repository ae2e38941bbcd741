"""A CI-sized differential run: random sequences over the whole table under QEMU and ppcd.

`python -m tests.differential.run --instructions 1000000` is the full run (see run.py).
"""

from __future__ import annotations

import shutil

import pytest

from .generator import EXCLUDED, GENERATED, generate
from .harness import run_chunk
from .quirks import RULES

NEEDS = ("qemu-system-ppc64", "powerpc64-linux-gnu-gcc", "powerpc64le-linux-gnu-gcc")


@pytest.mark.skipif(not all(shutil.which(p) for p in NEEDS),
                    reason="needs " + ", ".join(NEEDS))
@pytest.mark.parametrize("endian", ["be", "le"])
def test_random_sequences_agree_with_qemu(endian: str) -> None:
    report = run_chunk(generate(seed=20240 + (endian == "le"), instructions=15_000), endian)
    assert not report.disagreements, "\n".join(d.describe() for d in report.disagreements)
    assert report.unmodelled < report.cases // 10


def test_every_row_is_generated_or_excluded_with_a_reason() -> None:
    from ppcd.cpu.isa import INSTRUCTIONS

    generated = {i.mnemonic for i in GENERATED}
    for insn in INSTRUCTIONS:
        assert insn.mnemonic in generated or EXCLUDED.get(insn.mnemonic) or \
            EXCLUDED.get(insn.impl), insn.mnemonic


def test_every_rule_names_the_isa_text_it_departs_from() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    for r in RULES:
        assert r.isa.startswith("Book "), r.name
        assert r.apply.__doc__, r.name
