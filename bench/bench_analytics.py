"""Analytics charts against a real `pufferd serve` over 1,000,000 messages (issue 13, item 6):
p50/p99 latency per chart over HTTP, one request at a time.

    python3 bench/bench_analytics.py                       # 1 M messages, 3 rounds of 200 requests per chart
    python3 bench/bench_analytics.py --messages 200000 --rounds 1 --requests 50

Seeding goes straight into the data directory's database before the server starts, in 50,000-row
transactions, so the migration's triggers fill the rollups exactly as live inserts would:
2,000 users (registered over the year), 1,000 groups of 4, --messages messages spread evenly over
the 365 days before now, each from one of its group's members (so activity_days holds about one
row per user per active day). Every chart is then requested --requests times per round through
HTTP with the admin's token, the charts interleaved round by round; the script prints each
round's p50/p99 and the medians over rounds.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import benchlib  # noqa: E402

from pufferd.db import chats_q  # noqa: E402

EMAIL, PASSWORD = "admin@example.com", "bench-password-1"
N_USERS, N_GROUPS = 2000, 1000
DAY = 86400.0

CHARTS = {
    "stats": "/api/v1/system/stats",
    "messages/hour, 7 days": "/api/v1/system/stats/series?metric=messages&period=hour&start={d7}",
    "messages/day, 365 days": "/api/v1/system/stats/series?metric=messages&period=day&start={d365}&tz=Europe/Berlin",
    "messages/week, 52 weeks": "/api/v1/system/stats/series?metric=messages&period=week&start={d365}",
    "messages/month, 12 months": "/api/v1/system/stats/series?metric=messages&period=month&start={d365}",
    "registrations/day, 30 days": "/api/v1/system/stats/series?metric=registrations&period=day",
    "chats_created/month, 12 months": "/api/v1/system/stats/series?metric=chats_created&period=month",
    "active_users/day, 30 days": "/api/v1/system/stats/series?metric=active_users&period=day",
    "active_users/week, 12 weeks": "/api/v1/system/stats/series?metric=active_users&period=week",
    "active_users/month, 12 months": "/api/v1/system/stats/series?metric=active_users&period=month",
}


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("PUFFERD_") and "RATE_LIMIT" not in k}
    out.update(PYTHONPATH=str(ROOT), PUFFERD_ACCESS_LOG="0", LOGIN_RATE_LIMIT_PER_MINUTE="0")
    return out


def seed(directory: Path, n_messages: int, now: float) -> float:
    """Fill the database; return the seconds it took."""
    rng = random.Random(13)
    conn = benchlib.connect(directory)
    t = time.perf_counter()
    start = now - 365 * DAY
    with conn:
        users = [conn.execute(
            "INSERT INTO users(email, username, name, password_hash, created_at, updated_at)"
            " VALUES (?, ?, ?, 'x', ?, ?) RETURNING id",
            (f"u{i}@example.com", f"user{i}", f"User {i}", start + i * 365 * DAY / N_USERS,
             start + i * 365 * DAY / N_USERS)).fetchone()["id"] for i in range(N_USERS)]
        groups = []
        for g in range(N_GROUPS):
            members = [users[(g * 4 + k) % N_USERS] for k in range(4)]
            created = start + g * 365 * DAY / N_GROUPS
            chat_id = chats_q.insert(conn, public_id=f"A{rng.getrandbits(96):023x}"[:24], type="group",
                                     title=f"Group {g}", created_by=members[0], now=created).id
            for k, uid in enumerate(members):
                chats_q.add_member(conn, chat_id, uid, "owner" if k == 0 else "member", created)
            groups.append((chat_id, members))
    step = 365 * DAY / n_messages
    batch, done = 50_000, 0
    while done < n_messages:
        rows = []
        for k in range(done, min(done + batch, n_messages)):
            chat_id, members = groups[(k * 7919) % N_GROUPS]
            at = start + k * step
            rows.append((chat_id, members[k % 4], f"message {k}", at, at))
        with conn:
            conn.executemany("INSERT INTO messages(chat_id, sender_id, type, text, created_at, updated_at)"
                             " VALUES (?, ?, 'text', ?, ?, ?)", rows)
        done += len(rows)
        print(f"  seeded {done:,} messages", end="\r", flush=True)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    conn.execute("ANALYZE").fetchall()
    sizes = {r["name"]: r["n"] for r in conn.execute(
        "SELECT 'stats_hourly' AS name, count(*) AS n FROM stats_hourly"
        " UNION ALL SELECT 'activity_days', count(*) FROM activity_days"
        " UNION ALL SELECT 'messages', count(*) FROM messages")}
    conn.close()
    print(f"\n  rows: {sizes}")
    return time.perf_counter() - t


async def measure(base: str, token: str, paths: dict[str, str], rounds: int, requests: int) -> dict[str, list]:
    headers = {"Authorization": f"Bearer {token}"}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
    async with aiohttp.ClientSession() as session:
        for name, path in paths.items():  # warm-up, and a check that each chart answers
            async with session.get(base + path, headers=headers) as resp:
                body = await resp.json()
                assert resp.status == 200, (name, body)
        for r in range(rounds):
            order = list(paths.items()) if r % 2 == 0 else list(reversed(paths.items()))
            for name, path in order:
                times = []
                for _ in range(requests):
                    t0 = time.perf_counter()
                    async with session.get(base + path, headers=headers) as resp:
                        await resp.read()
                        assert resp.status == 200
                    times.append((time.perf_counter() - t0) * 1000)
                results[name].append((benchlib.pct(times, 50), benchlib.pct(times, 99)))
            print(f"round {r + 1}: " + ", ".join(f"{n} {results[n][-1][1]:.1f}" for n in paths) + " (p99 ms)",
                  flush=True)
    return results


async def login(base: str) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}) as resp:
            body = await resp.json()
            assert resp.status == 200, body
            return body["access_token"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200, help="requests per chart per round")
    parser.add_argument("--keep", type=Path, help="keep the seeded data directory here (reused if it exists)")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  nproc={os.cpu_count()}  load={os.getloadavg()[0]:.2f}")
    tmp = tempfile.mkdtemp(prefix="pufferd-bench-analytics-")
    directory = args.keep or Path(tmp) / "data"
    try:
        if not directory.exists():
            benchlib.init(directory, env(), email=EMAIL, password=PASSWORD, bcrypt_rounds=4)
            print(f"seeding {args.messages:,} messages ...")
            print(f"seeded in {seed(directory, args.messages, time.time()):.0f} s")
        proc, base = benchlib.serve(directory, Path(tmp) / "serve.log", env())
        try:
            token = asyncio.run(login(base))
            d = time.gmtime(time.time() - 364 * DAY)
            fill = {"d7": time.strftime("%Y-%m-%dT%H:00", time.gmtime(time.time() - 7 * DAY)),
                    "d365": f"{d.tm_year:04d}-{d.tm_mon:02d}-{d.tm_mday:02d}"}
            paths = {name: p.format(**fill) for name, p in CHARTS.items()}
            results = asyncio.run(measure(base, token, paths, args.rounds, args.requests))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        print(f"\n{args.requests} sequential requests per chart per round, {args.rounds} rounds; medians over rounds (ms):")
        print(f"  {'chart':34s} {'p50':>7s} {'p99':>7s}   p99 per round")
        for name, rs in results.items():
            print(f"  {name:34s} {statistics.median(r[0] for r in rs):7.2f} {statistics.median(r[1] for r in rs):7.2f}"
                  f"   {', '.join(f'{r[1]:.1f}' for r in rs)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
