"""The translating engine: guest code compiled to Python functions, one per trace.

Code starts cold: a basic block runs as its pre-decoded semantic functions called in turn
(no compilation) until it has run HOT_AFTER times; then its address is translated.
A unit is a trace of up to MAX_UNIT instructions starting at one address: it runs on through
conditional branches (leaving early when one is taken) and follows direct unconditional
branches and calls; a conditional branch back to the start becomes a `while` loop inside the
unit. The unit's source keeps GPRs, CR, LR and CTR in locals (written back at every exit and
before any call into a semantic function), uses the code templates of translator_templates
for the hot instructions and calls the interpreter's semantic functions, pre-decoded, for the
rest; every exit leaves through one epilogue that stores the locals. Units are cached by
(MSR mode bits, address) and compiled once.

Exactness, the interpreter being the reference:
- the virtual clock: a unit runs only if it cannot pass the instruction budget or the next
  decrementer event; near one, the interpreter steps. Loops re-check before every iteration.
- an interrupt raised in a unit leaves the state the interpreter leaves: earlier instructions'
  registers written back, cia/pc/icount those of the faulting instruction (`k` tracks it).
- instructions that change the MSR, the decrementer or the idle state end a unit, so the
  dispatcher sees every new mode and timer event before the next instruction.
- self-modifying code: GuestMemory.code marks pages holding translated code; a store there
  invalidates the units whose bytes it overlaps and ends the running unit after the store.
  vCPUs sharing one GuestMemory (SMP) share that map (CodePages): a store by any vCPU
  reaches every engine's units.
  A unit invalidated by a store that left its bytes unchanged is revalidated, not rebuilt;
  one whose code keeps changing is run by the interpreter from then on.
"""

from __future__ import annotations

import platform
import struct
from typing import Callable, Dict, List, Optional, Set, Tuple

from . import msr as M
from .interpreter import IDLE, LIMIT, Interpreter
from .interrupts import DataStorage, Interrupt, deliver
from .state import ISA_NO_LIMIT, MASK32, MASK64, PAGE_SHIFT, REAL_ADDRESS_MASK, CPUState
from .translator_templates import BRANCHES, TEMPLATES

# MSR bits a translation depends on: templates bake in SF (widths) and LE (byte order);
# PR and the facility bits decide the decoder's guards.
MODE_BITS = M.SF | M.LE | M.PR | M.FP | M.VEC | M.VSX
MAX_UNIT = 48          # instructions per trace
MAX_PAGES = 4          # pages one trace may span
RETRANSLATE_LIMIT = 8  # translations of one address before its code counts as volatile

# Semantic functions that may change the MSR, the decrementer, the idle state or the next
# address: the unit ends after them so the dispatcher sees the change.
TERMINATORS = frozenset({"sc", "scv", "rfid", "rfscv", "rfebb", "mtmsr", "mtmsrd", "mtspr",
                         "wait", "stop", "b", "bc", "bclr", "bcctr", "bctar"})

_CACHED_SPECIAL = ("cr", "lr", "ctr", "cfar")


class CodeWritten(Exception):
    """A store in a unit overwrote translated code: the unit ends after that instruction."""


def _unreserve(cpu: CPUState, ra: int, n: int) -> None:
    """A store overlapping the reservation clears it (as CPUState._stored)."""
    reserve = cpu.reserve
    if reserve is not None and ra < reserve + cpu.reserve_len and reserve < ra + n:
        cpu.reserve = None


def _call_hooks(hooks: list, ra: int, n: int) -> None:
    for hook in hooks:
        hook(ra, n)


# PyPy's JIT works on machine integers (signed 64-bit). A value from `& MASK64` or from
# struct's "Q" is a big integer there whatever its size, and stays one through later
# arithmetic (about 50x slower), so generated code for PyPy turns such values below 2**63
# back into machine integers: entering a loop, after 8-byte loads and after a wrap.
PYPY = platform.python_implementation() == "PyPy"
if PYPY:
    from __pypy__.intop import int_add  # type: ignore[import-not-found]

    def _machine_int(x: int) -> int:
        return x if x >> 63 else int_add(x, 0)
else:
    def _machine_int(x: int) -> int:
        return x

