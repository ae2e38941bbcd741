"""One handler per packet (gdb's manual, "Packets", "General Query Packets", "Stop Reply").

A handler gets the session and the packet's arguments (the bytes after its name) and returns
the reply payload, or None when the reply comes later (a resumed machine's stop). Malformed
arguments raise ProtocolError and are answered with an E reply; packets without a handler get
the empty reply, which tells gdb they are not supported.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Awaitable, Callable, Dict, List, Optional, Tuple

from .protocol import ProtocolError, escape, hex_bytes, hex_int, split_fields, unescape
from .target import BREAKPOINT_KINDS, CONTINUE, HOLD, SIGNAL_NONE, STEP, Stop, TargetError

if TYPE_CHECKING:
    from .server import Session

Handler = Callable[["Session", bytes], Awaitable[Optional[bytes]]]

PACKET_SIZE = 0x4000            # the largest packet payload this stub accepts
MAX_MEMORY = PACKET_SIZE // 2 - 16
PID = 1                         # the one "process" (QEMU's stub: the machine is process 1)

E_MEMORY = b"E14"               # QEMU's replies: EFAULT for memory, EINVAL for the rest
E_INVALID = b"E22"

HANDLERS: Dict[str, Handler] = {}
# Longest names first, so "qfThreadInfo" wins over a hypothetical "q".
_NAMES: List[str] = []


def packet(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        _NAMES.append(name)
        _NAMES.sort(key=len, reverse=True)
        return handler
    return register


def find_handler(payload: bytes) -> Tuple[Optional[Handler], bytes]:
    """The handler of a packet and its arguments; multi-letter names end at `:`, `,` or `;`."""
    if not payload:
        return None, b""
    if payload[:1] in (b"q", b"Q", b"v"):
        name = re.split(rb"[:,;]", payload, maxsplit=1)[0].decode("latin-1")
        handler = HANDLERS.get(name)
        return handler, payload[len(name):]
    return HANDLERS.get(chr(payload[0])), payload[1:]


# --- thread ids: "p<pid>.<tid>", "<tid>", -1 for all, 0 for any (gdb's "thread-id syntax") ---
def format_thread(thread: int) -> bytes:
    return b"p%02x.%02x" % (PID, thread)


def parse_thread(text: bytes) -> Tuple[int, int]:
    """(pid, tid) with -1 for all and 0 for any."""
    def number(part: bytes) -> int:
        return -1 if part == b"-1" else hex_int(part)
    if text.startswith(b"p"):
        pid_text, _, tid_text = text[1:].partition(b".")
        return number(pid_text), number(tid_text) if tid_text else -1
    return PID, number(text)


def threads_matching(session: "Session", text: bytes) -> List[int]:
    pid, tid = parse_thread(text)
    threads = session.target.threads()
    if pid not in (PID, -1, 0):
        return []
    if tid in (-1, 0):
        return threads
    return [tid] if tid in threads else []


def stop_reply(session: "Session", stop: Stop) -> bytes:
    # The stopped thread becomes the one g/G/p/P, s and c act on, as in QEMU's stub: gdb
    # reads the registers of the thread the reply names without sending H first.
    if stop.thread in session.target.threads():
        session.general_thread = session.continue_thread = stop.thread
    reply = b"T%02xthread:%s;" % (stop.signal, format_thread(stop.thread))
    if stop.reason in ("watch", "rwatch", "awatch") and stop.address is not None:
        reply += b"%s:%x;" % (stop.reason.encode(), stop.address)
    elif stop.reason in session.client_features:
        reply += stop.reason.encode() + b":;"
    return reply


# --- connection and features -----------------------------------------------------------------
@packet("qSupported")
async def q_supported(session: "Session", args: bytes) -> bytes:
    for feature in args.lstrip(b":").split(b";"):
        if feature.endswith(b"+"):
            session.client_features.add(feature[:-1].decode("latin-1"))
    return (b"PacketSize=%x;qXfer:features:read+;multiprocess+;swbreak+;hwbreak+;"
            b"vContSupported+;QStartNoAckMode+" % PACKET_SIZE)


@packet("QStartNoAckMode")
async def q_start_no_ack_mode(session: "Session", args: bytes) -> bytes:
    session.start_no_ack = True     # after this reply, which is still acknowledged
    return b"OK"


@packet("qXfer")
async def q_xfer(session: "Session", args: bytes) -> bytes:
    # qXfer:features:read:ANNEX:OFFSET,LENGTH
    m = re.fullmatch(rb":features:read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)", args)
    if m is None:
        return b""  # other objects are not supported
    document = session.target.features().get(m.group(1).decode("latin-1"))
    if document is None:
        return E_MEMORY
    offset, length = hex_int(m.group(2)), hex_int(m.group(3))
    chunk = document[offset:offset + min(length, MAX_MEMORY)]
    return (b"m" if offset + len(chunk) < len(document) else b"l") + escape(chunk)


@packet("qAttached")
async def q_attached(session: "Session", args: bytes) -> bytes:
    return b"1"     # attached to a machine that exists without gdb: quitting detaches


@packet("?")
async def halt_reason(session: "Session", args: bytes) -> bytes:
    return stop_reply(session, session.last_stop)


# --- threads -----------------------------------------------------------------------------------
@packet("qfThreadInfo")
async def qf_thread_info(session: "Session", args: bytes) -> bytes:
    return b"m" + b",".join(format_thread(t) for t in session.target.threads())


@packet("qsThreadInfo")
async def qs_thread_info(session: "Session", args: bytes) -> bytes:
    return b"l"


@packet("qC")
async def q_current_thread(session: "Session", args: bytes) -> bytes:
    return b"QC" + format_thread(session.general_thread)


@packet("qThreadExtraInfo")
async def q_thread_extra_info(session: "Session", args: bytes) -> bytes:
    _, tid = parse_thread(args.lstrip(b","))
    if tid not in session.target.threads():
        return E_INVALID
    return (await session.target.thread_name(tid)).encode().hex().encode()


@packet("H")
async def set_thread(session: "Session", args: bytes) -> bytes:
    operation, text = args[:1], args[1:]
    if operation not in (b"g", b"c"):
        raise ProtocolError("H takes g or c")
    matching = threads_matching(session, text)
    if not matching:
        return E_INVALID
    if operation == b"g":
        session.general_thread = matching[0]
    else:
        session.continue_thread = matching[0]
    return b"OK"


@packet("T")
async def thread_alive(session: "Session", args: bytes) -> bytes:
    _, tid = parse_thread(args)
    return b"OK" if tid in session.target.threads() else E_INVALID


# --- registers ---------------------------------------------------------------------------------
@packet("g")
async def read_registers(session: "Session", args: bytes) -> bytes:
    values = await session.target.read_registers(session.general_thread)
    return b"".join(value.hex().encode() for value in values)


@packet("G")
async def write_registers(session: "Session", args: bytes) -> bytes:
    data = hex_bytes(args)
    sizes = [len(v) for v in await session.target.read_registers(session.general_thread)]
    if len(data) > sum(sizes):
        raise ProtocolError("more register data than registers")
    values = {}
    offset = 0
    for number, size in enumerate(sizes):
        if offset + size > len(data):
            break   # gdb may send fewer registers than the description has
        values[number] = data[offset:offset + size]
        offset += size
    await session.target.write_registers(session.general_thread, values)
    return b"OK"


@packet("p")
async def read_register(session: "Session", args: bytes) -> bytes:
    number = hex_int(args)
    if number >= session.target.register_count():
        return E_MEMORY
    values = await session.target.read_registers(session.general_thread)
    return values[number].hex().encode()


@packet("P")
async def write_register(session: "Session", args: bytes) -> bytes:
    number_text, data_text = split_fields(args, b"=", 2)
    number = hex_int(number_text)
    if number >= session.target.register_count():
        return E_MEMORY
    await session.target.write_registers(session.general_thread, {number: hex_bytes(data_text)})
    return b"OK"


# --- memory ------------------------------------------------------------------------------------
def _address_length(text: bytes) -> Tuple[int, int]:
    address_text, length_text = split_fields(text, b",", 2)
    return hex_int(address_text), hex_int(length_text)


@packet("m")
async def read_memory(session: "Session", args: bytes) -> bytes:
    address, length = _address_length(args)
    if length > MAX_MEMORY:
        return E_INVALID
    data = session.target.read_memory(address, length)
    return E_MEMORY if data is None else data.hex().encode()


async def _write(session: "Session", address: int, length: int, data: bytes) -> bytes:
    if len(data) != length:
        raise ProtocolError(f"{len(data)} bytes of data for a length of {length}")
    if length == 0:
        return b"OK"    # gdb probes X support with an empty write
    return b"OK" if await session.target.write_memory(address, data) else E_MEMORY


@packet("M")
async def write_memory(session: "Session", args: bytes) -> bytes:
    header, data_text = split_fields(args, b":", 2)
    address, length = _address_length(header)
    return await _write(session, address, length, hex_bytes(data_text))


@packet("X")
async def write_memory_binary(session: "Session", args: bytes) -> bytes:
    header, data = split_fields(args, b":", 2)
    address, length = _address_length(header)
    return await _write(session, address, length, unescape(data))


# --- breakpoints and watchpoints: Z/z TYPE,ADDR,KIND ---------------------------------------------
def _breakpoint(args: bytes) -> Tuple[str, int, int]:
    fields = args.split(b";", 1)[0]     # conditions and commands (";X...") are not supported
    type_text, address_text, kind_text = split_fields(fields, b",", 3)
    kind = hex_int(type_text)
    if kind >= len(BREAKPOINT_KINDS):
        raise LookupError
    return BREAKPOINT_KINDS[kind], hex_int(address_text), hex_int(kind_text)


@packet("Z")
async def insert_breakpoint(session: "Session", args: bytes) -> bytes:
    try:
        kind, address, length = _breakpoint(args)
    except LookupError:
        return b""
    try:
        await session.target.insert_breakpoint(kind, address, length)
    except TargetError:
        return E_INVALID
    return b"OK"


@packet("z")
async def remove_breakpoint(session: "Session", args: bytes) -> bytes:
    try:
        kind, address, length = _breakpoint(args)
    except LookupError:
        return b""
    try:
        await session.target.remove_breakpoint(kind, address, length)
    except TargetError:
        return E_INVALID
    return b"OK"


# --- resuming ----------------------------------------------------------------------------------
@packet("vCont?")
async def vcont_supported(session: "Session", args: bytes) -> bytes:
    return b"vCont;c;C;s;S;t"


_ACTIONS = {b"c": CONTINUE, b"C": CONTINUE, b"s": STEP, b"S": STEP, b"t": HOLD}


@packet("vCont")
async def vcont(session: "Session", args: bytes) -> Optional[bytes]:
    if not args.startswith(b";"):
        raise ProtocolError("vCont needs actions")
    actions: Dict[int, str] = {}
    for item in args[1:].split(b";"):
        action_text, _, thread_text = item.partition(b":")
        letter = action_text[:1]
        if letter not in _ACTIONS or (letter in b"CS" and len(action_text) != 3) or (
                letter in b"cst" and len(action_text) != 1):
            raise ProtocolError(f"bad vCont action {item[:20]!r}")
        if letter in b"CS":
            hex_int(action_text[1:])   # a signal to deliver: the machine has no signals
        threads = (threads_matching(session, thread_text) if thread_text
                   else session.target.threads())
        if not threads:
            # A thread or process that does not exist: nothing resumes (QEMU's EINVAL). Left
            # out, it could leave no action at all, answered with a stop that never happened.
            return E_INVALID
        for thread in threads:
            actions.setdefault(thread, _ACTIONS[letter])     # the first action applies
    return await resume(session, actions)


@packet("c")
async def continue_(session: "Session", args: bytes) -> Optional[bytes]:
    return await _resume_at(session, args, CONTINUE)


@packet("C")
async def continue_signal(session: "Session", args: bytes) -> Optional[bytes]:
    signal_text, _, address = args.partition(b";")
    hex_int(signal_text)
    return await _resume_at(session, address, CONTINUE)


@packet("s")
async def step(session: "Session", args: bytes) -> Optional[bytes]:
    return await _resume_at(session, args, STEP)


@packet("S")
async def step_signal(session: "Session", args: bytes) -> Optional[bytes]:
    signal_text, _, address = args.partition(b";")
    hex_int(signal_text)
    return await _resume_at(session, address, STEP)


async def _resume_at(session: "Session", address: bytes, action: str) -> Optional[bytes]:
    if address:
        pc = hex_int(address)
        if pc >> 64:
            # Not an address: a pc wider than the register would break the vCPU's state (its
            # migration, for one) long after this packet.
            return E_INVALID
        try:
            await session.target.set_pc(session.continue_thread, pc)
        except TargetError:
            return E_INVALID
    if action == STEP:
        # The legacy s packet steps the thread Hc chose (QEMU's c_cpu); the others hold.
        return await resume(session, {session.continue_thread: STEP})
    return await resume(session, {t: action for t in session.target.threads()})


async def resume(session: "Session", actions: Dict[int, str]) -> Optional[bytes]:
    if all(action == HOLD for action in actions.values()):
        # All-stop: nothing resumes, so the held thread's stop is reported at once (signal 0).
        held = next(iter(actions), session.general_thread)
        return stop_reply(session, Stop(SIGNAL_NONE, held))
    # A step's stop is the resume's result; a continue's comes through the session's on_stop.
    session.waiting = STEP not in actions.values()
    stop = await session.target.resume(actions)
    if stop is None:
        return None
    session.waiting = False
    session.last_stop = stop
    return stop_reply(session, stop)


# --- monitor, detach, kill ---------------------------------------------------------------------
@packet("qRcmd")
async def monitor(session: "Session", args: bytes) -> bytes:
    if not args.startswith(b","):
        raise ProtocolError("qRcmd needs a command")
    try:
        command = hex_bytes(args[1:]).decode()
    except UnicodeDecodeError:
        raise ProtocolError("the command is not UTF-8") from None
    output = (await session.target.monitor(command)).encode()
    step_size = MAX_MEMORY // 2
    for offset in range(0, len(output), step_size):
        session.send(b"O" + output[offset:offset + step_size].hex().encode())
    return b"OK"


@packet("D")
async def detach(session: "Session", args: bytes) -> bytes:
    if args and (not args.startswith(b";") or hex_int(args[1:]) != PID):
        return E_INVALID
    await session.target.detach()
    session.detached = True
    return b"OK"


@packet("k")
async def kill(session: "Session", args: bytes) -> None:
    session.target.kill()
    return None


@packet("vKill")
async def vkill(session: "Session", args: bytes) -> Optional[bytes]:
    if not args.startswith(b";") or hex_int(args[1:]) != PID:
        return E_INVALID
    session.send(b"OK")
    session.target.kill()
    return None
