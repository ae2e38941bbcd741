"""Semantics of system call vectored and the other returns, rfebb, SLB management, message
passing and transactional memory (Book II 5, 6; Book III 4.3, 4.4, 5.9.3).

The decoder has already refused the privileged rows in problem state. The Facility Status
and Control Register (FSCR, SPR 153) gates scv and rfebb in problem state only (Book III
9.2.7); a disabled facility raises Facility Unavailable with its number in FSCR[IC]. QEMU 7.2
also checks FSCR in privileged state.
"""

from __future__ import annotations

from .. import msr as M
from ..interrupts import FacilityUnavailable, SystemCallVectored, illegal, privileged
from ..state import MASK32, SLB_ENTRIES
from . import implements
from .system import MSR_WRITABLE, RFID_KEPT, _set_msr

# FSCR facility enable bits and their interrupt cause codes (Book III 9.2.7).
FSCR_SCV, IC_SCV = 1 << 12, 12
FSCR_EBB, IC_EBB = 1 << 7, 7
IC_TM = 5
MSR_TM = 1 << 32
BESCR_GE = 1 << 63
BESCR_RESERVED = 0xC000_0000        # BESCR bits 32:33: rfebb is then an invalid form


def _facility(cpu, enable: int, cause: int) -> None:
    """Problem state may use the facility only with its FSCR bit set."""
    if cpu.msr & M.PR and not cpu.spr.get(153, 0) & enable:
        raise FacilityUnavailable(cause)


def _return_to(cpu, target: int) -> None:
    cpu.pc = target & ~3 if cpu.msr & M.SF else target & ~3 & MASK32


# --- Book III 4.3 system call vectored and returns ------------------------------------------

@implements("scv")
def scv(cpu, op) -> None:
    _facility(cpu, FSCR_SCV, IC_SCV)
    raise SystemCallVectored(op.LEV)


@implements("rfscv")
def rfscv(cpu, op) -> None:
    """rfid with LR and CTR in the roles of SRR0 and SRR1 (Book III 4.3.1)."""
    _set_msr(cpu, (cpu.ctr & MSR_WRITABLE & ~RFID_KEPT) | (cpu.msr & RFID_KEPT))
    _return_to(cpu, cpu.lr)
    cpu.cfar = cpu.cia
    cpu.reserve = None


@implements("hrfid", "msgsnd", "msgclr", "msgsync")
def hypervisor_privileged(cpu, op) -> None:
    # Hypervisor privileged with MSR[HV]=0: the privileged instruction program interrupt.
    raise privileged()


@implements("urfid")
def urfid(cpu, op) -> None:
    # Ultravisor privileged, and ppcd has no ultravisor: illegal, as in QEMU 7.2.
    raise illegal()


# --- Book II 6.2 event-based branch return ----------------------------------------------------

@implements("rfebb")
def rfebb(cpu, op) -> None:
    """Return from an event-based branch: NIA = EBBRR, BESCR[GE] = S."""
    _facility(cpu, FSCR_EBB, IC_EBB)
    bescr = cpu.spr.get(804, 0)
    if bescr & BESCR_RESERVED:
        raise illegal()
    cpu.spr[804] = (bescr | BESCR_GE) if op.S20 else (bescr & ~BESCR_GE)
    _return_to(cpu, cpu.spr.get(806, 0))


# --- Book III 5.9.3.3 SLB management ----------------------------------------------------------
# The SLB is kept as the ESID and VSID words slbmte wrote (ESID: bits 0:35 and V, bit 36;
# VSID: B, VSID, Ks Kp N L C LP); ppcd has no MMU, so the entries translate nothing.

ESID_MASK = 0xFFFF_FFFF_F000_0000
ESID_1T_MASK = 0xFFFF_FF00_0000_0000
ESID_V = 1 << 27
VSID_B = 3 << 62
VSID_B_1T = 1 << 62
VSID_LLP = 0x130                      # L and LP: the segment's base page size
PAGE_SIZES = (0x000, 0x110, 0x100, 0x120)   # 4K, 64K, 16M, 16G on POWER9
SLB_INDEX = 0xFFF


def _slot(cpu, rb: int) -> int:
    """The entry RB[52:63] names; beyond the SLB it is an invalid form (illegal, as QEMU)."""
    slot = rb & SLB_INDEX
    if slot >= SLB_ENTRIES:
        raise illegal()
    return slot


def _lookup(cpu, ea: int):
    """The valid entry translating `ea` (256 MB or 1 TB segment), or None."""
    for n in range(SLB_ENTRIES):
        esid, vsid = cpu.slb_esid[n], cpu.slb_vsid[n]
        if not esid & ESID_V:
            continue
        mask = ESID_1T_MASK if vsid & VSID_B == VSID_B_1T else ESID_MASK
        if esid & mask == ea & mask and (vsid & VSID_B) in (0, VSID_B_1T):
            return n
    return None


@implements("slbmte")
def slbmte(cpu, op) -> None:
    """Write entry RB[52:63]: an unsupported segment or page size, or reserved ESID bits,
    is an invalid form (illegal, as QEMU)."""
    rb, rs = cpu.gpr[op.RB], cpu.gpr[op.RS]
    slot = _slot(cpu, rb)
    esid = rb & ~SLB_INDEX
    if esid & ~(ESID_MASK | ESID_V) or rs & VSID_B > VSID_B_1T or \
            rs & VSID_LLP not in PAGE_SIZES:
        raise illegal()
    cpu.slb_esid[slot], cpu.slb_vsid[slot] = esid, rs


