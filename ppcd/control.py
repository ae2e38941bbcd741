"""The control channel between the control process and the vCPU worker (DESIGN.md).

Both processes import this module, so it uses only the standard library and runs on Python 3.9
(the worker may be PyPy); the control process wraps its end of the socket in trio.

Wire format: each message is a 4-byte big-endian length and that many bytes of UTF-8 JSON.
- request (control -> worker): {"id": N, "op": NAME, "args": {...}}
- reply   (worker -> control): {"id": N, "return": VALUE} or {"id": N, "error": TEXT}
- event   (worker -> control): {"event": NAME, "data": {...}}

The control process sets the shared attention flag after it has sent a request; a running
worker polls the flag between execution slices (never per instruction), so a request costs the
running guest nothing until one is sent.
"""

from __future__ import annotations

import json
import mmap
import os
import select
import socket
import struct
from typing import Any, Dict, List, Optional

_LENGTH = struct.Struct(">I")
# Bigger than any register set or state blob the channel carries; a longer frame is a bug.
MAX_FRAME = 64 << 20

# Requests. New features add names here and a handler in the worker.
OP_CONT = "cont"                    # run the vCPU until stopped
OP_STOP = "stop"                    # replies once the vCPU is at an instruction boundary
OP_STEP = "step"                    # {"count": N}: execute N instructions, stopped afterwards
OP_GET_REGISTERS = "get-registers"  # -> {name: int or list of ints}
OP_SET_REGISTERS = "set-registers"  # {"registers": {name: value}}: change some registers
OP_RESET = "reset"                  # fresh vCPU in the entry state (RAM is the control's job)
OP_QUIT = "quit"                    # the worker exits with status 0 after replying
# Migration (ppcd/migration): the state of a stopped vCPU and machine as plain values
# (ppcd/migration/snapshot.py), and throttling the running vCPU.
OP_SAVE_STATE = "save-state"        # -> {"cpus": [...], "rtc_offset": x, "console_pending": hex}
OP_LOAD_STATE = "load-state"        # {"state": the same}: a fresh machine in that state
OP_THROTTLE = "throttle"            # {"percent": P}: sleep P% of the time the vCPU runs
# QMP replay-break: stop (EV_BREAK) when the guest has retired "icount" instructions in all
# (the count migrates with the guest); null removes it. -> {"past": bool}: already beyond it.
OP_BREAK_AT = "break-at"            # {"icount": N or None}
OP_CLOCK = "clock"                  # -> {"icount": the machine's time, the furthest vCPU clock}
# The debugger (ppcd/gdbstub, ppcd/machine/debug.py). Kinds: "sw", "hw" (breakpoints at
# "address"), "write", "read", "access" (watchpoints on "length" bytes at "address").
OP_INSERT_BREAKPOINT = "insert-breakpoint"  # {"kind", "address", "length"}
OP_REMOVE_BREAKPOINT = "remove-breakpoint"  # the same -> {"removed": bool}
OP_CLEAR_BREAKPOINTS = "clear-breakpoints"  # remove every breakpoint and watchpoint
OP_DEBUG_STEP = "debug-step"        # execute one instruction -> the stop, as EV_DEBUG_STOP's data
OP_INVALIDATE = "invalidate"        # {"address", "length"}: RAM changed from outside the vCPU

# Events (unsolicited, worker -> control). The vCPU is stopped when each of them is sent,
# except EV_CONSOLE_DROPPED.
EV_SHUTDOWN = "shutdown"            # the guest powered off through RTAS
EV_RESET_REQUEST = "reset-request"  # the guest asked for a reboot through RTAS
EV_LIMIT = "limit"                  # --max-instructions ran out; {"reason": TEXT}
EV_STUCK = "stuck"                  # idle with nothing that could wake it; {"reason": TEXT}
EV_ERROR = "error"                  # the engine failed (an emulator bug); {"reason": TEXT}
EV_DEBUG_STOP = "debug-stop"        # a breakpoint or watchpoint: {"reason", "address"?}
EV_BREAK = "break"                  # OP_BREAK_AT's count reached: {"icount": N}
# Sent while the vCPU keeps running: console output the worker's full pipe could not take.
EV_CONSOLE_DROPPED = "console-dropped"  # {"bytes": N more bytes dropped}


class ChannelError(Exception):
    """The peer broke the protocol or went away."""


def encode(message: Dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    if len(body) > MAX_FRAME:
        raise ChannelError(f"control message of {len(body)} bytes is too large")
    return _LENGTH.pack(len(body)) + body


class FrameDecoder:
    """Splits a byte stream into messages; feed it whatever arrived."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> List[Dict[str, Any]]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if length > MAX_FRAME:
                raise ChannelError(f"control frame of {length} bytes is too large")
            end = _LENGTH.size + length
            if len(self._buffer) < end:
                break
            try:
                message = json.loads(bytes(self._buffer[_LENGTH.size:end]))
            except ValueError as e:
                raise ChannelError(f"bad control message: {e}") from None
            if not isinstance(message, dict):
                raise ChannelError("control message is not an object")
            del self._buffer[:end]
            messages.append(message)
        return messages

    @property
    def partial(self) -> bool:
        """Whether part of a message has arrived and the rest is still on its way."""
        return bool(self._buffer)


class Attention:
    """One shared byte: set by the control process when a request is waiting."""

    def __init__(self, fd: Optional[int] = None) -> None:
        if fd is None:
            fd = os.memfd_create("ppcd-attention", getattr(os, "MFD_CLOEXEC", 1))
            os.ftruncate(fd, mmap.PAGESIZE)
        self.fd = fd
        self._map = mmap.mmap(fd, mmap.PAGESIZE)

    def set(self) -> None:
        self._map[0] = 1

    def clear(self) -> None:
        self._map[0] = 0

    def is_set(self) -> bool:
        return self._map[0] != 0

    def close(self) -> None:
        self._map.close()
        os.close(self.fd)


class BlockingChannel:
    """The worker's end: blocking reads when stopped, a non-blocking drain when running."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._decoder = FrameDecoder()

    def send(self, message: Dict[str, Any]) -> None:
        self.sock.sendall(encode(message))

    def _read(self) -> List[Dict[str, Any]]:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ChannelError("the control process closed the channel")
        return self._decoder.feed(data)

    def receive(self) -> List[Dict[str, Any]]:
        """Wait for at least one message."""
        while True:
            messages = self._read()
            if messages:
                return messages

    def ready(self) -> bool:
        return bool(select.select([self.sock], [], [], 0)[0])

    def drain(self) -> List[Dict[str, Any]]:
        """Messages that have arrived, without waiting, except for the rest of a split one."""
        messages: List[Dict[str, Any]] = []
        # The sender finishes a message before setting the flag, so the rest is on its way.
        while self._decoder.partial or self.ready():
            messages += self._read()
        return messages
