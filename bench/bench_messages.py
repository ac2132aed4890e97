"""Messages against a real `pufferd serve` (issue 5, "Done when"): send throughput, history page
latency, search latency over 1,000,000 stored messages.

    python3 bench/bench_messages.py                      # all three, 3 rounds each
    python3 bench/bench_messages.py send --rounds 5      # one part
    python3 bench/bench_messages.py search --messages 200000

Seeding goes straight into the data directory's database with SQL before the server starts (the
FTS5 triggers index every row as the server would): 2,000 users, 1,000 groups of 4 holding
--messages messages of 8 words drawn from a Zipf-distributed 5,000-word vocabulary (short words
most frequent), the viewer
(the admin `pufferd init` creates) in 20 of those groups; one history chat of 10,000 messages;
and 16 groups of 4 for the 64 senders. The server runs with MESSAGE_RATE_LIMIT_PER_MINUTE=0 and
DUPLICATE_MESSAGE_COOLDOWN_SECONDS=0 (the bench would trip them by design) and no access log.

send     wrk (C, 64 keep-alive connections, 1 thread, --duration s per round) POSTs
         /api/v1/messages round-robin for 64 users, each in one of 16 chats (4 per chat), every
         body with its own text and client_message_id: messages/s and latency percentiles. Each
         message also stores 3 notifications and publishes 2 message_created + 3 notification
         events. Baseline in the same run, interleaved: GET /api/v1/chats/{id}/notifications
         (authentication + one point read) under the same wrk load.
history  one request at a time: GET /api/v1/messages/{chat}?limit=50 (newest page) and with a
         random before_id; baseline GET /api/v1/chats/{id}/notifications.
search   one request at a time: GET /api/v1/messages/search for a mix of common, middling and
         rare words, two-letter prefixes, two-word queries, words the viewer never sees, and the
         same within one chat (chat_id); and GET /api/v1/search; baseline as above.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import benchlib  # noqa: E402

from pufferd import passwords  # noqa: E402
from pufferd.db import chats_q  # noqa: E402

EMAIL, PASSWORD = "admin@example.com", "bench-password-1"
T0 = 1_790_000_000.0
N_USERS, N_GROUPS, VIEWER_GROUPS, WORDS_PER_MESSAGE, VOCABULARY = 2000, 1000, 20, 8, 5000
SENDERS, SEND_CHATS, HISTORY_MESSAGES = 64, 16, 10_000


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("PUFFERD_") and "RATE_LIMIT" not in k
           and "COOLDOWN" not in k}
    out.update(PYTHONPATH=str(ROOT), PUFFERD_ACCESS_LOG="0", LOGIN_RATE_LIMIT_PER_MINUTE="0",
               MESSAGE_RATE_LIMIT_PER_MINUTE="0", DUPLICATE_MESSAGE_COOLDOWN_SECONDS="0")
    return out


def init(directory: Path) -> None:
    benchlib.init(directory, env(), email=EMAIL, password=PASSWORD, bcrypt_rounds=10)


def vocabulary(rng: random.Random) -> list[str]:
    """VOCABULARY made-up words of 2-10 letters (mostly 5-8, as in English text), most frequent
    first; as in real language, the frequent words are the short ones (Zipf's law of
    abbreviation): ~50 two-letter words lead, then three-letter ones, and so on."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    lengths, weights = range(2, 11), (1, 4, 10, 15, 18, 17, 15, 12, 8)
    words: set[str] = set()
    while len(words) < VOCABULARY:
        n = rng.choices(lengths, weights)[0]
        words.add("".join(rng.choice(letters) for _ in range(n)))
    return sorted(words, key=lambda w: (len(w), rng.random()))


