"""In-process rate limiting (the `Limiter` port of DESIGN.md): a sliding-window log per key."""
from __future__ import annotations

import math
from collections import deque

from pufferd.clock import Clock
from pufferd.errors import RateLimited

MAX_KEYS = 100_000  # bound memory: the stalest keys are dropped first


class Limiter:
    """`hit(bucket, key, limit, window)` counts one event or raises RateLimited with Retry-After."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._events: dict[tuple[str, str], deque[float]] = {}

    def hit(self, bucket: str, key: str, limit: int, window: float = 60.0) -> None:
        """Record one event for (BUCKET, KEY); LIMIT per WINDOW seconds; a limit of 0 disables it."""
        if limit <= 0:
            return
        now = self._clock.monotonic()
        slot = (bucket, key)
        events = self._events.get(slot)
        if events is None:
            if len(self._events) >= MAX_KEYS:
                self._evict(now, window)
            events = self._events[slot] = deque()
        while events and events[0] <= now - window:
            events.popleft()
        if len(events) >= limit:
            raise RateLimited(math.ceil(events[0] + window - now))
        events.append(now)

    def reset(self, bucket: str, key: str) -> None:
        self._events.pop((bucket, key), None)

    def _evict(self, now: float, window: float) -> None:
        stale = [k for k, ev in self._events.items() if not ev or ev[-1] <= now - window]
        for k in stale:
            del self._events[k]
        while len(self._events) >= MAX_KEYS:
            self._events.pop(next(iter(self._events)))
