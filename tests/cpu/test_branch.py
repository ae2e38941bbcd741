"""Branches and CR logical instructions (Book I chapter 2).

Expected values come from the ISA's branch pseudocode (2.4); `test_matches_qemu_user` runs the
same instruction words under qemu-ppc64 7.2 and compares every register they produce.
"""

import shutil
import subprocess

import pytest
from cpuharness import CODE_BASE, load_code, make_cpu

from ppcd.cpu import msr as M
from ppcd.cpu.assembler import assemble
from ppcd.cpu.interpreter import Interpreter

MASK64 = (1 << 64) - 1
BE32 = M.FP | M.ME           # 32-bit mode (MSR[SF]=0)


def step(cpu, code, steps=1):
    load_code(cpu, code)
    Interpreter(cpu).run(steps)
    return cpu


def run_to_end(cpu, words):
    """Run straight-line-or-forward-branching `words` until pc leaves them."""
    n = load_code(cpu, words)
    interp = Interpreter(cpu)
    end = CODE_BASE + 4 * n
    for _ in range(4 * n):
        if not CODE_BASE <= cpu.pc < end:
            break
        interp.step()
    return cpu


# --- unconditional branches ---------------------------------------------------------------

@pytest.mark.parametrize("line, pc, lr", [
    ("b 16", CODE_BASE + 16, 0),
    ("b -8", CODE_BASE - 8, 0),
    ("bl 0x100", CODE_BASE + 0x100, CODE_BASE + 4),
    ("ba 0x200", 0x200, 0),
    ("bla 0x300", 0x300, CODE_BASE + 4),
    ("ba -4", 0xFFFF_FFFF_FFFF_FFFC, 0),     # LI is sign-extended
])
def test_i_form_targets_and_link(line, pc, lr):
    cpu = step(make_cpu(), line)
    assert (cpu.pc, cpu.lr) == (pc, lr)
    assert cpu.cfar == CODE_BASE


@pytest.mark.parametrize("line, pc", [
    ("ba -4", 0xFFFF_FFFC),
    ("b -0x2000", 0xFFFF_F000),              # CIA + LI wraps at 2**32
    ("bca 20,0,-8", 0xFFFF_FFF8),
])
def test_targets_truncated_in_32_bit_mode(line, pc):
    cpu = step(make_cpu(msr=BE32), line)
    assert cpu.pc == pc


# --- bc: every BO ----------------------------------------------------------------------------

def isa_bc(bo, cr_bit, ctr, sf=True):
    """Book I 2.4 bc pseudocode: (taken, CTR after)."""
    if not bo & 0b00100:
        ctr = (ctr - 1) & MASK64
    low = ctr if sf else ctr & 0xFFFF_FFFF
    ctr_ok = bool(bo & 0b00100) or ((low != 0) != bool(bo & 0b00010))
    cond_ok = bool(bo & 0b10000) or cr_bit == bool(bo & 0b01000)
    return ctr_ok and cond_ok, ctr


@pytest.mark.parametrize("bo", range(32))
@pytest.mark.parametrize("cr_bit", (0, 1))
@pytest.mark.parametrize("ctr", (0, 1, 2))
def test_bc_every_bo(bo, cr_bit, ctr):
    cpu = make_cpu()
    cpu.ctr = ctr
    cpu.cr = cr_bit << (31 - 6)          # CR bit 6 = CR1[EQ]
    step(cpu, f"bc {bo},6,0x40")
    taken, ctr_after = isa_bc(bo, cr_bit, ctr)
    assert cpu.pc == (CODE_BASE + 0x40 if taken else CODE_BASE + 4)
    assert cpu.ctr == ctr_after


