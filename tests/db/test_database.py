"""The storage layer: group commit, savepoints, migrations and encryption at rest (issue 2, item 4)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest
from pydantic import SecretStr

from pufferd.config import Settings, load_settings
from pufferd.datadir import Admin, initialise, open_database
from pufferd.db import migrate
from pufferd.db.database import Database, DatabaseKeyError, open_connection
from pufferd.errors import Conflict
from pufferd.keys import db_key_hex

SQLITE_HEADER = b"SQLite format 3\x00"


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """The data directory's real (encrypted) database, with a scratch table, started."""
    database = open_database(settings)
    database.write_sync(lambda c: c.execute(
        "CREATE TABLE scratch(id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE) STRICT"))
    database.start()
    yield database
    database.close()


def insert(value: str):
    def insert_txn(conn: apsw.Connection) -> int:
        return conn.execute("INSERT INTO scratch(value) VALUES (?) RETURNING id", (value,)).fetchone()["id"]
    return insert_txn


def hold_writer(seconds: float):
    """A job that keeps the writer busy, so the jobs queued meanwhile form one batch."""
    def hold_txn(conn: apsw.Connection) -> None:
        time.sleep(seconds)
    return hold_txn


def values(conn: apsw.Connection) -> list[str]:
    return [r["value"] for r in conn.execute("SELECT value FROM scratch ORDER BY value")]


# group commit ------------------------------------------------------------------------------------------

async def test_group_commit_batches_concurrent_jobs_into_few_transactions(db):
    jobs = 300
    before = db.batches
    held = asyncio.ensure_future(db.write(hold_writer(0.2)))
    await asyncio.sleep(0.01)  # the writer is now busy with the held job
    ids = await asyncio.gather(*(db.write(insert(f"v{i}")) for i in range(jobs)))
    await held
    assert len(set(ids)) == jobs
    batches = db.batches - before
    assert batches < jobs
    assert batches <= 3, f"{jobs} concurrent jobs took {batches} transactions"
    assert len(await db.read(values)) == jobs


async def test_group_commit_under_sustained_concurrency_still_batches(db):
    """64 coroutines each writing in a loop (the benchmark's shape): far fewer commits than jobs."""
    before_batches, before_jobs = db.batches, db.jobs_committed

    async def worker(w: int) -> None:
        for i in range(20):
            await db.write(insert(f"w{w}-{i}"))

    await asyncio.gather(*(worker(w) for w in range(64)))
    jobs = db.jobs_committed - before_jobs
    assert jobs == 64 * 20
    assert db.batches - before_batches < jobs / 4


async def test_a_failing_job_rolls_back_only_its_own_savepoint(db):
    batch_seen: dict[str, int] = {}

    def job(name: str, fail: bool = False):
        def job_txn(conn: apsw.Connection) -> str:
            batch_seen[name] = db.batches  # jobs of one transaction see the same count
            conn.execute("INSERT INTO scratch(value) VALUES (?)", (name,))
            conn.execute("INSERT INTO scratch(value) VALUES (?)", (name + "-second",))
            if fail:
                raise ValueError(f"{name} breaks a rule")
            return name
        return job_txn

    held = asyncio.ensure_future(db.write(hold_writer(0.2)))
    await asyncio.sleep(0.01)
    results = await asyncio.gather(db.write(job("a")), db.write(job("b", fail=True)), db.write(job("c")),
                                   return_exceptions=True)
    await held
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], ValueError) and str(results[1]) == "b breaks a rule"
    assert batch_seen["a"] == batch_seen["b"] == batch_seen["c"], "the three jobs shared one transaction"
    assert await db.read(values) == ["a", "a-second", "c", "c-second"]


async def test_a_constraint_error_becomes_conflict_and_the_batch_commits(db):
    await db.write(insert("taken"))
    held = asyncio.ensure_future(db.write(hold_writer(0.2)))
    await asyncio.sleep(0.01)
    results = await asyncio.gather(db.write(insert("taken")), db.write(insert("free")),
                                   return_exceptions=True)
    await held
    assert isinstance(results[0], Conflict)
    assert results[0].status == 409
    assert "UNIQUE constraint failed: scratch.value" in results[0].detail
    assert isinstance(results[1], int)
    assert await db.read(values) == ["free", "taken"]


