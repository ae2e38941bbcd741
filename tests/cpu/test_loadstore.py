"""Fixed-point loads and stores, multiple and string forms, larx/stcx. and cache management.

Expected values are derived from the Power ISA 3.0B (Book I 3.3.2-3.3.7, Book II 4.3-4.4);
`test_matches_qemu_user` runs the same sequences under qemu-ppc64 / qemu-ppc64le 7.2.
"""

import shutil
import subprocess

import pytest
from cpuharness import CODE_BASE, load_code, make_cpu, run

from ppcd.cpu import msr as M
from ppcd.cpu.assembler import assemble
from ppcd.cpu.interpreter import Interpreter
from ppcd.cpu.interrupts import DSISR_NO_TRANSLATION, DSISR_STORE, PROGRAM_ILLEGAL

DATA = 0x4000
PATTERN = bytes([0x80, 0x01, 0x82, 0x03, 0x84, 0x05, 0x86, 0x07])
BE64 = M.SF | M.FP | M.ME
LE64 = BE64 | M.LE
BE32 = M.FP | M.ME            # 32-bit mode: MSR[SF]=0
SRR0, SRR1, DAR, DSISR = 26, 27, 19, 18


def setup(msr=BE64, data=PATTERN, at=DATA, **regs):
    """A vCPU with `data` at `at` and GPRs given as r3=..., r4=..."""
    cpu = make_cpu(msr=msr)
    cpu.mem.buf[at:at + len(data)] = data
    for name, value in regs.items():
        cpu.gpr[int(name[1:])] = value
    return cpu


def mem(cpu, at, n):
    return bytes(cpu.mem.buf[at:at + n])


def assert_program_illegal(cpu):
    assert cpu.pc == 0x700
    assert cpu.spr[SRR0] == CODE_BASE
    assert cpu.spr[SRR1] & PROGRAM_ILLEGAL


def assert_alignment(cpu, ea):
    assert cpu.pc == 0x600
    assert cpu.spr[SRR0] == CODE_BASE
    assert cpu.spr[DAR] == ea


# --- one-register loads and stores -------------------------------------------------------

@pytest.mark.parametrize("code, value", [
    ("lbz 4,0(3)", 0x80),
    ("lhz 4,0(3)", 0x8001),
    ("lha 4,0(3)", 0xFFFF_FFFF_FFFF_8001),
    ("lha 4,2(3)", 0xFFFF_FFFF_FFFF_8203),
    ("lha 4,1(3)", 0x0182),
    ("lwz 4,0(3)", 0x8001_8203),
    ("lwa 4,0(3)", 0xFFFF_FFFF_8001_8203),
    ("lwa 4,4(3)", 0xFFFF_FFFF_8405_8607),
    ("ld 4,0(3)", 0x8001_8203_8405_8607),
    ("lbzx 4,3,5", 0x01),
    ("lhzx 4,3,5", 0x0182),
    ("lhax 4,3,6", 0xFFFF_FFFF_FFFF_8203),
    ("lwzx 4,3,5", 0x0182_0384),
    ("lwax 4,3,5", 0x0182_0384),
    ("lwax 4,3,6", 0xFFFF_FFFF_8203_8405),
    ("ldx 4,0,7", 0x8001_8203_8405_8607),
    ("lwz 4,-4(8)", 0x8405_8607),
    ("ld 4,-8(8)", 0x8001_8203_8405_8607),
    ("lhbrx 4,3,5", 0x8201),
    ("lwbrx 4,0,3", 0x0382_0180),
    ("ldbrx 4,0,3", 0x0786_0584_0382_0180),
])
def test_load_extends_and_orders_bytes(code, value):
    cpu = run(setup(r3=DATA, r5=1, r6=2, r7=DATA, r8=DATA + 8), code)
    assert cpu.gpr[4] == value
    assert cpu.pc == CODE_BASE + 4