@pytest.mark.parametrize("line, taken", [
    ("bc 16,0,8", True),       # bdnz: 2 -> 1, not zero
    ("bc 18,0,8", False),      # bdz
    ("bc 20,0,8", True),       # branch always
    ("bc 12,2,8", True),       # beq with CR0[EQ]=1
    ("bc 4,2,8", False),       # bne
    ("bc 8,2,8", True),        # bdnzt
    ("bc 0,2,8", False),       # bdnzf
])
def test_bc_extended_mnemonics(line, taken):
    cpu = make_cpu()
    cpu.ctr = 2
    cpu.cr = 0x2000_0000
    step(cpu, line)
    assert cpu.pc == CODE_BASE + (8 if taken else 4)


def test_bc_ctr_test_uses_low_word_in_32_bit_mode():
    cpu = make_cpu(msr=BE32)
    cpu.ctr = 0x1_0000_0001
    step(cpu, "bc 18,0,8")                # bdz: CTR becomes 0x1_0000_0000, low word 0
    assert cpu.pc == CODE_BASE + 8
    assert cpu.ctr == 0x1_0000_0000       # the decrement itself is 64-bit
    cpu = make_cpu()
    cpu.ctr = 0x1_0000_0001
    step(cpu, "bc 18,0,8")
    assert cpu.pc == CODE_BASE + 4


def test_bc_ctr_wraps_from_zero():
    cpu = make_cpu()
    step(cpu, "bc 16,0,8")
    assert cpu.ctr == MASK64
    assert cpu.pc == CODE_BASE + 8


def test_bcl_links_even_when_not_taken():
    cpu = make_cpu()
    step(cpu, "bcl 4,2,0x40")            # CR0[EQ]=0: bne taken
    assert (cpu.pc, cpu.lr) == (CODE_BASE + 0x40, CODE_BASE + 4)
    cpu = make_cpu()
    step(cpu, "bcl 12,2,0x40")           # not taken
    assert (cpu.pc, cpu.lr) == (CODE_BASE + 4, CODE_BASE + 4)
    assert cpu.cfar == 0


def test_bca_and_bcla_are_absolute():
    cpu = step(make_cpu(), "bcla 20,0,0x800")
    assert (cpu.pc, cpu.lr) == (0x800, CODE_BASE + 4)


# --- bclr, bcctr, bctar ----------------------------------------------------------------------

def test_bclr_clears_low_bits_and_bclrl_reads_old_lr():
    cpu = make_cpu()
    cpu.lr = 0x2003
    step(cpu, "bclr 20,0,0")
    assert cpu.pc == 0x2000
    cpu = make_cpu()
    cpu.lr = 0x2000
    step(cpu, "bclrl 20,0,0")
    assert (cpu.pc, cpu.lr) == (0x2000, CODE_BASE + 4)


def test_bclr_conditions_and_ctr():
    cpu = make_cpu()
    cpu.lr, cpu.ctr = 0x2000, 1
    step(cpu, "bclr 16,0,0")              # bdnzlr: CTR 1 -> 0, not taken
    assert (cpu.pc, cpu.ctr) == (CODE_BASE + 4, 0)


def test_bclr_target_truncated_in_32_bit_mode():
    cpu = make_cpu(msr=BE32)
    cpu.lr = 0x1_0000_2002
    step(cpu, "bclr 20,0,0")
    assert cpu.pc == 0x2000


def test_bcctr_and_bcctrl():
    cpu = make_cpu()
    cpu.ctr = 0x3007
    step(cpu, "bcctrl 12,2,0")            # CR0[EQ]=0: not taken, LR still set
    assert (cpu.pc, cpu.lr) == (CODE_BASE + 4, CODE_BASE + 4)
    cpu = make_cpu()
    cpu.ctr = 0x3007
    step(cpu, "bcctrl 20,0,0")
    assert (cpu.pc, cpu.lr, cpu.ctr) == (0x3004, CODE_BASE + 4, 0x3007)


