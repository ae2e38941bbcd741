"""The human monitor (HMP) behind human-monitor-command: QEMU's text commands and output.

Only the commands listed in HELP exist. Output lines end with CRLF, as QEMU's monitor writes
them; `x`, `xp` and `info registers` print what QEMU 7.2 prints for a POWER9 pseries vCPU.

The monitor has a current vCPU (QEMU's mon_get_cpu): `info registers`, `x/i`, `$pc`-style
registers and the `*` of `info cpus` are its. human-monitor-command's cpu-index chooses it for
that one command (QEMU runs each human-monitor-command in a fresh monitor: `cpu N` lasts only
until the command ends); a monitor that lives on (gdb's `monitor`) keeps what `cpu N` chose.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import capstone

from .. import __version__
from .schema import QMPError

if TYPE_CHECKING:
    from .server import Session

HELP = (
    ("cont|c", "", "resume emulation"),
    ("cpu", "index", "set the default CPU"),
    ("help|?", "[cmd]", "show the help"),
    ("info", "[subcommand]", "show various information about the system state"),
    ("quit|q", "", "quit the emulator"),
    ("stop", "", "stop emulation"),
    ("system_powerdown", "", "send system power down event"),
    ("system_reset", "", "reset the system"),
    ("x", "/fmt addr", "virtual memory dump starting at 'addr'"),
    ("xp", "/fmt addr", "physical memory dump starting at 'addr'"),
)
INFO_HELP = (
    ("chardev", "", "show the character devices"),
    ("cpus", "", "show infos for each CPU"),
    ("migrate", "", "show migration status"),
    ("migrate_capabilities", "", "show current migration capabilities"),
    ("migrate_parameters", "", "show current migration parameters"),
    ("name", "", "show the current VM name"),
    ("registers", "[-a|vcpu]", "show the cpu registers (-a: show register info for all cpus; "
     "vcpu: specific vCPU to query; show the current CPU's registers if no argument is "
     "specified)"),
    ("status", "", "show the current VM status (running|paused)"),
    ("version", "", "show the version of QEMU"),
)
# A dump bigger than this is refused: the reply is one JSON string.
MAX_DUMP = 1 << 16
MSR_LE = 1


class HMPFailure(Exception):
    """Printed as the command's output; the command has no effect."""


class HMPArgumentError(HMPFailure):
    """Arguments QEMU's monitor_parse_arguments refuses: the reason, then where help is."""

    def __init__(self, reason: str, command: str) -> None:
        super().__init__(f"{reason}\nTry \"help {command}\" for more information")


@dataclass
class HMPState:
    """What QEMU's monitor remembers between commands: the last x/xp format and size, and the
    current vCPU (`cpu N`)."""

    format: str = "x"
    size: int = 4
    cpu: int = 0


_COMMAND = re.compile(r"\s*([^\s/]+)(.*)", re.DOTALL)


async def run_hmp(session: "Session", line: str, cpu: Optional[int] = None) -> str:
    """The output of one command line; `cpu` (a valid index) becomes the current vCPU first."""
    if cpu is not None:
        session.hmp.cpu = cpu
    # A format sticks to its command with no space between: "x/4xw 0x400000".
    m = _COMMAND.match(line)
    if m is None:
        return ""
    name, rest = m.group(1), m.group(2)
    handler = _COMMANDS.get(name)
    try:
        if handler is None:
            raise HMPFailure(f"unknown command: '{name}'")
        text = await handler(session, rest.strip())
    except HMPFailure as e:
        text = f"{e}\n"
    except QMPError as e:
        text = f"Error: {e.desc}\n"
    return text.replace("\n", "\r\n")


# --- commands ----------------------------------------------------------------------------------
def current_cpu(session: "Session") -> int:
    """The monitor's current vCPU (vCPU 0 if it names none the machine has, as QEMU's)."""
    index = session.hmp.cpu
    return index if 0 <= index < session.vm.cpu_count else 0


async def _help(session: "Session", rest: str) -> str:
    words = rest.split()
    if words[:1] == ["info"]:
        return "".join(f"info {name} {args} -- {text}\n" for name, args, text in INFO_HELP
                       if len(words) == 1 or words[1] == name)
    return "".join(f"{name} {args} -- {text}\n" for name, args, text in HELP
                   if not words or words[0] in name.split("|"))