@pytest.mark.parametrize("code, ea, value", [
    ("lbzu 4,3(3)", DATA + 3, 0x03),
    ("lhzu 4,-2(3)", DATA - 2, 0x0000),
    ("lhau 4,4(3)", DATA + 4, 0xFFFF_FFFF_FFFF_8405),
    ("lwzu 4,4(3)", DATA + 4, 0x8405_8607),
    ("ldu 4,0(3)", DATA, 0x8001_8203_8405_8607),
    ("lbzux 4,3,5", DATA + 1, 0x01),
    ("lhzux 4,3,5", DATA + 1, 0x0182),
    ("lhaux 4,3,6", DATA + 2, 0xFFFF_FFFF_FFFF_8203),
    ("lwzux 4,3,6", DATA + 2, 0x8203_8405),
    ("lwaux 4,3,6", DATA + 2, 0xFFFF_FFFF_8203_8405),
    ("ldux 4,3,5", DATA + 1, 0x0182_0384_0586_0700),
])
def test_load_with_update_puts_ea_in_ra(code, ea, value):
    cpu = run(setup(r3=DATA, r5=1, r6=2), code)
    assert (cpu.gpr[4], cpu.gpr[3]) == (value, ea)


@pytest.mark.parametrize("code, at, stored", [
    ("stb 4,1(3)", DATA + 1, b"\x08"),
    ("sth 4,0(3)", DATA, b"\x07\x08"),
    ("stw 4,0(3)", DATA, b"\x05\x06\x07\x08"),
    ("std 4,-8(3)", DATA - 8, bytes(range(1, 9))),
    ("stbx 4,3,5", DATA + 3, b"\x08"),
    ("sthx 4,0,3", DATA, b"\x07\x08"),
    ("stwx 4,3,5", DATA + 3, b"\x05\x06\x07\x08"),
    ("stdx 4,3,5", DATA + 3, bytes(range(1, 9))),
    ("sthbrx 4,0,3", DATA, b"\x08\x07"),
    ("stwbrx 4,0,3", DATA, b"\x08\x07\x06\x05"),
    ("stdbrx 4,0,3", DATA, bytes(range(8, 0, -1))),
])
def test_store_writes_low_bytes(code, at, stored):
    cpu = setup(data=bytes(32), at=DATA - 8, r3=DATA, r4=0x0102_0304_0506_0708, r5=3)
    cpu.mem.dirty[DATA >> 12] = 0
    run(cpu, code)
    assert mem(cpu, at, len(stored)) == stored
    assert mem(cpu, DATA - 8, 32).count(0) == 32 - len(stored)      # nothing else written
    assert cpu.mem.dirty[at >> 12] == 1


@pytest.mark.parametrize("code, ea", [
    ("stbu 4,-1(3)", DATA - 1), ("sthu 4,2(3)", DATA + 2), ("stwu 4,4(3)", DATA + 4),
    ("stdu 4,8(3)", DATA + 8), ("stbux 4,3,5", DATA + 3), ("sthux 4,3,5", DATA + 3),
    ("stwux 4,3,5", DATA + 3), ("stdux 4,3,5", DATA + 3),
])
def test_store_with_update_puts_ea_in_ra(code, ea):
    cpu = run(setup(r3=DATA, r4=0xFFFF_FFFF_FFFF_FFFF, r5=3), code)
    assert cpu.gpr[3] == ea
    assert mem(cpu, ea, 1) == b"\xff"


def test_store_with_update_ra_equal_rs_stores_the_old_value():
    cpu = run(setup(data=bytes(8), r3=DATA), "stwu 3,4(3)")
    assert cpu.gpr[3] == DATA + 4
    assert mem(cpu, DATA + 4, 4) == DATA.to_bytes(4, "big")


@pytest.mark.parametrize("code", [
    "lbzu 3,0(3)", "lbzu 3,0(0)", "lhzu 4,0(4)", "lhau 0,2(0)", "lwzu 4,0(4)", "ldu 4,0(4)",
    "lbzux 4,4,5", "lhzux 4,0,5", "lhaux 4,4,5", "lwzux 4,4,5", "lwaux 0,0,5", "ldux 4,4,5",
    "stbu 4,0(0)", "sthu 4,0(0)", "stwu 4,0(0)", "stdu 4,0(0)",
    "stbux 4,0,5", "sthux 4,0,5", "stwux 4,0,5", "stdux 4,0,5",
])
def test_invalid_update_forms_are_illegal_like_qemu(code):
    cpu = run(setup(r4=DATA, r5=8), code)
    assert_program_illegal(cpu)
    assert cpu.gpr[4] == DATA and cpu.gpr[0] == 0


