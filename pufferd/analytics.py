"""Analytics (issue 13, item 6): instance statistics, time series for charts, usage monitoring.

Everything is read from counters and rollups that triggers keep in the same transaction as the
event (migration 0060), never from a scan of messages:

- `stats_hourly`: registrations, messages and chats created per UTC hour;
- `stats_totals`: users, messages, chats by type, stored files and bytes by type, blobs;
- `activity_days` / `activity_last`: who was active on which UTC day, and when last. A user is
  active when they make an authenticated request or send a message; the process buffers this in
  memory (pufferd.monitor.ActivityRecorder) and writes it at most once per user per hour.

Time zones. A day, week (ISO, from Monday) or month is taken in the caller's IANA zone (or
`analytics_timezone`) and summed from UTC hour buckets. In a zone whose offset is a whole number
of hours that is exact, daylight-saving changes included (a local day of 23 or 25 hours sums 23
or 25 buckets). In a zone with a 30- or 45-minute offset (India, Nepal, Newfoundland, parts of
Australia) each boundary falls inside a UTC hour and is moved back to that hour's start, so a
period starts up to 45 minutes early (and the one before ends as early); `period=hour` points are
the UTC hours, labelled in local time (10:30, 11:30, ... in India). Active users are counted per
UTC day: each local period counts the users active on the UTC days nearest its boundaries (a day
in Berlin is the UTC day it overlaps most), so `period=hour` is refused for them. Weeks and
months of active users are read from per-user weekly and monthly rollups (migration 0061), one
row per user and week or month, rather than counted from every day of the range.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import shutil
import zoneinfo
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any, cast

import apsw

from pufferd import periodic
from pufferd.context import Context
from pufferd.db import stats_q
from pufferd.db.users_q import User
from pufferd.errors import RuleViolation
from pufferd.privileges import Privilege, require

log = logging.getLogger(__name__)

METRICS = ("registrations", "messages", "active_users", "chats_created")
PERIODS = ("hour", "day", "week", "month")
CHAT_TYPES = ("private", "group", "channel")
# the longest range one request may ask for, in points
MAX_POINTS = {"hour": 24 * 31, "day": 366, "week": 106, "month": 60}
# the range when the caller gives no start
DEFAULT_POINTS = {"hour": 24, "day": 30, "week": 12, "month": 12}
ACTIVITY_FLUSH_S = 10.0


def query_error(name: str, msg: str) -> RuleViolation:
    """A 422 naming the query parameter NAME."""
    return RuleViolation([{"loc": ["query", name], "msg": msg, "type": "value_error"}])


def zone(name: str | None, default: str) -> zoneinfo.ZoneInfo:
    """The IANA zone NAME (or DEFAULT); 422 naming `tz` when it is not one."""
    key = name or default
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise query_error("tz", f"{key!r} is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)") \
            from None


# statistics ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stats:
    users_total: int
    active_24h: int
    active_7d: int
    active_30d: int
    messages_last_hour: int
    messages_last_day: int
    messages_total: int
    chats: dict[str, int]
    storage_by_type: dict[str, tuple[int, int]]  # mime type -> (files, bytes)
    blobs: int
    blob_bytes: int
    online_now: int
    sockets_open: int
    generated_at: float

    @property
    def files_total(self) -> int:
        return sum(f for f, _ in self.storage_by_type.values())

    @property
    def bytes_total(self) -> int:
        return sum(b for _, b in self.storage_by_type.values())


def _recent(hours: dict[int, int], now: float, span_hours: int) -> int:
    """Events in the last SPAN_HOURS hours: the hours inside the window in full, the oldest
    (partly outside) pro-rated by the part of it inside the window."""
    current = int(now // 3600)
    inside = now / 3600 - current  # fraction of the current hour gone
    full = sum(hours.get(h, 0) for h in range(current - span_hours + 1, current + 1))
    return full + round(hours.get(current - span_hours, 0) * (1 - inside))


async def stats(ctx: Context, viewer: User) -> Stats:
    """The instance at a glance (VIEW_ANALYTICS)."""
    require(viewer, Privilege.VIEW_ANALYTICS)
    now = ctx.clock.time()

    def stats_txn(conn: apsw.Connection) -> tuple[dict[str, int], dict[int, int], tuple[int, int, int]]:
        current = int(now // 3600)
        return (stats_q.totals(conn), stats_q.hourly(conn, "messages", current - 24, current + 1),
                (stats_q.active_since(conn, now - 86400), stats_q.active_since(conn, now - 7 * 86400),
                 stats_q.active_since(conn, now - 30 * 86400)))

    totals, hours, active = await ctx.db.read(stats_txn)
    storage = {}
    for name, value in totals.items():
        if name.startswith("files:") and value > 0:
            mime = name[len("files:"):]
            storage[mime] = (value, totals.get(f"bytes:{mime}", 0))
    online = ctx.presence.everyone()
    return Stats(
        users_total=totals.get("users", 0), active_24h=active[0], active_7d=active[1], active_30d=active[2],
        messages_last_hour=_recent(hours, now, 1), messages_last_day=_recent(hours, now, 24),
        messages_total=totals.get("messages", 0),
        chats={t: totals.get(f"chats:{t}", 0) for t in CHAT_TYPES},
        storage_by_type=dict(sorted(storage.items())), blobs=totals.get("blobs", 0),
        blob_bytes=totals.get("blob_bytes", 0), online_now=len(online),
        sockets_open=sum(ctx.presence.sockets(u) for u in online), generated_at=now)


# time series -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    start: datetime  # in the series' zone
    value: int


@dataclass(frozen=True)
class Series:
    metric: str
    period: str
    tz: str
    start: datetime
    end: datetime
    points: list[Point]

    @property
    def total(self) -> int | None:
        """The sum of the points; None for active_users (a user active in two periods counts in both)."""
        return None if self.metric == "active_users" else sum(p.value for p in self.points)


def _local(value: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """VALUE in zone TZ; a value without an offset is taken as wall time in TZ."""
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


def _wall(d: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz)


def _period_start(t: datetime, period: str, tz: zoneinfo.ZoneInfo) -> datetime:
    """The start of the day/week/month containing local time T."""
    d = t.date()
    if period == "week":
        d -= timedelta(days=d.weekday())
    elif period == "month":
        d = d.replace(day=1)
    return _wall(d, tz)


def _next_start(t: datetime, period: str, tz: zoneinfo.ZoneInfo) -> datetime:
    d = t.date()
    if period == "day":
        d += timedelta(days=1)
    elif period == "week":
        d += timedelta(days=7)
    else:
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return _wall(d, tz)


def plan(period: str, start: datetime | None, end: datetime | None, now: float,
         tz: zoneinfo.ZoneInfo) -> tuple[datetime, datetime, list[datetime], list[float]]:
    """The points of a series: (start, end, the local start of each point, the UTC instants that
    bound them, one more than the points). 422 naming the field for a bad or too long range."""
    end_t = _local(end, tz) if end is not None else datetime.fromtimestamp(now, tz)
    if period == "hour":
        # UTC hours, so that every point is one real hour whatever the zone does
        if start is None:
            first = int(end_t.timestamp() // 3600) - DEFAULT_POINTS["hour"] + 1
        else:
            first = int(_local(start, tz).timestamp() // 3600)
        last = -int(-end_t.timestamp() // 3600)  # the hour containing END is the last one
        if last <= first:
            raise query_error("start", "start must be before end")
        if last - first > MAX_POINTS["hour"]:
            raise query_error("end", f"range too long: at most {MAX_POINTS['hour']} hours per request")
        instants = [float(h * 3600) for h in range(first, last + 1)]
        starts = [datetime.fromtimestamp(t, tz) for t in instants[:-1]]
        return starts[0], datetime.fromtimestamp(instants[-1], tz), starts, instants
    if start is None:
        first_t = _period_start(end_t, period, tz)
        for _ in range(DEFAULT_POINTS[period] - 1):
            first_t = _period_start(first_t - timedelta(days=1), period, tz)
    else:
        first_t = _period_start(_local(start, tz), period, tz)
    if first_t >= end_t:
        raise query_error("start", "start must be before end")
    starts = [first_t]
    while True:
        nxt = _next_start(starts[-1], period, tz)
        if nxt >= end_t:
            break
        starts.append(nxt)
        if len(starts) > MAX_POINTS[period]:
            raise query_error("end", f"range too long: at most {MAX_POINTS[period]} {period}s per request")
    bounds = [*starts, nxt]
    return starts[0], nxt, starts, [b.timestamp() for b in bounds]


_EPOCH = date(1970, 1, 1)


def _rollup_key(period: str, lo: int, hi: int) -> int | None:
    """The activity_weeks / activity_months key when the UTC days [LO, HI) are exactly one UTC
    ISO week or month (always, in zones within 12 hours of UTC), else None."""
    if period == "week":
        return stats_q.week_of(lo) if hi - lo == 7 and (lo + 3) % 7 == 0 else None
    if period == "month":
        first, nxt = _EPOCH + timedelta(days=lo), _EPOCH + timedelta(days=hi)
        following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        return stats_q.month_of(first.year, first.month) if first.day == 1 and nxt == following else None
    return None


async def series(ctx: Context, viewer: User, *, metric: str, period: str, start: datetime | None,
                 end: datetime | None, tz_name: str | None) -> Series:
    """A time series for a chart (VIEW_ANALYTICS): one point per period from START to END."""
    require(viewer, Privilege.VIEW_ANALYTICS)
    if metric not in METRICS:
        raise query_error("metric", f"metric must be one of {', '.join(METRICS)}")
    if period not in PERIODS:
        raise query_error("period", f"period must be one of {', '.join(PERIODS)}")
    if metric == "active_users" and period == "hour":
        raise query_error("period", "active users are counted per day: use day, week or month")
    tz = zone(tz_name, ctx.settings.analytics_timezone)
    first, last, starts, instants = plan(period, start, end, ctx.clock.time(), tz)

    def series_txn(conn: apsw.Connection) -> list[int]:
        if metric == "active_users":
            days = [round(t / 86400) for t in instants]
            keys = [_rollup_key(period, lo, hi) for lo, hi in pairwise(days)]
            if period != "day" and all(k is not None for k in keys):
                count = stats_q.active_in_weeks if period == "week" else stats_q.active_in_months
                return count(conn, cast(list[int], keys))
            return stats_q.distinct_active(conn, days)
        return stats_q.hourly_sums(conn, metric, [int(t // 3600) for t in instants])

    values = await ctx.db.read(series_txn)
    return Series(metric, period, tz.key, first, last, [Point(s, v) for s, v in zip(starts, values, strict=True)])


# usage monitoring ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Usage:
    started_at: float
    uptime_seconds: float
    cpu_user_seconds: float
    cpu_system_seconds: float
    cpu_percent: float  # of one core, over the last sampling window (about 10 s)
    rss_bytes: int
    threads: int
    db_bytes: int
    wal_bytes: int
    blob_bytes: int
    disk_free_bytes: int
    disk_total_bytes: int
    loop_lag_seconds: float
    loop_lag_max_seconds: float  # the largest lag of the last minute or so
    db_write_queue: int
    db_read_queue: int
    db_write_batches: int
    db_write_jobs: int


def _size(path: Any) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def process_figures() -> dict[str, Any]:
    """CPU time, resident memory and threads of this process (cheap reads of /proc)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    rss = ru.ru_maxrss * 1024
    threads = 0
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
    except OSError:
        pass
    return {"cpu_user": ru.ru_utime, "cpu_system": ru.ru_stime, "rss": rss, "threads": threads}


