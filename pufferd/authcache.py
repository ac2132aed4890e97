"""A short-lived cache of verified access tokens, so most requests authenticate without a database hop.

An entry maps a token that passed every check of auth.authenticate to the user and claims it
resolved to. It is used only while
- it is younger than `ttl` seconds (settings.auth_cache_seconds; 0 turns the cache off), and
- its user's generation is unchanged: every change this process makes to a user's account state
  (profile, 2FA, e-mail verification, password, sessions, revoke-all) calls `invalidate(user_id)`
  right after the write commits, which refuses all that user's entries at once.
Changes made by another process (`pufferd admin ...`) are seen when the entry ages out, i.e. within
`ttl` seconds. Token expiry is still checked on every use.

A database read that started before an invalidation does not fill the cache (`put` compares the
generation taken before the read), so a stale row can never be cached after a revoke.

Verifications are single-flight (`verify_once`): when an entry ages out under load, the requests
carrying that token share one verification instead of each decoding the token and reading the
database (at a few thousand requests per second, hundreds of them arrive during one read).
Everything here runs on the event loop thread.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pufferd.clock import Clock
from pufferd.db.users_q import User
from pufferd.tokens import Claims

MAX_ENTRIES = 4096


@dataclass(frozen=True, slots=True)
class _Entry:
    user: User
    claims: Claims
    generation: int
    stored_at: float


class AuthCache:
    def __init__(self, ttl: float, clock: Clock, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._entries: dict[str, _Entry] = {}
        self._generations: dict[int, int] = {}
        # token -> (the epoch it started in, the verification); any invalidation starts a new
        # epoch, so a request arriving after a revoke never joins a read made before it
        self._inflight: dict[str, tuple[int, asyncio.Task[tuple[User, Claims]]]] = {}
        self._epoch = 0

    @classmethod
    def disabled(cls) -> AuthCache:
        return cls(0.0, Clock())

    def get(self, token: str) -> tuple[User, Claims] | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if (self._clock.monotonic() - entry.stored_at >= self.ttl
                or entry.generation != self._generations.get(entry.user.id, 0)):
            del self._entries[token]
            return None
        return entry.user, entry.claims

    async def verify_once(self, token: str,
                          verify: Callable[[], Awaitable[tuple[User, Claims]]]) -> tuple[User, Claims]:
        """VERIFY the token, or join the verification of the same token already running.

        The verification runs as its own task: a caller that goes away (client disconnected)
        does not cancel it for the others, and its outcome, a 401 included, is everyone's.
        """
        running = self._inflight.get(token)
        if running is not None and running[0] == self._epoch:
            task = running[1]
        else:
            task = asyncio.ensure_future(verify())
            self._inflight[token] = (self._epoch, task)
            task.add_done_callback(lambda t: self._settled(token, t))
        return await asyncio.shield(task)

    def _settled(self, token: str, task: asyncio.Task[tuple[User, Claims]]) -> None:
        running = self._inflight.get(token)
        if running is not None and running[1] is task:
            del self._inflight[token]
        if not task.cancelled():
            task.exception()  # retrieved here too, so nobody left waiting is not an error

    def generation(self, user_id: int) -> int:
        """Take this before reading the user; hand it to `put` afterwards."""
        return self._generations.get(user_id, 0)

    def put(self, token: str, user: User, claims: Claims, generation: int) -> None:
        if self.ttl <= 0 or generation != self._generations.get(user.id, 0):
            return
        if len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))  # the oldest entry
        self._entries[token] = _Entry(user, claims, generation, self._clock.monotonic())

    def invalidate(self, user_id: int) -> None:
        """The user's account state changed: none of their cached tokens may be used again."""
        self._generations[user_id] = self._generations.get(user_id, 0) + 1
        self._epoch += 1
