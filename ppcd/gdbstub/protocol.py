"""The packet layer of gdb's remote serial protocol: framing, checksums, acks, escaping, RLE.

It knows nothing of POWER or of what packets mean (gdb's manual, "Overview" and "Binary
Data"): a packet is `$payload#cc` with cc the modulo-256 sum of the payload in two hex digits;
`}` escapes `#$}*` (the byte XOR 0x20); `X*n` repeats X n-29 more times; a 0x03 byte outside a
packet is an interrupt request. Until QStartNoAckMode, every packet is acknowledged with `+`,
or refused with `-` when its checksum is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional, Union

INTERRUPT = 0x03
ESCAPE = 0x7D
ESCAPED = b"#$}*"
# Bytes a run length may not be encoded as: `#`, `$` and what is not printable.
_BAD_COUNTS = {ord("#") - 29, ord("$") - 29}
MAX_RUN = 126 - 29


class ProtocolError(Exception):
    """Malformed packet content: the handler answers with an E reply."""


@dataclass(frozen=True)
class Packet:
    payload: bytes


@dataclass(frozen=True)
class BadPacket:
    """A packet whose checksum did not match, or that was longer than the stub accepts."""

    reason: str


@dataclass(frozen=True)
class Interrupt:
    pass


@dataclass(frozen=True)
class Ack:
    positive: bool


Event = Union[Packet, BadPacket, Interrupt, Ack]


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def escape(data: bytes) -> bytes:
    """Binary data for a reply (qXfer): `#$}*` escaped."""
    out = bytearray()
    for byte in data:
        if byte in ESCAPED:
            out += bytes((ESCAPE, byte ^ 0x20))
        else:
            out.append(byte)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    """Binary data of a packet (X): `}x` is x XOR 0x20."""
    out = bytearray()
    it = iter(data)
    for byte in it:
        if byte == ESCAPE:
            following = next(it, None)
            if following is None:
                raise ProtocolError("binary data ends in an escape")
            out.append(following ^ 0x20)
        else:
            out.append(byte)
    return bytes(out)


def run_length_encode(data: bytes) -> bytes:
    """Runs of more than three equal bytes as `X*n` (gdb decodes this in every reply)."""
    out = bytearray()
    i = 0
    while i < len(data):
        byte = data[i]
        run = 1
        while i + run < len(data) and data[i + run] == byte and run <= MAX_RUN:
            run += 1
        repeats = run - 1
        if repeats in _BAD_COUNTS:
            repeats = min(_BAD_COUNTS) - 1
        out.append(byte)
        if repeats >= 3 and byte not in ESCAPED:
            out += bytes((ord("*"), repeats + 29))
            i += repeats + 1
        else:
            i += 1
    return bytes(out)


def run_length_decode(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i] == ord("*"):
            if not out or i + 1 >= len(data):
                raise ProtocolError("run-length encoding without a byte or a count")
            out += out[-1:] * (data[i + 1] - 29)
            i += 2
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def frame(payload: bytes) -> bytes:
    """A reply packet, run-length encoded."""
    body = run_length_encode(payload)
    return b"$" + body + b"#%02x" % checksum(body)


class PacketReader:
    """Splits the client's byte stream into packets, acks and interrupts."""

    def __init__(self, max_payload: int) -> None:
        self.max_payload = max_payload
        self._in_packet = False
        self._body = bytearray()
        self._sum = 0
        self._overflow = False
        self._trailer = bytearray()
        self._in_trailer = False

    def feed(self, data: bytes) -> Iterator[Event]:
        for byte in data:
            event = self._byte(byte)
            if event is not None:
                yield event

    def _byte(self, byte: int) -> Optional[Event]:
        if self._in_trailer:
            self._trailer.append(byte)
            if len(self._trailer) < 2:
                return None
            return self._finish()
        if self._in_packet:
            if byte == ord("#"):
                self._in_trailer = True
                return None
            if byte == ord("$"):
                # A new start inside a packet: gdb gave up on the old one (remote.c does this).
                self._start()
                return None
            self._sum += byte
            if len(self._body) < self.max_payload:
                self._body.append(byte)
            else:
                self._overflow = True
            return None
        if byte == ord("$"):
            self._start()
        elif byte == INTERRUPT:
            return Interrupt()
        elif byte in b"+-":
            return Ack(byte == ord("+"))
        return None     # noise between packets is ignored, as QEMU does

    def _start(self) -> None:
        self._in_packet = True
        self._in_trailer = False
        self._body = bytearray()
        self._trailer = bytearray()
        self._sum = 0
        self._overflow = False

    def _finish(self) -> Event:
        self._in_packet = self._in_trailer = False
        try:
            expected = int(self._trailer.decode("ascii"), 16)
        except (UnicodeDecodeError, ValueError):
            return BadPacket("bad checksum digits")
        if expected != self._sum & 0xFF:
            return BadPacket("checksum mismatch")
        if self._overflow:
            return BadPacket("packet too long")
        try:
            return Packet(run_length_decode(bytes(self._body)))
        except ProtocolError as e:
            return BadPacket(str(e))


# --- hex and numbers, as the packets spell them ----------------------------------------------
def hex_int(text: bytes) -> int:
    """An unsigned hex number; ProtocolError when it is not one."""
    if not text or len(text) > 32 or any(c not in b"0123456789abcdefABCDEF" for c in text):
        raise ProtocolError(f"not a hex number: {text[:40]!r}")
    return int(text, 16)


def hex_bytes(text: bytes) -> bytes:
    try:
        return bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("not hex data") from None


def split_fields(text: bytes, separator: bytes, count: int) -> List[bytes]:
    parts = text.split(separator, count - 1)
    if len(parts) != count:
        raise ProtocolError(f"expected {count} fields")
    return parts
