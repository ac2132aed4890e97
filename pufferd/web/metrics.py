"""Prometheus metrics (issue 13, item 9): one CollectorRegistry per application (never the
library's global one, so several apps in one process, as in the tests, do not collide).

- `pufferd_http_requests_total{method,route,status}` and
  `pufferd_http_request_duration_seconds{method,route}`: by the route *template*
  (`/api/v1/messages/{chat_id}`), never the raw path, so the label set stays bounded; requests
  that match no route are `route="unmatched"`. WebSocket upgrades (101) are counted, their
  lifetime is not a latency.
- `pufferd_event_loop_lag_seconds` (histogram of the monitor's samples),
  `pufferd_db_write_batch_jobs` (histogram: jobs per group-committed transaction, observed on
  the writer thread), and gauges read when scraped: sockets open, users online, database queue
  depths, messages, users, blobs and blob bytes; `pufferd_messages_sent_total`.
- `process_*` (CPU seconds, resident memory, open files, start time) from prometheus_client.

The middleware also tells the activity recorder (pufferd.monitor) who made an authenticated
request, which is how analytics knows who is active.
"""
from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pufferd.context import Context
from pufferd.db import stats_q
from pufferd.errors import Forbidden, Unauthorized
from pufferd.web.keys import USER

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
UNMATCHED = "unmatched"


class _Snapshot(Collector):
    """Gauges and counters whose values the /metrics handler reads just before rendering."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def collect(self) -> Iterator[Metric]:
        v = self.values
        sent = CounterMetricFamily("pufferd_messages_sent", "Messages sent (ever; deletions do not count back)")
        sent.add_metric([], v.get("messages_sent", 0))
        yield sent
        for name, doc in (
            ("sockets_open", "WebSocket connections open"),
            ("users_online", "Users online (a socket open, or within the presence grace period)"),
            ("db_write_queue", "Database write jobs waiting for the writer thread"),
            ("db_read_queue", "Database read jobs waiting for a reader thread"),
            ("messages_stored", "Messages stored"),
            ("users", "User accounts"),
            ("blobs", "Distinct stored file contents (after deduplication)"),
            ("blob_bytes", "Bytes of distinct stored file contents (plaintext sizes)"),
            ("event_loop_lag_last_seconds", "The latest event-loop lag sample"),
        ):
            g = GaugeMetricFamily(f"pufferd_{name}", doc)
            g.add_metric([], v.get(name, 0))
            yield g


class Metrics:
    """The registry of one application and the instruments that feed it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.requests = Counter("pufferd_http_requests", "HTTP requests by method, route template and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("pufferd_http_request_duration_seconds",
                                 "HTTP request latency by method and route template (WebSocket upgrades excluded)",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.loop_lag = Histogram("pufferd_event_loop_lag_seconds", "Event-loop lag samples",
                                  buckets=LAG_BUCKETS, registry=r)
        self.batches = Histogram("pufferd_db_write_batch_jobs", "Write jobs per group-committed transaction",
                                 buckets=BATCH_BUCKETS, registry=r)
        ProcessCollector(registry=r)
        self.snapshot = _Snapshot()
        r.register(self.snapshot)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        ctx.monitor.lag.observers.append(self.loop_lag.observe)
        ctx.db.batch_observers.append(self.batches.observe)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(method, route, str(status)),
                                              self.latency.labels(method, route))
        children[0].inc()
        if status != 101:
            children[1].observe(seconds)

    async def render(self) -> bytes:
        """The text exposition, with the scraped-time values read first (one database read)."""
        from prometheus_client import generate_latest

        ctx = self.ctx
        totals = await ctx.db.read(stats_q.totals)
        online = ctx.presence.everyone()
        self.snapshot.values = {
            "messages_sent": totals.get("messages_sent", 0), "messages_stored": totals.get("messages", 0),
            "users": totals.get("users", 0), "blobs": totals.get("blobs", 0),
            "blob_bytes": totals.get("blob_bytes", 0), "users_online": len(online),
            "sockets_open": sum(ctx.presence.sockets(u) for u in online),
            "db_write_queue": ctx.db.write_queue_depth, "db_read_queue": ctx.db.read_queue_depth,
            "event_loop_lag_last_seconds": ctx.monitor.lag.last,
        }
        return generate_latest(self.registry)


def route_template(request: web.Request) -> str:
    """The route's template (`/api/v1/chats/{chat_id}`), or `unmatched`; never the raw path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def middleware(metrics: Metrics) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Count and time every request; note the authenticated user as active."""
    activity = metrics.ctx.monitor.activity
    clock = metrics.ctx.clock

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        t0 = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.observe(request.method, route_template(request), status, time.perf_counter() - t0)
            user = request.get(USER)
            if user is not None:
                activity.touch(user.id, clock.time())

    return observe


METRICS = web.AppKey("metrics", Metrics)


def check_access(request: web.Request, token: str | None) -> None:
    """/metrics is for the operator's scraper: with `metrics_token` set, only a request bearing it
    (401 otherwise); without one, only a loopback peer that is not a proxied request (403)."""
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise Unauthorized("GET /metrics needs the metrics token as a bearer token")
        return
    try:
        loopback = ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        loopback = False
    proxied = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    if not loopback or proxied:
        raise Forbidden("GET /metrics is served to loopback clients only; set metrics_token to scrape from "
                        "elsewhere or through a proxy")
