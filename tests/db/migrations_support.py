"""Migrations applied one by one, up to a chosen version, for tests that examine what a migration
does to the rows of a database made before it."""
from __future__ import annotations

import apsw

from pufferd.db import migrate


def apply(conn: apsw.Connection, below: int | None = None) -> None:
    """Apply every migration not applied yet whose version is below BELOW (all without it), each
    in its own transaction, recorded as ``migrate`` records them."""
    for m in migrate.available():
        if (below is not None and m.version >= below) or m.version in migrate.applied_versions(conn):
            continue
        with conn:
            migrate._ensure_table(conn)
            conn.execute(m.sql)
            conn.execute("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, 0)",
                         (m.version, m.name))
