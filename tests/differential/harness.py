"""Build the differential guest around a blob of cases, boot it under QEMU and ppcd, compare.

One boot runs thousands of cases and prints one digest per case. Each digest is checked
against ppcd's semantics run in-process (model.py): ppcd's guest must print exactly the
model's digest, QEMU's the model's digest after the named QEMU deviations of quirks.py.
A case whose QEMU digest differs is then replayed under QEMU once per prefix of its
sequence, with the whole state printed, to name the first instruction that disagrees.
"""

from __future__ import annotations

import pathlib
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from guests import build
from qemu_runner import qemu_command

from ppcd.cpu.assembler import disassemble
from ppcd.cpu.decoder import decode
from ppcd.cpu.isa.fields import FIELDS

from . import quirks
from .generator import Case
from .model import Machine, digest

HERE = pathlib.Path(__file__).resolve().parent
GUEST_SOURCE = HERE / "diffguest.c"
BLOB_MAGIC = 0x5050_4344_4449_4646     # "PPCDDIFF"
NOP = 0x6000_0000
REGISTER_NAMES = ([f"r{i}" for i in range(32)] + [f"f{i}" for i in range(32)]
                  + ["cr", "xer", "lr", "ctr", "fpscr", "vector", "srr0", "srr1"]
                  + [f"scratch+{8 * i:#x}" for i in range(32)])


def pack_blob(cases: Sequence[Case], endian: str, verbose: bool = False) -> bytes:
    order = "<" if endian == "le" else ">"
    out = [struct.pack(order + "3Q", BLOB_MAGIC, len(cases), int(verbose))]
    for case in cases:
        words = case.words + [0] * (len(case.words) % 2)
        out.append(struct.pack(f"{order}71Q{len(words)}I", len(case.words), case.seed,
                               *case.gpr, *case.fpr, case.cr, case.xer, case.lr, case.ctr,
                               case.fpscr, *words))
    return b"".join(out)


def build_elf(blob: bytes, endian: str, workdir: pathlib.Path) -> pathlib.Path:
    """Link diffguest.c and the runtime with `blob` as diff_blob."""
    compiler = build.guest_compiler(endian)
    (workdir / "cases.bin").write_bytes(blob)
    (workdir / "blob.S").write_text(
        '\t.section .rodata\n\t.balign 8\n\t.globl diff_blob\ndiff_blob:\n'
        f'\t.incbin "{workdir / "cases.bin"}"\n')
    elf = workdir / f"diff-{endian}.elf"
    cmd = [compiler, *build.GUEST_FLAGS, "-T", str(build.GUEST_DIR / build.LINKER_SCRIPT),
           "-I", str(build.GUEST_DIR), "-o", str(elf),
           *(str(build.GUEST_DIR / s) for s in build.RUNTIME_SOURCES),
           str(GUEST_SOURCE), str(workdir / "blob.S")]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode:
        raise build.BuildError(f"building {elf.name} failed:\n{result.stderr}")
    return elf


def ppcd_command(elf: pathlib.Path, engine: str, worker_python: Optional[str]) -> List[str]:
    cmd = [sys.executable, "-m", "ppcd.cli", "run", "--kernel", str(elf), "--engine", engine]
    return cmd + (["--worker-python", worker_python] if worker_python else [])


def _boot(cmd: List[str]) -> "subprocess.Popen[bytes]":
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _output(proc: "subprocess.Popen[bytes]", what: str, timeout: float) -> List[str]:
    """The lines a guest printed between code_end=... and DONE; raises if it did not finish."""
    out, err = proc.communicate(timeout=timeout)
    lines = out.decode(errors="replace").splitlines()
    if proc.returncode != 0 or not lines or lines[-1] != "DONE":
        tail = "\n".join(lines[-5:])
        raise RuntimeError(f"{what} exited {proc.returncode}: {err.decode(errors='replace')}"
                           f"\n{tail}")
    return lines


@dataclass
class Disagreement:
    """One case whose emulator output is not what the model says."""

    emulator: str
    case_index: int
    step: Optional[int] = None          # index of the first differing instruction
    word: Optional[int] = None
    registers: Dict[str, Tuple[int, int]] = field(default_factory=dict)  # name: (expect, got)
    inputs: Dict[str, int] = field(default_factory=dict)    # operands before the instruction

    @property
    def mnemonic(self) -> str:
        text = disassemble(self.word) if self.word is not None else None
        return text.split()[0] if text else "?"

    def describe(self) -> str:
        where = (f"instruction {self.step} {disassemble(self.word) or hex(self.word)}"
                 if self.word is not None else "somewhere")
        regs = ", ".join(f"{k}: model {a:#x} {self.emulator} {b:#x}"
                         for k, (a, b) in list(self.registers.items())[:6])
        inputs = " ".join(f"{k}={v:#x}" for k, v in self.inputs.items())
        return f"{self.emulator} case {self.case_index}, {where}: {regs} (inputs {inputs})"