def seed(directory: Path, n_messages: int) -> dict:
    """Fill the database; return what the benchmarks need to know about it."""
    rng = random.Random(5)
    words = vocabulary(rng)
    cum = []
    total = 0.0
    for rank in range(1, VOCABULARY + 1):
        total += 1 / rank
        cum.append(total)
    conn = benchlib.connect(directory)
    viewer = conn.execute("SELECT id FROM users WHERE email = ?", (EMAIL,)).fetchone()["id"]
    pw = passwords.hash_sync(PASSWORD, 4)
    info: dict = {"viewer": viewer, "words": words}
    with conn:
        users = [conn.execute(
            "INSERT INTO users(email, username, name, password_hash, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (f"u{i}@example.com", f"user{i}", f"User {words[i % VOCABULARY].title()}", pw, T0, T0)).fetchone()["id"]
            for i in range(N_USERS + SENDERS)]
        others, senders = users[:N_USERS], users[N_USERS:]

        def group(title: str, members: list[int]) -> int:
            chat_id = chats_q.insert(conn, public_id=f"M{rng.getrandbits(96):023x}"[:24], type="group",
                                     title=title, created_by=members[0], now=T0).id
            for k, uid in enumerate(members):
                chats_q.add_member(conn, chat_id, uid, "owner" if k == 0 else "member", T0)
            return chat_id

        groups = []
        for g in range(N_GROUPS):
            members = [others[(g * 4 + k) % N_USERS] for k in range(4)]
            if g % (N_GROUPS // VIEWER_GROUPS) == 0:
                members[3] = viewer
            groups.append((group(f"Group {g}", members), members))
        info["viewer_chats"] = [c for c, m in groups if viewer in m]
        info["history_chat"] = group("History", [viewer, *others[:3]])
        info["send_chats"] = [group(f"Send {c}", senders[c * 4:c * 4 + 4]) for c in range(SEND_CHATS)]
        info["senders"] = [(i, f"u{N_USERS + i}@example.com") for i in range(SENDERS)]
        info["baseline_chat"] = info["history_chat"]

    t = time.perf_counter()
    batch = 5000
    done = 0
    while done < n_messages:
        rows = []
        for k in range(done, min(done + batch, n_messages)):
            chat_id, members = groups[(k * 7919) % N_GROUPS]
            text = " ".join(rng.choices(words, cum_weights=cum, k=WORDS_PER_MESSAGE))
            rows.append((chat_id, members[k % 4], text, T0 + k, T0 + k))
        with conn:
            conn.executemany("INSERT INTO messages(chat_id, sender_id, type, text, created_at, updated_at)"
                             " VALUES (?, ?, 'text', ?, ?, ?)", rows)
        done += len(rows)
    hist_members = [viewer, *others[:3]]
    with conn:
        conn.executemany("INSERT INTO messages(chat_id, sender_id, type, text, created_at, updated_at)"
                         " VALUES (?, ?, 'text', ?, ?, ?)",
                         [(info["history_chat"], hist_members[k % 4],
                           " ".join(rng.choices(words, cum_weights=cum, k=WORDS_PER_MESSAGE)), T0 + k, T0 + k)
                          for k in range(HISTORY_MESSAGES)])
        conn.execute("UPDATE chats SET last_message_id = (SELECT max(id) FROM messages WHERE chat_id = chats.id),"
                     " last_activity_at = coalesce((SELECT max(created_at) FROM messages WHERE chat_id = chats.id),"
                     " last_activity_at)")
    info["seed_seconds"] = time.perf_counter() - t
    info["history_ids"] = [r["id"] for r in conn.execute(
        "SELECT id FROM messages WHERE chat_id = ? ORDER BY id", (info["history_chat"],))]
    # how often each word occurs, to pick common / middling / rare query words
    counts = {w: 0 for w in words}
    for r in conn.execute("SELECT text FROM messages ORDER BY id DESC LIMIT 20000"):
        for w in set(r["text"].split()):
            counts[w] += 1
    ranked = sorted(words, key=lambda w: -counts[w])
    info["common"], info["middling"], info["rare"] = ranked[:5], ranked[200:205], ranked[3000:3005]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    conn.execute("ANALYZE").fetchall()
    conn.close()
    return info


def serve(directory: Path, log: Path) -> tuple[subprocess.Popen, str]:
    return benchlib.serve(directory, log, env())


async def login(session: aiohttp.ClientSession, base: str, email: str) -> str:
    async with session.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return body["access_token"]


# send -------------------------------------------------------------------------------------------

WRK_SEND = r"""
local tokens = {%(tokens)s}
local chats = {%(chats)s}
local n, i, counter = #tokens, 0, 0
local tag = "%(tag)s"
local bad = 0
request = function()
  i = (i %% n) + 1
  counter = counter + 1
  local body = '{"chat_id":' .. chats[i] .. ',"type":"text","text":"load ' .. counter .. ' from sender ' .. i ..
               ' lorem ipsum dolor","client_message_id":"b-' .. tag .. '-' .. counter .. '"}'
  return wrk.format("POST", "/api/v1/messages",
                    {["Authorization"] = "Bearer " .. tokens[i], ["Content-Type"] = "application/json"}, body)
end
response = function(status, headers, body)
  if status ~= 201 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%f %%f %%f %%f %%d\n", summary.requests, summary.duration / 1e6,
           latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
           summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
"""

WRK_GET = r"""
local token = "%(token)s"
request = function()
  return wrk.format("GET", "%(path)s", {["Authorization"] = "Bearer " .. token})
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%f %%f %%f %%f %%d\n", summary.requests, summary.duration / 1e6,
           latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
           summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process PID so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(base: str, script: str, duration: int, tmp: Path, pid: int) -> dict:
    path = tmp / "wrk.lua"
    path.write_text(script.replace("%(tag)s", f"{time.time_ns():x}"))  # client_message_ids unique per run
    cpu0 = cpu_seconds(pid)
    out = subprocess.run(["wrk", "-t1", "-c64", f"-d{duration}s", "--latency", "-s", str(path), base],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT (\d+) ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", out)
    assert m, out
    n, secs, p50, p99, mx, errors = m.groups()
    cpu = cpu_seconds(pid) - cpu0
    return {"rate": int(n) / float(secs), "p50": float(p50), "p99": float(p99), "max": float(mx),
            "errors": int(errors), "requests": int(n), "cpu_us": cpu / int(n) * 1e6,
            "cores": cpu / float(secs)}


async def bench_send(base: str, info: dict, rounds: int, duration: int, tmp: Path, data: Path, pid: int) -> None:
    async with aiohttp.ClientSession() as session:
        tokens = [await login(session, base, email) for _, email in info["senders"]]
        viewer_token = await login(session, base, EMAIL)
    chats = [info["send_chats"][i // 4] for i, _ in info["senders"]]
    send_script = WRK_SEND % {"tokens": ",".join(f'"{t}"' for t in tokens), "chats": ",".join(map(str, chats)),
                              "tag": "%(tag)s"}
    get_script = WRK_GET % {"token": viewer_token, "path": f"/api/v1/chats/{info['baseline_chat']}/notifications"}
    conn = benchlib.connect(data)
    before = conn.execute("SELECT count(*) AS n FROM messages").fetchone()["n"]
    conn.close()
    wrk(base, send_script, 3, tmp, pid)  # warm up
    rows = {"send": [], "baseline": []}
    for r in range(rounds):
        s = wrk(base, send_script, duration, tmp, pid)
        b = wrk(base, get_script, duration, tmp, pid)
        rows["send"].append(s)
        rows["baseline"].append(b)
        print(f"  round {r + 1}: send {s['rate']:.0f} msg/s p50 {s['p50']:.1f} p99 {s['p99']:.1f} ms, "
              f"server CPU {s['cpu_us']:.0f} us/msg on {s['cores']:.2f} cores (errors {s['errors']}) | "
              f"baseline {b['rate']:.0f} req/s p50 {b['p50']:.1f} p99 {b['p99']:.1f} ms, "
              f"{b['cpu_us']:.0f} us/req on {b['cores']:.2f} cores; load average {os.getloadavg()[0]:.1f}")
    conn = benchlib.connect(data)
    stored = conn.execute("SELECT count(*) AS n FROM messages").fetchone()["n"] - before
    conn.close()
    sent = sum(x["requests"] for x in rows["send"]) + 0
    for name, rs in rows.items():
        print(f"{name:9s} median of rounds: {statistics.median(x['rate'] for x in rs):.0f}/s, "
              f"p50 {statistics.median(x['p50'] for x in rs):.1f} ms, p99 {statistics.median(x['p99'] for x in rs):.1f} ms, "
              f"server CPU {statistics.median(x['cpu_us'] for x in rs):.0f} us per request")
    print(f"messages stored during the send rounds (and warm-up): {stored} (wrk counted {sent} in the rounds)")


# latency (history, search) ------------------------------------------------------------------------

async def timed(session: aiohttp.ClientSession, urls: list[str]) -> list[float]:
    took = []
    for url in urls:
        t = time.perf_counter()
        async with session.get(url) as resp:
            body = await resp.read()
            assert resp.status == 200, body[:300]
        took.append((time.perf_counter() - t) * 1000)
    return took


async def latency_rounds(session: aiohttp.ClientSession, sets: dict[str, list[str]], rounds: int) -> None:
    for urls in sets.values():
        await timed(session, urls[:20])
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in sets}
    for r in range(rounds):
        line = []
        for name, urls in sets.items():
            took = await timed(session, urls)
            results[name].append((benchlib.pct(took, 50), benchlib.pct(took, 99)))
            line.append(f"{name} p50 {benchlib.pct(took, 50):.2f} p99 {benchlib.pct(took, 99):.2f}")
        print(f"  round {r + 1}: " + " | ".join(line) + " ms")
    for name, rs in results.items():
        print(f"{name:16s} median of rounds: p50 {statistics.median(p for p, _ in rs):.2f} ms, "
              f"p99 {statistics.median(q for _, q in rs):.2f} ms")


async def bench_history(base: str, info: dict, rounds: int, n: int) -> None:
    rng = random.Random(7)
    chat = info["history_chat"]
    ids = info["history_ids"]
    async with aiohttp.ClientSession() as session:
        token = await login(session, base, EMAIL)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        sets = {
            "baseline": [f"{base}/api/v1/chats/{info['baseline_chat']}/notifications"] * n,
            "history newest": [f"{base}/api/v1/messages/{chat}?limit=50"] * n,
            "history before": [f"{base}/api/v1/messages/{chat}?limit=50&before_id={rng.choice(ids[100:])}"
                               for _ in range(n)],
        }
        await latency_rounds(session, sets, rounds)


async def bench_search(base: str, info: dict, rounds: int, n: int) -> None:
    rng = random.Random(11)
    words = info["words"]
    chat = info["viewer_chats"][0]
    kinds = {
        "common": lambda: rng.choice(info["common"]),
        "middling": lambda: rng.choice(info["middling"]),
        "rare": lambda: rng.choice(info["rare"]),
        "prefix2": lambda: rng.choice(info["common"] + info["middling"])[:2],
        "two words": lambda: f"{rng.choice(info['common'])} {rng.choice(info['middling'])}",
        "prefix4 rare": lambda: rng.choice(info["rare"])[:4],
        "absent": lambda: rng.choice(words) + "zq",
    }
    async with aiohttp.ClientSession() as session:
        token = await login(session, base, EMAIL)
    search = f"{base}/api/v1/messages/search?limit=50&query="
    mixed = [search + quote(kinds[k]()) for k in kinds for _ in range(n // len(kinds))]
    rng.shuffle(mixed)
    in_chat = [search + quote(kinds[k]()) + f"&chat_id={chat}" for k in kinds for _ in range(n // len(kinds))]
    rng.shuffle(in_chat)
    global_ = [f"{base}/api/v1/search?query=" + quote(kinds[k]()) for k in kinds for _ in range(n // len(kinds))]
    rng.shuffle(global_)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        sets = {
            "baseline": [f"{base}/api/v1/chats/{info['baseline_chat']}/notifications"] * n,
            "search all chats": mixed,
            "search one chat": in_chat,
            "global search": global_,
        }
        await latency_rounds(session, sets, rounds)
        # per query kind, one pass (where the time goes)
        for name, make in kinds.items():
            urls = [search + quote(make()) for _ in range(100)]
            took = await timed(session, urls)
            urls_chat = [u + f"&chat_id={chat}" for u in urls]
            took_chat = await timed(session, urls_chat)
            print(f"  kind {name:12s}: all chats p50 {benchlib.pct(took, 50):.2f} p99 {benchlib.pct(took, 99):.2f} ms | "
                  f"one chat p50 {benchlib.pct(took_chat, 50):.2f} p99 {benchlib.pct(took_chat, 99):.2f} ms")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", nargs="?", default="all", choices=["all", "send", "history", "search"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run (send)")
    ap.add_argument("--requests", type=int, default=700, help="sequential requests per set per round")
    ap.add_argument("--messages", type=int, default=1_000_000, help="messages seeded for search")
    ap.add_argument("--keep", type=Path, help="keep/reuse a seeded data directory here")
    args = ap.parse_args()
    if shutil.which("wrk") is None and args.part in ("all", "send"):
        raise SystemExit("wrk is needed for the send benchmark: apt-get install -y wrk")
    n_messages = args.messages if args.part in ("all", "search") else 0

    with tempfile.TemporaryDirectory(prefix="pufferd-bench-messages-") as tmp:
        tmp_path = Path(tmp)
        data = args.keep or tmp_path / "data"
        info_file = data.parent / f"{data.name}.bench.json"
        if args.keep and info_file.exists():
            info = json.loads(info_file.read_text())
            print(f"reusing {data}")
        else:
            init(data)
            info = seed(data, n_messages)
            info_file.write_text(json.dumps(info))
            print(f"seeded {n_messages} messages (+{HISTORY_MESSAGES} in the history chat) in "
                  f"{info['seed_seconds']:.0f} s; {os.cpu_count()} CPUs")
        proc, base = serve(data, tmp_path / "serve.log")
        try:
            if args.part in ("all", "history"):
                print("history:")
                await bench_history(base, info, args.rounds, args.requests)
            if args.part in ("all", "search"):
                print("search:")
                await bench_search(base, info, args.rounds, args.requests)
            if args.part in ("all", "send"):
                print("send:")
                await bench_send(base, info, args.rounds, args.duration, tmp_path, data, proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


if __name__ == "__main__":
    asyncio.run(main())
