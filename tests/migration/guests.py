"""Guests for the migration tests, hand-assembled so no cross compiler is needed."""

from __future__ import annotations

from pathlib import Path

from qmp.guests import write_guest

PAGES_BASE = 0x800000
COUNTER_ADDRESS = 0x1000    # the pass number the guest has completed
FAILED_ADDRESS = 0x1008     # the page that held a stale value, when the check failed


def self_checking(pages: int) -> str:
    """Forever: for each of `pages` pages from PAGES_BASE, check that its first word holds the
    previous pass's number, then store this pass's. A page a migration failed to send again
    shows up as a stale value: the guest stores the page's address at FAILED_ADDRESS and spins.
    """
    return f"""
addi 20,0,1
addis 21,0,{PAGES_BASE >> 16}
addi 22,0,{pages}
mtspr 9,22
lwz 23,0(21)
addi 24,20,-1
cmp 0,0,23,24
bc 4,2,28
stw 20,0(21)
addi 21,21,4096
bc 16,0,-24
stw 20,{COUNTER_ADDRESS}(0)
addi 20,20,1
b -48
stw 21,{FAILED_ADDRESS}(0)
b 0
"""


def write_self_checking(path: Path, pages: int) -> Path:
    return write_guest(path, self_checking(pages))


# --- the SLB and SPR guest: state only a migration's CPU section carries --------------------
SLB_SIZE = 32               # POWER9's SLB (ppcd/cpu/state.py SLB_ENTRIES)
SLB_TABLE = 0x2000          # each pass: slbmfee, slbmfev of every entry (two doublewords each)
SLB_FOUND = SLB_TABLE + 16 * SLB_SIZE   # each pass: slbfee. of FOUND_EA (RT), then CR
SPR_TABLE = SLB_FOUND + 16              # each pass: mfspr of every SPR in GUEST_SPRS
ESID_V = 1 << 27
INVALIDATED_SLOT = 5        # written, then slbie: V clear, every other bit still readable
FOUND_SLOT = 2              # slbfee. finds this entry


def _slb_entry(slot: int) -> "tuple[int, int]":
    """A distinctive ESID word (with V) and VSID word per slot; slot 17 is a 1 TB segment.
    Class bit C on odd slots; base page sizes 4K, 64K, 16M and 16G in turn (L||LP)."""
    segment_1t = slot == 17
    esid = ((0xC0DE0000 + slot * 0x0101) << 32) | ((slot & 0xF) << 28) | ESID_V
    vsid = ((1 << 62) if segment_1t else 0) | ((0xABCDE00 + slot) << 12) | 0x800 \
        | (0x80 if slot & 1 else 0) | (0x000, 0x110, 0x100, 0x120)[slot % 4]
    return esid, vsid


SLB_WRITTEN = {slot: _slb_entry(slot) for slot in (0, 1, FOUND_SLOT, INVALIDATED_SLOT, 17, 31)}
FOUND_EA = (SLB_WRITTEN[FOUND_SLOT][0] & ~ESID_V) | 0x1234
# Privileged SPRs the guest writes once (DSCR, DAR, SRR0, PIDR, TIDR, VRSAVE, SPRG0-3, TAR, PPR)
# and reads back every pass; the 32-bit ones keep their low word.
GUEST_SPRS = {17: 0x0000000000000015, 19: 0xDA0000000000DA00, 26: 0x5E0000000000005E,
              48: 0x0000000012345678, 144: 0x7100000000000071, 256: 0x00000000FEEDF00D,
              272: 0x5000000000000000, 273: 0x5111111111111111, 274: 0x5222222222222222,
              275: 0x5333333333333333, 815: 0x7A7A7A7A7A7A7A70, 896: 0x000C000000000000}
DOORBELL_SERVER_MESSAGE = 5 << 27       # msgsndp RB: a doorbell for this thread (DPDES bit 63)


def expected_slb() -> "list[tuple[int, int]]":
    """What slbmfee/slbmfev read for every slot after the guest's setup."""
    entries = [SLB_WRITTEN.get(slot, (0, 0)) for slot in range(SLB_SIZE)]
    esid, vsid = entries[INVALIDATED_SLOT]
    entries[INVALIDATED_SLOT] = (esid & ~ESID_V, vsid)
    return entries


def _li64(reg: int, value: int) -> str:
    """Load a 64-bit constant in five instructions (32-bit mode keeps all 64 GPR bits)."""
    high, low = value >> 32, value & 0xFFFF_FFFF
    top = high >> 16
    top -= 0x10000 if top & 0x8000 else 0
    return (f"addis {reg},0,{top}; ori {reg},{reg},{high & 0xFFFF}; "
            f"rldicr {reg},{reg},32,31; oris {reg},{reg},{low >> 16}; "
            f"ori {reg},{reg},{low & 0xFFFF}")


def slb_and_sprs() -> str:
    """Writes SLB_WRITTEN with slbmte, invalidates INVALIDATED_SLOT with slbie, writes
    GUEST_SPRS and sends itself a doorbell (msgsndp: DPDES, which the guest cannot read back
    with MSR[HV]=0). Then forever: reads every SLB entry back into SLB_TABLE, finds FOUND_EA
    with slbfee., reads the SPRs back into SPR_TABLE and counts the pass at COUNTER_ADDRESS."""
    setup = [f"{_li64(3, vsid)}; {_li64(4, esid | slot)}; slbmte 3,4"
             for slot, (esid, vsid) in SLB_WRITTEN.items()]
    setup.append(f"{_li64(4, SLB_WRITTEN[INVALIDATED_SLOT][0] & ~ESID_V)}; slbie 4")
    setup += [f"{_li64(3, value)}; mtspr {number},3" for number, value in GUEST_SPRS.items()]
    setup.append(f"addis 4,0,{DOORBELL_SERVER_MESSAGE >> 16}; msgsndp 4; addi 20,0,0")
    loop = [f"addi 4,0,{slot}; slbmfee 5,4; slbmfev 6,4; std 5,{SLB_TABLE + 16 * slot}(0); "
            f"std 6,{SLB_TABLE + 16 * slot + 8}(0)" for slot in range(SLB_SIZE)]
    loop.append(f"{_li64(4, FOUND_EA)}; slbfee. 7,4; std 7,{SLB_FOUND}(0); mfcr 8; "
                f"stw 8,{SLB_FOUND + 8}(0)")
    loop += [f"mfspr 3,{number}; std 3,{SPR_TABLE + 8 * index}(0)"
             for index, number in enumerate(GUEST_SPRS)]
    loop.append(f"addi 20,20,1; stw 20,{COUNTER_ADDRESS}(0)")
    body = "\n".join(loop)
    return "\n".join(setup) + "\n" + body + f"\nb -{4 * _count(body)}\n"


def _count(source: str) -> int:
    from ppcd.cpu.assembler import assemble_all
    return len(assemble_all(source))


def write_slb_and_sprs(path: Path) -> Path:
    return write_guest(path, slb_and_sprs())
