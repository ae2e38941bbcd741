"""Semantics of the system instructions: CR/XER/SPR/MSR moves, sc, rfid, synchronisation,
wait and the TLB instructions (Book I 2.4.3, 3.3.17; Book II 4.4; Book III 4.3, 4.4, 5.9)."""

from __future__ import annotations

from .. import msr as M
from ..interrupts import SystemCall, privileged
from ..spr import read_spr, write_spr
from ..state import MASK32, MASK64
from . import implements

# MSR bits a POWER9 implements (QEMU's msr_mask without HV, which a pseries guest never has);
# mtmsr[d] and rfid drop the rest. TM (bit 31) is kept settable as QEMU does.
MSR_WRITABLE = (M.SF | (1 << 32) | M.VEC | M.VSX | M.EE | M.PR | M.FP | M.ME | M.FE0 | M.SE
                | M.BE | M.FE1 | M.IR | M.DR | M.PMM | M.RI | M.LE)
# mtmsr[d] L=0 never alters HV, ME or LE; mtmsr only reaches bits 32:63 (Book III 4.4.3).
MTMSRD_BITS = MSR_WRITABLE & ~(M.ME | M.LE)
MTMSR_BITS = MTMSRD_BITS & MASK32
# In an LPAR, rfid leaves HV (0) and ME as they are (Book III 4.3.1).
RFID_KEPT = M.HV | M.ME
H_PRIVILEGE = -3 & MASK64    # PAPR: hypercall made from problem state


def _field_mask(fxm: int) -> int:
    """The CR bits selected by an 8-bit FXM, field 0 (FXM's MSB) first."""
    mask = 0
    for field in range(8):
        if fxm & (0x80 >> field):
            mask |= 0xF << (28 - 4 * field)
    return mask


def _one_field(fxm: int) -> bool:
    return fxm != 0 and fxm & (fxm - 1) == 0


@implements("mfcr")
def mfcr(cpu, op) -> None:
    cpu.gpr[op.RT] = cpu.cr


@implements("mfocrf")
def mfocrf(cpu, op) -> None:
    # One field selected: that field, other bits 0. Otherwise the ISA leaves RT undefined and
    # QEMU leaves it unchanged, as here.
    if _one_field(op.FXM):
        cpu.gpr[op.RT] = cpu.cr & _field_mask(op.FXM)


@implements("mtcrf")
def mtcrf(cpu, op) -> None:
    mask = _field_mask(op.FXM)
    cpu.cr = (cpu.cr & ~mask) | (cpu.gpr[op.RS] & mask)


@implements("mtocrf")
def mtocrf(cpu, op) -> None:
    # More than one field selected is undefined; QEMU changes nothing, as here.
    if _one_field(op.FXM):
        mtcrf(cpu, op)


@implements("mcrxrx")
def mcrxrx(cpu, op) -> None:
    cpu.set_cr_field(op.BF, (cpu.ov << 3) | (cpu.ov32 << 2) | (cpu.ca << 1) | cpu.ca32)


def _move_from_spr(cpu, rt: int, number: int) -> None:
    value = read_spr(cpu, number)
    if value is not None:
        cpu.gpr[rt] = value


@implements("mfspr")
def mfspr(cpu, op) -> None:
    _move_from_spr(cpu, op.RT, op.SPR)


@implements("mftb")
def mftb(cpu, op) -> None:
    # TBR other than 268/269 is an invalid form; QEMU (and so ppcd) treats it as mfspr.
    _move_from_spr(cpu, op.RT, op.TBR)


@implements("mtspr")
def mtspr(cpu, op) -> None:
    write_spr(cpu, op.SPR, cpu.gpr[op.RS])


@implements("mfmsr")
def mfmsr(cpu, op) -> None:
    cpu.gpr[op.RT] = cpu.msr


def _set_msr(cpu, value: int) -> None:
    """A new MSR from mtmsr[d] or rfid: PR=1 forces EE, IR and DR on (Book III 4.4.3)."""
    if value & M.PR:
        value |= M.EE | M.IR | M.DR
    cpu.msr = value


def _move_to_msr(cpu, op, bits: int) -> None:
    if op.L15:
        bits = M.MTMSRD_L1_BITS
        cpu.msr = (cpu.msr & ~bits) | (cpu.gpr[op.RS] & bits)
        return
    _set_msr(cpu, (cpu.msr & ~bits) | (cpu.gpr[op.RS] & bits))
    if not cpu.msr & M.SF:
        cpu.pc &= MASK32       # leaving 64-bit mode: the next fetch is a 32-bit address


@implements("mtmsr")
def mtmsr(cpu, op) -> None:
    _move_to_msr(cpu, op, MTMSR_BITS)


@implements("mtmsrd")
def mtmsrd(cpu, op) -> None:
    _move_to_msr(cpu, op, MTMSRD_BITS)


@implements("rfid")
def rfid(cpu, op) -> None:
    srr1 = cpu.spr.get(27, 0)
    _set_msr(cpu, (srr1 & MSR_WRITABLE & ~RFID_KEPT) | (cpu.msr & RFID_KEPT))
    target = cpu.spr.get(26, 0) & ~3
    cpu.pc = target if cpu.msr & M.SF else target & MASK32
    cpu.cfar = cpu.cia
    # Context synchronising; QEMU also drops the reservation here.
    cpu.reserve = None


@implements("sc")
def sc(cpu, op) -> None:
    # LEV=1 is a hypercall to the virtual hypervisor (QEMU's "PAPR mode" vhyp); pseries refuses
    # it from problem state with H_PRIVILEGE. Any other LEV is an ordinary system call (0xC00).
    if op.LEV == 1 and cpu.hypervisor is not None:
        if cpu.msr & M.PR:
            cpu.gpr[3] = H_PRIVILEGE
        else:
            cpu.hypervisor(cpu)
        return
    raise SystemCall()


@implements("sync", "isync", "eieio", "tlbiel")
def no_effect(cpu, op) -> None:
    """Ordering and context synchronisation are implicit in a one-instruction-at-a-time
    interpreter; tlbiel has no TLB to invalidate in real mode."""


@implements("wait")
def wait(cpu, op) -> None:
    # Book II 4.5: stop fetching until an interrupt is pending; QEMU halts the vCPU.
    cpu.halted = True


@implements("tlbie", "tlbsync", "stop")
def hypervisor_only(cpu, op) -> None:
    # Hypervisor-privileged with MSR[HV]=0 (tlbie/tlbsync: LPCR[GTSE]=0, as QEMU's pseries
    # boots): the privileged-instruction program interrupt, as QEMU raises.
    raise privileged()
