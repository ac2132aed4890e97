"""The reader pool opens its connections as reads need them (issue 17, "Lean start"): an idle
server holds none, a burst of concurrent reads grows it to `db_readers`, never beyond."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import apsw
import pytest

from pufferd.config import Settings
from pufferd.datadir import open_database
from pufferd.db.database import Database


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = open_database(settings.model_copy(update={"db_readers": 3}))
    database.start()
    yield database
    database.close()


def count_users(conn: apsw.Connection) -> int:
    return int(conn.execute("SELECT count(*) AS n FROM users").fetchone()["n"])


async def test_an_idle_database_holds_no_reader_and_one_read_opens_one(db: Database) -> None:
    assert db.reader_connections == 0
    for _ in range(5):  # one after another: the same reader serves them all
        assert await db.read(count_users) == 1
    assert db.reader_connections == 1


async def test_concurrent_reads_grow_the_pool_up_to_its_size(db: Database) -> None:
    release = threading.Event()
    running = threading.Semaphore(0)

    def blocked(conn: apsw.Connection) -> int:
        running.release()
        assert release.wait(10)
        return count_users(conn)

    reads = [asyncio.ensure_future(db.read(blocked)) for _ in range(5)]
    await asyncio.sleep(0)
    for _ in range(3):  # three readers run at once: the pool grew to its size
        assert await asyncio.to_thread(running.acquire, True, 10)
    assert db.reader_connections == 3
    assert db.read_queue_depth == 2  # the other two wait for a reader, no fourth one opens
    release.set()
    assert await asyncio.gather(*reads) == [1] * 5
    assert db.reader_connections == 3


async def test_close_answers_the_reads_still_queued(settings: Settings) -> None:
    database = open_database(settings.model_copy(update={"db_readers": 1}))
    database.start()
    reads = [asyncio.ensure_future(database.read(count_users)) for _ in range(20)]
    await asyncio.sleep(0)
    await asyncio.to_thread(database.close)
    assert await asyncio.gather(*reads) == [1] * 20