async def _cpu(session: "Session", rest: str) -> str:
    """cpu N (QEMU's hmp_cpu): the monitor's current vCPU."""
    index, rest = await _int_argument(session, rest, "cpu")
    _no_more(rest, "cpu", "cpu")
    if index is None:
        raise HMPArgumentError("unexpected end of expression", "cpu")
    if not 0 <= index < session.vm.cpu_count:
        raise HMPFailure("invalid CPU index")
    session.hmp.cpu = index
    return ""


async def _int_argument(session: "Session", text: str, name: str,
                        help_name: Optional[str] = None) -> Tuple[Optional[int], str]:
    """An optional 32-bit integer argument (QEMU's args_type "i?"): its value as QEMU's int
    (None when there is none) and the text after it."""
    help_name = help_name or name
    if not text.strip():
        return None, ""
    registers = await session.vm.registers(current_cpu(session)) if "$" in text else {}
    value, rest = evaluate_prefix(text, registers, help_name)
    value &= (1 << 64) - 1      # QEMU's int64_t
    if value >> 32:
        raise HMPArgumentError(f"'{name}' has failed: integer is for 32-bit values", help_name)
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value >> 31 else value, rest


def _no_more(rest: str, name: str, help_name: str) -> None:
    if rest.strip():
        raise HMPArgumentError(f"{name}: extraneous characters at the end of line", help_name)


async def _info_cpus(session: "Session", rest: str) -> str:
    # QEMU 7.2's hmp_info_cpus: one line per vCPU, '*' at the monitor's current one. Every
    # vCPU runs in the worker process, which is each one's "thread".
    _no_more(rest, "cpus", "info cpus")
    current = current_cpu(session)
    pid = session.vm.worker_pid
    return "".join(f"{'*' if index == current else ' '} CPU #{index}: thread_id={pid}\n"
                   for index in range(session.vm.cpu_count))


async def _info_registers(session: "Session", rest: str) -> str:
    # QEMU 7.2's hmp_info_registers ("cpustate_all:-a,vcpu:i?").
    vm = session.vm
    rest = rest.lstrip()
    all_cpus = False
    if rest.startswith("-"):
        if rest[1:2] != "a":
            raise HMPArgumentError(f"registers: unsupported option -{rest[1:2]}",
                                   "info registers")
        all_cpus = True
        rest = rest[2:]
    vcpu, rest = await _int_argument(session, rest, "registers", "info registers")
    _no_more(rest, "registers", "info registers")
    if all_cpus:
        indexes = list(range(vm.cpu_count))
    elif vcpu is not None and vcpu >= 0:
        if vcpu >= vm.cpu_count:
            return f"CPU#{vcpu} not available\n"
        indexes = [vcpu]
    else:
        indexes = [current_cpu(session)]
    text = ""
    for index in indexes:
        registers = await vm.registers(index)
        text += format_registers(registers, index) + \
            format_compat(registers, vm.migration.max_compat_pvr)
    return text


async def _info(session: "Session", rest: str) -> str:
    if not rest:
        return "".join(f"info {name} {args} -- {text}\n" for name, args, text in INFO_HELP)
    what, arguments = (rest.split(None, 1) + [""])[:2]
    vm = session.vm
    if what == "status":
        text = f"VM status: {'running' if vm.running else 'paused'}"
        if not vm.running and vm.state != "paused":
            text += f" ({vm.state})"
        return text + "\n"
    if what == "cpus":
        return await _info_cpus(session, arguments)
    if what == "chardev":
        # QEMU's line, and what ppcd adds: output the backend could not take.
        return (f"serial0: filename={vm.console.backend.filename}\n"
                f"serial0: {vm.console.dropped} bytes of output dropped\n")
    if what == "name":
        return f"{vm.options.name}\n" if vm.options.name else ""
    if what == "version":
        major, minor, micro = 7, 2, 0
        return f"{major}.{minor}.{micro} (ppcd {__version__})\n"
    if what == "migrate":
        return format_migrate(vm.migration)
    if what == "migrate_capabilities":
        return format_migrate_capabilities(vm.migration)
    if what == "migrate_parameters":
        return format_migrate_parameters(vm.migration)
    if what == "registers":
        return await _info_registers(session, arguments)
    raise HMPFailure(f"unknown command: 'info {what}'")


