"""Query functions for file management (/api/v1/cdn): listing uploads with where they are used,
usage against the quota, totals and deduplication, and removing a file with its attachments.

The objects, blobs, attachments and avatar references are the media area's tables (migrations
0003, 0040); their triggers keep blob reference counts and release objects (see 0040).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import apsw

from pufferd.db.media_q import MediaObject

USES_LISTED = 20  # messages listed per file in "where used" (the count is exact)


def _one(conn: apsw.Connection, sql: str, params: Any = ()) -> dict[str, Any]:
    return cast(dict[str, Any], conn.execute(sql, params).fetchone())


@dataclass
class Uses:
    """Where one object is used: messages it is attached to, and whose avatar it is."""

    messages: list[tuple[int, int]] = field(default_factory=list)  # (chat_id, message_id), newest first
    message_count: int = 0
    avatar_user_ids: list[int] = field(default_factory=list)
    avatar_chat_ids: list[int] = field(default_factory=list)

    @property
    def used(self) -> bool:
        return bool(self.message_count or self.avatar_user_ids or self.avatar_chat_ids)


Cursor = tuple[float, str]  # (created_at, object_key) of the last file of the previous page


def list_files(conn: apsw.Connection, *, limit: int, cursor: Cursor | None, uploader_id: int | None = None,
               file_type: str | None = None, unused: bool | None = None, min_size: int | None = None,
               max_size: int | None = None) -> list[MediaObject]:
    """Stored files newest first (created_at, then object_key, descending), after CURSOR.

    Plan: media_objects_by_uploader_created with UPLOADER_ID, else media_objects_by_created,
    walked backwards; the other filters are checked on the rows walked.
    """
    where: list[str] = ["state = 'stored'"]
    args: list[Any] = []
    if uploader_id is not None:
        where.append("uploader_id = ?")
        args.append(uploader_id)
    if cursor is not None:
        where.append("(created_at, object_key) < (?, ?)")
        args += [cursor[0], cursor[1]]
    if file_type is not None:
        where.append("file_type = ?")
        args.append(file_type)
    if unused is not None:
        # an attached object goes when its last reference goes (0040): stored and never attached
        # is exactly "used by nothing"
        where.append("attached_at IS NULL" if unused else "attached_at IS NOT NULL")
    if min_size is not None:
        where.append("file_size >= ?")
        args.append(min_size)
    if max_size is not None:
        where.append("file_size <= ?")
        args.append(max_size)
    rows = conn.execute(f"SELECT * FROM media_objects WHERE {' AND '.join(where)}"
                        " ORDER BY created_at DESC, object_key DESC LIMIT ?", (*args, limit))
    return [MediaObject.from_row(r) for r in rows]


def uses(conn: apsw.Connection, keys: Sequence[str]) -> dict[str, Uses]:
    """Where each of KEYS is used (attachments_by_key and media_avatar_refs_by_key, per key)."""
    out: dict[str, Uses] = {}
    for key in keys:
        u = Uses()
        u.messages = [(r["chat_id"], r["message_id"]) for r in conn.execute(
            "SELECT chat_id, message_id FROM attachments WHERE object_key = ? ORDER BY message_id DESC LIMIT ?",
            (key, USES_LISTED))]
        u.message_count = (len(u.messages) if len(u.messages) < USES_LISTED else
                           _one(conn, "SELECT count(*) AS n FROM attachments WHERE object_key = ?", (key,))["n"])
        for r in conn.execute("SELECT user_id, chat_id FROM media_avatar_refs WHERE object_key = ?", (key,)):
            if r["user_id"] is not None:
                u.avatar_user_ids.append(r["user_id"])
            else:
                u.avatar_chat_ids.append(r["chat_id"])
        out[key] = u
    return out


def usage(conn: apsw.Connection, uploader_id: int) -> tuple[int, int]:
    """(files, bytes) of everything USER uploaded or reserved (pending uploads count: the quota
    must hold while uploads are in flight). Plan: media_objects_by_uploader_created."""
    r = _one(conn, "SELECT count(*) AS n, coalesce(sum(file_size), 0) AS b FROM media_objects WHERE uploader_id = ?",
             (uploader_id,))
    return r["n"], r["b"]


def usage_by_type(conn: apsw.Connection, uploader_id: int) -> dict[str, tuple[int, int]]:
    """USER's stored files per type: (files, bytes)."""
    return {r["file_type"]: (r["n"], r["b"]) for r in conn.execute(
        "SELECT file_type, count(*) AS n, sum(file_size) AS b FROM media_objects"
        " WHERE uploader_id = ? AND state = 'stored' GROUP BY file_type ORDER BY file_type", (uploader_id,))}


@dataclass(frozen=True)
class Duplicates:
    contents: int   # distinct contents stored more than once
    objects: int    # files that share their content with another
    bytes_saved: int  # what storing each such file separately would have taken more


def duplicates(conn: apsw.Connection) -> Duplicates:
    """Deduplication by content addressing (one pass over media_blobs, which holds one row per
    distinct content)."""
    r = _one(conn, "SELECT count(*) AS c, coalesce(sum(refs), 0) AS o, coalesce(sum((refs - 1) * size), 0) AS s"
             " FROM media_blobs WHERE refs > 1")
    return Duplicates(r["c"], r["o"], r["s"])


def pending(conn: apsw.Connection) -> tuple[int, int]:
    """(count, bytes) of reserved uploads not stored yet (media_objects_unfinished)."""
    r = _one(conn, "SELECT count(*) AS n, coalesce(sum(file_size), 0) AS b FROM media_objects WHERE state <> 'stored'")
    return r["n"], r["b"]


# removing a file -------------------------------------------------------------------------------

@dataclass(frozen=True)
class AttachedTo:
    message_id: int
    chat_id: int
    sender_id: int | None


def attached_to(conn: apsw.Connection, object_key: str) -> list[AttachedTo]:
    """Every message the object is attached to (attachments_by_key)."""
    return [AttachedTo(**r) for r in conn.execute(
        "SELECT a.message_id, a.chat_id, m.sender_id FROM attachments a JOIN messages m ON m.id = a.message_id"
        " WHERE a.object_key = ? ORDER BY a.message_id", (object_key,))]


def remove(conn: apsw.Connection, object_key: str, message_ids: Sequence[int], now: float) -> None:
    """Detach the object from every message (they show an edit: updated_at moves) and delete it;
    its blob loses its reference (0040's triggers) and the janitor removes the bytes."""
    conn.execute("DELETE FROM attachments WHERE object_key = ?", (object_key,))
    conn.executemany("UPDATE messages SET updated_at = ? WHERE id = ?", [(now, m) for m in message_ids])
    conn.execute("DELETE FROM media_objects WHERE object_key = ?", (object_key,))


def clear_avatars(conn: apsw.Connection, user_ids: Sequence[int], chat_ids: Sequence[int], now: float) -> None:
    """Remove the avatar of these users and chats (moderation of the file behind it)."""
    conn.executemany("UPDATE users SET avatar_url = NULL, updated_at = ? WHERE id = ?", [(now, u) for u in user_ids])
    conn.executemany("UPDATE chats SET avatar_url = NULL, updated_at = ? WHERE id = ?", [(now, c) for c in chat_ids])
