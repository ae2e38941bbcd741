"""Outbox: the bounded, ordered send side of one client connection.

Messages are queued without waiting and written in order by a writer task in the session's
nursery. A client that lets the queue fill up (it does not read) or whose stream breaks has its
session cancelled; the stream is closed, shielded, when the writer ends.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import trio


def _as_is(data: bytes) -> bytes:
    return data


class Outbox:
    """Pending messages of one connection, `encode`d to bytes as the writer sends them."""

    def __init__(self, stream: trio.abc.Stream, size: int,
                 encode: Callable[[Any], bytes] = _as_is) -> None:
        self.stream = stream
        self._encode = encode
        self._send, self._receive = trio.open_memory_channel(size)
        self._unsent = 0
        self._idle = trio.Event()
        self._idle.set()
        self._cancel: Optional[trio.CancelScope] = None

    def start(self, nursery: trio.Nursery) -> None:
        """Run the writer in the session's nursery, which is cancelled if the client fails."""
        self._cancel = nursery.cancel_scope
        nursery.start_soon(self._writer)

    def send(self, message: Any) -> None:
        """Queue a message; a client that lets the queue fill up is dropped."""
        try:
            self._send.send_nowait(message)
        except trio.WouldBlock:
            if self._cancel is not None:
                self._cancel.cancel()
            return
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return
        self._unsent += 1
        if self._idle.is_set():
            self._idle = trio.Event()

    def close(self) -> None:
        """Nothing more will be queued: the writer ends once the queue is empty."""
        self._send.close()

    async def flushed(self) -> None:
        """Wait until everything queued so far is written (or the connection has ended)."""
        await self._idle.wait()

    async def _writer(self) -> None:
        try:
            async for message in self._receive:
                await self.stream.send_all(self._encode(message))
                self._unsent -= 1
                if self._unsent == 0:
                    self._idle.set()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            assert self._cancel is not None
            self._cancel.cancel()
        finally:
            self._idle.set()
            with trio.CancelScope(shield=True):
                await self.stream.aclose()
