"""Who is online: counted from open WebSocket connections (the realtime layer updates it).

A user is online while at least one socket is open, and for a short grace period after the last
one closes (`presence_grace_seconds`): a phone switching networks reconnects within it and its
contacts see no offline/online flicker. The realtime hub schedules the end of the grace period and
calls settle(); only then is the user offline and `users.last_seen_at` written.
"""
from __future__ import annotations

from collections.abc import Iterable


class Presence:
    """Connection counts per user, plus the users inside their grace period."""

    def __init__(self) -> None:
        self._sockets: dict[int, int] = {}
        self._lingering: dict[int, float] = {}  # user id -> wall time their last socket closed

    def is_online(self, user_id: int) -> bool:
        return self._sockets.get(user_id, 0) > 0 or user_id in self._lingering

    def online_among(self, user_ids: Iterable[int]) -> set[int]:
        return {u for u in user_ids if self.is_online(u)}

    def connected(self, user_id: int) -> bool:
        """Count one more socket; True when the user just came online.

        A reconnect inside the grace period ends the grace period and is not a transition.
        """
        n = self._sockets.get(user_id, 0) + 1
        self._sockets[user_id] = n
        was_lingering = self._lingering.pop(user_id, None) is not None
        return n == 1 and not was_lingering

    def disconnected(self, user_id: int) -> bool:
        """Count one socket less; True when the user's last socket just closed.

        The user stays online until linger()'s grace period is settled.
        """
        n = self._sockets.get(user_id, 0) - 1
        if n <= 0:
            self._sockets.pop(user_id, None)
            return True
        self._sockets[user_id] = n
        return False

    def linger(self, user_id: int, since: float) -> None:
        """Start the grace period of a user whose last socket closed at SINCE (wall time)."""
        if self._sockets.get(user_id, 0) == 0:
            self._lingering[user_id] = since

    def settle(self, user_id: int) -> float | None:
        """End the grace period: the time the user went offline, or None if they came back."""
        if self._sockets.get(user_id, 0) > 0:
            return None
        return self._lingering.pop(user_id, None)

    def sockets(self, user_id: int) -> int:
        return self._sockets.get(user_id, 0)

    def everyone(self) -> dict[int, float | None]:
        """Every online user: None while a socket is open, else the time the last one closed."""
        out: dict[int, float | None] = dict(self._lingering)
        out.update(dict.fromkeys(self._sockets))
        return out
