"""QMP framing: a stream of JSON values in, one JSON object per line out.

Clients may send values back to back with no separator (qemu.qmp does), so input is split the
way QEMU's json-streamer splits it: by bracket depth, outside strings. A value that grows past
MAX_MESSAGE bytes or MAX_DEPTH levels is skipped to its end, never buffered, and answered with
an error; so is anything that is not valid UTF-8 JSON. Replies end with CRLF (qmp-spec 2.1).
"""

from __future__ import annotations

import json
import re
from typing import Any, List, Optional, Union

MAX_MESSAGE = 1 << 20
MAX_DEPTH = 64

_SPACE = re.compile(rb"[ \t\r\n]*")
_STRUCTURE = re.compile(rb'[{}\[\]"]')          # what matters inside an object or array
_IN_STRING = re.compile(rb'["\\]')
_SCALAR_END = re.compile(rb'[ \t\r\n{}\[\]"]')  # a bare number or keyword at the top level


class ParseError:
    """A value that could not be taken; the session answers it with a GenericError."""

    def __init__(self, desc: str) -> None:
        self.desc = desc

    def __repr__(self) -> str:
        return f"ParseError({self.desc!r})"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid keyword '{name}'")


def decode_value(data: bytes) -> Union[Any, ParseError]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ParseError("JSON parse error, invalid UTF-8 sequence in input")
    try:
        # JSON has no NaN or Infinity, whatever Python's json module accepts.
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        reason = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
        return ParseError(f"JSON parse error, {reason}")


class StreamParser:
    """Feed bytes as they arrive; get back the complete values (or ParseErrors) so far."""

    def __init__(self, max_message: int = MAX_MESSAGE, max_depth: int = MAX_DEPTH) -> None:
        self.max_message = max_message
        self.max_depth = max_depth
        self._buf = bytearray()
        self._pos = 0                 # scanned up to here
        self._depth = 0
        self._in_string = False
        self._started = False         # a value has begun at _buf[0]
        self._problem: Optional[str] = None   # the value is being skipped, and why

    def feed(self, data: bytes) -> List[Union[Any, ParseError]]:
        self._buf += data
        values: List[Union[Any, ParseError]] = []
        while True:
            end = self._scan()
            if end is None:
                break
            values.append(self._take(end))
        if self._started and self._problem is None and len(self._buf) > self.max_message:
            self._problem = f"JSON message exceeds {self.max_message} bytes"
        if self._problem is not None:
            # Skipping: keep the scanning state, not the bytes.
            del self._buf[:self._pos]
            self._pos = 0
        return values

    def _take(self, end: int) -> Union[Any, ParseError]:
        data = bytes(self._buf[:end])
        del self._buf[:end]
        self._pos = 0
        self._started = False
        problem, self._problem = self._problem, None
        return ParseError(problem) if problem else decode_value(data)

    def _scan(self) -> Optional[int]:
        """Advance over the buffer; the end offset of a complete value, or None for more."""
        buf = self._buf
        while True:
            if not self._started:
                del buf[:_SPACE.match(buf).end()]
                if not buf:
                    return None
                first = buf[0]
                if first in b"}]":
                    del buf[:1]
                    self._problem = f"JSON parse error, stray '{chr(first)}'"
                    return 0
                self._started = True
                self._pos = 1
                if first in b"{[":
                    self._depth = 1
                elif first == ord('"'):
                    self._in_string = True
                else:
                    self._depth = 0
            if self._in_string:
                m = _IN_STRING.search(buf, self._pos)
                if m is None:
                    self._pos = len(buf)
                    return None
                at = m.start()
                if buf[at] == ord("\\"):
                    if at + 1 >= len(buf):
                        self._pos = at   # wait for the escaped character
                        return None
                    self._pos = at + 2
                    continue
                self._in_string = False
                self._pos = at + 1
                if self._depth == 0:
                    return self._pos
                continue
            if self._depth == 0:
                m = _SCALAR_END.search(buf, self._pos)
                if m is None:
                    self._pos = len(buf)
                    return None
                return m.start()
            m = _STRUCTURE.search(buf, self._pos)
            if m is None:
                self._pos = len(buf)
                return None
            at = m.start()
            self._pos = at + 1
            char = buf[at]
            if char == ord('"'):
                self._in_string = True
            elif char in b"{[":
                self._depth += 1
                if self._depth > self.max_depth and self._problem is None:
                    self._problem = f"JSON nesting depth limit of {self.max_depth} exceeded"
            else:
                self._depth -= 1
                if self._depth == 0:
                    return self._pos


def encode(message: Any) -> bytes:
    """One reply or event on the wire."""
    return json.dumps(message).encode() + b"\r\n"