@pytest.mark.parametrize("msr", [BE64, LE64])
@pytest.mark.parametrize("code, offset, size", [
    ("lhz 4,0x0fff(3)", 0xFFF, 2), ("lwz 4,0x0ffd(3)", 0xFFD, 4), ("ld 4,0x0ffc(3)", 0xFFC, 8),
    ("lhbrx 4,3,5", 0xFFF, 2), ("ldbrx 4,3,6", 0xFFD, 8),
])
def test_unaligned_loads_cross_pages_without_interrupt(msr, code, offset, size):
    cpu = setup(msr=msr, data=bytes(range(1, 33)), at=DATA + 0xFF0, r3=DATA, r5=0xFFF, r6=0xFFD)
    run(cpu, code)
    little = bool(msr & M.LE) != ("brx" in code)
    assert cpu.pc == CODE_BASE + 4
    assert cpu.gpr[4] == int.from_bytes(mem(cpu, DATA + offset, size),
                                        "little" if little else "big")


def test_unaligned_stores_in_little_endian_mode():
    cpu = run(setup(msr=LE64, data=bytes(16), r3=DATA + 3, r4=0x1122_3344_5566_7788, r5=10),
              "std 4,0(3); stwbrx 4,3,5")
    assert mem(cpu, DATA + 3, 14) == bytes.fromhex("8877665544332211 0000 55667788")


# --- byte order and 32-bit mode ----------------------------------------------------------

def test_little_endian_mode_loads_and_stores():
    cpu = setup(msr=LE64, r3=DATA, r4=0x0102_0304_0506_0708)
    cpu.gpr[8] = 16
    run(cpu, "lwz 5,0(3); lhbrx 6,0,3; ld 7,0(3); sth 4,8(3); stdbrx 4,3,8")
    assert cpu.gpr[5] == 0x0382_0180
    assert cpu.gpr[6] == 0x8001            # byte-reversed in LE mode = big-endian
    assert cpu.gpr[7] == 0x0786_0584_0382_0180
    assert mem(cpu, DATA + 8, 2) == b"\x08\x07"
    assert mem(cpu, DATA + 16, 8) == bytes(range(1, 9))


def test_32bit_mode_ignores_high_ea_bits_and_truncates_update():
    cpu = setup(msr=BE32, r3=0xFFFF_FFFF_0000_0000 | DATA, r5=0xFFFF_FFFF_FFFF_FFFE,
                r6=0x1234_5678_0000_0000 | DATA)
    run(cpu, "lwz 4,0(3); lbzu 7,4(3); lhzux 8,6,5")
    assert cpu.gpr[4] == 0x8001_8203
    assert cpu.gpr[7] == 0x84
    assert cpu.gpr[3] == DATA + 4            # the EA, high 32 bits zero
    assert cpu.gpr[8] == 0x0000 and cpu.gpr[6] == DATA - 2


def test_32bit_mode_ea_wraps_at_4gib():
    cpu = setup(msr=BE32, data=bytes(8), r3=0xFFFF_FFF0, r4=0xAABB_CCDD)
    run(cpu, f"stw 4,{DATA + 0x10}(3); stwu 4,{DATA + 0x14}(3)")
    assert mem(cpu, DATA, 8) == bytes.fromhex("aabbccddaabbccdd")
    assert cpu.gpr[3] == DATA + 4


def test_load_outside_ram_is_a_data_storage_interrupt():
    cpu = setup(r3=1 << 20, r4=7)
    run(cpu, "lwzu 4,-2(3)")
    assert (cpu.pc, cpu.spr[DAR], cpu.spr[DSISR]) == (0x300, (1 << 20) - 2, DSISR_NO_TRANSLATION)
    assert cpu.gpr[3] == 1 << 20 and cpu.gpr[4] == 7      # nothing written


def test_store_outside_ram_is_a_data_storage_interrupt():
    cpu = run(setup(r3=1 << 20), "stdu 4,0(3)")
    assert cpu.pc == 0x300
    assert cpu.spr[DSISR] == DSISR_NO_TRANSLATION | DSISR_STORE
    assert cpu.gpr[3] == 1 << 20


# --- multiple and string -----------------------------------------------------------------

