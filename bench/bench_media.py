"""Media benchmarks against a real `pufferd serve` subprocess (issue 6, "Done when").

    python3 bench/bench_media.py                 # 100 MiB, 5 rounds
    python3 bench/bench_media.py --mib 100 --rounds 5 --concurrent 8

1. Upload throughput: POST /api/v1/media/upload-url, then `curl -T` of a 100 MiB file to the
   signed URL (the server hashes, encrypts in 64 KiB AES-GCM chunks, fsyncs and renames).
2. Download throughput: `curl` GET of file_url with a bearer token, the body sent to /dev/null
   (the server decrypts every chunk and streams it).
3. Baseline in the same run, round by round: a raw disk copy of the same file (read + write +
   fsync, 1 MiB blocks), which is what storing a file costs without any HTTP or crypto.
4. Peak RSS of a freshly started server during 8 concurrent downloads of the 100 MiB file
   (VmHWM of the server process afterwards, and the largest VmRSS sampled every 10 ms).

Also printed: the CPU seconds each side used per transfer (the server process's, from
/proc/PID/stat, for upload and download; the copying process's for the disk copy). Other
processes steal wall time but not CPU time, so on a loaded machine this is the steadier figure.

Every figure is the median of the rounds; the clients (curl) run on the same machine as the server.
Needs curl on PATH.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import benchlib

ROOT = Path(__file__).resolve().parents[1]
EMAIL, PASSWORD = "admin@example.com", "bench-password-1"
MIB = 1024 * 1024
BLOCK = MIB


def env(max_upload: int) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("PUFFERD_") and "RATE_LIMIT" not in k}
    out.update(PYTHONPATH=str(ROOT), PUFFERD_ACCESS_LOG="0", LOGIN_RATE_LIMIT_PER_MINUTE="0",
               MAX_UPLOAD_SIZE_BYTES=str(max_upload), PUFFERD_UPLOAD_URL_RATE_LIMIT_PER_MINUTE="0",
               PUFFERD_UNATTACHED_UPLOAD_QUOTA_BYTES=str(1 << 50))
    return out


def init(directory: Path, max_upload: int) -> None:
    benchlib.init(directory, env(max_upload), email=EMAIL, password=PASSWORD, bcrypt_rounds=4)


def serve(directory: Path, log: Path, max_upload: int) -> tuple[subprocess.Popen, str]:
    return benchlib.serve(directory, log, env(max_upload))


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def on(base: str, url: str) -> str:
    """URL (absolute on the configured public URL) re-aimed at the address the server bound."""
    parts = urlsplit(url)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


def make_file(path: Path, size: int) -> None:
    with path.open("wb") as fh:
        fh.write(b"\x00\x00\x00\x18ftypmp42")  # an MP4 signature: video/mp4 passes the magic check
        left = size - 12
        while left:
            n = min(BLOCK, left)
            fh.write(os.urandom(n))
            left -= n
        fh.flush()
        os.fsync(fh.fileno())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process PID so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def disk_copy(src: Path, dst: Path) -> tuple[float, float]:
    """(seconds, CPU seconds) of a raw copy: read and write 1 MiB blocks, then fsync (like the blob store)."""
    t0, c0 = time.perf_counter(), os.times()
    with src.open("rb") as fin, dst.open("wb") as fout:
        while block := fin.read(BLOCK):
            fout.write(block)
        fout.flush()
        os.fsync(fout.fileno())
    elapsed, c1 = time.perf_counter() - t0, os.times()
    dst.unlink()
    return elapsed, (c1.user - c0.user) + (c1.system - c0.system)


async def login(session: aiohttp.ClientSession, base: str) -> dict[str, str]:
    async with session.post(f"{base}/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}) as resp:
        assert resp.status == 200, await resp.text()
        return {"Authorization": f"Bearer {(await resp.json())['access_token']}"}


async def curl(*args: str) -> str:
    """Run curl (a C client, so that the server, not a Python client, is what is measured) and
    return the HTTP status it printed."""
    proc = await asyncio.create_subprocess_exec("curl", "-s", "-S", "-o", "/dev/null", "-w", "%{http_code}",
                                                *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def upload(session: aiohttp.ClientSession, base: str, auth: dict[str, str], path: Path) -> tuple[float, str]:
    size = path.stat().st_size
    async with session.post(f"{base}/api/v1/media/upload-url", headers=auth, json={
            "file_name": "bench.mp4", "file_type": "video/mp4", "file_size": size}) as resp:
        ticket = await resp.json()
        assert resp.status == 200, ticket
    t0 = time.perf_counter()
    status = await curl("-T", str(path), "-H", f"Content-Type: {ticket['required_headers']['Content-Type']}",
                        "-H", "Expect:", on(base, ticket["upload_url"]))
    elapsed = time.perf_counter() - t0
    assert status == "200", status
    return elapsed, ticket["file_url"]


async def download(base: str, auth: dict[str, str], file_url: str) -> float:
    t0 = time.perf_counter()
    status = await curl("-H", f"Authorization: {auth['Authorization']}", on(base, file_url))
    elapsed = time.perf_counter() - t0
    assert status == "200", status
    return elapsed


async def throughput(base: str, pid: int, path: Path, rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """MiB/s per round, and CPU seconds per round (the server's for upload and download)."""
    size = path.stat().st_size
    rate: dict[str, list[float]] = {"disk copy": [], "upload": [], "download": []}
    cpu: dict[str, list[float]] = {"disk copy": [], "upload": [], "download": []}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:
        auth = await login(session, base)
        for _ in range(rounds):
            # interleaved so that a noisy neighbour hurts every side alike
            elapsed, used = disk_copy(path, path.with_suffix(".copy"))
            rate["disk copy"].append(size / MIB / elapsed)
            cpu["disk copy"].append(used)
            c0 = cpu_seconds(pid)
            elapsed, file_url = await upload(session, base, auth, path)
            cpu["upload"].append(cpu_seconds(pid) - c0)
            rate["upload"].append(size / MIB / elapsed)
            c0 = cpu_seconds(pid)
            rate["download"].append(size / MIB / await download(base, auth, file_url))
            cpu["download"].append(cpu_seconds(pid) - c0)
    return rate, cpu


async def concurrent_downloads(base: str, pid: int, path: Path, n: int) -> dict[str, float]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900)) as session:
        auth = await login(session, base)
        _, file_url = await upload(session, base, auth, path)
        before_hwm = status_kib(pid, "VmHWM")
        rss_before = status_kib(pid, "VmRSS")
        samples: list[int] = []
        done = asyncio.Event()

        async def sample() -> None:
            while not done.is_set():
                samples.append(status_kib(pid, "VmRSS"))
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample())
        t0 = time.perf_counter()
        await asyncio.gather(*(download(base, auth, file_url) for _ in range(n)))
        elapsed = time.perf_counter() - t0
        done.set()
        await sampler
    return {"rss_before_mb": rss_before / 1024, "hwm_before_downloads_mb": before_hwm / 1024,
            "peak_rss_sampled_mb": max(samples) / 1024, "vmhwm_mb": status_kib(pid, "VmHWM") / 1024,
            "aggregate_mib_s": n * path.stat().st_size / MIB / elapsed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--concurrent", type=int, default=8)
    args = ap.parse_args()
    size = args.mib * MIB
    max_upload = size + MIB
    with tempfile.TemporaryDirectory(prefix="pufferd-bench-media-") as tmp:
        tmpdir = Path(tmp)
        data = tmpdir / "data"
        init(data, max_upload)
        src = tmpdir / "file.mp4"
        make_file(src, size)
        proc, base = serve(data, tmpdir / "serve.log", max_upload)
        try:
            figures, cpu = asyncio.run(throughput(base, proc.pid, src, args.rounds))
        finally:
            stop(proc)
        # a fresh process, so its VmHWM is the peak of the concurrent phase (plus start-up)
        proc, base = serve(data, tmpdir / "serve2.log", max_upload)
        try:
            memory = asyncio.run(concurrent_downloads(base, proc.pid, src, args.concurrent))
        finally:
            stop(proc)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} {os.cpu_count()} cpus, load "
          f"{os.getloadavg()[0]:.1f}, Python {platform.python_version()}, {args.mib} MiB file, "
          f"{args.rounds} rounds (median)")
    base_copy = statistics.median(figures["disk copy"])
    for name in ("disk copy", "upload", "download"):
        runs = ", ".join(f"{v:.0f}" for v in figures[name])
        ratios = [v / c * 100 for v, c in zip(figures[name], figures["disk copy"], strict=True)]
        med = statistics.median(figures[name])
        print(f"{name:10s} median {med:7.1f} MiB/s  ({med / base_copy * 100:5.1f} % of disk copy; per-round "
              f"ratio median {statistics.median(ratios):5.1f} %)  CPU {statistics.median(cpu[name]):.3f} s  "
              f"runs: {runs}")
    print(f"{args.concurrent} concurrent downloads: aggregate {memory['aggregate_mib_s']:.0f} MiB/s; server RSS "
          f"before {memory['rss_before_mb']:.1f} MB, peak sampled {memory['peak_rss_sampled_mb']:.1f} MB, "
          f"VmHWM {memory['vmhwm_mb']:.1f} MB (VmHWM before the downloads {memory['hwm_before_downloads_mb']:.1f} MB)")


if __name__ == "__main__":
    main()
