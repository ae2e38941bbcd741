"""Lockstep: the translating engine checked against the reference interpreter as it runs.

The translator runs the real vCPU; a shadow vCPU with its own copy of RAM follows with the
interpreter. After every translated unit the shadow executes as many instructions, and the
full architected state and every page either of them stored to must be equal. Hypercalls run
once, on the real vCPU; the shadow replays their effect (registers, MSR, idle state and the
RTAS argument pages).

Also: random instruction sequences from the ISA table for the same comparison.

    python -m ppcd.cpu.engine_lockstep [--count N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Dict, List, Optional, Set, Tuple

from . import msr as M
from .assembler import assemble_all
from .interpreter import Interpreter
from .isa import INSTRUCTIONS
from .isa.fields import FIELDS
from .isa.table import Insn
from .state import PAGE_SHIFT, CPUState, GuestMemory
from .translator import HOT_AFTER, Translator

PAGE = 1 << PAGE_SHIFT
# Attributes of CPUState compared after every unit (cia is the interpreter's scratch register,
# and the hypervisor is an object, not state).
STATE_ATTRIBUTES = ("cr", "so", "ov", "ca", "ov32", "ca32", "xer_rest", "lr", "ctr", "tar",
                    "msr", "pc", "fpscr", "reserve", "reserve_len", "icount", "tb_offset",
                    "dec_expiry", "dec_written", "dec_written_at", "dec_bits", "pending_dec",
                    "halted", "lpcr_ile", "dabr", "dabrx", "cfar", "compat_pvr", "pcr",
                    "isa_limit")


class LockstepMismatch(AssertionError):
    """The engines disagree: the message lists every differing register or page."""


def state_of(cpu: CPUState) -> Dict[str, object]:
    """Every architected register of a vCPU, by name."""
    state: Dict[str, object] = {name: getattr(cpu, name) for name in STATE_ATTRIBUTES}
    state.update({f"r{i}": v for i, v in enumerate(cpu.gpr)})
    state.update({f"f{i}": v for i, v in enumerate(cpu.fpr)})
    state["spr"] = dict(cpu.spr)
    return state


def differences(a: CPUState, b: CPUState, pages: Set[int]) -> List[str]:
    """What differs between two vCPUs: registers, then the given RAM pages."""
    sa, sb = state_of(a), state_of(b)
    out = [f"{k}: translated {_show(sa[k])} interpreted {_show(sb[k])}"
           for k in sa if sa[k] != sb[k]]
    for page in sorted(pages):
        lo, hi = page << PAGE_SHIFT, (page + 1) << PAGE_SHIFT
        if a.mem.buf[lo:hi] != b.mem.buf[lo:hi]:
            out.append(f"RAM page {lo:#x} differs")
    return out


def _show(value: object) -> str:
    return hex(value) if isinstance(value, int) and not isinstance(value, bool) else repr(value)


class _HypercallLog:
    """Runs hypercalls on the real vCPU and records their effects for the shadow to replay."""

    def __init__(self, real, memory: GuestMemory) -> None:
        self.real = real
        self.memory = memory
        self.effects: List[Tuple] = []

    def __call__(self, cpu: CPUState) -> None:
        # RTAS writes its results into the argument buffer at r4: keep those pages.
        first = (cpu.gpr[4] & 0x0FFF_FFFF_FFFF_FFFF) >> PAGE_SHIFT
        self.real(cpu)
        buf = self.memory.buf
        pages = [(p, bytes(buf[p * PAGE:(p + 1) * PAGE])) for p in (first, first + 1)
                 if (p + 1) * PAGE <= self.memory.size]
        self.effects.append((list(cpu.gpr), cpu.msr, cpu.halted, cpu.lpcr_ile, cpu.dabr, pages))

    def replay(self, cpu: CPUState) -> None:
        gpr, msr, halted, lpcr_ile, dabr, pages = self.effects.pop(0)
        cpu.gpr[:] = gpr
        cpu.msr, cpu.halted, cpu.lpcr_ile, cpu.dabr = msr, halted, lpcr_ile, dabr
        for page, data in pages:
            cpu.mem.buf[page * PAGE:(page + 1) * PAGE] = data


def clone(cpu: CPUState) -> CPUState:
    """A vCPU with the same registers over a private copy of RAM and dirty map."""
    mem = cpu.mem
    copy = CPUState(GuestMemory(bytearray(mem.buf[:mem.size]), mem.size,
                                bytearray(len(mem.dirty))), pvr=cpu.pvr, pir=cpu.pir)
    for name in STATE_ATTRIBUTES:
        setattr(copy, name, getattr(cpu, name))
    copy.cia = cpu.cia
    copy.gpr[:] = cpu.gpr
    copy.fpr[:] = cpu.fpr
    copy.spr = dict(cpu.spr)
    return copy


class Lockstep:
    """An engine with Translator's interface that checks every unit against the interpreter."""

    def __init__(self, cpu: CPUState, hot_after: int = HOT_AFTER) -> None:
        self.cpu = cpu
        self.fast = Translator(cpu, hot_after)
        self.shadow: Optional[CPUState] = None
        self.reference: Optional[Interpreter] = None
        self.units = 0
        self._pages: Set[int] = set()

    def _start(self) -> CPUState:
        """The shadow, cloned when the vCPU first runs (after the machine set its entry state)."""
        cpu = self.cpu
        shadow = self.shadow = clone(cpu)
        self.reference = Interpreter(shadow)
        if cpu.hypervisor is not None:
            log = _HypercallLog(cpu.hypervisor, cpu.mem)
            cpu.hypervisor = log
            shadow.hypervisor = log.replay
        for mem in (cpu.mem, shadow.mem):
            mem.store_hooks.append(self._stored)
        return shadow

    def _stored(self, ra: int, n: int) -> None:
        self._pages.add(ra >> PAGE_SHIFT)
        self._pages.add((ra + n - 1) >> PAGE_SHIFT)

    def step(self) -> None:
        self.run(1)

    def run(self, budget: int) -> Optional[str]:
        cpu = self.cpu
        shadow = self.shadow or self._start()
        end = cpu.icount + budget
        outcome: Optional[str] = None
        while cpu.icount < end:
            outcome = self.fast.run(end - cpu.icount, once=True)
            behind = cpu.icount - shadow.icount
            if behind > 0:
                self.reference.run(behind)
                self.units += 1
                self.check()
            if outcome is not None:
                return outcome
        return "limit"

    def check(self) -> None:
        assert self.shadow is not None
        diffs = differences(self.cpu, self.shadow, self._pages)
        self._pages.clear()
        if diffs:
            raise LockstepMismatch(f"after unit {self.units} (pc {self.cpu.cia:#x}): "
                                   + "; ".join(diffs))