async def usage(ctx: Context, viewer: User) -> Usage:
    """Server usage (VIEW_ANALYTICS): process, database, blob store, disk, event loop."""
    require(viewer, Privilege.VIEW_ANALYTICS)
    s = ctx.settings

    def files() -> tuple[dict[str, Any], int, int, Any]:
        return (process_figures(), _size(s.db_path), _size(f"{s.db_path}-wal"), shutil.disk_usage(s.data_dir))

    proc, db_bytes, wal_bytes, disk = await asyncio.get_running_loop().run_in_executor(None, files)
    blob_bytes = await ctx.db.read(lambda conn: stats_q.total(conn, "blob_bytes"))
    m, db = ctx.monitor, ctx.db
    return Usage(started_at=m.started_at, uptime_seconds=m.uptime, cpu_user_seconds=proc["cpu_user"],
                 cpu_system_seconds=proc["cpu_system"], cpu_percent=m.cpu_percent, rss_bytes=proc["rss"],
                 threads=proc["threads"], db_bytes=db_bytes, wal_bytes=wal_bytes, blob_bytes=blob_bytes,
                 disk_free_bytes=disk.free, disk_total_bytes=disk.total, loop_lag_seconds=m.lag.last,
                 loop_lag_max_seconds=m.lag.recent_max, db_write_queue=db.write_queue_depth,
                 db_read_queue=db.read_queue_depth, db_write_batches=db.batches, db_write_jobs=db.jobs_committed)


# upkeep ----------------------------------------------------------------------------------------

async def flush_activity(ctx: Context) -> int:
    """Write the activity recorded in memory since the last pass; return how many users."""
    entries = ctx.monitor.activity.take()
    if not entries:
        return 0
    try:
        await ctx.db.write(lambda conn: stats_q.record_activity(conn, entries))
    except BaseException:
        ctx.monitor.activity.give_back(entries)
        raise
    return len(entries)


async def lifecycle(ctx: Context) -> AsyncIterator[None]:
    """For the app's cleanup_ctx: sample the event loop, flush activity every few seconds (and
    once more at shutdown, before the database closes)."""
    sampler = asyncio.create_task(ctx.monitor.run_sampler(ctx.settings.loop_lag_interval_seconds),
                                  name="pufferd-loop-lag")
    try:
        async with periodic.running("activity rollup", ACTIVITY_FLUSH_S, lambda: flush_activity(ctx),
                                    board=ctx.tasks):
            yield
        with contextlib.suppress(Exception):
            await flush_activity(ctx)
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