async def test_reads_see_committed_writes(db):
    new_id = await db.write(insert("fresh"))
    row = await db.read(lambda c: c.execute("SELECT id, value FROM scratch WHERE id = ?", (new_id,)).fetchone())
    assert row == {"id": new_id, "value": "fresh"}


async def test_a_read_is_one_consistent_snapshot(db):
    await db.write(insert("first"))
    writes_done = []

    def read_twice(conn: apsw.Connection) -> tuple[int, int]:
        before = conn.execute("SELECT count(*) AS n FROM scratch").fetchone()["n"]
        # another write commits on the writer thread while this read transaction is open
        fut = asyncio.run_coroutine_threadsafe(db.write(insert("during")), loop)
        fut.result(5)
        writes_done.append(True)
        after = conn.execute("SELECT count(*) AS n FROM scratch").fetchone()["n"]
        return before, after

    loop = asyncio.get_running_loop()
    before, after = await db.read(read_twice)
    assert writes_done and before == after == 1
    assert await db.read(values) == ["during", "first"]


async def test_the_writer_keeps_working_after_a_failed_job(db):
    with pytest.raises(ZeroDivisionError):
        await db.write(lambda c: 1 / 0)
    assert isinstance(await db.write(insert("after")), int)


# migrations --------------------------------------------------------------------------------------------

def fresh_connection(tmp_path: Path) -> apsw.Connection:
    return open_connection(tmp_path / "fresh.db", None)


# checkpoints ----------------------------------------------------------------------------------------------

async def test_the_writer_does_not_checkpoint_the_background_thread_does(settings, monkeypatch):
    import pufferd.db.database as database
    seen: list[int] = []
    hook = Database._on_wal_commit

    def spy(self, conn, name, frames):
        seen.append(frames)
        return hook(self, conn, name, frames)
    monkeypatch.setattr(Database, "_on_wal_commit", spy)
    monkeypatch.setattr(database, "CHECKPOINT_INTERVAL_S", 60.0)  # only the frame count wakes it now
    monkeypatch.setattr(database, "CHECKPOINT_FRAMES", 2000)
    db = open_database(settings)
    db.write_sync(lambda c: c.execute("CREATE TABLE scratch(id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE)"))
    db.start()
    try:
        big = "x" * 3000  # about one page per row
        for i in range(12):
            await asyncio.gather(*(db.write(insert(f"{i}-{k}-{big}")) for k in range(100)))
            assert db.checkpoints == 0 or max(seen) >= 2000
        # SQLite's automatic checkpoint would have reset the log at 1,000 frames inside a commit
        assert max(seen) > 1000
        deadline = time.monotonic() + 5
        while db.checkpoints == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert db.checkpoints >= 1
    finally:
        db.close()


async def test_a_few_commits_are_checkpointed_within_the_interval(db):
    before = db.checkpoints
    await asyncio.gather(*(db.write(insert(f"c{k}")) for k in range(50)))  # far below the frame threshold
    deadline = time.monotonic() + 5
    while db.checkpoints == before and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert db.checkpoints > before


async def test_an_idle_database_is_not_checkpointed_again_and_again(db):
    await db.write(insert("once"))
    deadline = time.monotonic() + 5
    while db.checkpoints == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    settled = db.checkpoints
    await asyncio.sleep(2.5)  # two more intervals without a commit
    assert db.checkpoints == settled


def test_migrations_are_applied_in_order_and_recorded(tmp_path):
    conn = fresh_connection(tmp_path)
    shipped = migrate.available()
    applied = migrate.migrate(conn)
    assert applied == [m.version for m in shipped] == sorted(applied)
    rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in shipped]
    assert migrate.pending(conn) == []
    conn.close()


def test_migrating_again_changes_nothing(tmp_path):
    conn = fresh_connection(tmp_path)
    migrate.migrate(conn)
    schema = conn.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY name").fetchall()
    recorded = conn.execute("SELECT * FROM schema_migrations").fetchall()
    assert migrate.migrate(conn) == []
    assert conn.execute("SELECT type, name, sql FROM sqlite_schema ORDER BY name").fetchall() == schema
    assert conn.execute("SELECT * FROM schema_migrations").fetchall() == recorded
    conn.close()


