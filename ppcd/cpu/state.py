"""Architected state of one POWER vCPU and its view of guest memory.

Registers are plain Python ints kept unsigned (GPRs and most SPRs 64-bit, CR 32-bit).
XER's SO/OV/CA/OV32/CA32 live in their own attributes because nearly every arithmetic
instruction touches them; `xer` composes the architected register on demand.
Storage access here is real mode (MSR[IR]=MSR[DR]=0), the only mode a pseries guest
runs in until it turns on its MMU.
"""

from __future__ import annotations

import struct
from typing import Callable, Dict, List, Optional

from . import msr as M
from .interrupts import DataStorage, InstructionStorage

MASK64 = 0xFFFF_FFFF_FFFF_FFFF
MASK32 = 0xFFFF_FFFF
# Real-mode addressing ignores the top four bits of the effective address (Book III 5.7.3).
REAL_ADDRESS_MASK = 0x0FFF_FFFF_FFFF_FFFF
PAGE_SHIFT = 12
SLB_ENTRIES = 32           # POWER9's SLB size

XER_SO = 1 << 31
XER_OV = 1 << 30
XER_CA = 1 << 29
XER_OV32 = 1 << 19
XER_CA32 = 1 << 18
XER_FLAGS = XER_SO | XER_OV | XER_CA | XER_OV32 | XER_CA32

ISA_NO_LIMIT = 1000         # isa_limit when the PCR limits nothing (or is not enforced)

_BE = {n: struct.Struct(">" + c) for n, c in ((1, "B"), (2, "H"), (4, "I"), (8, "Q"))}
_LE = {n: struct.Struct("<" + c) for n, c in ((1, "B"), (2, "H"), (4, "I"), (8, "Q"))}


class GuestMemory:
    """What the CPU needs of guest RAM: a writable buffer and a dirty map (1 byte per page)."""

    __slots__ = ("buf", "size", "dirty", "store_hooks", "access_hook", "code", "code_written")

    def __init__(self, buf, size: int, dirty) -> None:
        self.buf = buf
        self.size = size
        self.dirty = dirty
        # Called as hook(real_address, length) after every store (watchpoints).
        self.store_hooks: List = []
        # Called as hook(real_address, length, is_store) before every load and store through
        # CPUState (the debugger's watchpoints); raising there stops the instruction before
        # its access, as a data storage interrupt would. The translator's inline accesses
        # skip it, so the worker runs the interpreter while it is set.
        self.access_hook: Optional[Callable[[int, int, bool], None]] = None
        # Set by the translating engine: one byte per page, non-zero where translated code
        # lives; a store there calls code_written(real_address, length). Two byte reads per
        # store are cheaper than a hook call.
        self.code: Optional[bytearray] = None
        self.code_written: Optional[Callable[[int, int], None]] = None