async def _stop(session: "Session", rest: str) -> str:
    await session.vm.stop()
    return ""


async def _cont(session: "Session", rest: str) -> str:
    await session.vm.cont()
    return ""


async def _system_reset(session: "Session", rest: str) -> str:
    await session.vm.system_reset()
    return ""


async def _system_powerdown(session: "Session", rest: str) -> str:
    session.vm.system_powerdown()
    return ""


async def _quit(session: "Session", rest: str) -> str:
    session.vm.finish(0, quit_reason="host-qmp-quit")
    return ""


async def _x(session: "Session", rest: str) -> str:
    return await _dump(session, rest, physical=False)


async def _xp(session: "Session", rest: str) -> str:
    return await _dump(session, rest, physical=True)


_COMMANDS: Dict[str, Callable[["Session", str], Any]] = {
    "help": _help, "?": _help, "info": _info, "stop": _stop, "cont": _cont, "c": _cont,
    "cpu": _cpu,
    "system_reset": _system_reset, "system_powerdown": _system_powerdown,
    "quit": _quit, "q": _quit, "x": _x, "xp": _xp,
}


# --- info migrate (QEMU 7.2's hmp_info_migrate, monitor/hmp-cmds.c) -------------------------
# Checked line for line against qemu-system-ppc64 7.2 by tests/migration/test_hmp_migrate.py.
def format_migrate(migration: Any) -> str:
    info = migration.info()
    props = migration.machine.properties
    on = {True: "on", False: "off"}
    # migration_global_dump: the machine type's migration globals.
    lines = ["globals:", "store-global-state: on", "only-migratable: off",
             f"send-configuration: {on[bool(props.get('migration.send-configuration', True))]}",
             f"send-section-footer: {on[bool(props.get('migration.send-section-footer', True))]}",
             "decompress-error-check: on", "clear-bitmap-shift: 18"]
    if "status" in info:
        status = f"Migration status: {info['status']}"
        if info["status"] == "failed" and "error-desc" in info:
            status += f" ({info['error-desc']})"
        lines.append(status)
        # QEMU prints the total time even when MigrationInfo has none (setup, cancelled,
        # failed): 0 ms.
        lines.append(f"total time: {info.get('total-time', 0)} ms")
        if "expected-downtime" in info:
            lines.append(f"expected downtime: {info['expected-downtime']} ms")
        if "downtime" in info:
            lines.append(f"downtime: {info['downtime']} ms")
        if "setup-time" in info:
            lines.append(f"setup: {info['setup-time']} ms")
    ram = info.get("ram")
    if ram is not None:
        lines += [f"transferred ram: {ram['transferred'] >> 10} kbytes",
                  f"throughput: {ram['mbps']:0.2f} mbps",
                  f"remaining ram: {ram['remaining'] >> 10} kbytes",
                  f"total ram: {ram['total'] >> 10} kbytes",
                  f"duplicate: {ram['duplicate']} pages",
                  f"skipped: {ram['skipped']} pages",
                  f"normal: {ram['normal']} pages",
                  f"normal bytes: {ram['normal-bytes'] >> 10} kbytes",
                  f"dirty sync count: {ram['dirty-sync-count']}",
                  f"page size: {ram['page-size'] >> 10} kbytes",
                  f"multifd bytes: {ram['multifd-bytes'] >> 10} kbytes",
                  f"pages-per-second: {ram['pages-per-second']}"]
        if ram["dirty-pages-rate"]:
            lines.append(f"dirty pages rate: {ram['dirty-pages-rate']} pages")
        if ram["postcopy-requests"]:
            lines.append(f"postcopy request count: {ram['postcopy-requests']}")
        if ram["precopy-bytes"]:
            lines.append(f"precopy ram: {ram['precopy-bytes'] >> 10} kbytes")
        if ram["downtime-bytes"]:
            lines.append(f"downtime ram: {ram['downtime-bytes'] >> 10} kbytes")
        if ram["postcopy-bytes"]:
            lines.append(f"postcopy ram: {ram['postcopy-bytes'] >> 10} kbytes")
        if ram["dirty-sync-missed-zero-copy"]:
            lines.append(f"Zero-copy-send fallbacks happened: "
                         f"{ram['dirty-sync-missed-zero-copy']} times")
    if "cpu-throttle-percentage" in info:
        lines.append(f"cpu throttle percentage: {info['cpu-throttle-percentage']}")
    if "socket-address" in info:
        # The destination's listening addresses (socketaddress_to_str).
        lines.append("socket address: [")
        lines += [f"\t{_socket_address(address)}" for address in info["socket-address"]]
        lines.append("]")
    return "".join(line + "\n" for line in lines)


