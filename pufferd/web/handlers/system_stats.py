"""Analytics and usage monitoring (issue 13, item 6; README "Analytics"): VIEW_ANALYTICS only."""
from __future__ import annotations

from aiohttp import web

from pufferd import analytics
from pufferd.web.keys import CTX, USER
from pufferd.web.route import Router
from pufferd.web.schemas.system_stats import SeriesQuery, SeriesRead, StatsRead, UsageRead

routes = Router("system")


@routes.get("/api/v1/system/stats", response=StatsRead)
async def get_stats(request: web.Request) -> StatsRead:
    """Users (total, active 24 h / 7 d / 30 d), messages (last hour, day, total), chats by type,
    storage by type, users online and sockets open. Read from counters: no scan of messages."""
    return StatsRead.of(await analytics.stats(request.app[CTX], request[USER]))


@routes.get("/api/v1/system/stats/series", query=SeriesQuery, response=SeriesRead)
async def get_series(request: web.Request, query: SeriesQuery) -> SeriesRead:
    """A time series for a chart: registrations, messages, active_users or chats_created per hour,
    day, week (ISO, from Monday) or month, in the caller's IANA zone (`tz`) or the server's.

    422 naming the field for an unknown zone, a start not before end, a range of more points than
    allowed, or active_users per hour (they are counted per day).
    """
    series = await analytics.series(request.app[CTX], request[USER], metric=query.metric, period=query.period,
                                    start=query.start, end=query.end, tz_name=query.tz)
    return SeriesRead.of(series)


@routes.get("/api/v1/system/usage", response=UsageRead)
async def get_usage(request: web.Request) -> UsageRead:
    """Process CPU and memory, database and WAL size, blob bytes, free disk, uptime, event-loop lag
    and the database queues."""
    return UsageRead.of(await analytics.usage(request.app[CTX], request[USER]))
