"""Query functions for notifications."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import apsw

from pufferd.db import rows


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    user_id: int
    event_type: str
    payload: str
    created_at: float


def insert(conn: apsw.Connection, user_id: int, event_type: str, payload: dict[str, Any], now: float,
           *, chat_id: int | None = None, message_id: int | None = None) -> Notification:
    row = conn.execute(
        "INSERT INTO notifications(user_id, event_type, payload, chat_id, message_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id, user_id, event_type, payload, created_at",
        (user_id, event_type, json.dumps(payload, separators=(",", ":")), chat_id, message_id, now),
    )
    return Notification(**rows.one(row))


def insert_many(conn: apsw.Connection, entries: list[tuple[int, str]], payload: dict[str, Any], now: float,
                *, chat_id: int | None = None, message_id: int | None = None) -> list[Notification]:
    """One notification per (user_id, event_type) of ENTRIES, all with the same PAYLOAD.

    Without RETURNING (which costs SQLite an ephemeral table per statement, ~3x the insert): the
    ids are consecutive up to last_insert_rowid, because an AUTOINCREMENT table hands out
    max(rowid)+1 and this transaction holds the write lock while it inserts.
    """
    if not entries:
        return []
    text = json.dumps(payload, separators=(",", ":"))
    conn.executemany(
        "INSERT INTO notifications(user_id, event_type, payload, chat_id, message_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)", [(uid, event_type, text, chat_id, message_id, now) for uid, event_type in entries])
    first = conn.last_insert_rowid() - len(entries) + 1
    return [Notification(first + k, uid, event_type, text, now) for k, (uid, event_type) in enumerate(entries)]


def latest(conn: apsw.Connection, user_id: int, limit: int) -> list[Notification]:
    rows = conn.execute(
        "SELECT id, user_id, event_type, payload, created_at FROM notifications"
        " WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit))
    return [Notification(**r) for r in rows]


def delete_for_message(conn: apsw.Connection, message_id: int) -> None:
    conn.execute("DELETE FROM notifications WHERE message_id = ?", (message_id,))


def delete_older_than(conn: apsw.Connection, cutoff: float, batch: int) -> int:
    """Delete up to BATCH of the oldest notifications created before CUTOFF; return how many.

    Ids grow with time, so the old rows are a prefix of the table in id order: reading the first
    BATCH rows by rowid costs BATCH rows whatever the table's size (a filter on created_at would
    scan it all), and the prefix ends at the first row inside the retention period.
    """
    last = None
    for r in conn.execute("SELECT id, created_at FROM notifications ORDER BY id LIMIT ?", (batch,)):
        if r["created_at"] >= cutoff:
            break
        last = r["id"]
    if last is None:
        return 0
    conn.execute("DELETE FROM notifications WHERE id <= ?", (last,))
    return conn.changes()
