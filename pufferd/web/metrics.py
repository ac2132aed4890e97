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

import bisect
import hmac
import ipaddress
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pufferd.context import Context
from pufferd.db import stats_q
from pufferd.errors import Forbidden, Unauthorized
from pufferd.web.keys import USER

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
UNMATCHED = "unmatched"


class Histogram:
    """Observations counted into fixed buckets (`le`: a value equal to a bound is in its bucket),
    with their sum: what a Prometheus histogram exposes. Plain Python, so that prometheus_client
    (≈ 1.2 MB of RSS with what it imports) loads with the first scrape, not at start-up (issue 17)."""

    __slots__ = ("bounds", "counts", "sum", "created", "_lock")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound (+Inf)
        self.sum = 0.0
        self.created = time.time()
        self._lock = threading.Lock()  # the writer thread observes batches while a scrape reads

    def observe(self, value: float) -> None:
        with self._lock:
            self.counts[bisect.bisect_left(self.bounds, value)] += 1
            self.sum += value

    def buckets(self) -> tuple[list[tuple[str, float]], float]:
        """Cumulative (le, count) pairs ending with +Inf, and the sum."""
        with self._lock:
            counts, total = list(self.counts), self.sum
        out, running = [], 0
        for bound, n in zip((*(_bound(b) for b in self.bounds), "+Inf"), counts, strict=True):
            running += n
            out.append((bound, float(running)))
        return out, total


def _bound(value: float) -> str:
    """An `le` label as prometheus_client writes it (1 -> "1.0")."""
    return repr(float(value))


class Metrics:
    """The instruments of one application, and its registry built by the first scrape."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.requests: dict[tuple[str, str, str], list[float]] = {}  # (method, route, status) -> [n, created]
        self.latency: dict[tuple[str, str], Histogram] = {}
        self.loop_lag = Histogram(LAG_BUCKETS)
        self.batches = Histogram(BATCH_BUCKETS)
        self.snapshot: dict[str, float] = {}
        self._registry: CollectorRegistry | None = None
        ctx.monitor.lag.observers.append(self.loop_lag.observe)
        ctx.db.batch_observers.append(self.batches.observe)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        counter = self.requests.get(key)
        if counter is None:
            counter = self.requests[key] = [0.0, time.time()]
        counter[0] += 1
        latency = self.latency.get((method, route))
        if latency is None:
            latency = self.latency[(method, route)] = Histogram(LATENCY_BUCKETS)
        if status != 101:
            latency.observe(seconds)

    def collect(self) -> Iterator[Any]:
        """The metric families of the application (prometheus_client's Collector protocol)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
        from prometheus_client.samples import Sample

        requests = CounterMetricFamily("pufferd_http_requests", "HTTP requests by method, route template and status",
                                       labels=["method", "route", "status"])
        for labels, (n, created) in list(self.requests.items()):
            requests.add_metric(list(labels), n, created=created)
        yield requests
        latency = HistogramMetricFamily(
            "pufferd_http_request_duration_seconds",
            "HTTP request latency by method and route template (WebSocket upgrades excluded)",
            labels=["method", "route"])
        for (method, route), histogram in list(self.latency.items()):
            buckets, total = histogram.buckets()
            latency.add_metric([method, route], buckets, total)
            latency.samples.append(Sample(f"{latency.name}_created", {"method": method, "route": route},
                                          histogram.created))
        yield latency
        for name, doc, histogram in (
            ("pufferd_event_loop_lag_seconds", "Event-loop lag samples", self.loop_lag),
            ("pufferd_db_write_batch_jobs", "Write jobs per group-committed transaction", self.batches),
        ):
            family = HistogramMetricFamily(name, doc)
            buckets, total = histogram.buckets()
            family.add_metric([], buckets, total)
            family.samples.append(Sample(f"{name}_created", {}, histogram.created))
            yield family
        v = self.snapshot
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

    def registry(self) -> CollectorRegistry:
        """This application's registry (never the library's global one): its families and the
        process_* ones of prometheus_client."""
        if self._registry is None:
            from prometheus_client import CollectorRegistry, ProcessCollector

            registry = CollectorRegistry(auto_describe=False)
            ProcessCollector(registry=registry)
            registry.register(self)
            self._registry = registry
        return self._registry

    async def render(self) -> bytes:
        """The text exposition, with the scraped-time values read first (one database read)."""
        from prometheus_client import generate_latest

        ctx = self.ctx
        totals = await ctx.db.read(stats_q.totals)
        online = ctx.presence.everyone()
        self.snapshot = {
            "messages_sent": totals.get("messages_sent", 0), "messages_stored": totals.get("messages", 0),
            "users": totals.get("users", 0), "blobs": totals.get("blobs", 0),
            "blob_bytes": totals.get("blob_bytes", 0), "users_online": len(online),
            "sockets_open": sum(ctx.presence.sockets(u) for u in online),
            "db_write_queue": ctx.db.write_queue_depth, "db_read_queue": ctx.db.read_queue_depth,
            "event_loop_lag_last_seconds": ctx.monitor.lag.last,
        }
        return generate_latest(self.registry())


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