# Runs of a basic block before it is translated: compiling a unit costs about as much as
# running a thousand instructions cold, which code that runs a few times never repays. On
# PyPy the one cold-block runner is JIT-compiled once for all blocks while every unit is
# compiled and then traced anew, so it waits longer (best of 16..1000 on `ppcd bench`).
HOT_AFTER = 1000 if PYPY else 250


def _struct_names() -> Dict[str, Callable]:
    names: Dict[str, Callable] = {}
    for size, letter in ((1, "B"), (2, "H"), (4, "I"), (8, "Q")):
        for order, prefix in (("b", ">"), ("l", "<")):
            fmt = struct.Struct(prefix + letter)
            names[f"_u{size}{order}"] = fmt.unpack_from
            names[f"_p{size}{order}"] = fmt.pack_into
    for order, prefix in (("b", ">"), ("l", "<")):
        signed = struct.Struct(prefix + "q").unpack_from

        def load(buf: bytearray, a: int, signed: Callable = signed) -> int:
            v = signed(buf, a)[0]
            return v + (1 << 64) if v < 0 else v
        names[f"_m8{order}"] = load
    return names


# What generated code sees as globals.
_GLOBALS = {"DataStorage": DataStorage, "Interrupt": Interrupt, "deliver": deliver,
            "CodeWritten": CodeWritten, "_unreserve": _unreserve, "_call_hooks": _call_hooks,
            "_m": _machine_int,
            **_struct_names()}


class Emitter:
    """What a template needs while one instruction is translated: local names, mode, helpers."""

    def __init__(self, sf: bool, le: bool, mem_size: int) -> None:
        self.sf = sf
        self.le = le
        self.mem_size = mem_size
        self.ea_mask = MASK64 if sf else MASK32
        self.used: Set[str] = set()       # cached registers the unit reads or writes
        self.written: Set[str] = set()    # cached registers the unit writes
        self.dirty: Set[str] = set()      # written since the locals were last stored
        self.cia = 0
        self.nia = 0
        self.faulting = False             # this instruction can raise (storage access)

    def start(self, cia: int) -> None:
        self.cia = cia
        self.nia = (cia + 4) & self.ea_mask
        self.faulting = False

    def r(self, n: int) -> str:
        name = f"r{n}"
        self.used.add(name)
        return name

    def w(self, n: int) -> str:
        name = self.r(n)
        self.written.add(name)
        self.dirty.add(name)
        return name

    def ra0(self, n: int) -> str:
        """(RA|0): the register, or 0 for r0."""
        return self.r(n) if n else "0"

    def special_r(self, name: str) -> str:
        self.used.add(name)
        return name

    def special_w(self, name: str) -> str:
        self.written.add(name)
        self.dirty.add(name)
        return self.special_r(name)

    def cr_r(self) -> str:
        return self.special_r("cr")

    def cr_w(self) -> str:
        return self.special_w("cr")

    def record(self, var: str) -> str:
        """CR0 from a result (Rc=1), as CPUState.record: the mode's width, then SO."""
        cr = self.cr_w()
        if self.sf:
            return (f"{cr} = (cr & 0x0FFFFFFF) | "
                    f"(((8 if {var} >> 63 else 4 if {var} else 2) | cpu.so) << 28)")
        return (f"u = {var} & {MASK32}\n{cr} = (cr & 0x0FFFFFFF) | "
                f"(((8 if u >> 31 else 4 if u else 2) | cpu.so) << 28)")

    def effective_address(self, ra: int, offset: str) -> str:
        base = self.ra0(ra)
        if base == "0":
            if offset.lstrip("-").isdigit():
                return f"ea = {int(offset) & self.ea_mask}"
            return f"ea = {offset} & {self.ea_mask}"
        if self.sf:
            return f"ea = {base} + {offset}\n{self.wrap('ea')}"
        return f"ea = ({base} + {offset}) & {self.ea_mask}"

    def translate_real(self, size: int, store: bool) -> List[str]:
        """`a` = the real address of `ea`, or a data storage interrupt (CPUState._real)."""
        self.faulting = True
        lines = [f"a = ea & {REAL_ADDRESS_MASK}" if self.sf else "a = ea"]
        lines.append(f"if a > {self.mem_size - size}: raise DataStorage(ea, {store})")
        return lines

    def _order(self, reverse: bool) -> str:
        return "l" if self.le != reverse else "b"

    def loaded(self, size: int, reverse: bool) -> str:
        """The unsigned value of `size` bytes at `a`."""
        if PYPY and size == 8:
            return f"_m8{self._order(reverse)}(buf, a)"
        return f"_u{size}{self._order(reverse)}(buf, a)[0]"

    def wrap(self, target: str) -> str:
        """Reduce `target` modulo 2**64 only when it left [0, 2**64): cheaper than an
        unconditional `& MASK64` on CPython, and a machine integer on PyPy (see PYPY)."""
        if PYPY:
            return f"if {target} >> 64: {target} = _m({target} & {MASK64})"
        return f"if {target} >> 64: {target} &= {MASK64}"

    def packer(self, size: int, reverse: bool) -> str:
        return f"_p{size}{self._order(reverse)}"

    def stored(self, size: int) -> List[str]:
        """After a store of `size` bytes at `a`: what CPUState._stored does, then the SMC check."""
        last = f"(a + {size - 1}) >> {PAGE_SHIFT}"
        lines = [f"dirty[a >> {PAGE_SHIFT}] = 1"]
        code_test = f"code[a >> {PAGE_SHIFT}]"
        if size > 1:
            lines.append(f"dirty[{last}] = 1")
            code_test += f" or code[{last}]"
        lines += ["if cpu.reserve is not None: _unreserve(cpu, a, %d)" % size,
                  "if hooks: _call_hooks(hooks, a, %d)" % size,
                  f"if {code_test}:",
                  f"    code_written(a, {size})",
                  "    if eng.code_hit: raise CodeWritten"]
        return lines


