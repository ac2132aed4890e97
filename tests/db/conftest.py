"""Fixtures of the storage tests: a database file of their own with no migration applied."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from pufferd.db.database import open_connection


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[apsw.Connection]:
    """An unencrypted database in the test's directory; migrations are applied by the test
    (``migrations_support.apply``), so a test may stop below the migration it examines."""
    c = open_connection(tmp_path / "t.db", None)
    yield c
    c.close()