def test_stmw_and_lmw():
    cpu = setup(data=bytes(16), r3=DATA - 4)
    cpu.gpr[28:32] = [0xAAAA_AAAA_0000_0001, 2, 3, 0xFFFF_FFFF_FFFF_FFFF]
    run(cpu, "stmw 28,4(3); lmw 29,8(3)")
    assert mem(cpu, DATA, 16) == bytes.fromhex("00000001000000020000000" "3ffffffff")
    assert cpu.gpr[28:32] == [0xAAAA_AAAA_0000_0001, 2, 3, 0xFFFF_FFFF]


def test_lmw_loads_every_word_before_a_fault():
    cpu = setup(r3=(1 << 20) - 8, r28=0x55)
    run(cpu, "lmw 28,0(3)")
    assert cpu.pc == 0x300
    assert cpu.gpr[28] == 0x55 and cpu.gpr[3] == (1 << 20) - 8


@pytest.mark.parametrize("code", ["lmw 28,8(3)", "stmw 28,8(3)", "lswi 5,3,4", "stswi 5,3,4",
                                  "lswx 5,3,4", "stswx 5,3,4"])
def test_multiple_and_string_in_little_endian_mode_take_alignment(code):
    cpu = setup(msr=LE64, data=bytes(8), r3=DATA, r4=8)
    cpu.xer = 4
    cpu.gpr[5] = cpu.gpr[28] = 0x1234
    run(cpu, code)
    assert_alignment(cpu, DATA + (8 if "mw" in code or "x" in code else 0))
    assert cpu.gpr[5] == 0x1234 and mem(cpu, DATA, 8) == bytes(8)
    assert cpu.msr & M.SF and not cpu.msr & M.LE       # delivered with ILE=0


def test_lswi_fills_words_from_the_left_and_wraps_to_r0():
    data = bytes(range(1, 33))
    cpu = run(setup(data=data, r3=DATA), "lswi 30,3,9")
    assert cpu.gpr[30:32] == [0x0102_0304, 0x0506_0708]
    assert cpu.gpr[0] == 0x0900_0000
    cpu = setup(data=data, r5=DATA)
    cpu.gpr[28:32] = [-1 & 0xFFFF_FFFF_FFFF_FFFF] * 4
    run(cpu, "lswi 28,5,0")                 # NB=0 means 32 bytes: r28..r31, r0..r3
    assert cpu.gpr[28:32] + cpu.gpr[0:4] == [
        int.from_bytes(data[k:k + 4], "big") for k in range(0, 32, 4)]


def test_lswx_and_stswx_use_the_xer_byte_count():
    cpu = setup(data=bytes(range(1, 17)) + bytes(16), r3=DATA, r4=2, r5=DATA + 0x10)
    cpu.xer = 0x8000_0000 | 6             # SO set, byte count 6
    run(cpu, "lswx 10,3,4; stswx 10,0,5")
    assert cpu.gpr[10:12] == [0x0304_0506, 0x0708_0000]
    assert mem(cpu, DATA + 0x10, 8) == bytes([3, 4, 5, 6, 7, 8, 0, 0])
    assert cpu.so == 1


def test_stswi_stores_bytes_from_the_left():
    cpu = setup(data=bytes(8), r3=DATA, r31=0xFFFF_FFFF_1122_3344, r0=0x5566_7788)
    run(cpu, "stswi 31,3,7")
    assert mem(cpu, DATA, 8) == bytes.fromhex("1122334455667700")


def test_lswx_with_zero_count_changes_nothing():
    cpu = setup(r3=DATA, r4=0, r10=0x1234)
    run(cpu, "lswx 10,3,4")
    assert cpu.gpr[10] == 0x1234 and cpu.pc == CODE_BASE + 4


@pytest.mark.parametrize("code, xer", [
    ("lswi 4,5,8", 0), ("lswi 31,0,5", 0), ("lswi 4,4,1", 0),
    ("lswx 4,5,8", 5), ("lswx 4,3,4", 1), ("lswx 30,3,0", 9),
])
def test_string_load_into_its_address_registers_is_illegal(code, xer):
    cpu = setup(r3=DATA, r5=DATA, r8=0)
    cpu.xer = xer
    run(cpu, code)
    assert_program_illegal(cpu)


