"""Messages for a person or for journald: one line each, with a syslog level under systemd.

When stderr is connected to the journal ($JOURNAL_STREAM names it, sd_journal_stream_fd(3)),
each line starts with a "<N>" level prefix that journald turns into the entry's priority, and
no timestamp (the journal has its own). Elsewhere lines are plain "ppcd: message".
"""

from __future__ import annotations

import io
import os
import sys
from typing import TextIO

ERR = 3
WARNING = 4
NOTICE = 5
INFO = 6


def stderr_is_journal() -> bool:
    """True when stderr is the stream systemd connected to journald."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = expected.partition(":")
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return device.isdigit() and inode.isdigit() and (st.st_dev, st.st_ino) == (
        int(device), int(inode))


class LevelPrefixed(io.TextIOBase):
    """A text stream that starts every line without a "<N>" prefix with a default level."""

    def __init__(self, stream: TextIO, level: int = ERR) -> None:
        self.stream = stream
        self.prefix = f"<{level}>"
        self.at_line_start = True

    def write(self, text: str) -> int:
        out = []
        for line in text.splitlines(keepends=True):
            if self.at_line_start and not (len(line) > 2 and line[0] == "<"
                                           and line[1].isdigit() and line[2] == ">"):
                out.append(self.prefix)
            out.append(line)
            self.at_line_start = line.endswith("\n")
        self.stream.write("".join(out))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()


def install() -> None:
    """Prefix stderr's lines for journald when it is the journal (errors unless marked)."""
    if stderr_is_journal() and not isinstance(sys.stderr, LevelPrefixed):
        sys.stderr = LevelPrefixed(sys.stderr)


def report(message: str, level: int = ERR) -> None:
    """One line for the person (or the journal at `level`): "ppcd: message"."""
    prefix = f"<{level}>" if isinstance(sys.stderr, LevelPrefixed) else ""
    sys.stderr.write(f"{prefix}ppcd: {message}\n")
    sys.stderr.flush()