def test_a_database_of_a_newer_version_is_refused_with_a_clear_message(tmp_path, settings):
    conn = fresh_connection(tmp_path)
    migrate.migrate(conn)
    conn.execute("INSERT INTO schema_migrations(version, name, applied_at) VALUES (9999, 'future', 0)")
    with pytest.raises(migrate.MigrationError,
                       match=r"written by a newer pufferd \(schema version 9999; this binary knows up to \d+\)"):
        migrate.migrate(conn)
    conn.close()
    # and through the data directory, as `pufferd serve` opens it
    key = db_key_hex(settings.keys_dir, None)
    live = open_connection(settings.db_path, key)
    live.execute("INSERT INTO schema_migrations(version, name, applied_at) VALUES (9999, 'future', 0)")
    live.close()
    with pytest.raises(migrate.MigrationError, match="upgrade pufferd"):
        open_database(settings)


def test_a_failing_migration_leaves_no_trace(tmp_path, monkeypatch):
    conn = fresh_connection(tmp_path)
    shipped = migrate.available()
    migrate.migrate(conn)
    broken = migrate.Migration(9000, "broken", "CREATE TABLE half(x); INSERT INTO no_such_table VALUES (1);")
    monkeypatch.setattr(migrate, "available", lambda: [*shipped, broken])
    with pytest.raises(apsw.SQLError):
        migrate.migrate(conn)
    assert conn.execute("SELECT name FROM sqlite_schema WHERE name = 'half'").fetchall() == []
    assert 9000 not in migrate.applied_versions(conn)
    conn.close()


# encryption at rest ------------------------------------------------------------------------------------

MARKER = "zebra-marker-7f3a9c-plaintext"


def files_containing(directory: Path, needle: bytes) -> list[str]:
    return [p.relative_to(directory).as_posix() for p in sorted(directory.rglob("*"))
            if p.is_file() and needle in p.read_bytes()]


async def test_a_marker_written_to_the_database_appears_in_no_file_wal_included(db, settings):
    for i in range(50):  # enough to spill past any one page, into the WAL
        await db.write(insert(f"{MARKER}-{i}"))
    wal = settings.data_dir / "pufferd.db-wal"
    assert wal.exists() and wal.stat().st_size > 0, "the database is still open: the WAL holds the writes"
    assert files_containing(settings.data_dir, MARKER.encode()) == []
    assert files_containing(settings.data_dir, MARKER.encode("utf-16-le")) == []
    assert not settings.db_path.read_bytes().startswith(SQLITE_HEADER)
    db.close()
    assert files_containing(settings.data_dir, MARKER.encode()) == []


def init_plain(tmp_path: Path) -> Settings:
    directory = tmp_path / "plain"
    initialise(directory, {"bcrypt_rounds": 4}, Admin("admin", "admin@example.com", "admin-password-1"),
               encryption=False)
    return load_settings(directory)


async def test_no_encryption_gives_a_plain_sqlite_file(tmp_path):
    settings = init_plain(tmp_path)
    assert settings.db_encryption is False
    assert not (settings.keys_dir / "db.key").exists()
    assert settings.db_path.read_bytes().startswith(SQLITE_HEADER)
    db = open_database(settings)
    db.start()
    try:
        await db.write(lambda c: c.execute("CREATE TABLE scratch(value TEXT)"))
        await db.write(lambda c: c.execute("INSERT INTO scratch VALUES (?)", (MARKER,)))
        # the same scan that finds nothing in an encrypted directory finds the plain marker here
        assert files_containing(settings.data_dir, MARKER.encode()) != []
    finally:
        db.close()
    plain = open_connection(settings.db_path, None)
    assert plain.execute("SELECT value FROM scratch").fetchall() == [{"value": MARKER}]
    plain.close()


def test_a_wrong_key_raises_database_key_error(settings):
    with pytest.raises(DatabaseKeyError):
        open_connection(settings.db_path, "00" * 32)
    with pytest.raises(DatabaseKeyError):
        open_connection(settings.db_path, None)


def test_a_wrong_environment_key_names_its_source(settings):
    wrong = settings.model_copy(update={"db_key": SecretStr("not-the-passphrase")})
    with pytest.raises(DatabaseKeyError, match="with the key from PUFFERD_DB_KEY"):
        open_database(wrong)


def test_the_right_key_opens_the_database(settings):
    conn = open_connection(settings.db_path, db_key_hex(settings.keys_dir, None))
    assert conn.execute("SELECT count(*) AS n FROM users").fetchone()["n"] >= 1
    conn.close()