def test_lswx_may_load_r0_as_ra_0_like_qemu():
    cpu = setup(data=bytes(range(1, 9)), r3=DATA)
    cpu.xer = 8
    run(cpu, "lswx 31,0,3")
    assert (cpu.gpr[31], cpu.gpr[0]) == (0x0102_0304, 0x0506_0708)


# --- load and reserve / store conditional ------------------------------------------------

@pytest.mark.parametrize("size, larx, stcx", [
    (1, "lbarx", "stbcx."), (2, "lharx", "sthcx."), (4, "lwarx", "stwcx."), (8, "ldarx", "stdcx."),
])
def test_reservation_then_store_conditional_succeeds(size, larx, stcx):
    cpu = setup(r3=DATA, r5=0x1122_3344_5566_7788)
    cpu.so = 1
    run(cpu, f"{larx} 4,0,3; {stcx} 5,0,3")
    assert cpu.gpr[4] == int.from_bytes(PATTERN[:size], "big")
    assert mem(cpu, DATA, size) == (0x1122_3344_5566_7788).to_bytes(8, "big")[8 - size:]
    assert cpu.cr >> 28 == 0b0011                      # EQ (stored) and SO
    assert cpu.reserve is None


def test_store_conditional_without_reservation_fails():
    cpu = run(setup(r3=DATA, r5=0), "stwcx. 5,0,3")
    assert cpu.cr >> 28 == 0 and mem(cpu, DATA, 8) == PATTERN


@pytest.mark.parametrize("between, stored", [
    ("stb 6,3(3)", False),       # a store into the reserved bytes clears the reservation
    ("sth 6,-1(3)", False),      # so does one overlapping them from below
    ("stb 6,4(3)", True),        # next to them does not
    ("lwarx 4,3,8", False),      # a new reservation replaces the old one
    ("stwcx. 6,3,8", False),     # any stcx. clears it
    ("dcbz 0,3", False),         # dcbz is a store
])
def test_what_clears_a_reservation(between, stored):
    cpu = setup(r3=DATA, r5=0xAABB_CCDD, r6=0, r8=8)
    run(cpu, f"lwarx 4,0,3; {between}; stwcx. 5,0,3")
    assert (cpu.cr >> 28 == 0b0010) is stored
    assert (mem(cpu, DATA, 4) == bytes.fromhex("aabbccdd")) is stored


def test_store_conditional_needs_the_same_address_and_length():
    cpu = run(setup(r3=DATA, r4=4, r5=1), "lwarx 6,0,3; stwcx. 5,3,4")
    assert cpu.cr >> 28 == 0 and mem(cpu, DATA, 8) == PATTERN
    cpu = run(setup(r3=DATA, r5=1), "lwarx 6,0,3; stdcx. 5,0,3")
    assert cpu.cr >> 28 == 0 and mem(cpu, DATA, 8) == PATTERN


def test_reservation_in_32bit_mode_uses_the_truncated_ea():
    cpu = setup(msr=BE32, r3=0x5555_5555_0000_0000 | DATA, r4=0xAAAA_AAAA_0000_0000 | DATA,
                r5=7)
    run(cpu, "lwarx 6,0,3; stwcx. 5,0,4")
    assert cpu.cr >> 28 == 0b0010 and mem(cpu, DATA, 4) == b"\0\0\0\x07"


@pytest.mark.parametrize("code", ["lharx 4,3,5", "lwarx 4,3,6", "ldarx 4,3,7",
                                  "sthcx. 4,3,5", "stwcx. 4,3,6", "stdcx. 4,3,7"])
def test_unaligned_reserved_access_takes_alignment(code):
    cpu = run(setup(r3=DATA, r5=1, r6=2, r7=4), code)
    ea = DATA + {"5": 1, "6": 2, "7": 4}[code[-1]]
    assert_alignment(cpu, ea)
    assert cpu.gpr[4] == 0


def test_larx_ignores_the_eh_hint_and_stcx_requires_rc():
    word = assemble("lwarx 4,0,3")
    cpu = run(setup(r3=DATA), [word | 1])
    assert cpu.gpr[4] == 0x8001_8203 and cpu.reserve == DATA and cpu.reserve_len == 4
    assert_program_illegal(run(setup(), [assemble("stwcx. 4,0,3") & ~1]))


# --- cache management --------------------------------------------------------------------