class CodePages:
    """Which pages hold translated code, for every engine whose vCPU shares one GuestMemory.

    Each engine keeps its own map; `any` (GuestMemory.code, read by every store) marks a page
    where some engine has code, and `written` (GuestMemory.code_written) hands the store to
    the engines that have code there.
    """

    def __init__(self, pages: int) -> None:
        self.any = bytearray(pages)
        self.engines: List["Translator"] = []

    @classmethod
    def of(cls, mem) -> "CodePages":
        """The map of `mem`, installed on first use."""
        pages = getattr(mem.code_written, "__self__", None)
        if not isinstance(pages, cls):
            pages = cls((mem.size >> PAGE_SHIFT) + 1)
            mem.code = pages.any
            mem.code_written = pages.written
        return pages

    def written(self, ra: int, n: int) -> None:
        first, last = ra >> PAGE_SHIFT, (ra + n - 1) >> PAGE_SHIFT
        for engine in self.engines:
            if engine.code[first] or engine.code[last]:
                engine._code_written(ra, n)

    def update(self, page: int) -> None:
        self.any[page] = 1 if any(e.code[page] for e in self.engines) else 0



class Unit:
    """One translated trace: `run(cpu, limit)` executes it; `length` bounds its instructions."""

    __slots__ = ("run", "length", "mode", "pc", "ranges", "source")

    def __init__(self, run: Callable, length: int, mode: int, pc: int,
                 ranges: List[Tuple[int, int]], source: List[bytes]) -> None:
        self.run = run
        self.length = length
        self.mode = mode
        self.pc = pc
        self.ranges = ranges      # real-address [start, end) runs of the guest code
        self.source = source      # their bytes when translated


class _Entry:
    """One instruction of a trace being built."""

    __slots__ = ("address", "fn", "op", "impl", "role", "target")

    def __init__(self, address: int, fn: Callable, op, impl: str) -> None:
        self.address = address
        self.fn = fn
        self.op = op
        self.impl = impl
        self.role = "plain"       # "follow": taken branch the trace follows; "loop": back edge
        self.target = 0


def _indent(code: str, depth: int) -> List[str]:
    pad = "    " * depth
    return [pad + line for line in code.split("\n")]


