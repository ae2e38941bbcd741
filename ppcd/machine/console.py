"""The guest console (the hvterm vty at 0x71000000) as the worker sees it: bytes out, bytes in.

Output goes to a pipe that the control process empties into the --serial backend (ppcd/chardev);
input, when the backend has any, comes from another pipe. Neither ever blocks the vCPU: input is
read without waiting, and output that does not fit in the pipe is dropped and counted.
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
        if out_fd is not None:
            os.set_blocking(out_fd, False)
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
                # The pipe is full: the guest does not wait for the control process.
                self.dropped += len(data)
                return
            except OSError:
                # The reader went away (a closed pipe): the guest keeps running, output is dropped.
                self.out_fd = None
                self.dropped += len(data)
                return
            data = data[written:]

    def fill(self) -> None:
        """Take whatever input has arrived into `pending`, without waiting."""
        if self.in_fd is None:
            return
        try:
            chunk = os.read(self.in_fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        if not chunk:
            # End of input: nothing will ever arrive, so an idle guest must not wait on it
            # (a readable end-of-file would wake it again and again).
            self.in_fd = None
        self.pending += chunk

    def read(self, limit: int) -> bytes:
        """Up to `limit` bytes of guest input that have already arrived."""
        if len(self.pending) < limit:
            self.fill()
        data, self.pending = self.pending[:limit], self.pending[limit:]
        return data

    def wait_for_input(self) -> bool:
        """Block until guest input arrives (an idle guest waits for its console).

        Returns False when there is no input source (left): the guest can never wake.
        """
        while not self.pending:
            if self.in_fd is None:
                return False
            select.select([self.in_fd], [], [])
            self.fill()
        return True