@dataclass
class Report:
    cases: int = 0
    instructions: int = 0
    quirk_counts: Dict[str, int] = field(default_factory=dict)
    unmodelled: int = 0             # QEMU cases not compared (see quirks.Unmodelled)
    disagreements: List[Disagreement] = field(default_factory=list)


def run_chunk(cases: Sequence[Case], endian: str, *, engine: str = "interp",
              worker_python: Optional[str] = None, qemu: bool = True, ppcd: bool = True,
              timeout: float = 600) -> Report:
    """Boot one blob of cases under QEMU and/or ppcd and compare with the model."""
    report = Report(cases=len(cases), instructions=sum(len(c.words) for c in cases))
    with tempfile.TemporaryDirectory(prefix="ppcd-diff-") as tmp:
        workdir = pathlib.Path(tmp)
        elf = build_elf(pack_blob(cases, endian), endian, workdir)
        procs = {}
        if qemu:
            procs["qemu"] = _boot(qemu_command(elf))
        if ppcd:
            procs["ppcd"] = _boot(ppcd_command(elf, engine, worker_python))
        outputs = {name: _output(p, name, timeout) for name, p in procs.items()}
        code_end = _code_end(next(iter(outputs.values())))
        machine = Machine(endian == "le")
        counter = quirks.Counter()
        for name, lines in outputs.items():
            digests = [int(x, 16) for x in lines[1:-1]]
            if len(digests) != len(cases):
                raise RuntimeError(f"{name} printed {len(digests)} digests for {len(cases)} cases")
            for i, case in enumerate(cases):
                hook = counter.hook if name == "qemu" else None
                try:
                    expect = machine.run_case(case, code_end, hook)
                except quirks.Unmodelled:
                    report.unmodelled += 1
                    continue
                if digest(expect) != digests[i]:
                    report.disagreements.append(Disagreement(name, i))
        report.quirk_counts = counter.counts
        if qemu:
            for d in report.disagreements:
                if d.emulator == "qemu":
                    _locate(d, cases[d.case_index], endian, machine, workdir, timeout)
    return report


def _operands(word: int, state: List[int]) -> Dict[str, int]:
    """The registers `word` names, and CR, XER and FPSCR, as they were before it ran."""
    insn = decode(word)
    values = {}
    for name in insn.fields if insn else ():
        number = FIELDS[name].decode(word)
        if name in ("RT", "RA", "RB", "RS", "RC"):
            values[f"r{number}"] = state[number]
        elif name.startswith("FR"):
            values[f"f{number}"] = state[32 + number]
    values.update(cr=state[64], xer=state[65], fpscr=state[68])
    return values


def _code_end(lines: List[str]) -> int:
    key, _, value = lines[0].partition("=")
    if key != "code_end":
        raise RuntimeError(f"unexpected first line {lines[0]!r}")
    return int(value, 16)


def _locate(d: Disagreement, case: Case, endian: str, machine: Machine,
            workdir: pathlib.Path, timeout: float) -> None:
    """Find the first prefix of the sequence whose QEMU state differs from the model's."""
    # The rest of the sequence becomes nops, so branches still land inside it.
    n = len(case.words)
    prefixes = [Case(**{**case.__dict__, "words": case.words[:k] + [NOP] * (n - k)})
                for k in range(1, n + 1)]
    sub = workdir / f"locate-{d.case_index}"
    sub.mkdir()
    elf = build_elf(pack_blob(prefixes, endian, verbose=True), endian, sub)
    lines = _output(_boot(qemu_command(elf)), "qemu", timeout)
    code_end = _code_end(lines)     # this image's own: the blob's size moves code_buf
    previous = [*case.gpr, *case.fpr, case.cr, case.xer, case.lr, case.ctr, case.fpscr]
    for k, (prefix, line) in enumerate(zip(prefixes, lines[1:-1])):
        got = [int(x, 16) for x in line.split()]
        try:
            expect = machine.run_case(prefix, code_end, quirks.Counter().hook)
        except quirks.Unmodelled:
            return
        if got != expect:
            d.step, d.word = k, case.words[k]
            d.registers = {REGISTER_NAMES[i]: (a, b)
                           for i, (a, b) in enumerate(zip(expect, got)) if a != b}
            d.inputs = _operands(d.word, previous)
            return
        previous = got

