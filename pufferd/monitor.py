"""Live figures of the running process that analytics and /metrics read: event-loop lag, who was
active (buffered for the activity tables), and when the process started.

Nothing here touches the database or blocks: the lag sampler is one sleeping task, the activity
recorder a dict that pufferd.analytics flushes in one write job per pass.
"""
from __future__ import annotations

import asyncio
import resource
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

LAG_WINDOW = 120  # samples kept for the recent maximum (a minute at the default 0.5 s)
CPU_WINDOW_S = 10.0  # the CPU percentage is over this much wall time


class LoopLag:
    """Event-loop lag: how late a sleep of INTERVAL seconds wakes up (work that held the loop)."""

    def __init__(self) -> None:
        self.last = 0.0
        self.samples = 0
        self.total = 0.0
        self._recent: deque[float] = deque(maxlen=LAG_WINDOW)
        self.observers: list[Callable[[float], None]] = []  # e.g. the /metrics histogram

    @property
    def recent_max(self) -> float:
        return max(self._recent, default=0.0)

    def record(self, lag: float) -> None:
        lag = max(0.0, lag)
        self.last = lag
        self.samples += 1
        self.total += lag
        self._recent.append(lag)
        for fn in self.observers:
            fn(lag)


class ActivityRecorder:
    """Users seen active, written to the activity tables at most once per user per UTC hour.

    touch() is called on every authenticated request: a dict lookup when the user was already
    seen this hour. take() hands the new entries to the flush job.
    """

    def __init__(self) -> None:
        self._seen: dict[int, int] = {}       # user id -> hour (unix seconds // 3600) last recorded
        self._pending: dict[int, float] = {}  # user id -> time of the activity, not yet written

    def touch(self, user_id: int, now: float) -> None:
        hour = int(now // 3600)
        if self._seen.get(user_id) == hour:
            return
        self._seen[user_id] = hour
        self._pending[user_id] = now

    def take(self) -> list[tuple[int, float]]:
        """The entries to write now; forgets users not seen in the current hour (bounded memory)."""
        pending, self._pending = self._pending, {}
        if pending:
            newest = max(pending.values())
            hour = int(newest // 3600)
            self._seen = {u: h for u, h in self._seen.items() if h >= hour}
        return list(pending.items())

    def give_back(self, entries: list[tuple[int, float]]) -> None:
        """A failed write: keep the entries for the next pass."""
        for user_id, at in entries:
            self._pending.setdefault(user_id, at)


@dataclass
class Monitor:
    """The process's live figures (one per application)."""

    started_at: float = field(default_factory=time.time)
    started_monotonic: float = field(default_factory=time.monotonic)
    lag: LoopLag = field(default_factory=LoopLag)
    activity: ActivityRecorder = field(default_factory=ActivityRecorder)

    cpu_percent: float = 0.0  # of one core, over the last CPU_WINDOW_S
    _cpu_mark: tuple[float, float] | None = None

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic

    def sample_cpu(self) -> None:
        """Update cpu_percent from the CPU time used since the previous call (getrusage: cheap)."""
        ru = resource.getrusage(resource.RUSAGE_SELF)
        mark = (time.monotonic(), ru.ru_utime + ru.ru_stime)
        if self._cpu_mark is not None and mark[0] > self._cpu_mark[0]:
            self.cpu_percent = 100 * (mark[1] - self._cpu_mark[1]) / (mark[0] - self._cpu_mark[0])
        self._cpu_mark = mark

    async def run_sampler(self, interval: float) -> None:
        """Sample the event-loop lag every INTERVAL and the CPU every CPU_WINDOW_S (cancel to stop)."""
        self.sample_cpu()
        next_cpu = time.monotonic() + CPU_WINDOW_S
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(interval)
            self.lag.record(loop.time() - t0 - interval)
            if time.monotonic() >= next_cpu:
                self.sample_cpu()
                next_cpu = time.monotonic() + CPU_WINDOW_S