def test_dcbz_zeroes_the_aligned_128_byte_block():
    cpu = setup(data=b"\xff" * 512, at=DATA, r3=DATA + 0x80, r4=0x85)
    cpu.mem.dirty[DATA >> 12] = 0
    run(cpu, "dcbz 3,4")
    assert mem(cpu, DATA + 0x100, 128) == bytes(128)
    assert mem(cpu, DATA + 0x80, 128) == b"\xff" * 128
    assert mem(cpu, DATA + 0x180, 128) == b"\xff" * 128
    assert cpu.mem.dirty[DATA >> 12] == 1


def test_dcbz_in_32bit_mode():
    cpu = setup(msr=BE32, data=b"\xff" * 256, r3=0xFFFF_FFFF_0000_0000 | (DATA + 0x7F))
    run(cpu, "dcbz 0,3")
    assert mem(cpu, DATA, 129) == bytes(128) + b"\xff"


def test_dcbz_little_endian_zeroes_block():
    cpu = setup(msr=LE64, data=b"\xff" * 256, r3=DATA + 0xFF)
    run(cpu, "dcbz 0,3")
    assert mem(cpu, DATA, 256) == b"\xff" * 128 + bytes(128)


def test_dcbz_store_hook_and_fault_address():
    seen = []
    cpu = setup(r3=DATA + 0x10)
    cpu.mem.store_hooks.append(lambda ra, n: seen.append((ra, n)))
    run(cpu, "dcbz 0,3")
    assert sum(n for _, n in seen) == 128 and min(ra for ra, _ in seen) == DATA
    cpu = run(setup(r3=(1 << 20) + 0x42), "dcbz 0,3")
    assert (cpu.pc, cpu.spr[DAR]) == (0x300, 1 << 20)


@pytest.mark.parametrize("code", ["dcbt 3,4,0", "dcbt 3,4,16", "dcbtst 3,4,0", "icbt 2,3,4"])
def test_touch_hints_do_nothing_even_outside_ram(code):
    cpu = setup(r3=1 << 30, r4=4)
    run(cpu, code)
    assert cpu.pc == CODE_BASE + 4 and cpu.gpr[3] == 1 << 30


@pytest.mark.parametrize("code", ["dcbf 3,4", "dcbfl 3,4", "dcbflp 3,4", "dcbst 3,4",
                                  "icbi 3,4"])
def test_flush_and_invalidate_are_loads_for_translation(code):
    cpu = run(setup(r3=DATA, r4=4), code)
    assert cpu.pc == CODE_BASE + 4 and mem(cpu, DATA, 8) == PATTERN
    cpu = run(setup(r3=1 << 20, r4=4), code)
    assert (cpu.pc, cpu.spr[DAR], cpu.spr[DSISR]) == (0x300, (1 << 20) + 4, DSISR_NO_TRANSLATION)


@pytest.mark.parametrize("word, legal", [
    (assemble("lbzx 4,3,5") | 1, True),      # QEMU 7.2 ignores bit 31 of these X-forms
    (assemble("stdux 4,3,5") | 1, True),
    (assemble("stwbrx 4,3,5") | 1, True),
    (assemble("lhbrx 4,3,5") | 1, False),    # ... but not of the byte-reversed loads
    (assemble("lswi 4,3,4") | 1, False),
    (assemble("dcbz 0,3") | 1 << 21, True),  # dcbz's L bit (dcbzl on 970) is ignored
    (assemble("dcbf 0,3") | 2 << 21, False),  # dcbf L=2 is reserved
    (assemble("dcbst 0,3") | 1 << 21, False),
])
def test_reserved_bits_follow_qemu(word, legal):
    cpu = run(setup(r3=DATA, r5=0), [word])
    assert (cpu.pc == CODE_BASE + 4) is legal


# --- cross-check with QEMU user mode -----------------------------------------------------

AS, LD = "powerpc64-linux-gnu-as", "powerpc64-linux-gnu-ld"
SAVE = 0x110000             # where the QEMU program dumps its registers
BUF = 0x110200              # data both sides start from
BUF_PATTERN = bytes(range(256)) * 4

