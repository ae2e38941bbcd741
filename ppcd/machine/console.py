"""The guest console (the hvterm vty at 0x71000000) as the worker sees it: bytes out, bytes in.

Output goes to a file descriptor chosen by the --serial backend; input, when the backend has
any, is read without blocking so H_GET_TERM_CHAR never stalls the vCPU.
"""

from __future__ import annotations

import os
import select
from typing import Optional


class Console:
    def __init__(self, out_fd: Optional[int], in_fd: Optional[int] = None) -> None:
        self.out_fd = out_fd
        self.in_fd = in_fd
        self.pending = b""
        self.dropped = 0           # output bytes nobody could take
        if in_fd is not None:
            os.set_blocking(in_fd, False)

    def write(self, data: bytes) -> None:
        if self.out_fd is None:
            self.dropped += len(data)
            return
        while data:
            try:
                written = os.write(self.out_fd, data)
            except BlockingIOError:
                continue
            except OSError:
                # The reader went away (a closed pipe): the guest keeps running, output is dropped.
                self.out_fd = None
                self.dropped += len(data)
                return
            data = data[written:]

    def read(self, limit: int) -> bytes:
        """Up to `limit` bytes of guest input that have already arrived."""
        if self.in_fd is not None and len(self.pending) < limit:
            try:
                chunk = os.read(self.in_fd, 4096)
            except (BlockingIOError, InterruptedError):
                chunk = b""
            self.pending += chunk
        data, self.pending = self.pending[:limit], self.pending[limit:]
        return data

    def wait_for_input(self) -> bool:
        """Block until guest input arrives (an idle guest waits for its console).

        Returns False when there is no input source at all: the guest can never wake.
        """
        if self.pending:
            return True
        if self.in_fd is None:
            return False
        select.select([self.in_fd], [], [])
        return True
