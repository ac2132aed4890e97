"""GET /api/v1/chats for a user in 500 chats with 100 messages each, against a real `pufferd serve`
(issue 4, "Done when").

    python3 bench/bench_chats.py                     # 3 rounds of 500 sequential requests each
    python3 bench/bench_chats.py --rounds 5 --unread 100

Seeding goes straight into the data directory's database with SQL (before the server starts): the
viewer (the admin `pufferd init` creates) is in 250 private chats and 250 groups of 4, each chat
with 100 messages from alternating senders (every 20th mentions the viewer); the viewer's read
cursor leaves the newest --unread messages of each chat unread. Half the counterparts keep their
last-seen time for contacts only, and half of those have the viewer as a contact, so the privacy
path does real work.

Measured, one request at a time over loopback (latency, not throughput), interleaved per round:
  baseline  GET /api/v1/chats/{id}/notifications  (auth + one point read in one hop)
  list      GET /api/v1/chats                     (first page, limit 50)
  page      GET /api/v1/chats?before_id=<mid>     (a page from the middle of the list)
  list100   GET /api/v1/chats?limit=100
Then the statements one list request runs, counted with apsw's exec_trace on the same database.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import benchlib  # noqa: E402

from pufferd import chat_reads  # noqa: E402
from pufferd.db import chats_q  # noqa: E402
from pufferd.realtime.presence import Presence  # noqa: E402

EMAIL, PASSWORD = "admin@example.com", "bench-password-1"
T0 = 1_790_000_000.0


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("PUFFERD_") and "RATE_LIMIT" not in k}
    out.update(PYTHONPATH=str(ROOT), PUFFERD_ACCESS_LOG="0", LOGIN_RATE_LIMIT_PER_MINUTE="0")
    return out


def init(directory: Path) -> None:
    benchlib.init(directory, env(), email=EMAIL, password=PASSWORD, bcrypt_rounds=10)


def seed(directory: Path, n_chats: int, n_messages: int, unread: int) -> int:
    """Fill the database; return the viewer's id."""
    conn = benchlib.connect(directory)
    viewer = conn.execute("SELECT id FROM users WHERE email = ?", (EMAIL,)).fetchone()["id"]
    n_private = n_chats // 2
    with conn:
        others = []
        for i in range(n_private):
            last_seen = "contacts" if i % 2 else "everyone"
            others.append(conn.execute(
                "INSERT INTO users(email, username, name, password_hash, privacy_last_seen, last_seen_at,"
                " created_at, updated_at) VALUES (?, ?, ?, 'x', ?, ?, ?, ?) RETURNING id",
                (f"u{i}@example.com", f"user{i}", f"User {i}", last_seen, T0, T0, T0)).fetchone()["id"])
            if i % 4 == 1:
                conn.execute("INSERT INTO contacts(owner_id, contact_id, created_at) VALUES (?, ?, ?)",
                             (others[-1], viewer, T0))
        for c in range(n_chats):
            is_private = c < n_private
            if is_private:
                members = [viewer, others[c]]
                chat_id = chats_q.insert(conn, public_id=f"B{c:023d}", type="private",
                                         pair_key=chats_q.private_key(viewer, others[c]), created_by=viewer,
                                         now=T0).id
                roles = ["member", "member"]
            else:
                members = [viewer] + [others[(c * 7 + k) % n_private] for k in range(3)]
                chat_id = chats_q.insert(conn, public_id=f"B{c:023d}", type="group", title=f"Group {c}",
                                         created_by=viewer, now=T0).id
                roles = ["owner", "member", "member", "member"]
            for uid, role in zip(members, roles, strict=True):
                chats_q.add_member(conn, chat_id, uid, role, T0)
            rows = [(chat_id, members[m % len(members)], f"message {m} in chat {c}", T0 + c * 1000 + m,
                     T0 + c * 1000 + m) for m in range(n_messages)]
            conn.executemany("INSERT INTO messages(chat_id, sender_id, type, text, created_at, updated_at)"
                             " VALUES (?, ?, 'text', ?, ?, ?)", rows)
            ids = [r["id"] for r in conn.execute("SELECT id FROM messages WHERE chat_id = ? ORDER BY id", (chat_id,))]
            conn.executemany("INSERT INTO message_mentions(message_id, user_id, chat_id) VALUES (?, ?, ?)",
                             [(mid, viewer, chat_id) for mid in ids[::20]])
            conn.execute("UPDATE chats SET last_message_id = ?, last_activity_at = ? WHERE id = ?",
                         (ids[-1], T0 + c * 1000 + n_messages, chat_id))
            read = ids[-unread - 1] if unread < len(ids) else 0
            conn.execute("UPDATE chat_members SET last_read_message_id = ? WHERE chat_id = ? AND user_id = ?",
                         (read, chat_id, viewer))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    conn.execute("ANALYZE").fetchall()
    conn.close()
    return viewer


