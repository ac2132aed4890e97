"""Foundation baseline: HTTP overhead vs bare aiohttp, idle RSS, binary size and cold start.

    python3 bench/bench_baseline.py                    # HTTP + RSS (needs wrk: apt-get install -y wrk)
    python3 bench/bench_baseline.py --binaries build   # also build both binaries and time cold starts
    python3 bench/bench_baseline.py --binaries DIR     # ... using DIR/pufferd and DIR/pufferd-*.tar.gz

HTTP: GET /health/live under wrk (64 keep-alive connections, 1 wrk thread) against, in the same
run and interleaved round by round so machine noise hits all alike: bare aiohttp
(bench/bare_aiohttp.py), bare aiohttp with one pass-through middleware (aiohttp's cost of having
any middleware), `pufferd serve` with its default access log, and `pufferd serve` with
PUFFERD_ACCESS_LOG=0 (and with --compare, pufferd from another source tree). Prints each run,
the medians and the ratios to bare aiohttp, in req/s and in server CPU time per request; the
latter is the steadier figure on a shared machine (other processes take wall time, not CPU time).
Cold start: exec -> first 200 on /health/live, for the one-file and the one-folder build (and
`python3 -m pufferd` for reference), on an already initialised data directory.
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"listening on http://[^\s:]+:(\d+)")


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    port: int
    log: Path
    rates: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUFFERD_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def start(name: str, cmd: list[str], env: dict[str, str], workdir: Path, timeout: float = 60) -> Server:
    log = workdir / f"{name}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=workdir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = LISTENING.search(log.read_text(errors="replace"))
        if m:
            return Server(name, proc, int(m.group(1)), log)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise SystemExit(f"{name} did not start:\n{log.read_text(errors='replace')}")


def init_data_dir(directory: Path) -> None:
    subprocess.run([sys.executable, "-m", "pufferd", "init", "--non-interactive", "--data-dir", str(directory),
                    "--admin-username", "admin", "--admin-email", "admin@example.com",
                    "--admin-password", "bench-admin-password", "--bcrypt-rounds", "4"],
                   env=base_env(), check=True, capture_output=True)


def rss_mb(pid: int, field: str = "Rss") -> float:
    """Resident memory of PID in MB (field "Rss", or "Anonymous": its private heap, without the
    shared libraries' file pages)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in smaps_rollup")


def tree_rss_mb(pid: int) -> float:
    """RSS of PID plus its children (PyInstaller's one-file mode ran a bootloader and a child)."""
    total = rss_mb(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += tree_rss_mb(int(child))
    return total


def get_status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of PID (every thread), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(server: Server, seconds: int, connections: int) -> tuple[float, float]:
    """Requests/s, and the server's CPU µs per request, of one wrk run on /health/live."""
    cpu0 = cpu_seconds(server.proc.pid)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
                          f"http://127.0.0.1:{server.port}/health/live"],
                         capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(server.proc.pid) - cpu0
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not m or not n or errors:
        raise SystemExit(f"wrk failed:\n{out}")
    return float(m.group(1)), cpu / int(n.group(1)) * 1e6


def bench_http(workdir: Path, rounds: int, seconds: int, connections: int, compare: Path | None) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    data = workdir / "data"
    init_data_dir(data)
    pufferd_cmd = [sys.executable, "-m", "pufferd", "serve", "--data-dir", str(data), "--port", "0"]
    servers = [
        start("bare-aiohttp", [sys.executable, str(ROOT / "bench" / "bare_aiohttp.py"), "--port", "0"],
              base_env(), workdir),
        start("bare+1-middleware", [sys.executable, str(ROOT / "bench" / "bare_aiohttp.py"), "--port", "0",
                                    "--middleware"], base_env(), workdir),
        start("pufferd", pufferd_cmd, base_env(), workdir),
        start("pufferd-no-access-log", pufferd_cmd, base_env(PUFFERD_ACCESS_LOG="0"), workdir),
    ]
    if compare is not None:  # the same server from another source tree, e.g. before a change
        servers.append(start("pufferd-compare", pufferd_cmd, base_env(PYTHONPATH=str(compare)), workdir))
    try:
        for s in servers:
            assert get_status(s.port, "/health/live") == 200, s.name
        time.sleep(1.0)
        for s in (servers[0], servers[2]):
            print(f"idle RSS of {s.name} (after start and one request): {rss_mb(s.proc.pid):.1f} MB, "
                  f"of which anonymous {rss_mb(s.proc.pid, 'Anonymous'):.1f} MB")
        for s in servers:  # warm-up
            wrk(s, 2, connections)
        for i in range(rounds):
            order = servers if i % 2 == 0 else list(reversed(servers))
            for s in order:
                rate, cpu_us = wrk(s, seconds, connections)
                s.rates.append(rate)
                s.cpu_us.append(cpu_us)
            print(f"round {i + 1}: " + ", ".join(
                f"{s.name} {s.rates[-1]:,.0f} req/s {s.cpu_us[-1]:.0f} µs" for s in servers), flush=True)
        print(f"RSS of `pufferd serve` after the load: {rss_mb(servers[2].proc.pid):.1f} MB")
        bare = servers[0]
        print(f"\nGET /health/live, wrk -t1 -c{connections} -d{seconds}s, {rounds} rounds:")
        for s in servers:
            med = statistics.median(s.rates)
            ratios = [r / b for r, b in zip(s.rates, bare.rates, strict=True)]
            cpu = statistics.median(s.cpu_us)
            print(f"  {s.name:22s} req/s median {med:7,.0f} (min {min(s.rates):7,.0f} max {max(s.rates):7,.0f})"
                  f" = {statistics.median(ratios):4.0%} of bare (median of per-round ratios);"
                  f" server CPU per request median {cpu:5.1f} µs = {statistics.median(bare.cpu_us) / cpu:4.0%}"
                  f" of bare's requests per CPU second")
    finally:
        codes = {s.name: s.stop() for s in servers}
    print(f"exit codes after SIGTERM: {codes}")


def first_live(cmd: list[str], env: dict[str, str], port: int, workdir: Path,
               timeout: float = 60) -> tuple[float, float]:
    """Seconds from exec to the first 200 on /health/live, and the RSS (MB) right after it."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    try:
        while time.perf_counter() - t0 < timeout:
            try:
                if get_status(port, "/health/live") == 200:
                    return time.perf_counter() - t0, tree_rss_mb(proc.pid)
            except OSError:
                time.sleep(0.002)
            if proc.poll() is not None:
                raise SystemExit(f"{cmd[0]} exited with {proc.returncode}")
        raise SystemExit(f"{cmd[0]}: no 200 within {timeout} s")
    finally:
        proc.send_signal(signal.SIGTERM)
        if proc.wait(timeout=30) != 0:
            raise SystemExit(f"{cmd[0]}: exit code {proc.returncode} after SIGTERM")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def bench_binaries(workdir: Path, source: str, runs: int) -> None:
    if source == "build":
        dist = workdir / "dist"
        subprocess.run(["bash", str(ROOT / "packaging" / "build.sh"), "--dist", str(dist),
                        "--work", str(workdir / "build")], check=True, stdout=subprocess.DEVNULL)
    else:
        dist = Path(source).resolve()
    onefile = dist / "pufferd"
    tarballs = sorted(dist.glob("pufferd-*.tar.gz"))
    if not onefile.is_file() or not tarballs:
        raise SystemExit(f"{dist}: expected pufferd and pufferd-*.tar.gz (packaging/build.sh)")
    onedir_root = workdir / "onedir"
    with tarfile.open(tarballs[-1]) as tar:
        tar.extractall(onedir_root, filter="data")
    onedir = onedir_root / "pufferd" / "pufferd"
    print(f"one-file  {onefile.name}: {onefile.stat().st_size / 1e6:.1f} MB")
    print(f"one-folder {tarballs[-1].name}: {tarballs[-1].stat().st_size / 1e6:.1f} MB packed, "
          f"{du_mb(onedir_root / 'pufferd'):.1f} MB unpacked")

    data = workdir / "cold-data"
    init_data_dir(data)
    tmp = workdir / "tmp"
    tmp.mkdir()
    # the one-file build unpacks itself into PUFFERD_UNPACK_DIR at its first start (the warm-up
    # below), then runs from there
    env = base_env(TMPDIR=str(tmp), PUFFERD_UNPACK_DIR=str(workdir / "unpacked"))
    port = free_port()
    args = ["serve", "--data-dir", str(data), "--port", str(port)]
    kinds = {
        "one-file": [str(onefile), *args],
        "one-folder": [str(onedir), *args],
        "python3 -m pufferd": [sys.executable, "-m", "pufferd", *args],
    }
    times: dict[str, list[float]] = {k: [] for k in kinds}
    rss: dict[str, list[float]] = {k: [] for k in kinds}
    for cmd in kinds.values():  # warm the page cache once
        first_live(cmd, env, port, workdir)
    for _ in range(runs):
        for name, cmd in kinds.items():
            seconds, mb = first_live(cmd, env, port, workdir)
            times[name].append(seconds)
            rss[name].append(mb)
    print(f"\ncold start, exec -> first 200 on /health/live, {runs} runs (seconds), and RSS then:")
    for name, ts in times.items():
        print(f"  {name:20s} median {statistics.median(ts):.3f}  min {min(ts):.3f}  max {max(ts):.3f}"
              f"   RSS {statistics.median(rss[name]):.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="wrk rounds per server")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--no-http", action="store_true", help="skip the wrk comparison")
    parser.add_argument("--compare", type=Path, metavar="TREE",
                        help="also run `pufferd serve` from another source tree (e.g. `git archive` of a commit)")
    parser.add_argument("--binaries", metavar="build|DIR", help="measure binary size and cold start")
    parser.add_argument("--runs", type=int, default=7, help="cold starts per kind")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  nproc={os.cpu_count()}  load={os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="pufferd-bench-") as tmp:
        workdir = Path(tmp)
        if not args.no_http:
            bench_http(workdir, args.rounds, args.seconds, args.connections, args.compare)
        if args.binaries:
            bench_binaries(workdir, args.binaries, args.runs)


if __name__ == "__main__":
    main()