def _socket_address(address: Dict[str, Any]) -> str:
    if address["type"] == "unix":
        return f"unix:{address['path']}"
    host = address["host"]
    return f"tcp:[{host}]:{address['port']}" if ":" in host else \
        f"tcp:{host}:{address['port']}"


# QEMU's MigrationCapability order, which hmp_info_migrate_capabilities follows.
_CAPABILITY_ORDER = ("auto-converge", "events", "return-path")


def format_migrate_capabilities(migration: Any) -> str:
    """hmp_info_migrate_capabilities: "name: on|off", for the capabilities ppcd has."""
    states = migration.capabilities
    names = [n for n in _CAPABILITY_ORDER if n in states] + \
        [n for n in states if n not in _CAPABILITY_ORDER]
    return "".join(f"{name}: {'on' if states[name] else 'off'}\n" for name in names)


def format_migrate_parameters(migration: Any) -> str:
    """hmp_info_migrate_parameters, for the parameters ppcd has, in QEMU's order and units
    (avail-switchover-bandwidth is QEMU 8.2's, printed where 8.2 prints it)."""
    p = migration.parameters.to_json()
    return "".join(line + "\n" for line in (
        f"cpu-throttle-initial: {p['cpu-throttle-initial']}",
        f"cpu-throttle-increment: {p['cpu-throttle-increment']}",
        f"max-bandwidth: {p['max-bandwidth']} bytes/second",
        f"avail-switchover-bandwidth: {p['avail-switchover-bandwidth']} bytes/second",
        f"downtime-limit: {p['downtime-limit']} ms"))


# --- x and xp (QEMU's monitor/hmp.c and memory_dump) ------------------------------------------
_SIZES = {"b": 1, "h": 2, "w": 4, "g": 8, "L": 8}
_FORMAT = re.compile(r"/(\d*)([a-zA-Z]*)")


def parse_format(text: str, state: HMPState) -> Tuple[int, str, int, str]:
    """(count, format, size, rest) from "/4xw expr"; updates the remembered defaults."""
    if not text.startswith("/"):
        return 1, state.format, state.size, text
    m = _FORMAT.match(text)
    assert m is not None
    count = int(m.group(1)) if m.group(1) else 1
    fmt: Optional[str] = None
    size: Optional[int] = None
    for char in m.group(2):
        if char in "oduxic":
            fmt = char
        elif char in _SIZES:
            size = _SIZES[char]
        else:
            raise HMPFailure(f"invalid char in format: '{char}'\n"
                             "Try \"help x\" for more information")
    fmt = fmt or state.format
    size = size or state.size
    state.format, state.size = fmt, size
    return count, fmt, size, text[m.end():]


async def _dump(session: "Session", text: str, physical: bool) -> str:
    count, fmt, size, rest = parse_format(text, session.hmp)
    registers: Dict[str, Any] = {}
    if "$" in rest or fmt == "i":
        registers = await session.vm.registers(current_cpu(session))
    address = evaluate(rest, registers, "xp" if physical else "x") & ((1 << 64) - 1)
    if fmt == "c":
        size = 1
    if fmt == "i":
        return _disassemble(session, address, count, physical, registers)
    if count * size > MAX_DUMP:
        raise HMPFailure(f"dump of {count * size} bytes is too large (at most {MAX_DUMP})")
    lines = []
    line_size = 8 if size == 1 else 16
    remaining = count * size
    while remaining > 0:
        length = min(remaining, line_size)
        lines.append(f"{address:016x}:")
        data = _read(session, address, length, physical)
        if data is None:
            lines[-1] += " Cannot access memory"
            break
        for offset in range(0, length, size):
            lines[-1] += " " + _format_unit(data[offset:offset + size], fmt)
        address += length
        remaining -= length
    return "".join(line + "\n" for line in lines)


def _read(session: "Session", address: int, length: int, physical: bool) -> Optional[bytes]:
    vm = session.vm
    return vm.read_physical(address if physical else vm.real_address(address), length)


