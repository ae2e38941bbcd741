"""The POWER registers as gdb sees them: the target description and the register numbering.

gdb's own powerpc:common64 layout (gdb/features/rs6000/power64-core.xml and power-fpu.xml):
r0-r31 are 0-31, f0-f31 32-63, then pc, msr, cr, lr, ctr, xer (64-69) and fpscr (70). Values
travel in the guest's byte order, which follows MSR[LE], as QEMU's stub sends them
(target/ppc/gdbstub.c, ppc_maybe_bswap_register); gdb must be told the same endianness.

From 71 on come the SPRs of ppcd's table (ppcd/cpu/spr.py) in the feature QEMU's ppc64 stub
offers them in, "org.qemu.power.spr", shaped as QEMU builds it (gdb_gen_spr_xml): in SPR number
order, each SPR's name lowercased, 64 bits wide whatever the SPR's width, no type (gdb's
default, a signed integer), group "spr". Unlike QEMU, each piece of state is offered once: the
SPRs the core feature has (XER, LR, CTR) and the problem-state aliases of privileged SPRs are
left out, since gdb, writing one name, would keep showing the other's old value. gdb reads and
writes them as it does any register (g/G, p/P) through the table's read and write functions;
the guest's privilege does not apply. An SPR without a write function (PVR, PIR, PCR and the
timebase's views) refuses a change; writing the value it already has is accepted, so a G packet
that sends every register back works.
"""

from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional

from ppcd.cpu.spr import SPRS

MSR_LE = 1


class Register(NamedTuple):
    name: str
    bits: int
    type: str
    group: Optional[str]
    # Where the value lives in the worker's register dict: ("gpr", n), ("fpr", n) or (name,).
    source: tuple


# SPRs not offered: the core feature's, and the aliases through which problem state reaches
# another SPR's state (the number whose state each one is, or shares a half of).
CORE_SPRS = {1: "xer", 8: "lr", 9: "ctr"}
SPR_ALIASES = {3: 17, 13: 29, 136: 152, 259: 275, 269: 268, 898: 896,
               **{n - 16: n for n in (784, 785, 786, 787, 788, 789, 790, 791, 792, 795, 796, 797,
                                      798)}}
SPR_FEATURE = "org.qemu.power.spr"


def _sprs() -> List[Register]:
    return [Register(spr.name.lower(), 64, "", "spr", ("spr", str(number)))
            for number, spr in sorted(SPRS.items())
            if number not in CORE_SPRS and number not in SPR_ALIASES]


def _layout() -> List[Register]:
    regs = [Register(f"r{n}", 64, "uint64", None, ("gpr", n)) for n in range(32)]
    regs += [Register(f"f{n}", 64, "ieee_double", None, ("fpr", n)) for n in range(32)]
    regs += [
        Register("pc", 64, "code_ptr", None, ("pc",)),
        Register("msr", 64, "uint64", None, ("msr",)),
        Register("cr", 32, "uint32", None, ("cr",)),
        Register("lr", 64, "code_ptr", None, ("lr",)),
        Register("ctr", 64, "uint64", None, ("ctr",)),
        Register("xer", 32, "uint32", None, ("xer",)),
        Register("fpscr", 32, "uint32", "float", ("fpscr",)),
    ]
    return regs + _sprs()


REGISTERS = _layout()
FPU = [r for r in REGISTERS if r.source[0] in ("fpr", "fpscr")]
SPR = [r for r in REGISTERS if r.source[0] == "spr"]
CORE = [r for r in REGISTERS if r not in FPU and r not in SPR]


def _feature(name: str, registers: List[Register]) -> str:
    lines = [f'  <feature name="{name}">']
    for reg in registers:
        kind = f' type="{reg.type}"' if reg.type else ""
        group = f' group="{reg.group}"' if reg.group else ""
        lines.append(f'    <reg name="{reg.name}" bitsize="{reg.bits}"{kind}'
                     f' regnum="{REGISTERS.index(reg)}"{group}/>')
    lines.append("  </feature>")
    return "\n".join(lines)


TARGET_XML = "\n".join([
    '<?xml version="1.0"?>',
    '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
    "<target>",
    "  <architecture>powerpc:common64</architecture>",
    _feature("org.gnu.gdb.power.core", CORE),
    _feature("org.gnu.gdb.power.fpu", FPU),
    _feature(SPR_FEATURE, SPR),
    "</target>",
    "",
]).encode()

FEATURES = {"target.xml": TARGET_XML}


def byte_order(registers: Dict[str, Any]) -> str:
    return "little" if registers["msr"] & MSR_LE else "big"


def read_register(registers: Dict[str, Any], number: int) -> bytes:
    """Register `number` from the worker's register dict, in the guest's byte order."""
    reg = REGISTERS[number]
    value = registers[reg.source[0]]
    if len(reg.source) == 2:
        value = value[reg.source[1]]
    size = reg.bits // 8
    return (value & ((1 << reg.bits) - 1)).to_bytes(size, byte_order(registers))


def write_register(registers: Dict[str, Any], number: int, data: bytes) -> Dict[str, Any]:
    """The worker's set-registers argument that gives register `number` these bytes."""
    reg = REGISTERS[number]
    if len(data) != reg.bits // 8:
        raise ValueError(f"{reg.name} takes {reg.bits // 8} bytes, not {len(data)}")
    value = int.from_bytes(data, byte_order(registers))
    if reg.source[0] == "spr" and SPRS[int(reg.source[1])].write is None:
        if value == registers["spr"][reg.source[1]]:
            return {}
        raise ValueError(f"{reg.name} is read-only")
    if len(reg.source) == 2:
        return {reg.source[0]: {str(reg.source[1]): value}}
    name = reg.source[0]
    if name == "fpscr":
        # gdb's fpscr is the low word; the upper half of POWER9's FPSCR is kept.
        value |= registers["fpscr"] & ~0xFFFF_FFFF
    return {name: value}


def register_size(number: int) -> int:
    return REGISTERS[number].bits // 8
