"""Realtime benchmark: WebSocket fan-out of `pufferd serve` against a bare aiohttp broadcast.

    python3 bench/bench_realtime.py                 # 3 rounds, 1,000 clients, RSS up to 10,000 sockets
    python3 bench/bench_realtime.py --rounds 1 --clients 200 --idle 2000   # a quick look

This script is the load generator; it runs in its own process and starts, as subprocesses, a real
`pufferd serve` (python3 -m pufferd) on a prepared data directory and bench/bare_broadcast.py.
Both get the same workload, interleaved round by round so machine noise hits both alike:

1. N clients connect to /api/v1/ws (pufferd: each an authenticated user, all members of one group).
2. Latency: one more member posts 20 messages/s over HTTP (POST /api/v1/messages) for --seconds;
   each message's text carries its send time, and every client records send -> receipt of its
   `message_created` frame. p50/p99 over all deliveries.
3. Full speed: --posters concurrent HTTP senders post --burst messages, with at most --window
   messages not yet received by every client (so the clients, not the server, set no pace
   beyond what the slowest socket reads); deliveries/s = messages x clients / elapsed.
4. RSS (pufferd restarted fresh, and bare): server VmRSS with 0, --clients and --idle idle sockets.

The clients are raw asyncio protocols with a minimal RFC 6455 parser (no JSON decoding), so one
process can read far more frames per second than either server writes.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MARK = b'"text":"b'
CREATED = b'{"type":"message_created"'


# --- servers -------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(name: str, cmd: list[str], env: dict[str, str], logdir: Path) -> Server:
    port = free_port()
    log = logdir / f"{name}-{port}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([*cmd, "--port", str(port)], stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, **env}, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "listening on" in log.read_text(errors="replace"):
            return Server(name, proc, port, log)
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{log.read_text()}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{name} did not start:\n{log.read_text()}")


@dataclass
class Fixture:
    data_dir: Path
    tokens: list[str]        # one access token per client user
    sender_token: str
    chat_id: int


def prepare(workdir: Path, users: int, group: int, muted: bool) -> Fixture:
    """An initialised data directory with USERS users; the first GROUP and a sender share a group
    (MUTED: every member muted the group, so a message stores and publishes no notifications)."""
    from pufferd import tokens
    from pufferd.config import load_settings
    from pufferd.datadir import Admin, initialise, open_database
    from pufferd.keys import Keys

    data_dir = workdir / "data"
    initialise(data_dir, {"bcrypt_rounds": 4, "server_name": "bench"},
               Admin("admin", "admin@example.com", "bench-password-1"))
    db = open_database(load_settings(data_dir))
    now = time.time()

    def fill(conn) -> tuple[list[int], int, int]:
        conn.executemany("INSERT INTO users(email, username, name, password_hash, created_at, updated_at)"
                         " VALUES (?, ?, ?, 'x', ?, ?)",
                         [(f"u{i}@bench.example", f"u{i}", f"User {i}", now, now) for i in range(users + 1)])
        ids = [r["id"] for r in conn.execute("SELECT id FROM users WHERE username LIKE 'u%' ORDER BY id")]
        sender, members = ids[0], ids[1:]
        chat_id = conn.execute(
            "INSERT INTO chats(public_id, type, title, created_by, last_activity_at, created_at, updated_at)"
            " VALUES (?, 'group', 'bench', ?, ?, ?, ?) RETURNING id",
            (secrets.token_hex(12), sender, now, now, now)).fetchone()["id"]
        cols = {r["name"] for r in conn.execute("PRAGMA table_info(chat_members)")}
        base = conn.execute("SELECT coalesce(max(id), 0) AS n FROM chat_members").fetchone()["n"] \
            if "id" in cols else 0
        rows = [(chat_id, uid, "owner" if uid == sender else "member", now, int(muted))
                for uid in [sender, *members[:group]]]
        if "id" in cols:
            conn.executemany("INSERT INTO chat_members(chat_id, user_id, role, joined_at, muted, id)"
                             " VALUES (?, ?, ?, ?, ?, ?)", [(*r, base + i + 1) for i, r in enumerate(rows)])
        else:
            conn.executemany("INSERT INTO chat_members(chat_id, user_id, role, joined_at, muted)"
                             " VALUES (?, ?, ?, ?, ?)", rows)
        return members, sender, chat_id

    members, sender, chat_id = db.write_sync(fill)
    db.close()
    key = Keys.load(data_dir / "keys").jwt

    def sign(uid: int) -> str:
        return tokens.issue(key, user_id=uid, token_type="access", now=time.time(), ttl=6 * 3600)[0]

    return Fixture(data_dir, [sign(u) for u in members], sign(sender), chat_id)


# --- clients ---------------------------------------------------------------------------------------

class Stats:
    """Deliveries of one phase, filled by every client protocol."""

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.latencies: list[int] = []
        self.counts: dict[int, int] = {}
        self.complete = 0
        self.done = asyncio.Event()
        self.expected = -1
        self.progress = asyncio.Event()

    def delivered(self, k: int, latency_ns: int) -> None:
        self.latencies.append(latency_ns)
        n = self.counts.get(k, 0) + 1
        self.counts[k] = n
        if n == self.clients:
            self.complete += 1
            self.progress.set()
            if self.complete == self.expected:
                self.done.set()


class WSClient(asyncio.Protocol):
    """One WebSocket client: handshake, then frames parsed just enough to time message_created."""

    def __init__(self, path: str, port: int, owner: Clients) -> None:
        self.path = path
        self.port = port
        self.owner = owner
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.upgraded = False
        self.close_code: int | None = None
        self.frames = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(  # type: ignore[attr-defined]
            f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:
            self.buf += data
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buf[:12])
            data = bytes(self.buf[end + 4:])
            self.buf.clear()
            if b" 101" not in status:
                self.opened.set_exception(RuntimeError(f"handshake refused: {status!r}"))
                self.transport.close()  # type: ignore[union-attr]
                return
            self.upgraded = True
        # usually whole frames arrive: parse DATA in place, buffer only a partial tail
        buf: bytes | bytearray
        if self.buf:
            self.buf += data
            buf = self.buf
        else:
            buf = data
        pos, size = 0, len(buf)
        now = time.perf_counter_ns()
        stats = self.owner.stats
        while size - pos >= 2:
            opcode = buf[pos] & 0x0F
            ln = buf[pos + 1] & 0x7F
            off = 2
            if ln == 126:
                if size - pos < 4:
                    break
                ln = int.from_bytes(buf[pos + 2:pos + 4], "big")
                off = 4
            elif ln == 127:
                if size - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2:pos + 10], "big")
                off = 10
            if size - pos < off + ln:
                break
            start, pos = pos + off, pos + off + ln
            if opcode == 1:
                self.frames += 1
                if not self.opened.done():
                    self.opened.set_result(None)  # the `ready` frame
                elif stats is not None and buf.startswith(CREATED, start):
                    i = buf.find(MARK, start, pos)
                    if i >= 0:
                        j = buf.find(b'"', i + 9, pos)
                        k, t = bytes(buf[i + 9:j]).split(b" ")
                        stats.delivered(int(k), now - int(t))
            elif opcode == 9:  # ping: answer with a masked pong
                self.send(0xA, bytes(buf[start:pos]))
            elif opcode == 8:
                self.close_code = int.from_bytes(buf[start:start + 2], "big") if ln >= 2 else 1005
                self.send(0x8, bytes(buf[start:start + 2]))
                self.transport.close()  # type: ignore[union-attr]
        if buf is self.buf:
            del self.buf[:pos]
        elif pos < size:
            self.buf += buf[pos:]

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed before ready"))
        self.owner.lost += 1


class Clients:
    def __init__(self) -> None:
        self.protocols: list[WSClient] = []
        self.stats: Stats | None = None
        self.lost = 0

    async def connect(self, port: int, paths: list[str], concurrency: int = 100) -> None:
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(concurrency)

        async def one(path: str) -> None:
            async with sem:
                _, proto = await loop.create_connection(lambda: WSClient(path, port, self), "127.0.0.1", port)
                await asyncio.wait_for(proto.opened, 120)
                self.protocols.append(proto)

        await asyncio.gather(*(one(p) for p in paths))

    def close(self) -> None:
        for p in self.protocols:
            if p.transport is not None and not p.transport.is_closing():
                p.transport.close()
        self.protocols.clear()


# --- phases ----------------------------------------------------------------------------------------

@dataclass
class Sender:
    base: str
    headers: dict[str, str]
    chat_id: int
    session: aiohttp.ClientSession
    errors: int = 0
    round_trips: list[int] = field(default_factory=list)  # POST sent -> 201 read, ns

    async def post(self, k: int) -> None:
        t0 = time.perf_counter_ns()
        body = {"chat_id": self.chat_id, "type": "text", "text": f"b{k} {t0}"}
        async with self.session.post(self.base + "/api/v1/messages", json=body, headers=self.headers) as r:
            if r.status != 201:
                self.errors += 1
                print(f"  POST failed: {r.status} {(await r.text())[:200]}", file=sys.stderr)
            await r.read()
        self.round_trips.append(time.perf_counter_ns() - t0)


def pct(values: list[int], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] / 1e6


async def latency_phase(clients: Clients, sender: Sender, rate: float, seconds: float) -> dict[str, float]:
    n = int(rate * seconds)
    stats = clients.stats = Stats(len(clients.protocols))
    stats.expected = n
    t0 = time.monotonic()
    tasks = []
    for k in range(n):
        delay = t0 + k / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(sender.post(k)))
    await asyncio.gather(*tasks)
    try:
        await asyncio.wait_for(stats.done.wait(), 15)
    except TimeoutError:
        pass
    clients.stats = None
    got = len(stats.latencies)
    posts, sender.round_trips = sender.round_trips, []
    return {"p50_ms": pct(stats.latencies, 50), "p99_ms": pct(stats.latencies, 99),
            "max_ms": pct(stats.latencies, 100), "post_p50_ms": pct(posts, 50), "post_p99_ms": pct(posts, 99),
            "delivered": got, "expected": n * stats.clients}


async def throughput_phase(clients: Clients, sender: Sender, burst: int, window: int,
                           posters: int) -> dict[str, float]:
    stats = clients.stats = Stats(len(clients.protocols))
    stats.expected = burst
    next_k = 0
    sent = 0

    async def poster() -> None:
        nonlocal next_k, sent
        while next_k < burst:
            while sent - stats.complete >= window:
                stats.progress.clear()
                await stats.progress.wait()
            k = next_k
            next_k += 1
            sent += 1
            await sender.post(k)

    t0 = time.perf_counter()
    await asyncio.gather(*(poster() for _ in range(posters)))
    try:
        await asyncio.wait_for(stats.done.wait(), 60)
    except TimeoutError:
        print(f"  full speed: only {stats.complete}/{burst} messages reached every client", file=sys.stderr)
    elapsed = time.perf_counter() - t0
    clients.stats = None
    return {"deliveries_per_s": len(stats.latencies) / elapsed, "messages_per_s": stats.complete / elapsed,
            "seconds": elapsed, "delivered": len(stats.latencies), "expected": burst * stats.clients}


async def run_target(server: Server, paths: list[str], sender_headers: dict[str, str], chat_id: int,
                     args: argparse.Namespace) -> dict[str, float]:
    clients = Clients()
    await clients.connect(server.port, paths)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        sender = Sender(server.base, sender_headers, chat_id, session)
        await latency_phase(clients, sender, rate=20, seconds=1)  # warm-up
        cpu0, ucpu0 = server.cpu_seconds(), time.process_time()
        lat = await latency_phase(clients, sender, rate=20, seconds=args.seconds)
        thr = await throughput_phase(clients, sender, args.burst, args.window, args.posters)
        cpu = server.cpu_seconds() - cpu0
        ucpu = time.process_time() - ucpu0
    closed = sum(1 for p in clients.protocols if p.close_code is not None)
    clients.close()
    await asyncio.sleep(0.5)
    return {**lat, **{f"full_{k}": v for k, v in thr.items()}, "server_cpu_s": cpu, "client_cpu_s": ucpu,
            "closed_by_server": closed, "post_errors": sender.errors}


async def idle_rss(server: Server, paths: list[str], steps: list[int]) -> list[tuple[int, float]]:
    clients = Clients()
    out = [(0, server.rss_mb())]
    done = 0
    for target in steps:
        await clients.connect(server.port, paths[done:target], concurrency=200)
        done = target
        await asyncio.sleep(3)
        alive = sum(1 for p in clients.protocols if p.close_code is None and not p.transport.is_closing())
        out.append((alive, server.rss_mb()))
    clients.close()
    await asyncio.sleep(1)
    return out


# --- main ------------------------------------------------------------------------------------------

def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main(args: argparse.Namespace) -> None:
    raise_nofile()
    workdir = Path(tempfile.mkdtemp(prefix="bench-realtime-"))
    print(f"preparing {args.idle} users in {workdir} ...", file=sys.stderr)
    fx = prepare(workdir, max(args.idle, args.clients), args.clients, args.muted)
    env = {"PUFFERD_ACCESS_LOG": "false", "MESSAGE_RATE_LIMIT_PER_MINUTE": "0",
           "DUPLICATE_MESSAGE_COOLDOWN_SECONDS": "0", "PUFFERD_LOG_LEVEL": "info"}
    pufferd_cmd = [sys.executable, "-m", "pufferd", "serve", "--data-dir", str(fx.data_dir)]
    bare_cmd = [sys.executable, str(ROOT / "bench" / "bare_broadcast.py")]
    puff_paths = [f"/api/v1/ws?token={t}" for t in fx.tokens]
    bare_paths = ["/api/v1/ws"] * len(fx.tokens)
    results: dict[str, list[dict[str, float]]] = {"bare": [], "pufferd": []}
    started: list[Server] = []

    def launch(name: str, cmd: list[str], extra: dict[str, str]) -> Server:
        started.append(start(name, cmd, extra, workdir))
        return started[-1]

    try:
        puff = launch("pufferd", pufferd_cmd, env)
        bare = launch("bare", bare_cmd, {})
        for r in range(args.rounds):
            order = [("bare", bare), ("pufferd", puff)] if r % 2 == 0 else [("pufferd", puff), ("bare", bare)]
            for name, server in order:
                paths = (puff_paths if name == "pufferd" else bare_paths)[:args.clients]
                headers = {"Authorization": f"Bearer {fx.sender_token}"} if name == "pufferd" else {}
                res = await run_target(server, paths, headers, fx.chat_id, args)
                results[name].append(res)
                print(f"round {r + 1} {name:8s} p50 {res['p50_ms']:6.1f} ms  p99 {res['p99_ms']:6.1f} ms  "
                      f"max {res['max_ms']:6.1f} ms  ({res['delivered']}/{res['expected']})  "
                      f"POST p50 {res['post_p50_ms']:.1f} ms p99 {res['post_p99_ms']:.1f} ms  "
                      f"full speed {res['full_deliveries_per_s']:9.0f} deliveries/s "
                      f"({res['full_messages_per_s']:.0f} msgs/s, {res['full_delivered']}/{res['full_expected']})  "
                      f"server cpu {res['server_cpu_s']:.1f} s, client cpu {res['client_cpu_s']:.1f} s, "
                      f"closed {res['closed_by_server']}", flush=True)
        puff.stop()
        bare.stop()
        rss = {}
        steps = [s for s in (args.clients, args.idle) if s]
        for name, cmd, paths in (("pufferd", pufferd_cmd, puff_paths), ("bare", bare_cmd, bare_paths)):
            server = launch(name, cmd, env if name == "pufferd" else {})
            await asyncio.sleep(1)
            rss[name] = await idle_rss(server, paths, steps)
            server.stop()
            print(f"RSS {name:8s} " + "  ".join(f"{n} sockets: {mb:.1f} MB" for n, mb in rss[name]), flush=True)
    finally:
        for server in started:
            server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    summary = {name: {k: med(name, k) for k in ("p50_ms", "p99_ms", "full_deliveries_per_s", "full_messages_per_s")}
               for name in results}
    ratio = summary["pufferd"]["full_deliveries_per_s"] / summary["bare"]["full_deliveries_per_s"]
    print(f"\nmedians of {args.rounds} rounds, {args.clients} clients, muted={args.muted}, "
          f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}")
    for name, s in summary.items():
        print(f"  {name:8s} p50 {s['p50_ms']:.1f} ms  p99 {s['p99_ms']:.1f} ms  "
              f"{s['full_deliveries_per_s']:.0f} deliveries/s ({s['full_messages_per_s']:.0f} msgs/s)")
    print(f"  pufferd / bare deliveries/s: {ratio:.0%}")
    print(json.dumps({"summary": summary, "ratio": ratio, "rss_mb": rss, "runs": results}, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=10_000, help="idle sockets for the RSS step (0: skip)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the 20 msgs/s phase")
    parser.add_argument("--burst", type=int, default=1000, help="messages in the full-speed phase")
    parser.add_argument("--window", type=int, default=32, help="messages in flight at full speed")
    parser.add_argument("--posters", type=int, default=8, help="concurrent HTTP senders at full speed")
    parser.add_argument("--muted", action="store_true",
                        help="every member mutes the group: no notification row or event per member and message")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory and logs")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(args))
    else:
        uvloop.run(main(args))