@pytest.mark.parametrize("bo, ctr, taken, ctr_after", [
    (0b10000, 0x3000, True, 0x2FFF),      # CTR != 0 passes: branch to old CTR, then decrement
    (0b10010, 0x3000, False, 0x3000),     # CTR == 0 fails: CTR untouched
    (0b10010, 0, True, MASK64),           # CTR == 0 passes: target 0
    (0b00010, 0x3000, False, 0x3000),     # Linux's count-cache flush "bcctr 2,0,0"
])
def test_bcctr_decrement_form_tests_before_decrementing(bo, ctr, taken, ctr_after):
    # The ISA's invalid form; POWER and QEMU test CTR, then decrement only if the test passed.
    cpu = make_cpu()
    cpu.ctr = ctr
    step(cpu, [assemble("bcctr 20,0,0") & ~(0x1F << 21) | bo << 21])
    assert cpu.pc == (ctr if taken else CODE_BASE + 4)
    assert cpu.ctr == ctr_after


def test_bctar():
    cpu = make_cpu()
    cpu.tar = 0x4001
    step(cpu, "bctarl 20,0,0")
    assert (cpu.pc, cpu.lr) == (0x4000, CODE_BASE + 4)


def test_reserved_bits_of_bclr_are_ignored_as_qemu_does():
    word = assemble("bclr 20,0,0") | 0xE000
    cpu = make_cpu()
    cpu.lr = 0x2000
    step(cpu, [word])
    assert cpu.pc == 0x2000


# --- CR logical -------------------------------------------------------------------------------

CR_OPS = {
    "crand": lambda a, b: a & b, "cror": lambda a, b: a | b, "crxor": lambda a, b: a ^ b,
    "crnand": lambda a, b: 1 - (a & b), "crnor": lambda a, b: 1 - (a | b),
    "creqv": lambda a, b: 1 - (a ^ b), "crandc": lambda a, b: a & (1 - b),
    "crorc": lambda a, b: a | (1 - b),
}


