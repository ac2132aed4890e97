"""Database: one writer thread with group commit and a pool of reader threads (DESIGN.md, Storage).

Domain code calls ``await db.read(fn)`` / ``await db.write(fn)`` where ``fn(conn)`` is a synchronous
unit of work. Concurrent write jobs are batched into one transaction; each job runs inside its own
savepoint, so a failing job rolls back only its own changes and the others still commit.

WAL checkpoints run on a third kind of thread, the checkpointer, with its own connection: SQLite's
automatic checkpoint would otherwise run inside the committing writer (page copies, cipher work and
an fsync of the database file), stalling every write job queued behind it. The writer's WAL hook
wakes the checkpointer once the log holds CHECKPOINT_FRAMES frames; it also looks once a second.
Its checkpoints are PASSIVE (they never wait for, or block, the writer or readers); when the log
still grows past WAL_TRUNCATE_BYTES (readers kept it pinned), a TRUNCATE checkpoint resets it.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import apsw

from pufferd.errors import Conflict

T = TypeVar("T")
log = logging.getLogger("pufferd.db")

BUSY_TIMEOUT_MS = 5000
MAX_BATCH = 512
CHECKPOINT_FRAMES = 1000  # SQLite's own default for wal_autocheckpoint
CHECKPOINT_INTERVAL_S = 1.0
WAL_TRUNCATE_BYTES = 64 * 1024 * 1024


class DatabaseOpenError(Exception):
    """The database file cannot be opened or read; the message is one line for the user."""


class DatabaseKeyError(DatabaseOpenError):
    """The database cannot be opened with the key given (wrong key, or missing key)."""


def open_connection(path: Path, key_hex: str | None, *, readonly: bool = False) -> apsw.Connection:
    """Open PATH, apply the cipher key first, then the pragmas every connection needs."""
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    try:
        conn = apsw.Connection(str(path), flags=flags)
    except apsw.Error as exc:
        raise DatabaseOpenError(f"{path}: cannot open the database ({exc})") from None
    try:
        if key_hex:
            conn.execute(f"PRAGMA hexkey='{key_hex}'")
        conn.setbusytimeout(BUSY_TIMEOUT_MS)
        # the first real read tells whether the key fits
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchall()
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL").fetchall()
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA recursive_triggers=ON")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.config(apsw.SQLITE_DBCONFIG_DQS_DML, 0)
        conn.config(apsw.SQLITE_DBCONFIG_DQS_DDL, 0)
    except apsw.NotADBError:
        conn.close()
        raise DatabaseKeyError(
            f"{path}: cannot open the database (wrong or missing key, or not a pufferd database)"
        ) from None
    except apsw.ReadOnlyError:
        conn.close()
        raise DatabaseOpenError(f"{path}: the database or its directory is not writable") from None
    except apsw.Error as exc:
        conn.close()
        raise DatabaseOpenError(f"{path}: cannot open the database ({exc})") from None
    conn.row_trace = _row_as_dict
    return conn


def _row_as_dict(cursor: apsw.Cursor, row: tuple) -> dict[str, Any]:
    return dict(zip((d[0] for d in cursor.get_description()), row, strict=True))


def translate_constraint(exc: apsw.ConstraintError) -> Conflict:
    """Integrity errors become Conflict (STYLE.md: "db turns constraint errors into Conflict")."""
    # the message names the kind and the column, e.g. "UNIQUE constraint failed: users.email"
    return Conflict(f"Conflict: {exc}")


@dataclass
class _Job:
    fn: Callable[[apsw.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    result: Any = None
    error: BaseException | None = None
    done: bool = field(default=False)


def _settle(job: _Job) -> None:
    if job.future.cancelled():
        return
    if job.error is not None:
        job.future.set_exception(job.error)
    else:
        job.future.set_result(job.result)


class Database:
    """The async face of the database; owns the writer thread and the reader threads."""

    def __init__(self, path: Path, key_hex: str | None, *, readers: int = 4) -> None:
        self.path = path
        self._key = key_hex
        self._writer_conn = open_connection(path, key_hex)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="pufferd-db-writer", daemon=True)
        self._readers_n = readers
        self._read_jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._reader_threads: list[threading.Thread] = []
        self._reader_conns: list[apsw.Connection] = []
        self._readers_lock = threading.Lock()
        self._idle_readers = 0  # reader threads waiting for a job (or started to take one)
        self._started = False
        self._closed = False
        self.batches = 0  # group-commit statistics, read by benchmarks and tests
        self.jobs_committed = 0
        self.checkpoints = 0
        # called on the writer thread with each batch's job count (metrics); keep them cheap
        self.batch_observers: list[Callable[[int], None]] = []
        self._wal_frames = 0  # frames in the WAL after the writer's latest commit
        self._checkpoint_wanted = threading.Event()
        self._checkpoint_stop = False
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="pufferd-db-checkpointer",
                                              daemon=True)

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        self._started = True
        # from here on the checkpointer checkpoints; the writer only commits
        self._writer_conn.set_wal_hook(self._on_wal_commit)
        self._checkpointer.start()
        self._writer.start()
        self._grow_readers()

    def _grow_readers(self, arriving: int = 0) -> None:
        """Start reader threads while the queued reads (and ARRIVING ones) outnumber the idle
        readers, up to `readers`. An idle server holds no reader connection (each costs ≈ 0.4 MB:
        its copy of the schema) and a busy one grows to the full pool (issue 17, "Lean start")."""
        started = []
        with self._readers_lock:
            while (self._started and not self._closed and len(self._reader_threads) < self._readers_n
                   and self._read_jobs.qsize() + arriving > self._idle_readers):
                try:
                    conn = open_connection(self.path, self._key)
                except (apsw.Error, OSError):
                    if not self._reader_threads:
                        raise  # no reader could take the read: the caller gets the error
                    log.exception("cannot open another reader connection; %d serve the reads",
                                  len(self._reader_threads))
                    break
                self._reader_conns.append(conn)
                self._idle_readers += 1
                t = threading.Thread(target=self._read_loop, args=(conn,),
                                     name=f"pufferd-db-reader-{len(self._reader_threads)}", daemon=True)
                self._reader_threads.append(t)
                started.append(t)
        for t in started:
            t.start()

    def close(self) -> None:
        """Finish queued jobs, checkpoint the WAL and close every connection."""
        if self._closed:
            return
        with self._readers_lock:  # no reader starts after this
            self._closed = True
        if self._started:
            self._jobs.put(None)
            self._writer.join()
            for _ in self._reader_threads:
                self._read_jobs.put(None)
            for t in self._reader_threads:
                t.join()
            self._checkpoint_stop = True
            self._checkpoint_wanted.set()
            self._checkpointer.join()
        for conn in self._reader_conns:
            conn.close()
        try:
            self._writer_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except apsw.Error:
            pass
        self._writer_conn.close()

    # async API -------------------------------------------------------------------------------
    async def write(self, fn: Callable[[apsw.Connection], T]) -> T:
        """Run FN(conn) inside the next group-committed transaction; return once it is durable."""
        if self._closed:
            raise RuntimeError("database is closed")
        loop = asyncio.get_running_loop()
        job = _Job(fn, loop, loop.create_future())
        self._jobs.put(job)
        return await job.future

    async def read(self, fn: Callable[[apsw.Connection], T]) -> T:
        """Run FN(conn) on a reader connection inside one read transaction (a consistent snapshot)."""
        if self._closed:
            raise RuntimeError("database is closed")
        loop = asyncio.get_running_loop()
        job = _Job(fn, loop, loop.create_future())
        self._grow_readers(arriving=1)
        self._read_jobs.put(job)
        return await job.future

    @property
    def write_queue_depth(self) -> int:
        """Write jobs waiting for the writer thread (not counting the batch it runs)."""
        return self._jobs.qsize()

    @property
    def reader_connections(self) -> int:
        """Reader connections open (they are opened as reads need them, up to `readers`)."""
        return len(self._reader_conns)

    @property
    def read_queue_depth(self) -> int:
        """Read jobs waiting for a free reader thread."""
        return self._read_jobs.qsize()

    def migrate(self) -> list[int]:
        """Apply pending migrations on the writer connection (before start())."""
        from pufferd.db import migrate

        return migrate.migrate(self._writer_conn)

    def write_sync(self, fn: Callable[[apsw.Connection], T]) -> T:
        """Run FN in its own transaction on the caller's thread (CLI use, before start())."""
        with self._writer_conn:
            result = fn(self._writer_conn)
        return result

    # threads ---------------------------------------------------------------------------------
    def _on_wal_commit(self, conn: apsw.Connection, dbname: str, frames: int) -> int:
        """The writer's WAL hook: runs after each commit, in the writer thread."""
        self._wal_frames = frames
        if frames >= CHECKPOINT_FRAMES:
            self._checkpoint_wanted.set()
        return apsw.SQLITE_OK

    def _checkpoint_loop(self) -> None:
        conn: apsw.Connection | None = None  # opened by the first checkpoint (issue 17, "Lean start")
        wal = Path(str(self.path) + "-wal")
        try:
            while not self._checkpoint_stop:
                self._checkpoint_wanted.wait(CHECKPOINT_INTERVAL_S)
                self._checkpoint_wanted.clear()
                if self._checkpoint_stop or self._wal_frames == 0:
                    continue
                self._wal_frames = 0  # the writer's next commit sets it again
                try:
                    if conn is None:
                        conn = open_connection(self.path, self._key)
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    if wal.exists() and wal.stat().st_size > WAL_TRUNCATE_BYTES:
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                    self.checkpoints += 1
                except apsw.Error:
                    continue  # busy or locked: the next wake-up tries again
        finally:
            if conn is not None:
                conn.close()

    def _read_loop(self, conn: apsw.Connection) -> None:
        while True:
            job = self._read_jobs.get()
            with self._readers_lock:
                self._idle_readers -= 1
            if job is None:
                return
            try:
                with conn:
                    job.result = job.fn(conn)
            except BaseException as exc:  # handed to the awaiting coroutine
                job.error = exc
            with self._readers_lock:
                self._idle_readers += 1
            job.loop.call_soon_threadsafe(_settle, job)

    def _write_loop(self) -> None:
        conn = self._writer_conn
        stop = False
        while not stop:
            job = self._jobs.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._run_batch(conn, batch)

    def _run_batch(self, conn: apsw.Connection, batch: list[_Job]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except apsw.Error as exc:
            for job in batch:
                job.error = exc
                job.loop.call_soon_threadsafe(_settle, job)
            return
        for job in batch:
            try:
                with conn:  # a savepoint: a failure undoes this job only
                    job.result = job.fn(conn)
            except apsw.ConstraintError as exc:
                job.error = translate_constraint(exc)
            except BaseException as exc:
                job.error = exc
        try:
            conn.execute("COMMIT")
        except apsw.Error as exc:
            try:
                conn.execute("ROLLBACK")
            except apsw.Error:
                pass
            for job in batch:
                if job.error is None:
                    job.error = exc
        self.batches += 1
        self.jobs_committed += sum(1 for j in batch if j.error is None)
        for observe in self.batch_observers:
            observe(len(batch))
        for job in batch:
            job.loop.call_soon_threadsafe(_settle, job)
