"""One open socket: a bounded send queue drained by one writer task.

The transport (aiohttp's WebSocketResponse in production) is behind the small `Sink` protocol so
this layer knows nothing of HTTP. The queue is bounded in frames and in bytes; when a client
reads too slowly for the queue to drain, the socket is closed with CloseCode.TOO_SLOW and its
queue dropped at once, so a slow phone never grows the server's memory or delays anyone else.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol

from pufferd.realtime.protocol import CloseCode

log = logging.getLogger("pufferd.realtime")


class Sink(Protocol):
    """Where a connection's frames go."""

    async def send(self, frame: bytes) -> None:
        """Write one text frame; may wait while the peer's window is full."""

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame with CODE and finish the closing handshake."""


class Connection:
    """A socket of one user: frames are pushed synchronously and written by the writer task."""

    __slots__ = ("user_id", "token_issued_at", "expiry", "_sink", "_queue", "_bytes", "_max_frames",
                 "_max_bytes", "_wake", "_writer", "_closer", "closed", "close_code", "__weakref__")

    def __init__(self, user_id: int, sink: Sink, *, max_frames: int, max_bytes: int,
                 token_issued_at: float) -> None:
        self.user_id = user_id
        self.token_issued_at = token_issued_at
        self.expiry: asyncio.TimerHandle | None = None  # closes the socket when the token expires
        self._sink = sink
        self._queue: deque[bytes] = deque()
        self._bytes = 0
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._wake: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self.closed = False
        self.close_code: int | None = None

    def start(self) -> None:
        """Start the writer task (frames pushed before this are written first, in order)."""
        if self._writer is None and not self.closed:
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    def reserve(self, frames: int, nbytes: int) -> None:
        """Raise this socket's bounds by FRAMES and NBYTES: room for a resume replay, which the
        log already bounds, on top of the usual room for live events."""
        self._max_frames += frames
        self._max_bytes += nbytes

    def push(self, frame: bytes) -> None:
        """Queue FRAME; close the socket with TOO_SLOW when the queue overflows."""
        if self.closed:
            return
        self._queue.append(frame)
        self._bytes += len(frame)
        if len(self._queue) > self._max_frames or self._bytes > self._max_bytes:
            log.info("closing a socket of user %s: send queue overflow (%d frames, %d bytes)",
                     self.user_id, len(self._queue), self._bytes)
            self.close(CloseCode.TOO_SLOW, "too slow: reconnect with since=<last seq>")
            return
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def close(self, code: int, reason: str) -> None:
        """Drop the queue and close the socket with CODE (idempotent, returns at once)."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self._queue.clear()
        self._bytes = 0
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        if self._writer is not None:
            self._writer.cancel()
        self._closer = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def wait_closed(self) -> None:
        """Wait until the closing handshake started by close() has finished."""
        if self._closer is not None:
            await asyncio.shield(self._closer)

    def abandon(self) -> None:
        """The peer is gone (the reader saw the socket end): stop writing, keep no references."""
        self.closed = True
        self._queue.clear()
        self._bytes = 0
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        if self._writer is not None:
            self._writer.cancel()

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self._sink.close(code, reason)
        except Exception:  # the peer vanished meanwhile: nothing left to close
            log.debug("closing a socket of user %s failed", self.user_id, exc_info=True)

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        queue = self._queue
        sink = self._sink
        try:
            while True:
                while queue:
                    frame = queue.popleft()
                    self._bytes -= len(frame)
                    await sink.send(frame)
                self._wake = loop.create_future()
                await self._wake
                self._wake = None
        except asyncio.CancelledError:
            raise
        except Exception:  # the transport closed under us; the reader side ends the connection
            log.debug("writing to a socket of user %s failed", self.user_id, exc_info=True)
            self.closed = True
            self._queue.clear()
            self._bytes = 0