class Translator:
    """The engine: run(budget) like Interpreter.run, with translated units."""

    def __init__(self, cpu: CPUState, hot_after: int = HOT_AFTER) -> None:
        self.cpu = cpu
        self.hot_after = hot_after
        self.interp = Interpreter(cpu)
        mem = cpu.mem
        self.code = bytearray((mem.size >> PAGE_SHIFT) + 1)
        self.pages = CodePages.of(mem)
        self.pages.engines.append(self)
        self.units: Dict[int, Dict[int, Unit]] = {}
        self.page_units: Dict[int, List[Unit]] = {}
        self.stale: Dict[Tuple[int, int], Unit] = {}
        self.translations: Dict[Tuple[int, int], int] = {}
        self.volatile: Set[Tuple[int, int]] = set()
        self.hot: Set[Tuple[int, int]] = set()
        self.code_hit = False
        self.compiled = 0

    # --- running ---------------------------------------------------------------------------
    def step(self) -> None:
        self.interp.run(1)

    def run(self, budget: int, once: bool = False) -> Optional[str]:
        """Run up to `budget` instructions. Returns LIMIT, IDLE, or raises MachineStop.

        With `once`, return after one dispatch: a unit, interpreter steps or a timer event
        (lockstep compares the state there).
        """
        cpu = self.cpu
        end = cpu.icount + budget
        units = self.units
        # Another vCPU's store may have flagged this engine's code while it was not running.
        self.code_hit = False
        while True:
            ic = cpu.icount
            if ic >= end:
                return LIMIT
            expiry = cpu.dec_expiry
            if cpu.pending_dec or cpu.halted or (expiry is not None and ic >= expiry):
                outcome = self._events(end)
                if outcome is not None:
                    if outcome == IDLE or once:
                        return outcome
                    continue
                ic = cpu.icount
                expiry = cpu.dec_expiry
            limit = end if expiry is None or expiry > end else expiry
            mode = _mode(cpu)
            table = units.get(mode)
            unit = table.get(cpu.pc) if table is not None else None
            if unit is None:
                unit = self._unit_for(cpu.pc, mode)
            if ic + unit.length > limit:
                self.interp.run(limit - ic)
                self.code_hit = False
            else:
                unit.run(cpu, limit)
            if once:
                return None

    def _events(self, end: int) -> Optional[str]:
        """The interpreter's timer and idle handling at an instruction boundary.

        Returns IDLE, "again" when the clock or the pc moved, or None to go on executing.
        """
        cpu = self.cpu
        take_timer = self.interp._take_timer
        if cpu.pending_dec or (cpu.dec_expiry is not None and cpu.icount >= cpu.dec_expiry):
            if take_timer(cpu):
                return "again"
        if cpu.halted:
            if not cpu.msr & M.EE or (cpu.dec_expiry is None and not cpu.pending_dec):
                return IDLE
            if not cpu.pending_dec:
                # Idle: the virtual clock jumps straight to the next timer event.
                cpu.icount = max(cpu.icount, min(cpu.dec_expiry, end))
            take_timer(cpu)
            return "again"
        return None

    # --- the cache -------------------------------------------------------------------------
    def _unit_for(self, pc: int, mode: int) -> Unit:
        key = (mode, pc)
        unit = self.stale.pop(key, None)
        if unit is not None and not self._still_valid(unit):
            unit = None
        if unit is None:
            if key in self.volatile:
                return self._interpreted(pc, mode)
            count = self.translations.get(key, 0) + 1
            self.translations[key] = count
            if count > RETRANSLATE_LIMIT:
                self.volatile.add(key)
                return self._interpreted(pc, mode)
            if self.hot_after > 1 and key not in self.hot:
                unit = self._cold(pc, mode)
            else:
                unit = self._translate(pc, mode)
            if unit is None:
                return self._interpreted(pc, mode)
        return self._install(unit)

    def _install(self, unit: Unit) -> Unit:
        self.units.setdefault(unit.mode, {})[unit.pc] = unit
        for start, end in unit.ranges:
            for page in range(start >> PAGE_SHIFT, ((end - 1) >> PAGE_SHIFT) + 1):
                self.page_units.setdefault(page, []).append(unit)
                self.code[page] = 1
                self.pages.any[page] = 1
        return unit

    def _still_valid(self, unit: Unit) -> bool:
        buf = self.cpu.mem.buf
        return all(buf[s:e] == saved for (s, e), saved in zip(unit.ranges, unit.source))

    def _interpreted(self, pc: int, mode: int) -> Unit:
        """A stand-in unit for code that cannot be or should not be translated: one step."""
        interp = self.interp

        def run(cpu: CPUState, limit: int) -> None:
            interp.run(1)
            self.code_hit = False
        return Unit(run, 1, mode, pc, [], [])

    def _cold(self, pc: int, mode: int) -> Optional[Unit]:
        """A basic block not yet hot: its semantic functions called in turn, pre-decoded.

        It does what the interpreter does per instruction, minus fetch and decode, and costs
        no compilation; after `hot_after` runs it leaves the cache so the next dispatch
        translates its address.
        """
        entries = self._trace(pc, mode, block=True)
        if not entries:
            return None
        mask = MASK64 if mode & M.SF else MASK32
        steps = tuple((e.address, (e.address + 4) & mask, e.fn, e.op) for e in entries)
        key = (mode, pc)
        runs = 0

        def run(cpu: CPUState, limit: int) -> None:
            nonlocal runs
            for cia, nia, fn, op in steps:
                cpu.cia = cia
                cpu.pc = nia
                try:
                    fn(cpu, op)
                except Interrupt as exc:
                    deliver(cpu, exc)
                    cpu.icount += 1
                    return
                cpu.icount += 1
                if self.code_hit:
                    # A store overwrote translated code, maybe this block's own.
                    self.code_hit = False
                    return
            runs += 1
            # Out of the cache only now: while it runs, a store into it must still find it.
            if runs >= self.hot_after and self.units[mode].get(pc) is unit:
                self.hot.add(key)
                del self.units[mode][pc]
        ranges = _ranges([e.address & REAL_ADDRESS_MASK for e in entries])
        buf = self.cpu.mem.buf
        unit = Unit(run, len(steps), mode, pc, ranges, [bytes(buf[s:e]) for s, e in ranges])
        return unit

    def _code_written(self, ra: int, n: int) -> None:
        """A store hit a page holding code: drop the units whose bytes it overlaps."""
        end = ra + n
        for page in range(ra >> PAGE_SHIFT, ((end - 1) >> PAGE_SHIFT) + 1):
            units = self.page_units.get(page)
            if not units:
                continue
            keep = []
            for unit in units:
                if any(s < end and ra < e for s, e in unit.ranges):
                    self._drop(unit)
                    self.code_hit = True
                elif self.units.get(unit.mode, {}).get(unit.pc) is unit:
                    keep.append(unit)
            self.page_units[page] = keep
            self.code[page] = 1 if keep else 0
            self.pages.update(page)

    def _drop(self, unit: Unit) -> None:
        table = self.units.get(unit.mode)
        if table is not None and table.get(unit.pc) is unit:
            del table[unit.pc]
            self.stale[(unit.mode, unit.pc)] = unit


    # --- translation -----------------------------------------------------------------------
    def _fetch(self, pc: int, le: bool) -> Optional[int]:
        ra = pc & REAL_ADDRESS_MASK
        if ra + 4 > self.cpu.mem.size:
            return None
        return int.from_bytes(self.cpu.mem.buf[ra:ra + 4], "little" if le else "big")

    def _trace(self, pc: int, mode: int, block: bool = False) -> List[_Entry]:
        """The instructions of a unit from `pc`; with `block`, up to the first branch."""
        le = bool(mode & M.LE)
        mask = MASK64 if mode & M.SF else MASK32
        lookup = self.interp.lookup
        entries: List[_Entry] = []
        pages = set()
        head = pc
        while len(entries) < MAX_UNIT:
            page = (pc & REAL_ADDRESS_MASK) >> PAGE_SHIFT
            if page not in pages and len(pages) == MAX_PAGES:
                break
            word = self._fetch(pc, le)
            if word is None:
                break
            pages.add(page)
            fn, op = lookup(word)
            impl = op.insn.impl if op is not None else "illegal"
            entry = _Entry(pc, fn, op, impl)
            entries.append(entry)
            if impl in ("b", "bc"):
                if block:
                    break
                target = (op.LI if impl == "b" else op.BD) + (0 if op.word & 2 else pc)
                entry.target = target & mask
                always = impl == "b" or op.BO & 0x14 == 0x14
                if entry.target == head:
                    entry.role = "loop"
                    if always:
                        break
                elif always:
                    entry.role = "follow"
                    pc = entry.target
                    continue
            elif impl in TERMINATORS or op is None:
                break
            pc = (pc + 4) & mask
        return entries

    def _translate(self, pc: int, mode: int) -> Optional[Unit]:
        entries = self._trace(pc, mode)
        if not entries:
            return None
        source, fns, ops = self._generate(entries, mode)
        namespace: Dict[str, object] = {}
        exec(compile(source, f"<unit {pc:#x}>", "exec"), dict(_GLOBALS), namespace)
        mem = self.cpu.mem
        run = namespace["make"](mem.buf, mem.dirty, mem.code, mem.store_hooks,
                                mem.code_written, self, fns, ops)
        self.compiled += 1
        ranges = _ranges([e.address & REAL_ADDRESS_MASK for e in entries])
        return Unit(run, len(entries), mode, pc, ranges,
                    [bytes(mem.buf[s:e]) for s, e in ranges])

    def _generate(self, entries: List[_Entry], mode: int) -> Tuple[str, list, list]:
        """Python source of a unit, and the semantic functions and operands it calls.

        The body runs inside `while True:` (the loop of a looping trace, else left at the
        end): every exit sets `out` = (instructions retired, next pc, its cia) and breaks to
        one epilogue that stores the locals, which keeps the source, and so compile(), short.
        """
        em = Emitter(bool(mode & M.SF), bool(mode & M.LE), self.cpu.mem.size)
        # Instructions newer than the compatibility mode allows are left to the decoder's
        # checked function, which refuses them exactly as the interpreter does.
        isa_limit = mode >> 64 if mode & M.PR else ISA_NO_LIMIT
        n = len(entries)
        loop = any(e.role == "loop" for e in entries)
        depth = 4
        body: List[str] = []
        fns: list = []
        ops: list = []
        fallbacks: List[int] = []     # indexes whose semantic function is called

        def leave(count: int, pc_expr: str, cia: int, taken: bool) -> List[str]:
            lines = [f"{em.special_w('cfar')} = {cia}"] if taken else []
            return lines + [f"out = ({count}, {pc_expr}, {cia})", "break"]

        for i, e in enumerate(entries):
            em.start(e.address)
            last = i == n - 1
            inline = e.op is not None and e.op.insn.isa <= isa_limit
            tmpl = TEMPLATES.get(e.impl) if inline and not _guarded(e.op) else None
            code = tmpl(em, e.op) if tmpl is not None else None
            if code is not None:
                if em.faulting:
                    body += _indent(f"k = {i}", depth)
                body += _indent(code, depth)
                if last:
                    body += _indent("\n".join(leave(i + 1, str(em.nia), e.address, False)),
                                    depth)
                continue
            btmpl = BRANCHES.get(e.impl) if inline else None
            described = btmpl(em, e.op) if btmpl is not None else None
            if described is not None:
                pre, cond, target = described
                if pre:
                    body += _indent(pre, depth)
                body += self._branch(e, i, n, cond, target, em, depth, leave)
                continue
            # A call into the semantics: registers stored before (all of them in a loop,
            # else those written since the last call), all re-read after.
            fallbacks.append(i)
            fns.append(e.fn)
            ops.append(e.op)
            slot = len(fns) - 1
            flush = ["@FLUSH@"] if loop else [_store(name) for name in sorted(em.dirty)]
            em.dirty.clear()
            body += _indent("\n".join([
                f"k = {i}", f"cpu.cia = {e.address}", f"cpu.pc = {em.nia}",
                f"cpu.icount = ic + {i}", *flush, f"f{slot}(cpu, o{slot})"]), depth)
            if last:
                body += _indent("\n".join([f"cpu.icount = ic + {i + 1}", "return"]), depth)
            else:
                body += _indent("@RELOAD@\nif eng.code_hit: raise CodeWritten", depth)

        written = sorted(em.written)
        used = sorted(em.used | em.written)
        flush = [_store(name) for name in written]
        reload = [_load(name) for name in used]
        lines = ["def make(buf, dirty, code, hooks, code_written, eng, fns, ops):"]
        for slot in range(len(fns)):
            lines.append(f"    f{slot} = fns[{slot}]; o{slot} = ops[{slot}]")
        addresses = tuple(e.address for e in entries)
        lines.append(f"    A = {addresses!r}")
        if fallbacks:
            lines.append(f"    FB = {tuple(i in fallbacks for i in range(n))!r}")
        lines.append("    def unit(cpu, limit):")
        lines.append("        gpr = cpu.gpr")
        # On PyPy a loop's registers enter as machine integers (see PYPY); elsewhere the
        # conversion costs more than it saves.
        lines += ["        " + _load(name, PYPY and loop) for name in used]
        lines += ["        ic = cpu.icount", "        k = 0", "        try:",
                  "            while True:"]
        for line in body:
            stripped = line.strip()
            pad = line[:len(line) - len(line.lstrip())]
            if stripped == "@FLUSH@":
                lines += [pad + x for x in flush]
            elif stripped == "@RELOAD@":
                lines += [pad + x for x in reload]
            else:
                lines.append(line)
        lines += ["            " + x for x in flush]
        lines += ["            cpu.icount = ic + out[0]", "            cpu.pc = out[1]",
                  "            cpu.cia = out[2]"]
        mask = MASK64 if mode & M.SF else MASK32
        lines.append("        except Interrupt as exc:")
        if flush:
            if fallbacks:
                lines.append("            if not FB[k]:")
                lines += ["                " + x for x in flush]
            else:
                lines += ["            " + x for x in flush]
        lines += ["            a = A[k]", "            cpu.cia = a",
                  f"            cpu.pc = (a + 4) & {mask}",
                  "            deliver(cpu, exc)", "            cpu.icount = ic + k + 1",
                  "        except CodeWritten:", "            eng.code_hit = False"]
        lines += ["            " + x for x in flush]
        lines += ["            a = A[k]", "            cpu.cia = a",
                  f"            cpu.pc = (a + 4) & {mask}", "            cpu.icount = ic + k + 1",
                  "    return unit", ""]
        return "\n".join(lines), fns, ops

    def _branch(self, e: _Entry, i: int, n: int, cond: Optional[str], target,
                em: Emitter, depth: int, leave) -> List[str]:
        """The code after a branch's condition: a side exit, the loop's back edge, or the end."""
        last = i == n - 1
        out: List[str] = []
        if e.role == "loop":
            edge = [f"{em.special_w('cfar')} = {e.address}", f"ic += {i + 1}",
                    f"if ic + {n} <= limit: continue",
                    *leave(0, str(e.target), e.address, False)]
            if cond is None:
                return _indent("\n".join(edge), depth)
            out += _indent(f"if {cond}:", depth) + _indent("\n".join(edge), depth + 1)
            if last:
                out += _indent("\n".join(leave(i + 1, str(em.nia), e.address, False)), depth)
            return out
        if e.role == "follow":
            if last:
                return _indent("\n".join(leave(i + 1, str(target), e.address, True)), depth)
            return _indent(f"{em.special_w('cfar')} = {e.address}", depth)
        pc_expr = str(target) if isinstance(target, int) else target
        taken = leave(i + 1, pc_expr, e.address, True)
        if cond is None:
            return _indent("\n".join(taken), depth)
        out += _indent(f"if {cond}:", depth) + _indent("\n".join(taken), depth + 1)
        if last:
            out += _indent("\n".join(leave(i + 1, str(em.nia), e.address, False)), depth)
        return out


