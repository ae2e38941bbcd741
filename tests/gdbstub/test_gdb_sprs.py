"""The SPR feature (org.qemu.power.spr, ppcd/gdbstub/power.py) under gdb-multiarch: reading and
writing SPRs by name, read-only SPRs, and the names against QEMU's own SPR feature."""

from __future__ import annotations

import re

import pytest
from qemu_runner import qemu_available
from qmp.guests import SPIN, write_guest

from ppcd.gdbstub import power

from .conftest import RawGDB, build_debug_guest, needs_gdb, run_gdb

SPR_FEATURE = re.compile(r'<feature name="org\.qemu\.power\.spr">(.*?)</feature>', re.S)

# Where ppcd's SPR names and QEMU 7.2's differ (both lowercase their table's names).
PPCD_ONLY = {
    # The same SPR, named differently: QEMU says spr_dscr, decr, spr_cfar, pid, spr_ctrl and,
    # for 268, tbl (a second tbl, 284's, is ppcd's tbl too).
    "dscr", "dec", "cfar", "pidr", "ctrl", "tb",
    "heir",     # QEMU 7.2 has no HEIR (339)
}
QEMU_ONLY = {
    "xer", "lr", "ctr",                                 # ppcd has them in the core feature only
    "spr_dscr", "decr", "spr_cfar", "pid", "spr_ctrl",  # named differently (PPCD_ONLY)
    # Problem-state aliases, which ppcd leaves out (their state is a privileged SPR's).
    "uamr", "spr_uctrl", "usprg3", "usier", "ummcr2", "ummcra", "upmc1", "upmc2", "upmc3",
    "upmc4", "upmc5", "upmc6", "ummcr0", "usiar", "usdar", "ummcr1",
    # SPRs ppcd does not have: transactional memory, DAWR, EAR, TIR, the BESCR set/reset
    # ports and POWER9's implementation-specific ones.
    "tfhar", "tfiar", "texasr", "texasru", "dawr0", "dawrx0", "ear", "tir", "bescrs",
    "bescrsu", "bescrr", "bescrru", "tacr", "tcscr", "csigr", "spmc1", "spmc2", "mmcrs",
    "wort",
}


def test_every_spr_of_the_table_is_offered_once() -> None:
    from ppcd.cpu.spr import SPRS
    offered = {int(r.source[1]): r.name for r in power.SPR}
    assert len(set(offered.values())) == len(offered) == len(power.SPR)
    for number in SPRS:
        # Left out only when the core feature has it or another offered SPR holds its state.
        assert (number in offered or number in power.CORE_SPRS
                or power.SPR_ALIASES.get(number) in offered), number
    assert power.REGISTERS.index(power.SPR[0]) == 71       # after core and FPU, unchanged


@pytest.fixture(scope="module")
def debuggee() -> dict:
    from guests import build
    out = build.DEFAULT_BUILD_DIR / "debug"
    return {endian: build_debug_guest("debuggee", endian, out) for endian in ("be", "le")}


@needs_gdb
@pytest.mark.parametrize("endian", ["be", "le"])
def test_info_set_and_read_back(endian, debuggee, start_ppcd) -> None:
    elf = debuggee[endian]
    machine = start_ppcd(elf)
    out = run_gdb(elf, machine.port, [
        "break main", "continue",
        "info registers srr0 srr1 dpdes pvr",
        "p $dpdes",
        "set $sprg0 = 5",
        "set $sprg3 = 0x123456789abcdef0",
        "set $dec = 1000",
        "p $sprg0",
        "stepi",
        # Read again from the stub after the step: the vCPU has the values, DEC counted one.
        "info registers sprg0 sprg3 dec",
        "monitor info registers",
        "p $tb > 0",
        "set $pvr = 1",
        "p/x $pvr",
        "info registers spr",
        "kill"], endian)
    assert re.search(r"^srr0 +0x4000[0-9a-f]{2} +\d+$", out, re.M), out
    assert re.search(r"^srr1 +0x800000000000200[01] +-\d+$", out, re.M), out
    assert re.search(r"^dpdes +0x0 +0$", out, re.M), out
    assert re.search(r"^pvr +0x4e1200 +5116416$", out, re.M), out
    assert "$1 = 0\n$2 = 5\n" in out
    assert re.search(r"^sprg0 +0x5 +5\nsprg3 +0x123456789abcdef0 +1311768467463790320\n"
                     r"dec +0x3e7 +999$", out, re.M), out
    assert "SPRG0 0000000000000005" in out and "SPRG3 123456789abcdef0" in out
    assert "$3 = 1" in out
    assert "Could not write register \"pvr\"; remote failure reply 'E22'" in out
    assert "$4 = 0x4e1200" in out
    assert len(re.findall(r"^[a-z0-9]+ +0x[0-9a-f]+ +-?\d+$", out, re.M)) == (
        4 + 3 + len(power.SPR)), out


def test_spr_packets(tmp_path, start_ppcd) -> None:
    machine = start_ppcd(write_guest(tmp_path / "spin.elf", SPIN))
    stub = RawGDB(machine.port)
    names = [r.name for r in power.REGISTERS]
    pvr, sprg0 = names.index("pvr"), names.index("sprg0")
    assert stub.ask(b"p%x" % pvr) == b"00000000004e1200"
    assert stub.ask(b"P%x=00000000004e1200" % pvr) == b"OK"     # unchanged: accepted
    assert stub.ask(b"P%x=0000000000000001" % pvr) == b"E22"    # read-only
    assert stub.ask(b"P%x=0000000000000005" % sprg0) == b"OK"
    assert stub.ask(b"p%x" % sprg0) == b"0000000000000005"
    # G sends every register back, the read-only SPRs too: accepted when they are unchanged.
    registers = stub.ask(b"g")
    assert stub.ask(b"G" + registers) == b"OK"
    assert stub.ask(b"g") == registers
    stub.close()


def _spr_names(out: str) -> list:
    feature = SPR_FEATURE.search(out)
    assert feature is not None, out
    return re.findall(r'<reg name="([^"]+)"', feature.group(1))


@needs_gdb
@pytest.mark.skipif(not qemu_available(), reason="qemu-system-ppc64 is not installed")
def test_names_and_values_match_qemu(debuggee, start_ppcd, start_qemu) -> None:
    elf = debuggee["be"]
    common = ("srr0 srr1 sprg0 sprg1 sprg2 sprg3 dsisr dar pvr pir amr iamr uamor fscr tar "
              "vrsave ppr mmcr0 pmc1 sier")
    session = ["maint print xml-tdesc", "break main", "continue", f"info registers {common}",
               "set $sprg2 = 0xfeedface", "set $srr0 = 0x1234", "stepi",
               "info registers sprg2 srr0", "kill"]
    ours = run_gdb(elf, start_ppcd(elf).port, session)
    qemu = run_gdb(elf, start_qemu(elf).port, session)
    ppcd_names, qemu_names = _spr_names(ours), _spr_names(qemu)
    assert ppcd_names == [r.name for r in power.SPR]
    assert set(ppcd_names) - set(qemu_names) == PPCD_ONLY
    assert set(qemu_names) - set(ppcd_names) == QEMU_ONLY
    # From main on, the SPRs both have read the same and take the same writes.
    assert ours[ours.index("Breakpoint 1, "):] == qemu[qemu.index("Breakpoint 1, "):]
    assert re.search(r"^sprg2 +0xfeedface +4277009102\nsrr0 +0x1234 +4660$", ours, re.M), ours