_COMMON = """
addis 3,0,0x11; addi 3,3,0x200; addi 12,3,0x300; addi 9,0,7; addi 11,3,0x40
lbz 4,1(3); lhz 5,3(3); lha 6,0x81(3); lwa 7,0x84(3); ld 8,0xf4(3); ldx 10,3,9
lbzu 13,5(11); lwzux 14,11,9; ldux 15,11,9; lhbrx 16,3,9; lwbrx 17,3,9; ldbrx 18,3,9
lhax 19,3,9; lhaux 20,11,9; lwax 21,3,9
stb 8,0x200(3); sth 8,0x203(3); stw 8,0x206(3); std 8,0x20c(3); stbx 7,12,9
sthbrx 8,12,9; stwbrx 8,11,9; stdbrx 8,0,12; stdu 10,0x2f0(11); stwux 4,11,9
lwarx 22,0,12; stwcx. 10,0,12; ldarx 23,0,12; stb 6,1(12); stdcx. 5,0,12
lharx 24,0,12; sthcx. 5,0,12; lbarx 25,9,12; stbcx. 4,9,12
dcbt 3,9,0; dcbtst 3,9,0; dcbst 3,9; dcbf 3,9; icbi 3,9; addi 26,12,0x85; dcbz 0,26
"""
_BIG_ENDIAN_ONLY = """
stmw 26,0x60(12); lmw 27,0x40(3); lswi 4,3,11; addi 12,12,-0x30; stswi 4,12,0
lswx 17,3,9; stswx 19,12,9
"""
_QEMU_PROLOGUE = "".join(f"li {r},0\n" for r in range(32)) + "li 0,13\nmtxer 0\nli 0,0\nmtcr 0\n"
_QEMU_EPILOGUE = "".join(f"std {r},{8 * r}(30)\n" for r in range(32) if r != 30) + """
mfcr 0; std 0,256(30); mfxer 0; std 0,264(30)
li 0,4; li 3,1; mr 4,30; li 5,0x600; sc
li 0,1; li 3,0; sc
"""


def _run_qemu(code, little, tmp_path):
    source = tmp_path / "t.s"
    data = ",".join(str(b) for b in BUF_PATTERN)
    source.write_text(f""".abiversion 2
.data
.space 0x200
.byte {data}
.space 0x200
.text
.globl _start
_start:
{_QEMU_PROLOGUE}{code}
lis 30,{SAVE >> 16}
{_QEMU_EPILOGUE}""".replace(";", "\n"))
    endian = ["-mlittle"] if little else ["-mbig"]
    obj, exe = tmp_path / "t.o", tmp_path / "t"
    subprocess.run([AS, "-a64", "-mpower9", *endian, "-o", str(obj), str(source)], check=True)
    subprocess.run([LD, "-EL" if little else "-EB", "-Ttext=0x100000", f"-Tdata={SAVE:#x}",
                    "-o", str(exe), str(obj)], check=True)
    qemu = "qemu-ppc64le" if little else "qemu-ppc64"
    out = subprocess.run([qemu, "-cpu", "power9", str(exe)], capture_output=True,
                         check=True).stdout
    order = "little" if little else "big"
    words = [int.from_bytes(out[8 * i:8 * i + 8], order) for i in range(34)]
    return words[:32], words[32] & 0xFFFF_FFFF, words[33], out[BUF - SAVE:]


@pytest.mark.skipif(not all(shutil.which(t) for t in (AS, LD, "qemu-ppc64", "qemu-ppc64le")),
                    reason="binutils-powerpc64-linux-gnu or qemu-user not installed")
@pytest.mark.parametrize("little", [False, True])
def test_matches_qemu_user(little, tmp_path):
    code = _COMMON + ("" if little else _BIG_ENDIAN_ONLY)
    gpr, cr, xer, buf = _run_qemu(code, little, tmp_path)
    cpu = make_cpu(ram_size=2 << 20, msr=LE64 if little else BE64)
    cpu.mem.buf[BUF:BUF + len(BUF_PATTERN)] = BUF_PATTERN
    cpu.xer = 13
    n = load_code(cpu, code)
    Interpreter(cpu).run(n)
    assert cpu.pc == CODE_BASE + 4 * n
    assert mem(cpu, BUF, len(buf)) == buf
    for r in range(32):
        if r != 30:
            assert (r, cpu.gpr[r]) == (r, gpr[r])
    assert (cpu.cr, cpu.xer) == (cr, xer)
