"""Issue 17's figures for one source tree beside another, measured in the same run.

    python3 bench/bench_lean.py                                  # this tree only
    git archive <commit> --prefix=base/ | tar -x -C /tmp          # a tree from before a change
    python3 bench/bench_lean.py --compare /tmp/base --binary dist/pufferd

For this tree and (with --compare) the other one, interleaved round by round so that a noisy
neighbour hurts both alike:
1. Cold start of `python3 -m pufferd serve`: exec -> first 200 on /health/live (and of the
   one-file binary given with --binary, which is always built from this tree).
2. Idle RSS after start and one request (one second after the first 200), of the process tree
   (the one-file binary is a bootloader plus the server), and its anonymous part.
3. Upload ÷ disk copy: `curl -T` of a 100 MiB file to a signed upload URL against a raw copy of
   the same file (read + write 1 MiB blocks + fsync) right before it, the ratio per round.
Medians over the rounds; min and max beside them.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import bench_baseline
import bench_media
import benchlib

ROOT = Path(__file__).resolve().parents[1]
MIB = bench_media.MIB


def tree_env(tree: Path, max_upload: int) -> dict[str, str]:
    env = bench_media.env(max_upload)
    env["PYTHONPATH"] = str(tree)
    return env


def cold_start(cmd: list[str], env: dict[str, str], port: int, workdir: Path) -> tuple[float, float, float]:
    """(seconds to the first 200 on /health/live, RSS MB and anonymous MB one second later)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir)
    try:
        while True:
            try:
                if bench_baseline.get_status(port, "/health/live") == 200:
                    break
            except OSError:
                time.sleep(0.002)
            if proc.poll() is not None or time.perf_counter() - t0 > 60:
                raise SystemExit(f"{cmd[0]}: no 200 on /health/live")
        seconds = time.perf_counter() - t0
        time.sleep(1.0)
        return seconds, bench_baseline.tree_rss_mb(proc.pid), tree_anon_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)


def tree_anon_mb(pid: int) -> float:
    total = bench_baseline.rss_mb(pid, "Anonymous")
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += tree_anon_mb(int(child))
    return total


async def uploads(trees: dict[str, Path], workdir: Path, mib: int,
                  rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Upload MiB/s ÷ disk copy MiB/s per round and tree (each upload right after its own copy),
    and the upload MiB/s."""
    size = mib * MIB
    path = workdir / "upload.mp4"
    bench_media.make_file(path, size)
    ratios: dict[str, list[float]] = {name: [] for name in trees}
    rates: dict[str, list[float]] = {name: [] for name in trees}
    servers = {}
    try:
        for name, tree in trees.items():
            data = workdir / f"upload-{name}"
            env = tree_env(tree, size)
            benchlib.init(data, env, email=bench_media.EMAIL, password=bench_media.PASSWORD, bcrypt_rounds=4)
            servers[name] = benchlib.serve(data, workdir / f"upload-{name}.log", env)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
            auths = {name: await bench_media.login(session, base) for name, (_, base) in servers.items()}
            for i in range(rounds):
                order = list(trees) if i % 2 == 0 else list(reversed(trees))
                for name in order:
                    base = servers[name][1]
                    copy_s, _ = bench_media.disk_copy(path, path.with_suffix(".copy"))
                    upload_s, _ = await bench_media.upload(session, base, auths[name], path)
                    ratios[name].append(copy_s / upload_s)
                    rates[name].append(mib / upload_s)
                    print(f"  round {i + 1} {name}: disk copy {mib / copy_s:5.0f} MiB/s, upload {mib / upload_s:5.0f}"
                          f" MiB/s = {copy_s / upload_s:4.0%}", flush=True)
    finally:
        for proc, _ in servers.values():
            bench_media.stop(proc)
    return ratios, rates


def line(label: str, values: list[float], fmt: str) -> str:
    return (f"  {label:34s} median {format(statistics.median(values), fmt)}"
            f"  (min {format(min(values), fmt)}, max {format(max(values), fmt)}, n={len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, metavar="TREE", help="another source tree, e.g. before a change")
    parser.add_argument("--binary", type=Path, help="a one-file binary built from this tree (packaging/build.sh)")
    parser.add_argument("--starts", type=int, default=7, help="cold starts per kind")
    parser.add_argument("--rounds", type=int, default=5, help="upload rounds per tree")
    parser.add_argument("--mib", type=int, default=100, help="upload size")
    args = parser.parse_args()
    trees = {"this tree": ROOT}
    if args.compare is not None:
        trees["compare"] = args.compare.resolve()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {os.uname().machine} nproc={os.cpu_count()}"
          f"  load={os.getloadavg()[0]:.2f}  Python {sys.version.split()[0]}")
    binary = args.binary.resolve() if args.binary is not None else None
    with tempfile.TemporaryDirectory(prefix="pufferd-lean-") as tmp:
        workdir = Path(tmp)
        # `python3 -m` puts the working directory first on sys.path: run every server from here,
        # so that PYTHONPATH alone picks the tree
        os.chdir(workdir)
        kinds: dict[str, tuple[list[str], dict[str, str]]] = {}
        port = bench_baseline.free_port()
        for name, tree in trees.items():
            data = workdir / f"start-{name}"
            env = tree_env(tree, 1 << 30)
            benchlib.init(data, env, email=bench_media.EMAIL, password=bench_media.PASSWORD, bcrypt_rounds=4)
            kinds[f"python3 -m pufferd ({name})"] = (
                [sys.executable, "-m", "pufferd", "serve", "--data-dir", str(data), "--port", str(port)], env)
            if name == "this tree" and binary is not None:
                # its own data directory, made by the binary (the tree may have gained migrations)
                bin_data, bin_env = workdir / "start-binary", {**env, "TMPDIR": str(workdir)}
                subprocess.run([str(binary), "init", "--non-interactive", "--data-dir", str(bin_data),
                                "--admin-username", "admin", "--admin-email", bench_media.EMAIL,
                                "--admin-password", bench_media.PASSWORD, "--bcrypt-rounds", "4"],
                               env=bin_env, check=True, capture_output=True)
                kinds["one-file binary (this tree)"] = (
                    [str(binary), "serve", "--data-dir", str(bin_data), "--port", str(port)], bin_env)
        starts: dict[str, list[tuple[float, float, float]]] = {k: [] for k in kinds}
        for cmd, env in kinds.values():  # warm the page cache
            cold_start(cmd, env, port, workdir)
        for i in range(args.starts):
            for name in (list(kinds) if i % 2 == 0 else list(reversed(kinds))):
                starts[name].append(cold_start(*kinds[name], port, workdir))
        print("\nupload ÷ disk copy, per round:")
        ratios, rates = asyncio.run(uploads(trees, workdir, args.mib, args.rounds))
    print("\ncold start (exec -> first 200 on /health/live) and idle RSS (after start and one request):")
    for name, runs in starts.items():
        print(f" {name}")
        print(line("cold start, s", [r[0] for r in runs], ".3f"))
        print(line("idle RSS, MB", [r[1] for r in runs], ".1f"))
        print(line("  of which anonymous, MB", [r[2] for r in runs], ".1f"))
    print(f"\nupload of {args.mib} MiB ÷ disk copy of the same bytes (per-round ratio):")
    for name, values in ratios.items():
        print(line(name, values, ".0%"))
        print(line(f"  {name}: upload MiB/s", rates[name], ".0f"))


if __name__ == "__main__":
    main()
