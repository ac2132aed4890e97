"""The per-user resume log: the newest events a user was sent, numbered by an increasing seq.

A user's events are numbered base+1, base+2, ... without gaps. `base` is the wall-clock time in
microseconds at which the log was created, so a log created later (after a restart of the server,
or after an idle user's log was dropped) starts above every seq the earlier log handed out, as
long as no user receives more than one event per microsecond on average. A client's `since`
below `base` therefore names events this log never held, and is answered with resync_required
instead of a wrong replay.

An entry is a shared `(monotonic_time, frame_prefix)` tuple: one event addressed to a thousand
users is stored once and referenced from a thousand logs, so a log entry costs one pointer.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import islice

Entry = tuple[float, bytes]


class UserLog:
    """The newest events of one user, bounded by count (`size`) and by age (`max_age` seconds)."""

    __slots__ = ("base", "last_seq", "_entries", "_max_age", "idle_since")

    def __init__(self, base: int, size: int, max_age: float) -> None:
        self.base = base
        self.last_seq = base  # the seq of the newest event; == base while the log is empty
        self._entries: deque[Entry] = deque(maxlen=size)
        self._max_age = max_age
        # monotonic time since which the user has had no socket (None while connected)
        self.idle_since: float | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def append(self, entry: Entry) -> int:
        """Record ENTRY (its time is now) and return its seq. The count bound applies at once; the
        age bound when prune() runs (the hub's periodic sweep, and before every replay)."""
        self._entries.append(entry)
        self.last_seq += 1
        return self.last_seq

    def prune(self, now: float) -> None:
        """Drop entries older than the age bound."""
        entries = self._entries
        horizon = now - self._max_age
        while entries and entries[0][0] < horizon:
            entries.popleft()

    @property
    def first_seq(self) -> int:
        """The seq of the oldest entry still held (last_seq + 1 when the log is empty)."""
        return self.last_seq - len(self._entries) + 1

    def covers(self, since: int) -> bool:
        """Whether every event after SINCE is still held (so a replay from SINCE is complete)."""
        return self.base <= since <= self.last_seq and since + 1 >= self.first_seq

    def after(self, since: int) -> Iterator[tuple[int, bytes]]:
        """(seq, prefix) of every held event after SINCE, oldest first; call covers() first."""
        seq = since
        for _, prefix in islice(self._entries, since + 1 - self.first_seq, None):
            seq += 1
            yield seq, prefix

    def newest_time(self) -> float | None:
        return self._entries[-1][0] if self._entries else None
