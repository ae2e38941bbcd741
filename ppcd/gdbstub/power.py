"""The POWER registers as gdb sees them: the target description and the register numbering.

gdb's own powerpc:common64 layout (gdb/features/rs6000/power64-core.xml and power-fpu.xml):
r0-r31 are 0-31, f0-f31 32-63, then pc, msr, cr, lr, ctr, xer (64-69) and fpscr (70). Values
travel in the guest's byte order, which follows MSR[LE], as QEMU's stub sends them
(target/ppc/gdbstub.c, ppc_maybe_bswap_register); gdb must be told the same endianness.
"""

from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional

MSR_LE = 1


class Register(NamedTuple):
    name: str
    bits: int
    type: str
    group: Optional[str]
    # Where the value lives in the worker's register dict: ("gpr", n), ("fpr", n) or (name,).
    source: tuple


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
    return regs


REGISTERS = _layout()
CORE = [r for r in REGISTERS if not r.name.startswith("f")]
FPU = [r for r in REGISTERS if r.name.startswith("f")]


def _feature(name: str, registers: List[Register]) -> str:
    lines = [f'  <feature name="{name}">']
    for reg in registers:
        group = f' group="{reg.group}"' if reg.group else ""
        lines.append(f'    <reg name="{reg.name}" bitsize="{reg.bits}" type="{reg.type}"'
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
    if len(reg.source) == 2:
        return {reg.source[0]: {str(reg.source[1]): value}}
    name = reg.source[0]
    if name == "fpscr":
        # gdb's fpscr is the low word; the upper half of POWER9's FPSCR is kept.
        value |= registers["fpscr"] & ~0xFFFF_FFFF
    return {name: value}


def register_size(number: int) -> int:
    return REGISTERS[number].bits // 8
