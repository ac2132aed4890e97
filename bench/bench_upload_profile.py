"""Where an upload's time goes: per-thread CPU and scheduler figures of `pufferd serve` (issue 17, item 3).

    python3 bench/bench_upload_profile.py                          # this tree, 9 rounds
    git archive <commit> --prefix=base/ | tar -x -C /tmp
    python3 bench/bench_upload_profile.py --compare /tmp/base --rounds 15

For each tree (interleaved round by round, so a noisy neighbour hurts each alike): a raw disk copy
of a 100 MiB file (bench_media.disk_copy: read + write 1 MiB blocks + fsync), then `curl -T` of the
same file to a signed upload URL. Per round it prints both speeds, their ratio, curl's CPU, and per
server thread (from /proc/PID/task/TID): CPU (user+system), time spent runnable but waiting for a
CPU ("runq") and context switches. The event loop is "main"; blob workers, write threads and the
database threads are named by their thread names where Python set them, else by id. Medians at
the end. The threads' CPU adds up to what the upload costs; a thread whose run + runq is much
less than the wall time waited on something (data, another stage, the GIL).

For the time inside one thread, record it with perf while this runs, e.g.
`perf record -F 2000 -g -t <tid>` (SHA-256 shows as libcrypto, AES-GCM as ossl_aes_gcm_* in
cryptography's _rust module, the kernel's copy into the page cache as copy_folio_from_iter_atomic).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import aiohttp
import bench_media
import benchlib

MIB = bench_media.MIB
TICK = os.sysconf("SC_CLK_TCK")


def thread_figures(pid: int) -> dict[str, tuple[float, float, int]]:
    """Per thread of PID: (CPU seconds, seconds runnable but waiting, context switches)."""
    out: dict[str, tuple[float, float, int]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        task = Path(f"/proc/{pid}/task/{tid}")
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            _, wait_ns, switches = map(int, (task / "schedstat").read_text().split())
            name = (task / "comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
        label = "main" if int(tid) == pid else f"{name}:{tid}"
        out[label] = ((int(fields[11]) + int(fields[12])) / TICK, wait_ns / 1e9, switches)
    return out


def curl_upload(base: str, ticket: dict, path: Path) -> tuple[float, float]:
    """(seconds, curl's CPU seconds) of one `curl -T` to the signed URL."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(["curl", "-s", "-S", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(path),
                           "-H", f"Content-Type: {ticket['required_headers']['Content-Type']}", "-H", "Expect:",
                           bench_media.on(base, ticket["upload_url"])], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.stdout == "200", (done.stdout, done.stderr)
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


async def run(trees: dict[str, Path], mib: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="pufferd-upload-profile-") as tmp:
        workdir = Path(tmp)
        os.chdir(workdir)  # `python3 -m` puts the working directory first on sys.path
        path = workdir / "upload.mp4"
        bench_media.make_file(path, mib * MIB)
        servers = {}
        try:
            for name, tree in trees.items():
                env = bench_media.env(mib * MIB + MIB)
                env["PYTHONPATH"] = str(tree)
                data = workdir / f"data-{name}"
                benchlib.init(data, env, email=bench_media.EMAIL, password=bench_media.PASSWORD, bcrypt_rounds=4)
                servers[name] = benchlib.serve(data, workdir / f"{name}.log", env)
            ratios: dict[str, list[float]] = defaultdict(list)
            speeds: dict[str, list[float]] = defaultdict(list)
            curl_cpu: dict[str, list[float]] = defaultdict(list)
            per_thread: dict[str, dict[str, list[tuple[float, float, int]]]] = defaultdict(lambda: defaultdict(list))
            async with aiohttp.ClientSession() as session:
                auths = {name: await bench_media.login(session, base) for name, (_, base) in servers.items()}
                for name, (_, base) in servers.items():  # one upload each first: threads and caches warm
                    await bench_media.upload(session, base, auths[name], path)
                for i in range(rounds):
                    for name, (proc, base) in servers.items():
                        copy_s, _ = bench_media.disk_copy(path, path.with_suffix(".copy"))
                        async with session.post(f"{base}/api/v1/media/upload-url", headers=auths[name], json={
                                "file_name": "bench.mp4", "file_type": "video/mp4", "file_size": mib * MIB}) as resp:
                            ticket = await resp.json()
                        before = thread_figures(proc.pid)
                        upload_s, curl_s = await asyncio.to_thread(curl_upload, base, ticket, path)
                        after = thread_figures(proc.pid)
                        ratios[name].append(copy_s / upload_s)
                        speeds[name].append(mib / upload_s)
                        curl_cpu[name].append(curl_s)
                        busy = []
                        for label, (cpu, wait, switches) in after.items():
                            cpu0, wait0, switches0 = before.get(label, (0.0, 0.0, 0))
                            figures = (cpu - cpu0, wait - wait0, switches - switches0)
                            per_thread[name][label].append(figures)
                            if figures[0] >= 0.005 or figures[1] >= 0.005:
                                busy.append(f"{label} {figures[0] * 1000:.0f}/{figures[1] * 1000:.0f}/{figures[2]}")
                        print(f"round {i + 1} {name}: disk copy {mib / copy_s:5.0f} MiB/s, upload {mib / upload_s:5.0f}"
                              f" MiB/s = {copy_s / upload_s:4.0%}; curl CPU {curl_s * 1000:.0f} ms; threads (CPU ms/runq"
                              f" ms/switches): " + ", ".join(busy), flush=True)
        finally:
            for proc, _ in servers.values():
                bench_media.stop(proc)
    print(f"\n{time.strftime('%Y-%m-%d %H:%M')} {os.uname().machine} nproc={os.cpu_count()} "
          f"load={os.getloadavg()[0]:.2f}; medians of {rounds} rounds of {mib} MiB")
    for name in trees:
        print(f" {name}: upload ÷ disk copy {statistics.median(ratios[name]):.0%} (min {min(ratios[name]):.0%}, max "
              f"{max(ratios[name]):.0%}), upload {statistics.median(speeds[name]):.0f} MiB/s, curl CPU "
              f"{statistics.median(curl_cpu[name]) * 1000:.0f} ms")
        for label, runs in sorted(per_thread[name].items(), key=lambda kv: -statistics.median(r[0] for r in kv[1])):
            cpu = statistics.median(r[0] for r in runs)
            if cpu >= 0.003:
                print(f"   {label:28s} CPU {cpu * 1000:4.0f} ms  runq {statistics.median(r[1] for r in runs) * 1000:4.0f}"
                      f" ms  switches {statistics.median(r[2] for r in runs):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, metavar="TREE", help="another source tree, e.g. before a change")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--mib", type=int, default=100)
    args = parser.parse_args()
    trees = {"this tree": Path(__file__).resolve().parents[1]}
    if args.compare is not None:
        trees["compare"] = args.compare.resolve()
    asyncio.run(run(trees, args.mib, args.rounds))


if __name__ == "__main__":
    main()
