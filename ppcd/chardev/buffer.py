"""A bounded output buffer that drops instead of waiting: the guest never waits for a reader."""

from __future__ import annotations

from collections import deque
from typing import Deque

import trio


class OutputBuffer:
    """Bytes on their way to a backend. Past `capacity` the oldest bytes are dropped and
    counted, so a reader that comes late or falls behind gets the newest output."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.dropped = 0            # bytes nobody took
        self.written = 0            # bytes the backend took
        self._chunks: Deque[bytes] = deque()
        self._size = 0
        self._in_flight = 0         # the front bytes a backend is writing: never dropped
        self._changed = trio.Event()

    def __len__(self) -> int:
        return self._size

    def put(self, data: bytes) -> None:
        if not data:
            return
        self._chunks.append(data)
        self._size += len(data)
        pinned = self._chunks.popleft() if self._in_flight else b""
        while self._size > self.capacity and self._chunks:
            excess = self._size - self.capacity
            oldest = self._chunks[0]
            if len(oldest) <= excess:
                self._chunks.popleft()
                self._size -= len(oldest)
                self.dropped += len(oldest)
            else:
                self._chunks[0] = oldest[excess:]
                self._size -= excess
                self.dropped += excess
        if pinned:
            self._chunks.appendleft(pinned)
        self._wake()

    async def peek(self, limit: int = 1 << 16) -> bytes:
        """Wait for output and return up to `limit` bytes of it, still buffered until the
        backend calls consume() or drop(); put() will not drop them meanwhile."""
        while not self._size:
            await self._changed.wait()
        if len(self._chunks[0]) < limit and len(self._chunks) > 1:
            # Coalesce small pieces into one write to the backend.
            parts, total = [], 0
            while self._chunks and total < limit:
                parts.append(self._chunks.popleft())
                total += len(parts[-1])
            self._chunks.appendleft(b"".join(parts))
        front = self._chunks[0]
        if len(front) > limit:
            self._chunks[0] = front[limit:]
            self._chunks.appendleft(front[:limit])
        self._in_flight = len(self._chunks[0])
        return self._chunks[0]

    def consume(self, count: int) -> None:
        """The backend took `count` bytes from the front."""
        self._take(count)
        self.written += count

    def drop(self, count: int) -> None:
        """The backend could not take `count` bytes from the front (its reader is gone)."""
        self._take(count)
        self.dropped += count

    def _take(self, count: int) -> None:
        self._in_flight = 0
        while count:
            first = self._chunks[0]
            if len(first) <= count:
                self._chunks.popleft()
                count -= len(first)
                self._size -= len(first)
            else:
                self._chunks[0] = first[count:]
                self._size -= count
                count = 0
        self._wake()

    async def drained(self) -> None:
        """Wait until the backend has taken (or dropped) everything."""
        while self._size:
            await self._changed.wait()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