@implements("slbmfee")
def slbmfee(cpu, op) -> None:
    cpu.gpr[op.RT] = cpu.slb_esid[_slot(cpu, cpu.gpr[op.RB])]


@implements("slbmfev")
def slbmfev(cpu, op) -> None:
    cpu.gpr[op.RT] = cpu.slb_vsid[_slot(cpu, cpu.gpr[op.RB])]


@implements("slbfee")
def slbfee(cpu, op) -> None:
    """Find the entry for EA (RB): RT = its VSID word and CR0 EQ set, else RT = 0."""
    n = _lookup(cpu, cpu.gpr[op.RB])
    cpu.gpr[op.RT] = 0 if n is None else cpu.slb_vsid[n]
    cpu.set_cr_field(0, (0 if n is None else 0b0010) | cpu.so)


@implements("slbie", "slbieg")
def slbie(cpu, op) -> None:
    """Invalidate the entry translating EA (RB); with one thread, slbieg is the same."""
    n = _lookup(cpu, cpu.gpr[op.RB])
    if n is not None:
        cpu.slb_esid[n] &= ~ESID_V


@implements("slbia")
def slbia(cpu, op) -> None:
    """IH (ISA 3.0): 7 invalidates no entry; 3 every entry of class 1, entry 0 included; 4
    every entry; any other value every entry but entry 0 (QEMU 7.2 reads IH the same way)."""
    ih = op.IH
    if ih == 7:
        return
    for n in range(0 if ih in (3, 4) else 1, SLB_ENTRIES):
        if ih == 3 and not cpu.slb_vsid[n] & 0x80:     # C, the class bit (VSID word bit 56)
            continue
        cpu.slb_esid[n] &= ~ESID_V


@implements("slbsync")
def slbsync(cpu, op) -> None:
    """Orders the slbieg instructions before it: nothing to wait for with one thread."""


# --- Book III 4.4 message passing: directed privileged doorbells ------------------------------
# One thread per core, so the only target of msgsndp is the thread itself (TIR 0), whose
# DPDES bit (SPR 176, bit 63) records the pending doorbell. ppcd does not deliver the
# Directed Privileged Doorbell interrupt (0xA00) yet.

DOORBELL_SERVER = 5             # RB[32:36], the message type of msgsndp/msgclrp
DPDES = 176


def _doorbell_for_this_thread(rb: int, check_target: bool) -> bool:
    return rb >> 27 & 0x1F == DOORBELL_SERVER and (not check_target or rb & 0x7F == 0)


@implements("msgsndp")
def msgsndp(cpu, op) -> None:
    if _doorbell_for_this_thread(cpu.gpr[op.RB], check_target=True):
        cpu.spr[DPDES] = cpu.spr.get(DPDES, 0) | 1


@implements("msgclrp")
def msgclrp(cpu, op) -> None:
    if _doorbell_for_this_thread(cpu.gpr[op.RB], check_target=False):
        cpu.spr[DPDES] = cpu.spr.get(DPDES, 0) & ~1


# --- Book II 5 transactional memory -----------------------------------------------------------
# With MSR[TM]=0, as on ppcd's pseries, every TM instruction raises Facility Unavailable
# (FSCR[IC]=5, the TM Unavailable case). If a guest sets MSR[TM] anyway, a transaction never
# starts, as in QEMU 7.2: tbegin. fails at once (persistent, "nesting overflow") and the other
# instructions see no transaction.

TFHAR, TFIAR, TEXASR = 128, 129, 130
_TEXASR_FAILURE = ((1 << 56) | (1 << 54) | (1 << 27) | (1 << 26))  # persistent, nesting
# overflow, failure summary, TFIAR exact
_TEXASR_HV, _TEXASR_PR = 1 << 29, 1 << 28


def _tm_available(cpu) -> None:
    if not cpu.msr & MSR_TM:
        raise FacilityUnavailable(IC_TM)


@implements("tbegin")
def tbegin(cpu, op) -> None:
    _tm_available(cpu)
    hv, pr = bool(cpu.msr & M.HV), bool(cpu.msr & M.PR)
    cpu.spr[TEXASR] = _TEXASR_FAILURE | (_TEXASR_HV if hv else 0) | (_TEXASR_PR if pr else 0)
    cpu.spr[TFIAR] = cpu.cia | hv << 1 | pr
    cpu.spr[TFHAR] = cpu.pc
    cpu.set_cr_field(0, 0b1010)         # failure handling: 0b101 || 0 (QEMU 7.2: 0b1011)


@implements("tend", "tabort", "tabortwc", "tabortwci", "tabortdc", "tabortdci", "tsr",
            "trechkpt", "treclaim")
def no_transaction(cpu, op) -> None:
    """CR0 = 0 || MSR[TS] || 0, and MSR[TS] is 0: no transaction is ever active."""
    _tm_available(cpu)
    cpu.set_cr_field(0, 0)


@implements("tcheck")
def tcheck(cpu, op) -> None:
    _tm_available(cpu)
    cpu.set_cr_field(op.BF, 0b1000)
