"""Cost of the request-metrics middleware (issue 13, item 9): GET /health/live under wrk against
`pufferd serve` with metrics on (the default) and with PUFFERD_METRICS_ENABLED=0, in the same run,
interleaved round by round (bench/bench_baseline.py's method and helpers).

    python3 bench/bench_metrics.py                 # 7 rounds of 3 s, 64 connections (needs wrk)
    python3 bench/bench_metrics.py --rounds 5 --seconds 5

Prints each round and the medians: req/s and the server's CPU time per request (the steadier
figure on a shared machine). Afterwards it scrapes /metrics once and checks that the requests
were counted under the route template.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_baseline as bb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  nproc={os.cpu_count()}  load={os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="pufferd-bench-metrics-") as tmp:
        workdir = Path(tmp)
        data = workdir / "data"
        bb.init_data_dir(data)
        cmd = [sys.executable, "-m", "pufferd", "serve", "--data-dir", str(data), "--port", "0"]
        servers = [bb.start("metrics-on", cmd, bb.base_env(PUFFERD_ACCESS_LOG="0"), workdir),
                   bb.start("metrics-off", cmd, bb.base_env(PUFFERD_ACCESS_LOG="0", PUFFERD_METRICS_ENABLED="0"),
                            workdir)]
        try:
            for s in servers:
                bb.wrk(s, 2, args.connections)  # warm-up
            for i in range(args.rounds):
                for s in servers if i % 2 == 0 else list(reversed(servers)):
                    rate, cpu = bb.wrk(s, args.seconds, args.connections)
                    s.rates.append(rate)
                    s.cpu_us.append(cpu)
                print(f"round {i + 1}: " + ", ".join(f"{s.name} {s.rates[-1]:,.0f} req/s {s.cpu_us[-1]:.1f} µs"
                                                     for s in servers), flush=True)
            on, off = servers
            with urllib.request.urlopen(f"http://127.0.0.1:{on.port}/metrics") as resp:
                text = resp.read().decode()
            line = next(ln for ln in text.splitlines()
                        if ln.startswith("pufferd_http_requests_total") and 'route="/health/live"' in ln)
            print(f"\n/metrics of metrics-on: {line}")
            print(f"\nGET /health/live, wrk -t1 -c{args.connections} -d{args.seconds}s, {args.rounds} rounds, "
                  "access log off on both:")
            for s in servers:
                print(f"  {s.name:12s} req/s median {statistics.median(s.rates):7,.0f} "
                      f"(min {min(s.rates):7,.0f} max {max(s.rates):7,.0f}); CPU per request median "
                      f"{statistics.median(s.cpu_us):5.1f} µs")
            ratios = [a / b for a, b in zip(on.rates, off.rates, strict=True)]
            cpu_delta = [a - b for a, b in zip(on.cpu_us, off.cpu_us, strict=True)]
            print(f"  metrics on / off: req/s median of per-round ratios {statistics.median(ratios):.1%}; "
                  f"extra CPU per request median {statistics.median(cpu_delta):+.1f} µs")
        finally:
            for s in servers:
                s.stop()


if __name__ == "__main__":
    main()
