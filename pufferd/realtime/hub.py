"""The hub: every open socket, per-user resume logs, fan-out of bus events, presence transitions.

Everything here runs on the event loop and, except shutdown(), synchronously: the bus subscriber
only numbers, logs and queues frames; they are written once per loop turn by flush(). Because
attach() (replay + registration) and on_event() (log + queue) never yield to the loop, a resuming
client receives every missed event exactly once and in order, followed by the live stream.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pufferd.realtime import protocol
from pufferd.realtime.bus import Event
from pufferd.realtime.connection import Connection, Parts, Sink
from pufferd.realtime.log import UserLog
from pufferd.realtime.protocol import CloseCode
from pufferd.realtime.voice import VoiceRooms

if TYPE_CHECKING:
    from pufferd.context import Context

log = logging.getLogger("pufferd.realtime")

# called with (user_id, is_online, wall time of the change) when a user's presence changes
PresenceListener = Callable[[int, bool, float], Awaitable[None]]
# called with {user_id: wall time last seen} for the users still online when the server stops
LastSeenWriter = Callable[[dict[int, float]], Awaitable[None]]

SHUTDOWN_CLOSE_TIMEOUT = 5.0  # seconds the closing handshakes may take before the runner drains


class Hub:
    """All sockets of this process; subscribe on_event to the bus."""

    def __init__(self, ctx: Context, *, on_presence: PresenceListener,
                 on_last_seen: LastSeenWriter) -> None:
        self._ctx = ctx
        self._settings = ctx.settings
        self._clock = ctx.clock
        self._presence = ctx.presence
        self._on_presence = on_presence
        self._on_last_seen = on_last_seen
        self._conns: dict[int, set[Connection]] = {}
        self._logs: dict[int, UserLog] = {}
        self._revoked: dict[int, float] = {}  # user id -> wall time all their sessions were revoked
        self._revoked_sessions: dict[str, float] = {}  # one revoked session -> wall time of revocation
        self._grace: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._closing = False
        self._dirty: list[Connection] = []  # connections with frames to write this loop turn
        self._flush_handle: asyncio.Handle | None = None
        self.delivered = 0  # frames queued for live events, read by benchmarks and tests
        self.voice = VoiceRooms()  # voice rooms and calls (pufferd/voice.py holds their rules)

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Subscribe to the bus and start the periodic sweep of idle logs."""
        if self._unsubscribe is None:
            self._unsubscribe = self._ctx.bus.subscribe(self.on_event)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def shutdown(self) -> None:
        """Close every socket with 1001 and record last_seen_at for everyone who was online."""
        self._closing = True
        now = self._clock.time()
        online = {uid: (now if at is None else at) for uid, at in self._presence.everyone().items()}
        conns = [c for group in self._conns.values() for c in group]
        for conn in conns:
            conn.close(CloseCode.GOING_AWAY, "server shutting down")
        if conns:
            await asyncio.wait([asyncio.ensure_future(c.wait_closed()) for c in conns],
                               timeout=SHUTDOWN_CLOSE_TIMEOUT)
        for handle in self._grace.values():
            handle.cancel()
        self._grace.clear()
        await self.stop()
        if online:
            try:
                await self._on_last_seen(online)
            except Exception:
                log.exception("recording last_seen_at at shutdown failed")

    async def stop(self) -> None:
        """Unsubscribe and cancel background work (idempotent)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks = [t for t in (self._sweeper, *self._tasks) if t is not None]
        self._sweeper = None
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # sockets ---------------------------------------------------------------------------------
    def sockets_of(self, user_id: int) -> int:
        return len(self._conns.get(user_id, ()))

    def attach(self, user_id: int, sink: Sink, *, since: int | None, token_issued_at: float,
               token_expires_at: float, session: str | None = None) -> Connection:
        """Register a new socket: send `ready`, then the replay since SINCE (or resync_required).

        SESSION is the sign-in session of the access token (revoking it closes the socket).
        The returned connection may already be closing (server stopping, sessions revoked
        meanwhile, too many sockets); the caller reads until the socket ends either way.
        """
        s = self._settings
        conn = Connection(user_id, sink, max_bytes=s.ws_send_queue_bytes, token_issued_at=token_issued_at,
                          session=session)
        if self._closing:
            conn.close(CloseCode.GOING_AWAY, "server shutting down")
            return conn
        if token_issued_at < self._revoked.get(user_id, float("-inf")) or self._session_revoked(session):
            conn.close(CloseCode.REVOKED, "sessions revoked")
            return conn
        group = self._conns.setdefault(user_id, set())
        if len(group) >= s.ws_max_sockets_per_user:
            conn.close(CloseCode.POLICY, "too many sockets for this user")
            return conn
        ulog = self._log_of(user_id)
        ulog.idle_since = None
        ulog.prune(self._clock.monotonic())
        self._push(conn, (protocol.control("ready", {
            "user_id": user_id, "seq": ulog.last_seq, "heartbeat_seconds": s.ws_heartbeat_seconds,
            "max_frame_bytes": s.ws_max_frame_bytes}),))
        if since is not None:
            self._replay(conn, ulog, since)
        group.add(conn)
        self._schedule_expiry(conn, token_expires_at)
        if self._presence.connected(user_id):
            self.spawn(self._on_presence(user_id, True, self._clock.time()))
        self._cancel_grace(user_id)
        return conn

    def detach(self, conn: Connection) -> None:
        """The socket ended (either side closed it): forget it; start the presence grace period."""
        conn.abandon()
        group = self._conns.get(conn.user_id)
        if group is None or conn not in group:
            return
        group.discard(conn)
        user_id = conn.user_id
        if not group:
            del self._conns[user_id]
            ulog = self._logs.get(user_id)
            if ulog is not None:
                ulog.idle_since = self._clock.monotonic()
        if self._presence.disconnected(user_id) and not self._closing:
            self._presence.linger(user_id, self._clock.time())
            self._cancel_grace(user_id)
            loop = asyncio.get_running_loop()
            self._grace[user_id] = loop.call_later(self._settings.presence_grace_seconds,
                                                   self._grace_over, user_id)

    def reauthenticated(self, conn: Connection, *, issued_at: float, expires_at: float,
                        session: str | None = None) -> None:
        """The client sent a fresh access token in-band: move the socket's expiry; the socket
        now belongs to that token's session."""
        if self._session_revoked(session):
            conn.close(CloseCode.REVOKED, "session revoked")
            return
        conn.token_issued_at = issued_at
        conn.session = session
        self._schedule_expiry(conn, expires_at)

    def revoke_user(self, user_id: int, at: float | None = None, session: str | None = None) -> None:
        """The hook of ctx.hooks.sessions_revoked, two cases, both closing with 4001:
        - SESSION None ("all sessions revoked"): the user's sockets authenticated by a token issued
          before AT (None: now); such tokens are refused from now on;
        - SESSION given (one session signed out, or revoked by refresh-token reuse detection): the
          user's sockets of that session; the session is refused from now on.
        Events published to the user before the revoke (`account_banned`) are written before the
        close frame."""
        now = self._clock.time()
        if session is not None:
            self._revoked_sessions[session] = now
            for conn in list(self._conns.get(user_id, ())):
                if conn.session == session:
                    conn.flush()
                    conn.close(CloseCode.REVOKED, "session revoked")
            return
        cutoff = now if at is None else at
        self._revoked[user_id] = max(self._revoked.get(user_id, cutoff), cutoff)
        for conn in list(self._conns.get(user_id, ())):
            if conn.token_issued_at < cutoff:
                conn.flush()
                conn.close(CloseCode.REVOKED, "sessions revoked")

    def _session_revoked(self, session: str | None) -> bool:
        return session is not None and session in self._revoked_sessions

    def send_to(self, conn: Connection, frame: bytes) -> None:
        """A direct answer to one socket (pong, error, auth_ok): no seq, never logged."""
        self._push(conn, (frame,))

    def flush(self) -> None:
        """Write every frame queued during this loop turn (scheduled by _push)."""
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()

    # events ----------------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Bus subscriber: number the event per user, log it, enqueue it. Never blocks."""
        # the hot path of every fan-out: per recipient, one log append and one list append per socket
        prefix = b""
        entry: tuple[float, bytes] | None = None
        logs = self._logs
        conns_of = self._conns
        dirty = self._dirty
        delivered = 0
        for user_id in event.user_ids:
            ulog = logs.get(user_id)
            if ulog is None:
                continue  # neither connected nor recently: the client refetches over HTTP anyway
            if entry is None:
                prefix = protocol.event_prefix(event.type, event.data)
                entry = (self._clock.monotonic(), prefix)
            seq = ulog.append(entry)
            conns = conns_of.get(user_id)
            if conns:
                parts = (prefix, b"%d}" % seq)
                for conn in conns:
                    if not conn.closed:
                        pending = conn.pending
                        if not pending:
                            dirty.append(conn)
                        pending.append(parts)
                        delivered += 1
        if delivered:
            self.delivered += delivered
            if self._flush_handle is None:
                self._flush_handle = asyncio.get_running_loop().call_soon(self.flush)

    # internals -------------------------------------------------------------------------------
    def _push(self, conn: Connection, parts: Parts) -> None:
        """Queue one frame on CONN for this loop turn's flush."""
        if conn.closed:
            return
        if not conn.pending:
            self._dirty.append(conn)
        conn.pending.append(parts)
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self.flush)

    def _log_of(self, user_id: int) -> UserLog:
        ulog = self._logs.get(user_id)
        if ulog is None:
            s = self._settings
            ulog = self._logs[user_id] = UserLog(int(self._clock.time() * 1_000_000),
                                                 s.ws_resume_events, s.ws_resume_seconds)
        return ulog

    def _replay(self, conn: Connection, ulog: UserLog, since: int) -> None:
        if since == ulog.last_seq:
            return
        if not ulog.covers(since):
            self._push(conn, (protocol.control("resync_required", {"seq": ulog.last_seq}),))
            return
        frames = [(prefix, b"%d}" % seq) for seq, prefix in ulog.after(since)]
        conn.reserve(sum(len(p) + len(s) for p, s in frames))
        for parts in frames:
            self._push(conn, parts)

    def _schedule_expiry(self, conn: Connection, expires_at: float) -> None:
        if conn.expiry is not None:
            conn.expiry.cancel()
        delay = max(0.0, expires_at - self._clock.time())
        conn.expiry = asyncio.get_running_loop().call_later(
            delay, conn.close, CloseCode.TOKEN_EXPIRED, "access token expired")

    def _cancel_grace(self, user_id: int) -> None:
        handle = self._grace.pop(user_id, None)
        if handle is not None:
            handle.cancel()

    def _grace_over(self, user_id: int) -> None:
        self._grace.pop(user_id, None)
        went_offline_at = self._presence.settle(user_id)
        if went_offline_at is not None:
            self.spawn(self._on_presence(user_id, False, went_offline_at))

    def spawn(self, coro: Awaitable[None]) -> asyncio.Task[None]:
        """Run CORO in the background; its failure is logged; stop() cancels it."""
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    async def _guard(coro: Awaitable[None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("realtime background work failed")

    def sweep(self) -> None:
        """Drop the logs of users idle longer than the resume window; prune old entries."""
        now_m = self._clock.monotonic()
        window = self._settings.ws_resume_seconds
        for user_id in [u for u, lg in self._logs.items()
                        if lg.idle_since is not None and now_m - lg.idle_since > window]:
            del self._logs[user_id]
        for ulog in self._logs.values():
            ulog.prune(now_m)
        # an access token older than its lifetime is refused anyway: forget old revocations
        horizon = self._clock.time() - self._settings.access_token_ttl_seconds
        for user_id in [u for u, t in self._revoked.items() if t < horizon]:
            del self._revoked[user_id]
        for session in [k for k, t in self._revoked_sessions.items() if t < horizon]:
            del self._revoked_sessions[session]

    async def _sweep_forever(self) -> None:
        interval = max(1.0, min(30.0, self._settings.ws_resume_seconds / 4))
        while True:
            await asyncio.sleep(interval)
            self.sweep()

    # introspection for tests and benchmarks ------------------------------------------------
    def log_of(self, user_id: int) -> UserLog | None:
        return self._logs.get(user_id)

    def connections(self) -> int:
        return sum(len(g) for g in self._conns.values())