def _format_unit(data: bytes, fmt: str) -> str:
    size = len(data)
    value = int.from_bytes(data, "big")    # ppc64 is a big-endian target to QEMU's monitor
    if fmt == "x":
        return f"0x{value:0{size * 2}x}"
    if fmt == "o":
        return f"{value:#o}".rjust((size * 8 + 2) // 3)
    if fmt == "c":
        char = chr(value)
        return repr(char) if 0x20 <= value < 0x7F else f"'\\x{value:02x}'"
    digits = (size * 8 * 10 + 32) // 33
    if fmt == "d" and value >> (size * 8 - 1):
        value -= 1 << (size * 8)
    return f"{value:{digits}d}"


def _disassemble(session: "Session", address: int, count: int, physical: bool,
                 registers: Dict[str, Any]) -> str:
    if count > MAX_DUMP // 4:
        raise HMPFailure(f"cannot disassemble {count} instructions (at most {MAX_DUMP // 4})")
    little = bool(registers.get("msr", 0) & MSR_LE)
    mode = capstone.CS_MODE_64 | (capstone.CS_MODE_LITTLE_ENDIAN if little
                                  else capstone.CS_MODE_BIG_ENDIAN)
    disassembler = capstone.Cs(capstone.CS_ARCH_PPC, mode)
    lines = []
    for n in range(count):
        at = address + 4 * n
        data = _read(session, at, 4, physical)
        if data is None:
            lines.append(f"0x{at:08x}:  Cannot access memory")
            break
        word = struct.unpack("<I" if little else ">I", data)[0]
        insn = next(disassembler.disasm(data, at), None)
        text = f"{insn.mnemonic:<8} {insn.op_str}".rstrip() if insn else f".long 0x{word:08x}"
        lines.append(f"0x{at:08x}:  {word:08x}  {text}")
    return "".join(line + "\n" for line in lines)


# --- expressions: numbers, $registers, + - * / % & | ^ ~ and parentheses ----------------------
# Numbers as C's strtoull reads them (0x hex, 0 octal, decimal), as QEMU's monitor does.
_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)|\$(\w*)|([-+*/%&|^~()]))")


class _ExpressionError(Exception):
    pass


def register_value(name: str, registers: Dict[str, Any]) -> int:
    name = name.lower()
    if name in ("pc", "nip"):
        return registers["pc"]
    if name == "sp":
        return registers["gpr"][1]
    m = re.fullmatch(r"r(\d+)", name)
    if m and int(m.group(1)) < 32:
        return registers["gpr"][int(m.group(1))]
    if name in ("lr", "ctr", "msr", "cr", "xer", "fpscr", "cfar", "dec"):
        return registers[name]
    raise _ExpressionError("unknown register")


def evaluate_prefix(text: str, registers: Dict[str, Any],
                    command: str = "x") -> Tuple[int, str]:
    """The value of the expression `text` begins with, and the text after it (QEMU's get_expr:
    the expression ends where no operator follows). Errors name `command` for help."""
    tokens: List[Tuple[str, str, int]] = []     # (kind, text, where it starts)
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            tokens.append(("bad", text[pos], pos))     # an error only if it is reached
            break
        if m.group(1):
            digits = m.group(1)
            value = int(digits, 16 if digits[1:2] in ("x", "X") else 8 if
                        digits.startswith("0") else 10)
            tokens.append(("n", str(value), pos))
        elif m.group(2) is not None:
            tokens.append(("reg", m.group(2), pos))
        else:
            tokens.append(("op", m.group(3), pos))
        pos = m.end()
    parser = _Expression(tokens, registers)
    try:
        value = parser.sum()
    except _ExpressionError as e:
        raise HMPArgumentError(str(e), command) from None
    rest = text[tokens[parser.pos][2]:] if parser.pos < len(tokens) else ""
    return value, rest


def evaluate(text: str, registers: Dict[str, Any], command: str = "x") -> int:
    """The value of the expression that is all of `text`."""
    value, rest = evaluate_prefix(text, registers, command)
    if rest.strip():
        raise HMPArgumentError(f"{command}: extraneous characters at the end of line", command)
    return value