# --- random instruction sequences --------------------------------------------------------------

CODE_BASE = 0x10000
DATA_BASE = 0x20000
RAM_SIZE = 1 << 20
# Mnemonics a random sequence leaves out: control flow it does not want (the sequence makes
# its own loop), and what would leave real mode or stop the vCPU for good.
_EXCLUDED_IMPLS = {"b", "bc", "bclr", "bcctr", "bctar", "rfid", "mtmsr", "mtmsrd", "wait",
                   "stop", "sc", "scv", "rfscv", "rfebb"}
_SPRS = (1, 8, 9, 13, 22, 26, 27, 28, 256, 268, 269, 272, 287, 815, 896)
# Interrupt handlers: step past the faulting instruction (SRR0 += 4) and return; the
# decrementer's re-arms DEC; sc and the decrementer save the next address already.
_SKIP = "mfspr 30,26; addi 30,30,4; mtspr 26,30; rfid"
_RETURN = "rfid"
_REARM = "addis 30,0,1; mtspr 22,30; rfid"
_VECTORS = {0x300: _SKIP, 0x400: _SKIP, 0x600: _SKIP, 0x700: _SKIP, 0x800: _SKIP,
            0x900: _REARM, 0xC00: _RETURN, 0xF20: _SKIP, 0xF40: _SKIP, 0xF60: _SKIP}


def _candidates() -> List[Insn]:
    return [i for i in INSTRUCTIONS if not i.catch_all and i.impl not in _EXCLUDED_IMPLS]