@pytest.mark.parametrize("name", sorted(CR_OPS))
@pytest.mark.parametrize("a, b", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("background", (0, 0xFFFF_FFFF))
def test_cr_logical(name, a, b, background):
    cpu = make_cpu()
    bt, ba, bb = 13, 2, 30
    cpu.cr = background
    cpu.set_cr_bit(ba, a)
    cpu.set_cr_bit(bb, b)
    before = cpu.cr
    step(cpu, f"{name} {bt},{ba},{bb}")
    assert cpu.cr_bit(bt) == CR_OPS[name](a, b)
    assert (cpu.cr ^ before) & ~(1 << (31 - bt)) == 0


def test_cr_logical_same_bit_operands():
    cpu = make_cpu()
    cpu.cr = 0x8000_0000
    step(cpu, "crnor 0,0,0")              # crnot
    assert cpu.cr == 0


def test_mcrf():
    cpu = make_cpu()
    cpu.cr = 0x1234_5678
    step(cpu, "mcrf 0,7")
    assert cpu.cr == 0x8234_5678
    step(cpu, "mcrf 6,6")
    assert cpu.cr == 0x8234_5678


# --- cross-check with qemu-ppc64 -------------------------------------------------------------

# Each case runs instruction words with r3 = CR image, r4 = CTR and collects r5, r6.
_PRELUDE = "mtcrf 255,3; mtspr 9,4; addi 5,0,1; addi 6,0,0"
_CASES = []
for _bo in range(32):
    for _ctr in (0, 1, 2, 0x1_0000_0000):
        for _cr in (0, 0xFFFF_FFFF, 0x2000_0000):
            # r5 = 1 if taken; r6 = CTR after
            _CASES.append((f"{_PRELUDE}; bc {_bo},2,8; addi 5,0,0; mfspr 6,9", _cr, _ctr))
for _bo in (0b00000, 0b00010, 0b01000, 0b01010, 0b10000, 0b10010, 0b10100, 0b01100):
    for _ctr in (0, 1, 2):
        for _cr in (0, 0x2000_0000):
            # CTR = (address of "mfspr 7,9", found with bl/mflr) + r4; r6 = CTR after - that.
            _CASES.append((
                "mtcrf 255,3; addi 5,0,1; bl 4; mfspr 6,8; addi 6,6,24; add 7,6,4; mtspr 9,7;"
                f" .long {assemble('bcctr 20,2,0') & ~(0x1F << 21) | _bo << 21:#x};"
                " addi 5,0,0; mfspr 7,9; subf 6,6,7", _cr, _ctr))
for _name in sorted(CR_OPS):
    for _cr in (0x0F0F_0F0F, 0x3C3C_A5A5):
        _CASES.append((f"addi 6,0,0; mtcrf 255,3; {_name} 5,6,29; {_name} 31,0,0; mfcr 5",
                       _cr, 0))
_CASES.append(("addi 6,0,0; mtcrf 255,3; mcrf 7,0; mcrf 1,6; mfcr 5", 0x1234_5678, 0))


def _words(text):
    out = []
    for line in text.split(";"):
        line = line.strip()
        out.append(int(line.split()[1], 0) if line.startswith(".long") else assemble(line))
    return out


def _ppcd(text, r3, r4):
    cpu = make_cpu()
    cpu.gpr[3], cpu.gpr[4] = r3, r4
    words = _words(text)
    run_to_end(cpu, words)
    return cpu.gpr[5], cpu.gpr[6]


def _qemu_program(cases):
    blocks = []
    for k, (text, r3, r4) in enumerate(cases):
        longs = "\\n".join(f".long {w:#010x}" for w in _words(text))
        blocks.append(f"""
    {{
        register unsigned long r3 __asm__("r3") = {r3:#x}UL, r4 __asm__("r4") = {r4:#x}UL;
        register unsigned long r5 __asm__("r5"), r6 __asm__("r6");
        __asm__ volatile("{longs}" : "=r"(r5), "=r"(r6) : "r"(r3), "r"(r4)
                         : "r7", "lr", "ctr", "cr0", "cr1", "cr2", "cr3", "cr4", "cr5", "cr6",
                           "cr7", "memory");
        out[{2 * k}] = r5; out[{2 * k + 1}] = r6;
    }}""")
    return f"""
static unsigned long out[{2 * len(cases)}];
void _start(void) {{
{"".join(blocks)}
    register long r0 __asm__("r0") = 4;
    register long r3 __asm__("r3") = 1;
    register long r4 __asm__("r4") = (long)out;
    register long r5 __asm__("r5") = sizeof(out);
    __asm__ volatile("sc" : "+r"(r0), "+r"(r3), "+r"(r4), "+r"(r5) :: "memory", "cr0");
    r0 = 1; r3 = 0;
    __asm__ volatile("sc" : "+r"(r0), "+r"(r3));
    for (;;);
}}
"""


@pytest.mark.skipif(not (shutil.which("powerpc64-linux-gnu-gcc") and shutil.which("qemu-ppc64")),
                    reason="needs powerpc64-linux-gnu-gcc and qemu-ppc64")
def test_matches_qemu_user(tmp_path):
    source, exe = tmp_path / "t.c", tmp_path / "t"
    source.write_text(_qemu_program(_CASES))
    subprocess.run(["powerpc64-linux-gnu-gcc", "-O1", "-nostdlib", "-static", "-o", str(exe),
                    str(source)], check=True, capture_output=True)
    raw = subprocess.run(["qemu-ppc64", "-cpu", "power9", str(exe)], check=True,
                         capture_output=True, timeout=60).stdout
    theirs = [int.from_bytes(raw[8 * i:8 * i + 8], "big") for i in range(2 * len(_CASES))]
    wrong = []
    for k, (text, r3, r4) in enumerate(_CASES):
        ours = _ppcd(text, r3, r4)
        if ours != (theirs[2 * k], theirs[2 * k + 1]):
            wrong.append(f"{text} r3={r3:#x} r4={r4:#x}: ppcd {ours[0]:#x},{ours[1]:#x} "
                         f"qemu {theirs[2 * k]:#x},{theirs[2 * k + 1]:#x}")
    assert not wrong, "\n".join(wrong[:20])

