"""The debugger's single step on a bare vCPU (ppcd/machine/debug.py): one instruction with
interrupts masked, as QEMU's gdbstub steps by default (SSTEP_NOIRQ)."""

from __future__ import annotations

from cpu.cpuharness import load_code, make_cpu

from ppcd.cpu import msr as M
from ppcd.cpu.interpreter import IDLE, LIMIT
from ppcd.machine.debug import Debugger

BASE = 0x1000


def _debugger(code: str, msr: int = M.SF | M.FP | M.ME | M.EE):
    cpu = make_cpu(msr=msr)
    load_code(cpu, code, BASE)
    debugger = Debugger()
    debugger.attach(cpu)
    return cpu, debugger


def test_a_due_decrementer_stays_pending_through_steps_and_is_taken_on_continue() -> None:
    cpu, debugger = _debugger("addi 3,3,1; addi 3,3,1; addi 3,3,1; addi 3,3,1")
    cpu.dec = 0                       # due after the next tick
    assert debugger.run(1, step=True) == (LIMIT, {"reason": "step"})
    assert debugger.run(1, step=True) == (LIMIT, {"reason": "step"})
    assert (cpu.pc, cpu.gpr[3], cpu.pending_dec) == (BASE + 8, 2, True)
    debugger.insert("sw", 0x900, 4)
    # A continue: taken before the next instruction.
    assert debugger.run(10) == (None, {"reason": "swbreak"})
    assert (cpu.pc, cpu.spr[26], cpu.gpr[3]) == (0x900, BASE + 8, 2)


def test_a_step_that_enables_interrupts_does_not_take_the_pending_one() -> None:
    cpu, debugger = _debugger("mtmsrd 9,1; addi 3,3,1", msr=M.SF | M.FP | M.ME)
    cpu.gpr[9] = M.SF | M.FP | M.ME | M.EE
    cpu.dec = -1                      # negative: pending now
    debugger.run(1, step=True)
    assert (cpu.pc, cpu.msr & M.EE, cpu.pending_dec) == (BASE + 4, M.EE, True)


def test_synchronous_interrupts_are_not_masked() -> None:
    cpu, debugger = _debugger("tw 31,0,0")
    cpu.dec = -1
    debugger.run(1, step=True)
    assert (cpu.pc, cpu.spr[26], cpu.pending_dec) == (0x700, BASE, True)


def test_a_ceded_vcpu_waits_for_the_decrementer_then_steps_without_taking_it() -> None:
    cpu, debugger = _debugger("addi 3,3,1")
    cpu.dec = 1000
    cpu.halted = True
    start = cpu.icount
    assert debugger.run(1, step=True) == (LIMIT, {"reason": "step"})
    assert (cpu.pc, cpu.gpr[3], cpu.halted, cpu.pending_dec) == (BASE + 4, 1, False, True)
    assert cpu.icount == start + 1001 + 1     # the clock went to the wake-up, then one step


def test_a_ceded_vcpu_nothing_can_wake_does_not_move() -> None:
    cpu, debugger = _debugger("addi 3,3,1")
    cpu.halted = True
    assert debugger.run(1, step=True) == (IDLE, {"reason": "step"})
    assert (cpu.pc, cpu.gpr[3], cpu.halted) == (BASE, 0, True)


def test_a_step_stops_at_a_watchpoint_then_makes_the_access_once() -> None:
    cpu, debugger = _debugger("stw 3,0x800(0); addi 3,3,1")
    cpu.gpr[3] = 7
    debugger.insert("write", 0x800, 4)
    assert debugger.run(1, step=True) == (None, {"reason": "watch", "address": 0x800})
    assert (cpu.pc, bytes(cpu.mem.buf[0x800:0x804])) == (BASE, b"\0\0\0\0")
    assert debugger.run(1, step=True) == (LIMIT, {"reason": "step"})
    assert (cpu.pc, bytes(cpu.mem.buf[0x800:0x804])) == (BASE + 4, b"\0\0\0\7")
