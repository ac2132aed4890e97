"""The delivery worker: posts queued activities, signed by their sender (issue 15, item 6).

Each pass takes the due rows, at most `federation_host_concurrency` at once per remote host;
a 2xx marks a row delivered, anything else schedules the next attempt with exponential backoff
and jitter (federation_retry_base_seconds doubling up to federation_retry_max_seconds) until
federation_retry_give_up_seconds after it was queued, when the row is failed. A 4xx other than
408 and 429 fails the row at once (the remote refused it; a retry would not change that).
Admins see every row and can make one due now (pufferd/federation/admin.py).

Rows that carry one activity of one sender to several actors of a host that advertise the same
`endpoints.sharedInbox` are posted once, to that shared inbox, and share the result.

A host whose deliveries fail (no answer, or 5xx) for federation_host_down_after_hours without a
success is marked down: each pass then tries one of its deliveries (a probe) and, when that fails
too, its pending deliveries wait federation_host_down_retry_seconds (a day). The first delivery that
succeeds, or a signed inbox request from the host, marks it up again (admins see the list:
GET /api/v1/federation/hosts).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator

import apsw

from pufferd.context import Context
from pufferd.db import federation_q
from pufferd.db.federation_q import Delivery
from pufferd.federation import actors
from pufferd.federation.http import FetchError

log = logging.getLogger(__name__)
BATCH = 200


def backoff(ctx: Context, attempts: int) -> float:
    """Seconds until the next attempt after ATTEMPTS failed ones: doubling, capped, with jitter."""
    s = ctx.settings
    delay = min(s.federation_retry_max_seconds, s.federation_retry_base_seconds * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.75, 1.25)


async def _deliver(ctx: Context, row: Delivery, inbox: str) -> tuple[int | None, str | None]:
    body = json.dumps(row.activity).encode()
    if not actors.domain_allowed(ctx, row.host):
        return None, "the domain is blocked"
    try:
        sign = await actors.signer_for(ctx, row.sender_id)
        headers = {"Content-Type": "application/activity+json", **sign("POST", inbox, body)}
        status = await actors.fetcher(ctx).post(inbox, body, headers)
    except FetchError as exc:
        return exc.status, str(exc)[:500]
    return status, None if 200 <= status < 300 else f"HTTP {status}"


async def _groups(ctx: Context, rows: list[Delivery]) -> list[tuple[list[Delivery], str]]:
    """The posts to make: rows carrying the same activity from the same sender to several actors
    of one host that share a sharedInbox go there once; every other row to its own inbox."""
    by_activity: dict[tuple[int, str, str], list[Delivery]] = defaultdict(list)
    for r in rows:
        by_activity[(r.sender_id, str(r.activity.get("id", "")), r.host)].append(r)
    several = [r.inbox for g in by_activity.values() if len(g) > 1 for r in g]
    shared = await ctx.db.read(lambda conn: federation_q.shared_inboxes(conn, several)) if several else {}
    out: list[tuple[list[Delivery], str]] = []
    for (_, aid, host), group in by_activity.items():
        targets = {shared.get(r.inbox) for r in group}
        same = all(r.activity == group[0].activity for r in group)
        if len(group) > 1 and aid and same and len(targets) == 1 and None not in targets:
            target = targets.pop()
            assert target is not None
            if actors.host_of(target) == host:
                out.append((group, target))
                continue
        out += [([r], r.inbox) for r in group]
    return out


async def run_pass(ctx: Context) -> int:
    """Deliver what is due now; the number of rows attempted."""
    now = ctx.clock.time()
    rows = await ctx.db.read(lambda conn: federation_q.due(conn, now, BATCH))
    if not rows:
        return 0
    fed = ctx.federation
    probed: set[str] = set()
    posts: list[tuple[list[Delivery], str]] = []
    for group, inbox in await _groups(ctx, rows):  # one post per pass to a down host (a probe)
        host = group[0].host
        if host in fed.down_hosts:
            if host in probed:
                continue
            probed.add(host)
        posts.append((group, inbox))
    limits: dict[str, asyncio.Semaphore] = defaultdict(
        lambda: asyncio.Semaphore(ctx.settings.federation_host_concurrency))

    def outcome(row: Delivery, status: int | None, error: str | None, done: float) -> tuple[str, float]:
        attempts = row.attempts + 1
        if error is None:
            return "delivered", done
        if (status is not None and 400 <= status < 500 and status not in (408, 429)) or error == "the domain is blocked":
            return "failed", done
        if done - row.created_at + backoff(ctx, attempts) > ctx.settings.federation_retry_give_up_seconds:
            return "failed", done
        return "pending", done + backoff(ctx, attempts)

    async def one(group: list[Delivery], inbox: str) -> None:
        host = group[0].host
        async with limits[host]:
            status, error = await _deliver(ctx, group[0], inbox)
        done = ctx.clock.time()
        results = {row.id: outcome(row, status, error, done) for row in group}
        if error is not None:
            log.info("federation delivery %s to %s: %s", ",".join(str(r.id) for r in group), inbox, error)
        host_failed = error not in (None, "the domain is blocked") and (status is None or status >= 500)
        down_after = ctx.settings.federation_host_down_after_hours * 3600
        slow = done + ctx.settings.federation_host_down_retry_seconds

        def record_txn(conn: apsw.Connection) -> bool | None:
            """True: the host is (now) down; False: it was down and is up again; None: no change."""
            change: bool | None = None
            down = False
            if host_failed:
                if federation_q.host_failed(conn, host, error, done, down_after).down_at is not None:
                    change = down = True
                    federation_q.defer_host(conn, host, slow)
            elif error is None and federation_q.host_up(conn, host):
                change = False
                federation_q.host_back(conn, host, done)
            for row in group:
                state, next_at = results[row.id]
                if down and state == "pending":
                    next_at = max(next_at, slow)
                federation_q.record_attempt(conn, row.id, state=state, status=status, error=error, now=done,
                                            next_at=next_at)
            return change
        change = await ctx.db.write(record_txn)
        if change is True and host not in fed.down_hosts:
            log.warning("federation host %s marked down", host)
            fed.down_hosts.add(host)
        elif change is False:
            log.info("federation host %s is up again", host)
            fed.down_hosts.discard(host)
            fed.poke()

    await asyncio.gather(*(one(g, inbox) for g, inbox in posts))
    return sum(len(g) for g, _ in posts)


async def host_seen(ctx: Context, host: str) -> None:
    """HOST sent us a verified request: when it was marked down, it is up again."""
    fed = ctx.federation
    if host.lower() not in fed.down_hosts:
        return
    fed.down_hosts.discard(host.lower())
    now = ctx.clock.time()
    await ctx.db.write(lambda conn: federation_q.host_back(conn, host.lower(), now))
    fed.poke()


@contextlib.asynccontextmanager
async def lifecycle(ctx: Context) -> AsyncIterator[None]:
    """Run the worker while the app runs (only with federation_enabled); close the client after."""
    if not ctx.settings.federation_enabled:
        yield
        return
    fed = ctx.federation
    fed.wake = asyncio.Event()
    domains = await ctx.db.read(federation_q.domains)
    fed.domains = {d.lower() for d in domains}
    fed.down_hosts = await ctx.db.read(federation_q.down_hosts)

    async def loop() -> None:
        assert fed.wake is not None
        while True:
            fed.wake.clear()
            try:
                await run_pass(ctx)
            except Exception:  # a failing pass must not stop deliveries for good
                log.exception("federation delivery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fed.wake.wait(), ctx.settings.federation_queue_interval_seconds)

    task = asyncio.create_task(loop(), name="pufferd-federation-delivery")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if fed.http is not None:
            await fed.http.close()
