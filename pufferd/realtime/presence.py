"""Who is online: counted from open WebSocket connections (the realtime layer updates it)."""
from __future__ import annotations

from collections.abc import Iterable


class Presence:
    """Connection counts per user. A user is online while at least one socket is open."""

    def __init__(self) -> None:
        self._sockets: dict[int, int] = {}

    def is_online(self, user_id: int) -> bool:
        return self._sockets.get(user_id, 0) > 0

    def online_among(self, user_ids: Iterable[int]) -> set[int]:
        return {u for u in user_ids if self._sockets.get(u, 0) > 0}

    def connected(self, user_id: int) -> bool:
        """Count one more socket; True when the user just came online."""
        n = self._sockets.get(user_id, 0) + 1
        self._sockets[user_id] = n
        return n == 1

    def disconnected(self, user_id: int) -> bool:
        """Count one socket less; True when the user just went offline."""
        n = self._sockets.get(user_id, 0) - 1
        if n <= 0:
            self._sockets.pop(user_id, None)
            return True
        self._sockets[user_id] = n
        return False
