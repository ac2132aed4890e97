"""Issue 17's figures for one source tree beside another, measured in the same run.

    python3 bench/bench_lean.py                                  # this tree only
    git archive <commit> --prefix=base/ | tar -x -C /tmp          # a tree from before a change
    python3 bench/bench_lean.py --compare /tmp/base --binary dist/pufferd

For this tree and (with --compare) the other one, interleaved round by round so that a noisy
neighbour hurts both alike:
1. Cold start of `python3 -m pufferd serve`: exec -> first 200 on /health/live (and of the
   one-file binary given with --binary, both its first start, which unpacks the build into an
   empty PUFFERD_UNPACK_DIR, and its later ones; of the one-folder build's executable given with
   --onedir, both always built from this tree; and of --old-binary, one from before).
2. Idle RSS after start and one request (one second after the first 200), of the process tree
   (PyInstaller's one-file mode ran a bootloader beside the server), and its anonymous part; then the RSS
   after a login and a few authenticated reads (what a used server holds: the areas they reach
   are imported by then).
3. Upload ÷ disk copy: `curl -T` of a 100 MiB file to a signed upload URL against a raw copy of
   the same file (read + write 1 MiB blocks + fsync) right before it, the ratio per round
   (`--rounds 0` skips it).
Medians over the rounds; min and max beside them; PREVIOUS, the figures recorded before issue 17's
start-up work, is printed beside them.

Python trees run from compiled bytecode, as an installed package does (pip compiles it at install):
each tree's .pyc files go to a cache of its own under the temporary directory (PYTHONPYCACHEPREFIX),
written by a first, unmeasured start. `--source` runs them with PYTHONDONTWRITEBYTECODE=1 instead,
compiling every pufferd module at every start (how the figures before 2026-12-04 were taken here).
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
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


# recorded in bench/BENCHMARKS.md ("Pi appliance", 2026-12-03 10:44, before the start-up work;
# python3 -m pufferd without compiled bytecode): the figures this bench is compared against
PREVIOUS = {"python3 -m pufferd": (1.078, 80.0), "one-file binary": (1.304, 83.4)}


def tree_env(tree: Path, max_upload: int, bytecode: Path | None = None) -> dict[str, str]:
    env = bench_media.env(max_upload)
    env["PYTHONPATH"] = str(tree)
    if bytecode is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(bytecode)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def call(port: int, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise SystemExit(f"{method} {path}: {resp.status} {data[:200]!r}")
        return json.loads(data)
    finally:
        conn.close()


def use(port: int) -> None:
    """What a client does first: log in, read its profile, chats and notifications."""
    tokens = call(port, "POST", "/api/v1/auth/login", {"email": bench_media.EMAIL, "password": bench_media.PASSWORD})
    for path in ("/api/v1/users/me", "/api/v1/chats", "/api/v1/notifications"):
        call(port, "GET", path, token=tokens["access_token"])


def cold_start(cmd: list[str], env: dict[str, str], port: int,
               workdir: Path) -> tuple[float, float, float, float]:
    """(seconds to the first 200 on /health/live, RSS MB and anonymous MB one second later, RSS MB
    half a second after a login and three authenticated reads)."""
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
        idle, anon = bench_baseline.tree_rss_mb(proc.pid), tree_anon_mb(proc.pid)
        use(port)
        time.sleep(0.5)
        return seconds, idle, anon, bench_baseline.tree_rss_mb(proc.pid)
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
    parser.add_argument("--onedir", type=Path,
                        help="the executable of a one-folder build of this tree (pufferd/pufferd in the tarball)")
    parser.add_argument("--old-binary", type=Path,
                        help="a one-file binary from before, started the same way (e.g. PyInstaller's one-file mode)")
    parser.add_argument("--starts", type=int, default=7, help="cold starts per kind")
    parser.add_argument("--rounds", type=int, default=5, help="upload rounds per tree (0: no uploads)")
    parser.add_argument("--source", action="store_true",
                        help="run the Python trees from source (PYTHONDONTWRITEBYTECODE=1), not compiled bytecode")
    parser.add_argument("--mib", type=int, default=100, help="upload size")
    args = parser.parse_args()
    trees = {"this tree": ROOT}
    if args.compare is not None:
        trees["compare"] = args.compare.resolve()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {os.uname().machine} nproc={os.cpu_count()}"
          f"  load={os.getloadavg()[0]:.2f}  Python {sys.version.split()[0]}")
    builds = {label: path.resolve() for label, path in (("one-file binary", args.binary),
                                                         ("one-folder build", args.onedir),
                                                         ("old one-file binary", args.old_binary))
              if path is not None}
    with tempfile.TemporaryDirectory(prefix="pufferd-lean-") as tmp:
        workdir = Path(tmp)
        # `python3 -m` puts the working directory first on sys.path: run every server from here,
        # so that PYTHONPATH alone picks the tree
        os.chdir(workdir)
        # (command, environment, a directory emptied before each start: the one-file binary's
        # first start, which unpacks its build)
        kinds: dict[str, tuple[list[str], dict[str, str], Path | None]] = {}
        port = bench_baseline.free_port()
        for name, tree in trees.items():
            data = workdir / f"start-{name}"
            env = tree_env(tree, 1 << 30, None if args.source else workdir / f"pycache-{name.replace(' ', '-')}")
            benchlib.init(data, env, email=bench_media.EMAIL, password=bench_media.PASSWORD, bcrypt_rounds=4)
            kinds[f"python3 -m pufferd ({name})"] = (
                [sys.executable, "-m", "pufferd", "serve", "--data-dir", str(data), "--port", str(port)], env, None)
            for label, binary in (builds.items() if name == "this tree" else ()):
                # its own data directory, made by the binary (the tree may have gained migrations)
                bin_data = workdir / f"start-{label.replace(' ', '-')}"
                bin_env = {**env, "TMPDIR": str(workdir), "PUFFERD_UNPACK_DIR": str(workdir / "unpacked")}
                subprocess.run([str(binary), "init", "--non-interactive", "--data-dir", str(bin_data),
                                "--admin-username", "admin", "--admin-email", bench_media.EMAIL,
                                "--admin-password", bench_media.PASSWORD, "--bcrypt-rounds", "4"],
                               env=bin_env, check=True, capture_output=True)
                serve = [str(binary), "serve", "--data-dir", str(bin_data), "--port", str(port)]
                if label == "one-file binary":
                    first = workdir / "unpacked-first"
                    kinds[f"{label}, first start: unpacks (this tree)"] = (
                        serve, {**bin_env, "PUFFERD_UNPACK_DIR": str(first)}, first)
                    label += ", later starts"
                kinds[f"{label} ({'from before' if label.startswith('old') else 'this tree'})"] = (serve, bin_env, None)
        starts: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in kinds}

        def start(name: str) -> tuple[float, float, float, float]:
            cmd, env, fresh = kinds[name]
            if fresh is not None:
                shutil.rmtree(fresh, ignore_errors=True)
            return cold_start(cmd, env, port, workdir)

        for name in kinds:  # warm the page cache (and write the trees' bytecode)
            start(name)
        for i in range(args.starts):
            for name in (list(kinds) if i % 2 == 0 else list(reversed(kinds))):
                starts[name].append(start(name))
        ratios: dict[str, list[float]] = {}
        rates: dict[str, list[float]] = {}
        if args.rounds > 0:
            print("\nupload ÷ disk copy, per round:")
            ratios, rates = asyncio.run(uploads(trees, workdir, args.mib, args.rounds))
    print("\ncold start (exec -> first 200 on /health/live) and idle RSS (after start and one request)"
          f"{', from source' if args.source else ', from compiled bytecode'}:")
    for name, runs in starts.items():
        print(f" {name}")
        print(line("cold start, s", [r[0] for r in runs], ".3f"))
        print(line("idle RSS, MB", [r[1] for r in runs], ".1f"))
        print(line("  of which anonymous, MB", [r[2] for r in runs], ".1f"))
        print(line("RSS after a login and 3 reads, MB", [r[3] for r in runs], ".1f"))
        previous = next((v for k, v in PREVIOUS.items() if name.startswith(k)), None)
        if previous is not None and "compare" not in name:
            print(f"  {'previously recorded':34s} cold start {previous[0]:.3f} s, idle RSS {previous[1]:.1f} MB")
    if not ratios:
        return
    print(f"\nupload of {args.mib} MiB ÷ disk copy of the same bytes (per-round ratio):")
    for name, values in ratios.items():
        print(line(name, values, ".0%"))
        print(line(f"  {name}: upload MiB/s", rates[name], ".0f"))


if __name__ == "__main__":
    main()
