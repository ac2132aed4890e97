"""One open socket: frames are written straight into its transport, and its buffer is bounded.

There is no writer task per socket. Frames queued during one turn of the event loop are kept in a
short pending list and written together at the end of that turn (Hub.flush), in one call to the
transport, which hands them to the kernel at once when the peer keeps up. What the kernel does not
take stays in the transport's buffer: that buffer *is* the socket's send queue, and it is bounded.
When it holds more than `ws_send_queue_bytes` (checked before and after each write, so it never
exceeds the bound by more than one loop turn's frames) the client is too slow: the socket is closed
with CloseCode.TOO_SLOW and its frames dropped, so a slow phone never grows the server's memory or
delays anyone else. The client resumes with `since`.

The transport (an aiohttp WebSocket in production) is behind the small `Sink` protocol, so this
layer knows nothing of HTTP.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from pufferd.realtime.protocol import CloseCode

log = logging.getLogger("pufferd.realtime")

# A frame's payload as parts, e.g. (shared event prefix, this user's seq suffix): written without
# joining them, so one encoded event is shared by every recipient.
Parts = tuple[bytes, ...]


class Sink(Protocol):
    """Where a connection's frames go."""

    def write(self, frames: list[Parts]) -> None:
        """Write each item as one text frame (its parts concatenated), synchronously."""

    def buffered(self) -> int:
        """Bytes written but not yet taken by the peer."""

    def writable(self) -> bool:
        """False once the socket is closing or closed."""

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame with CODE and finish the closing handshake."""


class Connection:
    """A socket of one user. push() is synchronous; the hub flushes pushed frames once per loop turn."""

    __slots__ = ("user_id", "session", "token_issued_at", "expiry", "pending", "_sink", "_max_bytes", "_allowance",
                 "_closer", "closed", "close_code", "__weakref__")

    def __init__(self, user_id: int, sink: Sink, *, max_bytes: int, token_issued_at: float,
                 session: str | None = None) -> None:
        self.user_id = user_id
        self.session = session  # the sign-in session of the socket's token (its `sid`, else its jti)
        self.token_issued_at = token_issued_at
        self.expiry: asyncio.TimerHandle | None = None  # closes the socket when the token expires
        self.pending: list[Parts] = []  # frames for the next flush; the hub appends to it directly
        self._sink = sink
        self._max_bytes = max_bytes
        self._allowance = max_bytes  # raised for a resume replay until the buffer drains once
        self._closer: asyncio.Task[None] | None = None
        self.closed = False
        self.close_code: int | None = None

    def reserve(self, nbytes: int) -> None:
        """Allow NBYTES more on top of the bound until the buffer next drains below it: room for a
        resume replay, which the log already bounds."""
        self._allowance += nbytes

    def flush(self) -> None:
        """Write the pending frames; close with TOO_SLOW when the socket's buffer is over its bound."""
        if self.closed or not self.pending:
            return
        sink = self._sink
        if not sink.writable():
            self.abandon()
            return
        if sink.buffered() > self._allowance:
            self._too_slow()
            return
        frames, self.pending = self.pending, []
        try:
            sink.write(frames)
        except Exception:  # the transport went away under us; the reader side ends the connection
            log.debug("writing to a socket of user %s failed", self.user_id, exc_info=True)
            self.abandon()
            return
        buffered = sink.buffered()
        if buffered > self._allowance:
            self._too_slow()
        elif buffered <= self._max_bytes:
            self._allowance = self._max_bytes

    def _too_slow(self) -> None:
        log.info("closing a socket of user %s: send buffer over %d bytes", self.user_id, self._allowance)
        self.close(CloseCode.TOO_SLOW, "too slow: reconnect with since=<last seq>")

    def close(self, code: int, reason: str) -> None:
        """Drop pending frames and close the socket with CODE (idempotent, returns at once)."""
        if self.closed:
            return
        self.abandon()
        self.close_code = code
        self._closer = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def wait_closed(self) -> None:
        """Wait until the closing handshake started by close() has finished."""
        if self._closer is not None:
            await asyncio.shield(self._closer)

    def abandon(self) -> None:
        """Stop writing and drop what is pending (the socket ended or is being closed)."""
        self.closed = True
        self.pending = []
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self._sink.close(code, reason)
        except Exception:  # the peer vanished meanwhile: nothing left to close
            log.debug("closing a socket of user %s failed", self.user_id, exc_info=True)
