"""Group commit of the storage layer: single-row write jobs through Database.write.

    python3 bench/bench_storage.py [--jobs 40000] [--coroutines 64] [--runs 5]

C coroutines each await `db.write(insert_one_row)` in a loop until JOBS jobs are done, on an
encrypted database in a temporary directory (the production pragmas: WAL, synchronous=NORMAL).
Measured in the same run, interleaved, with the same Database class:
  group commit      as shipped: the writer thread takes every queued job into one transaction
  commit per job    the same writer thread with MAX_BATCH = 1: one BEGIN IMMEDIATE/COMMIT per job
Prints jobs/s per run, the medians, the mean batch size, and checks every row arrived.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import apsw

from pufferd.db import database

TABLE = ("CREATE TABLE bench_rows(id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL, "
         "body TEXT NOT NULL, created_at REAL NOT NULL) STRICT")


def insert_one(author_id: int, body: str):
    def insert_txn(conn: apsw.Connection) -> int:
        return conn.execute("INSERT INTO bench_rows(author_id, body, created_at) VALUES (?, ?, ?) RETURNING id",
                            (author_id, body, time.time())).fetchone()["id"]
    return insert_txn


async def drive(db: database.Database, jobs: int, coroutines: int) -> float:
    """Seconds to run JOBS single-row write jobs from COROUTINES concurrent coroutines."""
    per = jobs // coroutines

    async def writer(n: int) -> None:
        for i in range(per):
            await db.write(insert_one(n, f"message {i} from writer {n}"))

    t0 = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(coroutines)))
    return time.perf_counter() - t0


def run_once(directory: Path, jobs: int, coroutines: int, max_batch: int, runner) -> tuple[float, float]:
    """Jobs/s and mean jobs per transaction of one run on a fresh database."""
    path = directory / f"bench-{secrets.token_hex(4)}.db"
    key = secrets.token_hex(32)
    db = database.Database(path, key, readers=1)
    db.write_sync(lambda conn: conn.execute(TABLE))
    saved = database.MAX_BATCH
    database.MAX_BATCH = max_batch
    try:
        db.start()
        jobs = jobs // coroutines * coroutines
        seconds = runner(drive(db, jobs, coroutines))
        batches = db.batches
    finally:
        database.MAX_BATCH = saved
        db.close()
    check = database.open_connection(path, key)
    try:
        count = check.execute("SELECT count(*) AS n FROM bench_rows").fetchone()["n"]
    finally:
        check.close()
    if count != jobs:
        raise SystemExit(f"expected {jobs} rows, found {count}")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return jobs / seconds, jobs / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40_000, help="jobs per group-commit run")
    parser.add_argument("--per-job-jobs", type=int, default=8_000, help="jobs per commit-per-job run")
    parser.add_argument("--coroutines", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        runner, loop_name = asyncio.run, "asyncio"
    else:
        runner, loop_name = uvloop.run, "uvloop"
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  nproc={os.cpu_count()}  load={os.getloadavg()[0]:.2f}  "
          f"loop={loop_name}  SQLite {apsw.sqlite_lib_version()}  encrypted, WAL, synchronous=NORMAL")
    group: list[float] = []
    single: list[float] = []
    sizes: list[float] = []
    with tempfile.TemporaryDirectory(prefix="pufferd-bench-storage-") as tmp:
        for i in range(args.runs):
            rate, size = run_once(Path(tmp), args.jobs, args.coroutines, database.MAX_BATCH, runner)
            group.append(rate)
            sizes.append(size)
            rate1, _ = run_once(Path(tmp), args.per_job_jobs, args.coroutines, 1, runner)
            single.append(rate1)
            print(f"run {i + 1}: group commit {rate:8,.0f} jobs/s (mean {size:5.1f} jobs/transaction)   "
                  f"commit per job {rate1:7,.0f} jobs/s", flush=True)
    g, s = statistics.median(group), statistics.median(single)
    print(f"\n{args.coroutines} coroutines, single-row write jobs through Database.write, {args.runs} runs:")
    print(f"  group commit    median {g:8,.0f} jobs/s (min {min(group):,.0f}, max {max(group):,.0f}), "
          f"median {statistics.median(sizes):.1f} jobs per transaction")
    print(f"  commit per job  median {s:8,.0f} jobs/s (min {min(single):,.0f}, max {max(single):,.0f})")
    print(f"  group commit / commit per job: {g / s:.1f}x")


if __name__ == "__main__":
    main()
