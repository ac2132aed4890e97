"""Analytics, usage monitoring and maintenance models (issue 13, items 6 and 8)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pufferd import analytics
from pufferd.backups import BackupEntry
from pufferd.clock import iso
from pufferd.periodic import TaskState

Metric = Literal["registrations", "messages", "active_users", "chats_created"]
Period = Literal["hour", "day", "week", "month"]


class UserStats(BaseModel):
    total: int
    active_24h: int = Field(description="users active (an authenticated request or a message) in the last 24 h")
    active_7d: int
    active_30d: int


class MessageStats(BaseModel):
    last_hour: int = Field(description="estimated from hourly counts: the oldest hour pro-rated")
    last_day: int = Field(description="estimated from hourly counts: the oldest hour pro-rated")
    total: int = Field(description="messages stored now")


class ChatStats(BaseModel):
    private: int
    group: int
    channel: int
    total: int


class TypeStorage(BaseModel):
    files: int
    bytes: int


class StorageStats(BaseModel):
    files: int
    bytes: int = Field(description="stored files as uploaded")
    by_type: dict[str, TypeStorage]
    blobs: int = Field(description="distinct contents on disk (identical files are stored once)")
    blob_bytes: int


class StatsRead(BaseModel):
    """The instance at a glance (VIEW_ANALYTICS)."""

    users: UserStats
    messages: MessageStats
    chats: ChatStats
    storage: StorageStats
    online_now: int
    sockets_open: int
    generated_at: str

    @classmethod
    def of(cls, s: analytics.Stats) -> StatsRead:
        return cls(
            users=UserStats(total=s.users_total, active_24h=s.active_24h, active_7d=s.active_7d,
                            active_30d=s.active_30d),
            messages=MessageStats(last_hour=s.messages_last_hour, last_day=s.messages_last_day,
                                  total=s.messages_total),
            chats=ChatStats(**s.chats, total=sum(s.chats.values())),
            storage=StorageStats(files=s.files_total, bytes=s.bytes_total,
                                 by_type={t: TypeStorage(files=f, bytes=b) for t, (f, b) in s.storage_by_type.items()},
                                 blobs=s.blobs, blob_bytes=s.blob_bytes),
            online_now=s.online_now, sockets_open=s.sockets_open, generated_at=iso(s.generated_at) or "")


class SeriesQuery(BaseModel):
    """`metric` and `period` as listed; `start`/`end`: ISO 8601 date or date-time (without an
    offset: wall time in `tz`); default end now, start a default span before (24 hours, 30 days,
    12 weeks, 12 months). `tz`: an IANA zone (default the server's `analytics_timezone`). At most
    744 hours, 366 days, 106 weeks or 60 months per request."""

    model_config = ConfigDict(extra="forbid")

    metric: Metric
    period: Period = "day"
    start: datetime | None = None
    end: datetime | None = None
    tz: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class SeriesPoint(BaseModel):
    start: str = Field(description="the period's start, ISO 8601 with the zone's offset")
    value: int


class SeriesRead(BaseModel):
    """One point per period; see README "Analytics" for how zones with 30/45-minute offsets are summed."""

    metric: Metric
    period: Period
    tz: str
    start: str
    end: str
    points: list[SeriesPoint]
    total: int | None = Field(description="sum of the points; null for active_users")

    @classmethod
    def of(cls, s: analytics.Series) -> SeriesRead:
        return cls(metric=s.metric, period=s.period, tz=s.tz, start=s.start.isoformat(),  # type: ignore[arg-type]
                   end=s.end.isoformat(), points=[SeriesPoint(start=p.start.isoformat(), value=p.value)
                                                  for p in s.points], total=s.total)


class UsageRead(BaseModel):
    """Server usage: the process, the database, the blob store, the disk, the event loop."""

    started_at: str
    uptime_seconds: float
    cpu_user_seconds: float
    cpu_system_seconds: float
    cpu_percent: float = Field(description="of one core, over the last ~10 s")
    rss_bytes: int
    threads: int
    db_bytes: int
    wal_bytes: int
    blob_bytes: int = Field(description="distinct stored contents, plaintext sizes")
    disk_free_bytes: int
    disk_total_bytes: int
    loop_lag_seconds: float = Field(description="latest event-loop lag sample")
    loop_lag_max_seconds: float = Field(description="largest lag sample of about the last minute")
    db_write_queue: int
    db_read_queue: int
    db_write_batches: int
    db_write_jobs: int

    @classmethod
    def of(cls, u: analytics.Usage) -> UsageRead:
        data: dict[str, Any] = {k: getattr(u, k) for k in cls.model_fields if k != "started_at"}
        return cls(started_at=iso(u.started_at) or "", **data)


class TaskRead(BaseModel):
    """A background task. `interval_seconds` null: runs only when asked (e.g. backups not scheduled)."""

    name: str
    title: str
    interval_seconds: float | None
    running: bool
    runs: int = Field(description="passes since the server started")
    failures: int
    last_started_at: str | None
    last_finished_at: str | None
    last_duration_seconds: float | None
    last_result: Literal["ok", "error"] | None
    last_detail: dict[str, int | float | str | bool]
    next_run_at: str | None

    @classmethod
    def of(cls, t: TaskState) -> TaskRead:
        return cls(name=t.name, title=t.title, interval_seconds=t.interval, running=t.running, runs=t.runs,
                   failures=t.failures, last_started_at=iso(t.last_started_at),
                   last_finished_at=iso(t.last_finished_at), last_duration_seconds=t.last_duration,
                   last_result=t.last_result, last_detail=t.last_detail,  # type: ignore[arg-type]
                   next_run_at=iso(t.next_run_at))


class BackupRead(BaseModel):
    name: str
    path: str
    size_bytes: int
    created_at: str
    age_seconds: float

    @classmethod
    def of(cls, b: BackupEntry, now: float) -> BackupRead:
        return cls(name=b.name, path=str(b.path), size_bytes=b.size_bytes, created_at=iso(b.created_at) or "",
                   age_seconds=max(0.0, now - b.created_at))


class BackupsRead(BaseModel):
    """Scheduled backups, newest first, and the settings that govern them."""

    backup_dir: str | None
    interval_hours: float = Field(description="0: not scheduled")
    keep: int
    backups: list[BackupRead]
