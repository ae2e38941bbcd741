"""Every row of the instruction table against GNU as and capstone.

For each mnemonic ppcd knows, random operands are encoded by the table and by
binutils' powerpc64-linux-gnu-as; the words must be equal. Capstone must decode the
word to the same mnemonic (or one of its documented aliases for it).
"""

import random
import shutil
import subprocess

import pytest

from ppcd.cpu.decoder import decode
from ppcd.cpu.isa import INSTRUCTIONS
from ppcd.cpu.isa.fields import FIELDS

AS = "powerpc64-linux-gnu-as"
OBJCOPY = "powerpc64-linux-gnu-objcopy"
SAMPLES_PER_ROW = 4

# Operand constraints the ISA states as invalid forms, which GNU as refuses to assemble.
# BO values GNU as accepts: the ISA reserves the "at" hint 0b01 (Book I 2.4).
_VALID_BO = (0, 2, 4, 6, 7, 8, 10, 12, 14, 15, 16, 18, 20, 24, 25, 26, 27)
_UPDATE_LOADS = {"lbzu", "lbzux", "lhzu", "lhzux", "lhau", "lhaux", "lwzu", "lwzux",
                 "lwaux", "ldu", "ldux"}


def _random_value(name, rng):
    field = FIELDS[name]
    width = bin(field.bits).count("1")
    if name in ("LI", "BD"):
        return rng.randrange(-(1 << (width - 1)), 1 << (width - 1)) * 4
    if name == "DS":
        return rng.randrange(-(1 << (width - 1)), 1 << (width - 1)) * 4
    if name == "DQ":
        return rng.randrange(-(1 << (width - 1)), 1 << (width - 1)) * 16
    if name.endswith("p"):
        return 2 * rng.randrange(0, 1 << width)     # an even-odd register pair
    if field.signed:
        return rng.randrange(-(1 << (width - 1)), 1 << (width - 1))
    return rng.randrange(0, 1 << width)