def statements_per_list(directory: Path, viewer: int, before_id: int) -> tuple[int, int]:
    """Statements of one list request (first page, and a page with before_id), auth excluded."""
    conn = benchlib.connect(directory)
    counts = []
    for before in (None, before_id):
        seen = []
        conn.exec_trace = lambda cur, sql, b, seen=seen: seen.append(sql) or True
        with conn:
            key = chats_q.sort_key(conn, viewer, before) if before else None
            ids = chats_q.list_page(conn, viewer, archived=False, limit=50, before=key)
            chat_reads.views_txn(conn, Presence(), [(i, viewer) for i in ids])
        conn.exec_trace = None
        counts.append(len(seen))
    conn.close()
    return counts[0], counts[1]


def serve(directory: Path, log: Path) -> tuple[subprocess.Popen, str]:
    return benchlib.serve(directory, log, env())


async def timed(session: aiohttp.ClientSession, url: str, n: int, expect_len: int | None = None) -> list[float]:
    took = []
    for _ in range(n):
        t = time.perf_counter()
        async with session.get(url) as resp:
            body = await resp.json()
            assert resp.status == 200, body
        took.append((time.perf_counter() - t) * 1000)
        if expect_len is not None:
            assert len(body) == expect_len, len(body)
    return took


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=500, help="sequential requests per endpoint per round")
    ap.add_argument("--chats", type=int, default=500)
    ap.add_argument("--messages", type=int, default=100)
    ap.add_argument("--unread", type=int, default=10, help="unread messages per chat for the viewer")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="pufferd-bench-chats-") as tmp:
        data = Path(tmp) / "data"
        init(data)
        t = time.perf_counter()
        viewer = seed(data, args.chats, args.messages, args.unread)
        print(f"seeded {args.chats} chats x {args.messages} messages ({args.unread} unread each) "
              f"in {time.perf_counter() - t:.1f} s; {os.cpu_count()} CPUs")
        proc, base = serve(data, Path(tmp) / "serve.log")
        try:
            async with aiohttp.ClientSession() as session:
                async with session.post(f"{base}/api/v1/auth/login",
                                        json={"email": EMAIL, "password": PASSWORD}) as resp:
                    token = (await resp.json())["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as session:
                async with session.get(f"{base}/api/v1/chats?limit=100") as resp:
                    first = await resp.json()
                mid_id = first[-1]["id"]
                urls = {
                    "baseline": (f"{base}/api/v1/chats/{first[0]['id']}/notifications", None),
                    "list": (f"{base}/api/v1/chats", 50),
                    "page": (f"{base}/api/v1/chats?before_id={mid_id}", 50),
                    "list100": (f"{base}/api/v1/chats?limit=100", 100),
                }
                for url, n in urls.values():  # warm up
                    await timed(session, url, 20, n)
                results: dict[str, list[tuple[float, float]]] = {k: [] for k in urls}
                for r in range(args.rounds):
                    line = []
                    for name, (url, n) in urls.items():
                        took = await timed(session, url, args.requests, n)
                        results[name].append((benchlib.pct(took, 50), benchlib.pct(took, 99)))
                        line.append(f"{name} p50 {benchlib.pct(took, 50):.2f} p99 {benchlib.pct(took, 99):.2f}")
                    print(f"  round {r + 1}: " + " | ".join(line) + " ms")
            for name, rows in results.items():
                print(f"{name:9s} median of rounds: p50 {statistics.median(p for p, _ in rows):.2f} ms, "
                      f"p99 {statistics.median(q for _, q in rows):.2f} ms")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        a, b = statements_per_list(data, viewer, mid_id)
        print(f"statements per GET /chats (after auth): first page {a}, with before_id {b}"
              " (the same for any number of chats)")


if __name__ == "__main__":
    asyncio.run(main())
