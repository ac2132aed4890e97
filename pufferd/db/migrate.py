"""Numbered SQL migrations (pufferd/db/migrations/NNNN_name.sql), applied in order and recorded."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from importlib import resources

import apsw

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The database cannot be brought to this version's schema."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """Every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("pufferd.db.migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migrations share a number")
    return found


def _ensure_table(conn: apsw.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL) STRICT"
    )


def applied_versions(conn: apsw.Connection) -> list[int]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_schema WHERE type='table' AND name='schema_migrations'"
    ).fetchall()
    if not exists:
        return []
    return [r["version"] if isinstance(r, dict) else r[0]
            for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def pending(conn: apsw.Connection) -> list[Migration]:
    done = set(applied_versions(conn))
    return [m for m in available() if m.version not in done]


def check_not_newer(conn: apsw.Connection) -> None:
    known = {m.version for m in available()}
    unknown = [v for v in applied_versions(conn) if v not in known]
    if unknown:
        raise MigrationError(
            f"the database was written by a newer pufferd (schema version {max(unknown)}; "
            f"this binary knows up to {max(known)}); upgrade pufferd instead"
        )


def migrate(conn: apsw.Connection) -> list[int]:
    """Apply every pending migration, each inside one transaction; return the versions applied."""
    check_not_newer(conn)
    done: list[int] = []
    for m in pending(conn):
        with conn:
            _ensure_table(conn)
            conn.execute(m.sql)
            conn.execute(
                "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                (m.version, m.name, time.time()),
            )
        done.append(m.version)
    return done