def _string_load_overlaps(values):
    """lswi: RA may not be among the registers loaded (an invalid form)."""
    count = values["NB"] or 32
    loaded = {(values["RT"] + k) % 32 for k in range((count + 3) // 4)}
    return values["RA"] in loaded


def _operands(insn, rng):
    """Random operand values valid for GNU as, in the table's field order."""
    while True:
        values = {name: _random_value(name, rng) for name in insn.fields}
        if "BO" in values:
            values["BO"] = rng.choice(_VALID_BO)
            if insn.impl.startswith("bcctr") and not values["BO"] & 4:
                continue
        if "TBR" in values:
            values["TBR"] = rng.choice((268, 269))
        if insn.mnemonic == "lswi" and _string_load_overlaps(values):
            continue
        if insn.mnemonic == "lswx" and values["RT"] in (values["RA"], values["RB"]):
            continue   # GNU as refuses lswx whose target is an address register
        base = insn.mnemonic.rstrip(".")
        if base.endswith("u") or base.endswith("ux") or base in _UPDATE_LOADS:
            if "RA" in values and values["RA"] == 0:
                continue
            if base in _UPDATE_LOADS and values.get("RA") == values.get("RT"):
                continue
        if insn.mnemonic in ("mtocrf", "mfocrf") and bin(values["FXM"]).count("1") != 1:
            continue
        if insn.mnemonic == "mtcrf" and bin(values["FXM"]).count("1") == 1:
            continue   # GNU as turns a one-field mtcrf into mtocrf
        if base in ("lmw",) and values["RA"] >= values["RT"]:
            continue
        if base in ("lq", "lqarx") and values["RTp"] in (values["RA"], values.get("RB")):
            continue   # a pair target overlapping an address register: an invalid form
        return values


def _as_text(insn, values):
    parts = []
    for syntax in insn.operands:
        if "(" in syntax:
            disp, reg = syntax[:-1].split("(")
            parts.append(f"{values[disp]}({values[reg]})")
        elif syntax in ("LI", "BD") and not insn.fixed.get("AA"):
            parts.append(f".{values[syntax]:+d}")
        else:
            parts.append(str(values[syntax]))
    name = _GAS_NAMES.get(insn.mnemonic, insn.mnemonic)
    return name + (" " + ",".join(parts) if parts else "")


# Mnemonics GNU as spells differently from the ISA, and rows it accepts only for an older
# processor (the FP pair loads and stores, dropped from its POWER7 and later tables).
_GAS_NAMES = {"cp_abort": "cpabort"}
_POWER6_ONLY = ("lfdp", "lfdpx", "stfdp", "stfdpx")


def _gas_words(lines, cpu, tmp_path):
    source, obj, raw = (tmp_path / f"{cpu}.{ext}" for ext in ("s", "o", "bin"))
    source.write_text("".join(f"{line}\n" for line in lines))
    result = subprocess.run([AS, "-a64", f"-m{cpu}", "-mbig", "-o", str(obj), str(source)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[:3000]
    subprocess.run([OBJCOPY, "-O", "binary", "-j", ".text", str(obj), str(raw)], check=True)
    data = raw.read_bytes()
    assert len(data) == 4 * len(lines)
    return [int.from_bytes(data[4 * k:4 * k + 4], "big") for k in range(len(lines))]


@pytest.fixture(scope="module")
def samples():
    rng = random.Random(0x9E3779B9)
    rows = []
    for insn in INSTRUCTIONS:
        if insn.catch_all:
            continue   # a whole primary opcode: no syntax of its own
        for _ in range(SAMPLES_PER_ROW):
            values = _operands(insn, rng)
            rows.append((insn, values, insn.encode(*(values[n] for n in insn.fields))))
    return rows


@pytest.mark.skipif(shutil.which(AS) is None, reason="binutils-powerpc64-linux-gnu not installed")
def test_table_encodings_match_gnu_as(samples, tmp_path):
    by_cpu = {"power9": [], "power6": []}
    for sample in samples:
        by_cpu["power6" if sample[0].mnemonic in _POWER6_ONLY else "power9"].append(sample)
    wrong = []
    for cpu, group in by_cpu.items():
        words = _gas_words([_as_text(i, v) for i, v, _ in group], cpu, tmp_path)
        wrong += _disagreements(group, words)
    assert not wrong, "\n".join(wrong[:40])


def _disagreements(samples, words):
    wrong = []
    for (insn, values, ours), theirs in zip(samples, words):
        if insn.mnemonic == "mftb":
            # GNU as emits the preferred mfspr form for mftb on POWER4 and later; check that
            # it names the same time base register.
            theirs = (theirs & ~(0x3FF << 1)) | (371 << 1)
        if theirs != ours:
            wrong.append(f"{_as_text(insn, values)}: ppcd {ours:08x} gas {theirs:08x}")
    return wrong


def test_every_encoding_decodes_to_its_row(samples):
    wrong = [f"{i.mnemonic} {w:08x} -> {decode(w)}" for i, _, w in samples if decode(w) is not i]
    assert not wrong, "\n".join(wrong[:40])


# Capstone prints some encodings under an extended mnemonic; each alias maps to the base rows
# it may stand for.
_CAPSTONE_ALIASES = {
    "li": "addi", "lis": "addis", "mr": "or", "nop": "ori", "not": "nor", "sub": "subf",
    "subc": "subfc", "clrldi": "rldicl", "rotldi": "rldicl", "srdi": "rldicl",
    "sldi": "rldicr", "clrrdi": "rldicr", "rotlwi": "rlwinm", "slwi": "rlwinm",
    "srwi": "rlwinm", "clrlwi": "rlwinm", "clrrwi": "rlwinm", "rotlw": "rlwnm",
    "rotld": "rldcl", "mtcr": "mtcrf", "crset": "creqv", "crclr": "crxor", "crmove": "cror",
    "crnot": "crnor", "trap": "tw", "lwsync": "sync", "ptesync": "sync", "mfxer": "mfspr",
    "mflr": "mfspr", "mfctr": "mfspr", "mtxer": "mtspr", "mtlr": "mtspr", "mtctr": "mtspr",
    "mftbu": "mftb", "xnop": "xori", "extrdi": "rldicl", "insrdi": "rldimi",
    "inslwi": "rlwimi", "insrwi": "rlwimi", "extlwi": "rlwinm", "extrwi": "rlwinm",
    "cmpd": "cmp", "cmpw": "cmp", "cmpld": "cmpl", "cmplw": "cmpl", "cmpdi": "cmpi",
    "cmpwi": "cmpi", "cmpldi": "cmpli", "cmplwi": "cmpli", "mfdsisr": "mfspr",
    "mfdar": "mfspr", "mfdec": "mfspr", "mtdec": "mtspr", "mfsrr0": "mfspr",
    "mfsrr1": "mfspr", "mtsrr0": "mtspr", "mtsrr1": "mtspr", "mfsprg": "mfspr",
    "mtsprg": "mtspr", "mfpvr": "mfspr", "mtdsisr": "mtspr", "mtdar": "mtspr",
    "mffprd": "mfvsrd", "mffprwz": "mfvsrwz", "mtfprd": "mtvsrd", "mtfprwa": "mtvsrwa",
    "mtfprwz": "mtvsrwz",
}


def test_capstone_agrees_on_mnemonics(samples):
    capstone = pytest.importorskip("capstone")
    md = capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_64 | capstone.CS_MODE_BIG_ENDIAN)
    checked, wrong = 0, []
    for insn, _, word in samples:
        decoded = list(md.disasm(word.to_bytes(4, "big"), 0x1000))
        if not decoded:
            continue   # capstone does not know every ISA 3.0 instruction
        checked += 1
        theirs = decoded[0].mnemonic.rstrip(".").rstrip("+-")
        ours = insn.mnemonic.rstrip(".")
        base = insn.impl
        if theirs.rstrip("o") in (ours, ours.rstrip("o")):
            continue
        if _CAPSTONE_ALIASES.get(theirs) in (ours, base) or theirs.startswith(("b", "t")):
            continue   # branch and trap extended mnemonics (beq, bdnz, twlt, ...)
        if base in ("mfspr", "mtspr") and theirs[:2] == base[:2]:
            continue   # capstone names SPRs in the mnemonic (mfdbatl, mtsprg3, ...)
        wrong.append(f"{insn.mnemonic} {word:08x}: capstone says {decoded[0].mnemonic}")
    assert checked > len(samples) // 2
    assert not wrong, "\n".join(wrong[:40])