class CPUState:
    """All architected registers of one vCPU plus the reservation and the clock."""

    def __init__(self, memory: GuestMemory, pvr: int, pir: int = 0) -> None:
        self.mem = memory
        self.gpr: List[int] = [0] * 32
        self.fpr: List[int] = [0] * 32
        self.cr = 0
        self.so = self.ov = self.ca = self.ov32 = self.ca32 = 0
        self.xer_rest = 0          # XER bits other than the five flags (byte count for lswx)
        self.lr = 0
        self.ctr = 0
        self.tar = 0
        self.msr = 0
        self.pc = 0                # next instruction address
        self.cia = 0               # address of the instruction being executed
        self.fpscr = 0
        self.pvr = pvr
        self.pir = pir
        self.spr: Dict[int, int] = {}
        self.reserve: Optional[int] = None   # real address of the reservation granule
        self.reserve_len = 0
        self.icount = 0            # retired instructions: the virtual clock
        self.tb_offset = 0         # timebase = icount + tb_offset
        self.dec_expiry: Optional[int] = None   # icount at which DEC goes negative
        self.dec_written = 0       # signed DEC value at dec_written_at
        self.dec_bits = 32         # 56 with POWER9's large decrementer (LPCR[LD]=1)
        self.dec_written_at = 0
        self.pending_dec = False
        self.halted = False        # in H_CEDE, waiting for an interrupt (or stopped: RTAS)
        self.prodded = False       # H_PROD came while running: the next H_CEDE returns at once
        self.lpcr_ile = False      # interrupts taken little-endian (H_SET_MODE)
        self.dabr = 0
        self.dabrx = 0
        self.cfar = 0              # address of the last taken branch or rfid (SPR 28)
        # Compatibility mode (ppcd/cpu/compat.py): the logical PVR (0: raw mode), the PCR,
        # and the newest ISA version (x100) problem state may use, which the decoder checks.
        self.compat_pvr = 0
        self.pcr = 0
        self.isa_limit = ISA_NO_LIMIT
        self.hypervisor = None     # called as hypervisor(cpu) for sc 1 from privileged state
        # The segment lookaside buffer's ESID and VSID words (Book III 5.7.8.2); kept for
        # slbmte/slbmfee/slbmfev/slbfee./slbie/slbia, not used for translation.
        self.slb_esid: List[int] = [0] * SLB_ENTRIES
        self.slb_vsid: List[int] = [0] * SLB_ENTRIES

    # --- XER ---------------------------------------------------------------------------
    @property
    def xer(self) -> int:
        return (self.xer_rest | (self.so << 31) | (self.ov << 30) | (self.ca << 29)
                | (self.ov32 << 19) | (self.ca32 << 18))

    @xer.setter
    def xer(self, value: int) -> None:
        self.so = (value >> 31) & 1
        self.ov = (value >> 30) & 1
        self.ca = (value >> 29) & 1
        self.ov32 = (value >> 19) & 1
        self.ca32 = (value >> 18) & 1
        self.xer_rest = value & MASK64 & ~XER_FLAGS

    # --- CR ----------------------------------------------------------------------------
    def set_cr_field(self, bf: int, value: int) -> None:
        shift = 28 - 4 * bf
        self.cr = (self.cr & ~(0xF << shift)) | ((value & 0xF) << shift)

    def cr_field(self, bf: int) -> int:
        return (self.cr >> (28 - 4 * bf)) & 0xF

    def cr_bit(self, bi: int) -> int:
        return (self.cr >> (31 - bi)) & 1

    def set_cr_bit(self, bi: int, value: int) -> None:
        bit = 1 << (31 - bi)
        self.cr = (self.cr | bit) if value else (self.cr & ~bit)

    def record(self, result: int) -> None:
        """CR0 from a result (Rc=1): LT, GT, EQ by signed compare with zero, then SO.

        In 32-bit mode only the low 32 bits are compared (Book I 3.3.8).
        """
        if self.msr & M.SF:
            v = result & MASK64
            neg = v >> 63
        else:
            v = result & MASK32
            neg = v >> 31
        c = 8 if neg else (2 if v == 0 else 4)
        self.cr = (self.cr & 0x0FFFFFFF) | ((c | self.so) << 28)

    # --- modes -------------------------------------------------------------------------
    @property
    def sf(self) -> bool:
        return bool(self.msr & M.SF)

    @property
    def le(self) -> bool:
        return bool(self.msr & M.LE)

    def ea_mask(self) -> int:
        return MASK64 if self.msr & M.SF else MASK32

    # --- storage -----------------------------------------------------------------------
    def _real(self, ea: int, n: int, store: bool) -> int:
        """Real address of an n-byte access, or a data storage interrupt outside RAM."""
        ra = ea & REAL_ADDRESS_MASK
        if ra + n > self.mem.size:
            raise DataStorage(ea, store)
        if self.mem.access_hook is not None:
            self.mem.access_hook(ra, n, store)
        return ra

    def load(self, ea: int, n: int) -> int:
        ea &= self.ea_mask()
        ra = self._real(ea, n, False)
        fmt = _LE[n] if self.msr & M.LE else _BE[n]
        return fmt.unpack_from(self.mem.buf, ra)[0]

    def load_reversed(self, ea: int, n: int) -> int:
        """Load with the opposite byte order (lhbrx, lwbrx, ldbrx)."""
        ea &= self.ea_mask()
        ra = self._real(ea, n, False)
        fmt = _BE[n] if self.msr & M.LE else _LE[n]
        return fmt.unpack_from(self.mem.buf, ra)[0]

    def store(self, ea: int, n: int, value: int) -> None:
        ea &= self.ea_mask()
        ra = self._real(ea, n, True)
        fmt = _LE[n] if self.msr & M.LE else _BE[n]
        fmt.pack_into(self.mem.buf, ra, value & ((1 << (8 * n)) - 1))
        self._stored(ra, n)

    def store_reversed(self, ea: int, n: int, value: int) -> None:
        ea &= self.ea_mask()
        ra = self._real(ea, n, True)
        fmt = _BE[n] if self.msr & M.LE else _LE[n]
        fmt.pack_into(self.mem.buf, ra, value & ((1 << (8 * n)) - 1))
        self._stored(ra, n)

    def _stored(self, ra: int, n: int) -> None:
        dirty = self.mem.dirty
        dirty[ra >> PAGE_SHIFT] = 1
        dirty[(ra + n - 1) >> PAGE_SHIFT] = 1
        reserve = self.reserve
        if reserve is not None and ra < reserve + self.reserve_len and reserve < ra + n:
            self.reserve = None
        for hook in self.mem.store_hooks:
            hook(ra, n)
        code = self.mem.code
        if code is not None and (code[ra >> PAGE_SHIFT] or code[(ra + n - 1) >> PAGE_SHIFT]):
            self.mem.code_written(ra, n)

    def fetch(self, ea: int) -> int:
        """Instruction fetch at ea in the current byte order."""
        ra = ea & REAL_ADDRESS_MASK
        if ra + 4 > self.mem.size:
            raise InstructionStorage(ea)
        fmt = _LE[4] if self.msr & M.LE else _BE[4]
        return fmt.unpack_from(self.mem.buf, ra)[0]

    # --- timebase and decrementer (virtual clock: one tick per retired instruction) -----
    @property
    def tb(self) -> int:
        return (self.icount + self.tb_offset) & MASK64

    @property
    def dec(self) -> int:
        """DEC as mfdec reads it: 32 bits, or sign-extended to 64 with the large decrementer."""
        value = self.dec_written - (self.icount - self.dec_written_at)
        return value & (MASK64 if self.dec_bits > 32 else MASK32)

    @dec.setter
    def dec(self, value: int) -> None:
        # The low dec_bits bits are taken as a signed value (Book III 9.3, LPCR[LD]).
        sign = 1 << (self.dec_bits - 1)
        signed = ((value & ((sign << 1) - 1)) ^ sign) - sign
        self.dec_written = signed
        self.dec_written_at = self.icount
        if signed < 0:
            # Level-triggered on POWER9: a negative DEC keeps the exception pending.
            self.pending_dec = True
            self.dec_expiry = None
        else:
            self.pending_dec = False
            self.dec_expiry = self.icount + signed + 1