_CANDIDATES = _candidates()


def _operand(rng: random.Random, name: str) -> int:
    field = FIELDS[name]
    if name in ("SPR", "TBR"):
        return rng.choice(_SPRS) if rng.random() < 0.9 else rng.randrange(1024)
    width = bin(field.bits).count("1")
    for _ in range(100):
        value = rng.randrange(-(1 << (width + 4)), 1 << (width + 4))
        try:
            field.encode(value)
            return value
        except ValueError:
            continue
    return 0


def random_word(rng: random.Random) -> int:
    insn = rng.choice(_CANDIDATES)
    return insn.encode(*(_operand(rng, name) for name in insn.fields))


def _register_value(rng: random.Random) -> int:
    kind = rng.random()
    if kind < 0.3:
        return rng.randrange(-8, 64) & 0xFFFF_FFFF_FFFF_FFFF
    if kind < 0.6:
        return DATA_BASE + rng.randrange(0, 0x4000)
    if kind < 0.65:
        return CODE_BASE + rng.randrange(0, 0x100)      # stores into the code: SMC
    return rng.getrandbits(64)


def random_cpu(rng: random.Random, length: int) -> CPUState:
    """A vCPU in RAM holding `length` random instructions looped with bdnz, and handlers."""
    memory = GuestMemory(bytearray(RAM_SIZE), RAM_SIZE, bytearray(RAM_SIZE >> PAGE_SHIFT))
    cpu = CPUState(memory, pvr=0x004E1200)
    cpu.msr = M.SF | M.ME | M.FP | M.EE
    if rng.random() < 0.25:
        cpu.msr |= M.LE
    if rng.random() < 0.2:
        cpu.msr &= ~M.SF
    order = "little" if cpu.msr & M.LE else "big"
    cpu.lpcr_ile = bool(cpu.msr & M.LE)
    words = [random_word(rng) for _ in range(length)]
    words += assemble_all(f"bc 16,0,{-4 * length}; b {-4 * (length + 1)}")
    for i, word in enumerate(words):
        memory.buf[CODE_BASE + 4 * i:CODE_BASE + 4 * i + 4] = word.to_bytes(4, order)
    for vector, handler in _VECTORS.items():
        for i, word in enumerate(assemble_all(handler)):
            memory.buf[vector + 4 * i:vector + 4 * i + 4] = word.to_bytes(4, order)
    for i in range(32):
        cpu.gpr[i] = _register_value(rng)
    cpu.gpr[1] = DATA_BASE + 0x8000
    for i in range(0, 0x8000, 8):
        memory.buf[DATA_BASE + i:DATA_BASE + i + 8] = rng.getrandbits(64).to_bytes(8, "big")
    cpu.cr = rng.getrandbits(32)
    cpu.xer = rng.getrandbits(64)
    cpu.ctr = rng.randrange(1, 6)
    cpu.lr = CODE_BASE
    cpu.pc = CODE_BASE
    cpu.dec = rng.randrange(5, 400)
    return cpu


def run_random(seed: int, count: int, length: int = 12, budget: int = 300) -> int:
    """Run `count` random sequences in lockstep; returns how many units were compared."""
    rng = random.Random(seed)
    units = 0
    for n in range(count):
        cpu = random_cpu(rng, rng.randrange(1, length + 1))
        # Translated at once, or after a first cold run: both engines' paths get checked.
        engine = Lockstep(cpu, rng.choice((1, 2)))
        try:
            engine.run(budget)
        except LockstepMismatch as exc:
            raise LockstepMismatch(f"sequence {n} of seed {seed}: {exc}") from None
        units += engine.units
    return units


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Random instruction sequences in lockstep.")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    opts = parser.parse_args(argv)
    start = time.perf_counter()
    done = 0
    # Chunks of 1000 with derived seeds, so a failure names a short reproducible run.
    for chunk in range(0, opts.count, 1000):
        seed = opts.seed * 1_000_003 + chunk
        units = run_random(seed, min(1000, opts.count - chunk))
        done += min(1000, opts.count - chunk)
        print(f"{done} sequences ({units} units in the last chunk, seed {seed}) "
              f"{time.perf_counter() - start:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