class _Expression:
    _SUMS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "&": lambda a, b: a & b,
             "|": lambda a, b: a | b, "^": lambda a, b: a ^ b}
    _PRODUCTS = {"*": lambda a, b: a * b, "/": lambda a, b: a // b, "%": lambda a, b: a % b}

    def __init__(self, tokens: List[Tuple[str, str, int]], registers: Dict[str, Any]) -> None:
        self.tokens = tokens
        self.registers = registers
        self.pos = 0

    def _peek(self) -> Optional[str]:
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "op":
            return self.tokens[self.pos][1]
        return None

    def sum(self) -> int:
        value = self.product()
        while self._peek() in self._SUMS:
            op = self._SUMS[self.tokens[self.pos][1]]
            self.pos += 1
            value = op(value, self.product())
        return value

    def product(self) -> int:
        value = self.unary()
        while self._peek() in self._PRODUCTS:
            op_name = self.tokens[self.pos][1]
            self.pos += 1
            right = self.unary()
            if right == 0 and op_name in "/%":
                raise _ExpressionError("division by zero")
            value = self._PRODUCTS[op_name](value, right)
        return value

    def unary(self) -> int:
        if self.pos >= len(self.tokens):
            raise _ExpressionError("unexpected end of expression")
        kind, text, _ = self.tokens[self.pos]
        self.pos += 1
        if kind == "n":
            return int(text)
        if kind == "reg":
            return register_value(text, self.registers)
        if text == "-":
            return -self.unary()
        if text == "+":
            return self.unary()
        if text == "~":
            return ~self.unary()
        if text == "(":
            value = self.sum()
            if self._peek() != ")":
                raise _ExpressionError("')' expected")
            self.pos += 1
            return value
        raise _ExpressionError(f"invalid char '{text}' in expression")


# --- info registers (QEMU's ppc_cpu_dump_state) --------------------------------------------
_SPR_LINES = (
    ((" SRR0", 26), (" SRR1", 27), ("   PVR", 287), ("VRSAVE", 256)),
    (("SPRG0", 272), ("SPRG1", 273), (" SPRG2", 274), (" SPRG3", 275)),
    (("HSRR0", 314), ("HSRR1", 315)),
    ((" CFAR", 28),),
    ((" LPCR", 318),),
    ((" PTCR", 464), ("  DAR", 19), (" DSISR", 18)),
)


def format_registers(r: Dict[str, Any], index: int = 0) -> str:
    """vCPU `index`'s registers as QEMU prints them (with hmp_info_registers' heading)."""
    spr = r["spr"]
    tb = (r["icount"] + r["tb_offset"]) & ((1 << 64) - 1)
    lines = [
        "",
        f"CPU#{index}",
        f"NIP {r['pc']:016x}   LR {r['lr']:016x} CTR {r['ctr']:016x} XER {r['xer']:016x} "
        f"CPU#{index}",
        f"MSR {r['msr']:016x} HID0 {int(spr.get('1008', 0)):016x}",
        f"TB {tb >> 32:08x} {tb & 0xFFFF_FFFF:08x} DECR {r['dec'] & 0xFFFF_FFFF}",
    ]
    for name, values in (("GPR", r["gpr"]), ("FPR", r["fpr"])):
        for i in range(0, 32, 4):
            lines.append(f"{name}{i:02d} " + " ".join(f"{v:016x}" for v in values[i:i + 4]))
        if name == "GPR":
            cr = r["cr"]
            fields = [(cr >> (28 - 4 * i)) & 0xF for i in range(8)]
            flags = " ".join(("L" if f & 8 else "G" if f & 4 else "E" if f & 2 else "-")
                             + ("O" if f & 1 else " ") for f in fields)
            reserve = r["reserve"] if r["reserve"] is not None else (1 << 64) - 1
            lines.append(f"CR {cr:08x}  [ {flags} ]             RES {reserve:016x}")
    lines.append(f"FPSCR {r['fpscr']:016x}")
    for group in _SPR_LINES:
        lines.append(" ".join(f"{label} {int(spr.get(str(n), 0)):016x}" for label, n in group))
    return "".join(line + "\n" for line in lines)


def format_compat(r: Dict[str, Any], max_compat_pvr: int) -> str:
    """ppcd's addition to info registers: the compatibility mode (QEMU prints none)."""
    return (f"PCR {int(r['spr'].get('338', 0)):016x} compat-pvr {r['compat_pvr']:08x} "
            f"max-cpu-compat {max_compat_pvr:08x}\n")
