"""Accounts benchmarks against a real `pufferd serve` subprocess (issue 3, "Done when").

    python3 bench/bench_accounts.py                  # needs wrk: apt-get install -y wrk
    python3 bench/bench_accounts.py --rounds 5 --bcrypt-rounds 12

1. Login throughput at the bcrypt cost `pufferd init` calibrates on this host (or --bcrypt-rounds):
   the idle latency of one login, then logins/s with 32 concurrent clients.
2. Event-loop responsiveness during a login burst: latency of GET /health/live, one request at a
   time, while 32 clients log in continuously; the baseline is the same probe on the idle server.
   Items 1 and 2 also run, interleaved round by round, against a second server on the same data
   directory with PUFFERD_BCRYPT_NICE=0 (bcrypt threads at the event loop's own priority).
3. Authenticated request overhead: GET /api/v1/users/me vs GET /health/live, wrk with 64
   connections, interleaved round by round; /users/me also against a second server on the same
   data directory with PUFFERD_AUTH_CACHE_SECONDS=0 (every request verifies the JWT and reads the
   user and session state in one database hop), to show what the token cache buys.

Rate limits are off (LOGIN_RATE_LIMIT_PER_MINUTE=0) and so is the access log, for both sides.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import aiohttp
import benchlib

ROOT = Path(__file__).resolve().parents[1]
EMAIL, PASSWORD = "admin@example.com", "bench-password-1"


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("PUFFERD_") and "RATE_LIMIT" not in k}
    out.update(PYTHONPATH=str(ROOT), PUFFERD_ACCESS_LOG="0", LOGIN_RATE_LIMIT_PER_MINUTE="0",
               REFRESH_RATE_LIMIT_PER_MINUTE="0", REGISTER_RATE_LIMIT_PER_MINUTE="0", **extra)
    return out


def init(directory: Path, rounds: int | None) -> int:
    cmd = [sys.executable, "-m", "pufferd", "init", "--non-interactive", "--data-dir", str(directory),
           "--admin-username", "admin", "--admin-email", EMAIL, "--admin-password", PASSWORD]
    if rounds:
        cmd += ["--bcrypt-rounds", str(rounds)]
    subprocess.run(cmd, env=env(), check=True, capture_output=True)
    return int(tomllib.loads((directory / "pufferd.toml").read_text())["bcrypt_rounds"])


def serve(directory: Path, log: Path, **extra_env: str) -> tuple[subprocess.Popen, str]:
    return benchlib.serve(directory, log, env(**extra_env))


async def login(session: aiohttp.ClientSession, base: str) -> dict:
    async with session.post(f"{base}/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def idle_login_latency(base: str, n: int = 5) -> float:
    async with aiohttp.ClientSession() as session:
        took = []
        for _ in range(n):
            t = time.perf_counter()
            await login(session, base)
            took.append(time.perf_counter() - t)
    return statistics.median(took)


async def login_throughput(base: str, total: int, concurrency: int) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        queue = list(range(total))

        async def worker() -> None:
            while queue:
                queue.pop()
                await login(session, base)

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - t)


async def probe(base: str, seconds: float, burst: int) -> tuple[list[float], int]:
    """/health/live latencies (one at a time) for SECONDS while BURST clients log in nonstop."""
    stop = asyncio.Event()
    done = 0

    async def burner(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while not stop.is_set():
            await login(session, base)
            done += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as load, \
            aiohttp.ClientSession() as prober:
        tasks = [asyncio.create_task(burner(load)) for _ in range(burst)]
        if burst:
            await asyncio.sleep(1.0)  # let the burst fill the bcrypt pool first
        latencies = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            async with prober.get(f"{base}/health/live") as resp:
                await resp.read()
                assert resp.status == 200
            latencies.append((time.perf_counter() - t) * 1000)
            await asyncio.sleep(0.005)
        stop.set()
        await asyncio.gather(*tasks)
    return latencies, done


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process PID (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk_cpu(pid: int, url: str, seconds: int, headers: dict[str, str] | None = None) -> tuple[float, float]:
    """(requests/s, server CPU microseconds per request) of one wrk run against process PID."""
    before = cpu_seconds(pid)
    rate = wrk(url, seconds, headers)
    used = cpu_seconds(pid) - before
    return rate, used / (rate * seconds) * 1e6


def wrk(url: str, seconds: int, headers: dict[str, str] | None = None) -> float:
    cmd = ["wrk", "-t1", "-c64", f"-d{seconds}s", "--latency"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"wrk saw {non2xx.group(1)} error responses on {url}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bcrypt-rounds", type=int, default=None, help="default: let `pufferd init` calibrate")
    ap.add_argument("--logins", type=int, default=64, help="logins per throughput round")
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--probe-seconds", type=float, default=5.0)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="pufferd-bench-accounts-") as tmp:
        data = Path(tmp) / "data"
        rounds = init(data, args.bcrypt_rounds)
        proc, base = serve(data, Path(tmp) / "serve.log")
        nocache_proc, nocache_base = serve(data, Path(tmp) / "serve-nocache.log", PUFFERD_AUTH_CACHE_SECONDS="0")
        nice0_proc, nice0_base = serve(data, Path(tmp) / "serve-nice0.log", PUFFERD_BCRYPT_NICE="0")
        try:
            print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(f"bcrypt cost {rounds} ({'calibrated by pufferd init' if not args.bcrypt_rounds else 'given'}), "
                  f"{os.cpu_count()} CPUs, server {base}")
            print(f"idle login latency (median of 5): {await idle_login_latency(base) * 1000:.0f} ms")

            variants = {"default (bcrypt_nice 10)": base, "bcrypt_nice 0": nice0_base}
            rates: dict[str, list[float]] = {v: [] for v in variants}
            for r in range(args.rounds):
                order = list(variants.items()) if r % 2 == 0 else list(reversed(variants.items()))
                for name, url in order:
                    rates[name].append(await login_throughput(url, args.logins, 32))
                    print(f"  round {r + 1} {name}: {rates[name][-1]:.1f} logins/s ({args.logins} logins, 32 concurrent)")
            for name in variants:
                print(f"login throughput, {name}: median {statistics.median(rates[name]):.1f} logins/s")

            p99_idle: list[float] = []
            p99_burst: dict[str, list[float]] = {v: [] for v in variants}
            for r in range(args.rounds):
                idle, _ = await probe(base, args.probe_seconds, 0)
                p99_idle.append(benchlib.pct(idle, 99))
                print(f"  round {r + 1}: /health/live idle p50 {benchlib.pct(idle, 50):.2f} p99 {benchlib.pct(idle, 99):.2f} ms")
                order = list(variants.items()) if r % 2 == 0 else list(reversed(variants.items()))
                for name, url in order:
                    busy, n = await probe(url, args.probe_seconds, 32)
                    p99_burst[name].append(benchlib.pct(busy, 99))
                    print(f"  round {r + 1} {name}: during 32 logins p50 {benchlib.pct(busy, 50):.2f} p99 {benchlib.pct(busy, 99):.2f}"
                          f" max {max(busy):.2f} ms ({len(busy)} probes, {n} logins)")
            print(f"/health/live p99 idle: median {statistics.median(p99_idle):.2f} ms")
            for name in variants:
                print(f"/health/live p99 during the login burst, {name}: median "
                      f"{statistics.median(p99_burst[name]):.2f} ms (target < 20 ms)")

            async with aiohttp.ClientSession() as session:
                token = (await login(session, base))["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            live, me, me_nocache = [], [], []
            for r in range(args.rounds):
                live.append(wrk_cpu(proc.pid, f"{base}/health/live", args.wrk_seconds))
                me.append(wrk_cpu(proc.pid, f"{base}/api/v1/users/me", args.wrk_seconds, auth))
                me_nocache.append(wrk_cpu(nocache_proc.pid, f"{nocache_base}/api/v1/users/me", args.wrk_seconds, auth))
                print(f"  round {r + 1}: /health/live {live[-1][0]:.0f} req/s ({live[-1][1]:.0f} us CPU/req), "
                      f"/users/me {me[-1][0]:.0f} req/s ({me[-1][1]:.0f} us) = {me[-1][0] / live[-1][0] * 100:.0f} %, "
                      f"without the token cache {me_nocache[-1][0]:.0f} req/s ({me_nocache[-1][1]:.0f} us) = "
                      f"{me_nocache[-1][0] / live[-1][0] * 100:.0f} %")

            def summary(runs: list[tuple[float, float]]) -> str:
                ratio = statistics.median(m[0] / lv[0] for m, lv in zip(runs, live, strict=True))
                cpu_ratio = statistics.median(lv[1] / m[1] for m, lv in zip(runs, live, strict=True))
                return (f"median {statistics.median(m[0] for m in runs):.0f} req/s, "
                        f"{statistics.median(m[1] for m in runs):.0f} us CPU/req; ratio to /health/live "
                        f"{ratio * 100:.0f} % by req/s, {cpu_ratio * 100:.0f} % by CPU/request")

            print(f"/health/live: median {statistics.median(lv[0] for lv in live):.0f} req/s, "
                  f"{statistics.median(lv[1] for lv in live):.0f} us CPU/req")
            print(f"GET /users/me: {summary(me)} (target >= 70 %)")
            print(f"GET /users/me without the token cache: {summary(me_nocache)}")
            print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        finally:
            for p in (proc, nocache_proc, nice0_proc):
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
