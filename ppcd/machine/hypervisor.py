"""The PAPR hypercalls ppcd's virtual hypervisor answers (sc 1 from supervisor state).

Numbers and return codes are PAPR's as QEMU's pseries implements them (hw/ppc/spapr_hcall.c).
Arguments are in r4..r10, the return code goes to r3 and results to r4.. .
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Callable, Dict

from ppcd.cpu import msr as M
from ppcd.cpu.state import MASK64

from .cas import KVMPPC_H_CAS, client_architecture_support
from .devicetree import VTY_REG
from .rtas import rtas_call

if TYPE_CHECKING:
    from .pseries import Machine

H_SUCCESS = 0
H_HARDWARE = -1
H_FUNCTION = -2
H_PARAMETER = -4
H_P2 = -55
H_P3 = -56
H_P4 = -57
H_UNSUPPORTED_FLAG = -256

H_SET_DABR = 0x28
H_GET_TERM_CHAR = 0x54
H_PUT_TERM_CHAR = 0x58
H_CEDE = 0xE0
H_CONFER = 0xE4
H_PROD = 0xE8
H_SET_MODE = 0x31C
KVMPPC_H_RTAS = 0xF000

H_SET_MODE_RESOURCE_LE = 4
H_SET_MODE_ENDIAN_BIG = 0
H_SET_MODE_ENDIAN_LITTLE = 1

_TWO_WORDS = struct.Struct(">QQ")


class Hypervisor:
    """Dispatches hypercalls to handlers; one instance per machine."""

    def __init__(self, machine: "Machine") -> None:
        self.machine = machine
        self.handlers: Dict[int, Callable] = {
            H_PUT_TERM_CHAR: self.put_term_char,
            H_GET_TERM_CHAR: self.get_term_char,
            H_CEDE: self.cede,
            H_CONFER: self.confer,
            H_PROD: self.prod,
            H_SET_MODE: self.set_mode,
            H_SET_DABR: self.set_dabr,
            KVMPPC_H_RTAS: self.rtas,
            KVMPPC_H_CAS: self.cas,
        }

    def __call__(self, cpu) -> None:
        handler = self.handlers.get(cpu.gpr[3])
        ret = handler(cpu) if handler else H_FUNCTION
        cpu.gpr[3] = ret & MASK64

    @staticmethod
    def _vterm_ok(termno: int) -> bool:
        # Linux's early console uses vterm 0 before it has read the device tree (QEMU's hack).
        return termno in (0, VTY_REG)

    def put_term_char(self, cpu) -> int:
        if not self._vterm_ok(cpu.gpr[4]):
            return H_PARAMETER
        length = cpu.gpr[5]
        if length > 16:
            return H_PARAMETER
        data = _TWO_WORDS.pack(cpu.gpr[6], cpu.gpr[7])[:length]
        self.machine.console.write(data)
        return H_SUCCESS

    def get_term_char(self, cpu) -> int:
        if not self._vterm_ok(cpu.gpr[4]):
            return H_PARAMETER
        data = self.machine.console.read(16)
        hi, lo = _TWO_WORDS.unpack(data.ljust(16, b"\0"))
        cpu.gpr[4] = len(data)
        cpu.gpr[5] = hi
        cpu.gpr[6] = lo
        return H_SUCCESS

    def cede(self, cpu) -> int:
        # PAPR: H_CEDE enables external interrupts and idles until one arrives or another
        # vCPU prods this one (a prod that came first makes the cede return at once).
        cpu.msr |= M.EE
        _wait_for_prod(cpu)
        return H_SUCCESS

    def prod(self, cpu) -> int:
        """Wake the named vCPU, or make its next H_CEDE return at once (QEMU's h_prod: like
        QEMU, this also wakes a vCPU halted by stop-self)."""
        target = self.machine.vcpu(cpu.gpr[4])
        if target is None:
            return H_PARAMETER
        target.prodded = True
        if target.halted:
            target.halted = False
            # It was idle while this vCPU ran: its clock has been standing still.
            target.icount = max(target.icount, cpu.icount)
        return H_SUCCESS

    def confer(self, cpu) -> int:
        """Give up the rest of the time slice: r4 = -1 (to all) or a vCPU id. Conferring to
        oneself waits for a prod, as QEMU's h_confer; ppcd's turns are short, so the other
        forms just return (QEMU's dispatch-counter check needs a VPA, which ppcd lacks).

        QEMU's confer-to-all leaves the hypercall without writing a return code, so r3 keeps
        the hypercall number; ppcd returns the same, since QEMU's pseries is the reference.
        """
        target_id = cpu.gpr[4]
        if target_id == MASK64:
            return H_CONFER
        target = self.machine.vcpu(target_id)
        if target is None:
            return H_PARAMETER
        if target is cpu:
            _wait_for_prod(cpu)
        return H_SUCCESS

    def set_mode(self, cpu) -> int:
        mflags, resource, value1, value2 = cpu.gpr[4], cpu.gpr[5], cpu.gpr[6], cpu.gpr[7]
        if resource != H_SET_MODE_RESOURCE_LE:
            return H_P2
        if value1:
            return H_P3
        if value2:
            return H_P4
        if mflags == H_SET_MODE_ENDIAN_BIG:
            cpu.lpcr_ile = False
        elif mflags == H_SET_MODE_ENDIAN_LITTLE:
            cpu.lpcr_ile = True
        else:
            return H_UNSUPPORTED_FLAG
        return H_SUCCESS

    def set_dabr(self, cpu) -> int:
        cpu.dabr = cpu.gpr[4]
        return H_SUCCESS

    def rtas(self, cpu) -> int:
        return H_SUCCESS if rtas_call(self.machine, cpu, cpu.gpr[4]) else H_PARAMETER

    def cas(self, cpu) -> int:
        # r4: the architecture vector, r5/r6: the buffer for the updated device tree.
        return client_architecture_support(self.machine, cpu.gpr[4], cpu.gpr[5], cpu.gpr[6])


def _wait_for_prod(cpu) -> None:
    """Idle until an interrupt or a prod, unless a prod came first (it is used up) or the
    decrementer is already pending."""
    if cpu.prodded:
        cpu.prodded = False
    elif not cpu.pending_dec:
        cpu.halted = True
