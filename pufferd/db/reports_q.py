"""Query functions for reports (migration 0070) and the message context a moderator reviews."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import apsw

from pufferd.db import messages_q
from pufferd.db.messages_q import Message


@dataclass(frozen=True, slots=True)
class Report:
    id: int
    reporter_id: int | None
    target: str                    # 'message:<id>' or 'user:<id>'
    target_type: str               # message | user
    reported_user_id: int | None   # the reported user, or the reported message's author
    message_id: int | None
    chat_id: int | None
    message_type: str | None       # the message as it was reported
    message_text: str | None
    message_created_at: float | None
    category: str
    description: str | None
    state: str                     # open | resolved | dismissed
    action: str | None             # dismiss | delete | timeout | ban, once resolved
    resolution_reason: str | None
    timeout_until: float | None
    resolved_by: int | None
    resolved_at: float | None
    created_at: float


def _report(row: dict[str, Any] | None) -> Report | None:
    return None if row is None else Report(**row)


def _one(conn: apsw.Connection, sql: str, params: Any) -> dict[str, Any]:
    """The row of a statement that always returns one (an aggregate)."""
    return cast(dict[str, Any], conn.execute(sql, params).fetchone())


def target_of(target_type: str, target_id: int) -> str:
    return f"{target_type}:{target_id}"


def insert(conn: apsw.Connection, *, reporter_id: int, target_type: str, target_id: int,
           reported_user_id: int | None, category: str, description: str | None, now: float,
           message: Message | None = None) -> Report:
    row = conn.execute(
        "INSERT INTO reports(reporter_id, target, target_type, reported_user_id, message_id, chat_id,"
        " message_type, message_text, message_created_at, category, description, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (reporter_id, target_of(target_type, target_id), target_type, reported_user_id,
         message.id if message else None, message.chat_id if message else None,
         message.type if message else None, message.text if message else None,
         message.created_at if message else None, category, description, now)).fetchone()
    return _report(row)  # type: ignore[return-value]


def get(conn: apsw.Connection, report_id: int) -> Report | None:
    return _report(conn.execute("SELECT * FROM reports WHERE id = ?", (report_id,)).fetchone())


def open_report_of(conn: apsw.Connection, reporter_id: int, target: str) -> Report | None:
    """REPORTER_ID's open report of TARGET (index reports_one_open)."""
    return _report(conn.execute("SELECT * FROM reports WHERE reporter_id = ? AND target = ? AND state = 'open'",
                                (reporter_id, target)).fetchone())


def page(conn: apsw.Connection, *, limit: int, before_id: int | None = None, state: str | None = None,
         target_type: str | None = None, reporter_id: int | None = None) -> list[Report]:
    """Reports newest first, before BEFORE_ID, narrowed by STATE, TARGET_TYPE and REPORTER_ID; each
    combination walks one of the reports_by_* indexes in id order."""
    where = ["id < ?"]
    args: list[Any] = [before_id if before_id is not None else 2**63 - 1]
    for column, value in (("state", state), ("target_type", target_type), ("reporter_id", reporter_id)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    rows = conn.execute(f"SELECT * FROM reports WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                        (*args, limit))
    return [Report(**r) for r in rows]


def resolve_open(conn: apsw.Connection, target: str, *, state: str, action: str, reason: str | None,
                 timeout_until: float | None, by: int, now: float) -> list[int]:
    """Close every open report of TARGET with the same outcome; their ids, oldest first."""
    rows = conn.execute(
        "UPDATE reports SET state = ?, action = ?, resolution_reason = ?, timeout_until = ?, resolved_by = ?,"
        " resolved_at = ? WHERE target = ? AND state = 'open' RETURNING id",
        (state, action, reason, timeout_until, by, now, target)).fetchall()
    return sorted(cast(dict[str, int], r)["id"] for r in rows)


def count_against(conn: apsw.Connection, user_id: int) -> tuple[int, int]:
    """Reports naming USER_ID as the reported user: (all, still open)."""
    row = _one(conn, "SELECT count(*) AS n, coalesce(sum(state = 'open'), 0) AS open FROM reports"
                     " WHERE reported_user_id = ?", (user_id,))
    return int(row["n"]), int(row["open"])


def around(conn: apsw.Connection, chat_id: int, message_id: int, n: int) -> list[Message]:
    """Up to N messages of CHAT_ID before MESSAGE_ID and N after it, oldest first (the
    messages_by_chat index both ways); the message itself is not among them."""
    before = conn.execute(f"SELECT {messages_q.COLUMNS} FROM messages m WHERE m.chat_id = ? AND m.id < ?"
                          " ORDER BY m.id DESC LIMIT ?", (chat_id, message_id, n)).fetchall()
    after = conn.execute(f"SELECT {messages_q.COLUMNS} FROM messages m WHERE m.chat_id = ? AND m.id > ?"
                         " ORDER BY m.id LIMIT ?", (chat_id, message_id, n)).fetchall()
    return [Message(**r) for r in (*reversed(before), *after)]


@dataclass(frozen=True, slots=True)
class AttachedFile:
    object_key: str
    file_type: str
    file_size: int


def attachments(conn: apsw.Connection, message_id: int) -> list[AttachedFile]:
    """The files attached to MESSAGE_ID, in order (attachments_by_message)."""
    return [AttachedFile(**r) for r in conn.execute(
        "SELECT object_key, file_type, file_size FROM attachments WHERE message_id = ? ORDER BY id", (message_id,))]


def members_count(conn: apsw.Connection, chat_id: int) -> int:
    return int(_one(conn, "SELECT count(*) AS n FROM chat_members WHERE chat_id = ?", (chat_id,))["n"])
