"""The control process's end of the guest console: the worker's pipes, the output buffer and
the backend, and the numbers people see in x-query-console."""

from __future__ import annotations

import fcntl
import os
from typing import Any, Dict, Optional

import trio

from .backends import Backend, NoReader, ReaderGone, make_backend
from .buffer import OutputBuffer
from .spec import parse_chardev

# Room in the worker's output pipe: the worker drops what does not fit rather than wait, so
# give it enough for the control process to be busy for a while (Linux's unprivileged limit).
PIPE_SIZE = 1 << 20
READ_SIZE = 1 << 16


def _pipe() -> "tuple[int, int]":
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    try:
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass    # a lower /proc/sys/fs/pipe-max-size: the default 64 KiB still works
    return read_end, write_end


class ConsoleLink:
    """Moves console bytes between the vCPU worker's pipes and a backend.

    The worker's ends stay open here for as long as ppcd runs, so a worker started again
    after a reset writes to the same pipes and no byte in them is lost.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.output = OutputBuffer(backend.buffer_size)
        self.worker_dropped = 0         # bytes the worker could not put in its pipe
        self.bytes_in = 0
        self._out_read, self.worker_out_fd = _pipe()
        os.set_blocking(self._out_read, False)
        self.worker_in_fd: Optional[int] = None
        self._in_write: Optional[int] = None
        if backend.has_input:
            self.worker_in_fd, self._in_write = _pipe()
        self._reader_gone = False

    @property
    def dropped(self) -> int:
        return self.output.dropped + self.worker_dropped

    def info(self) -> Dict[str, Any]:
        """x-query-console: where the console goes and what it has carried."""
        return {"backend": str(self.backend.spec), "filename": self.backend.filename,
                "bytes-out": self.output.written, "bytes-in": self.bytes_in,
                "buffered": len(self.output), "dropped": self.dropped}

    async def run(self) -> None:
        """For the machine's life: output from the worker, the backend's input, the writer."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._from_worker)
            nursery.start_soon(self._to_backend)
            nursery.start_soon(self.backend.serve, self)

    async def send_input(self, data: bytes) -> None:
        """Bytes the person typed, for H_GET_TERM_CHAR (waits while the guest does not read)."""
        assert self._in_write is not None
        view = memoryview(data)
        while view:
            await trio.lowlevel.wait_writable(self._in_write)
            try:
                written = os.write(self._in_write, view)
            except BlockingIOError:
                continue
            view = view[written:]
            self.bytes_in += written

    async def _from_worker(self) -> None:
        while True:
            await trio.lowlevel.wait_readable(self._out_read)
            self._read_pipe()

    def _read_pipe(self) -> None:
        while True:
            try:
                data = os.read(self._out_read, READ_SIZE)
            except BlockingIOError:
                return
            if not data:
                return
            self.output.put(data)

    async def _to_backend(self) -> None:
        while True:
            data = await self.output.peek()
            if not await self._write(data):
                await self.backend.reader_ready.wait()

    async def _write(self, data: bytes) -> bool:
        """Hand `data` to the backend; False when nobody reads now (the data stays)."""
        if self._reader_gone:
            self.output.drop(len(data))
            return True
        try:
            self.output.consume(await self.backend.write(data))
        except NoReader:
            return False
        except ReaderGone:
            self._reader_gone = True
            self.output.drop(len(data))
        return True

    async def finish(self, timeout: float) -> None:
        """After the worker has exited: its last output, written out within `timeout`."""
        with trio.CancelScope(shield=True):
            self._read_pipe()
            with trio.move_on_after(timeout):
                while len(self.output) and await self._write(await self.output.peek()):
                    pass
            self.output.drop(len(self.output))

    def close(self) -> None:
        self.backend.close()
        for fd in (self._out_read, self.worker_out_fd, self.worker_in_fd, self._in_write):
            if fd is not None:
                os.close(fd)


async def open_console(spec_text: str) -> ConsoleLink:
    """The backend of --serial SPEC opened (ChardevError if it cannot be) and linked."""
    backend = make_backend(parse_chardev(spec_text))
    await backend.open()
    return ConsoleLink(backend)