def _mode(cpu) -> int:
    """The cache key of translated code: the MSR bits that change execution and, in problem
    state, the ISA level the PCR allows (above bit 63, so the MSR bits stay as they are)."""
    mode = cpu.msr & MODE_BITS
    return mode | (cpu.isa_limit << 64) if mode & M.PR else mode


def _guarded(op) -> bool:
    """Whether the decoder wraps this instruction in privilege or facility checks."""
    return bool(op.insn.priv or op.insn.facility)


def _load(name: str, machine_int: bool = False) -> str:
    source = f"cpu.{name}" if name in _CACHED_SPECIAL else f"gpr[{name[1:]}]"
    return f"{name} = _m({source})" if machine_int else f"{name} = {source}"


def _store(name: str) -> str:
    if name in _CACHED_SPECIAL:
        return f"cpu.{name} = {name}"
    return f"gpr[{name[1:]}] = {name}"


def _ranges(addresses: List[int]) -> List[Tuple[int, int]]:
    """Contiguous [start, end) runs covering 4-byte instructions at these real addresses."""
    runs: List[Tuple[int, int]] = []
    for a in sorted(set(addresses)):
        if runs and runs[-1][1] == a:
            runs[-1] = (runs[-1][0], a + 4)
        else:
            runs.append((a, a + 4))
    return runs
