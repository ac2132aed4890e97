"""Query functions for messages, mentions, hidden-for-me, read cursors and reactions.

Synchronous; each runs inside a db.read/db.write unit of work. Rows become frozen dataclasses here.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import apsw

# A message row plus the waveform of its first attachment that has one (MessageRead's
# attachment_waveform), read in the same statement so a page of messages is one query.
COLUMNS = (
    "m.id, m.chat_id, m.sender_id, m.reply_to_message_id, m.forwarded_from_message_id,"
    " m.forward_sender_id, m.type, m.text, m.client_message_id, m.created_at, m.updated_at,"
    " (SELECT a.waveform FROM attachments a WHERE a.message_id = m.id AND a.waveform IS NOT NULL"
    "  ORDER BY a.id LIMIT 1) AS waveform"
)


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    chat_id: int
    sender_id: int | None
    reply_to_message_id: int | None
    forwarded_from_message_id: int | None
    forward_sender_id: int | None
    type: str
    text: str | None
    client_message_id: str | None
    created_at: float
    updated_at: float
    waveform: str | None  # JSON array text, as the media area stores it


def _message(row: dict[str, Any] | None) -> Message | None:
    return None if row is None else Message(**row)


def _one(conn: apsw.Connection, sql: str, params: Any) -> dict[str, Any]:
    """The row of a statement that always returns one (an aggregate, an UPDATE of a known row)."""
    return cast(dict[str, Any], conn.execute(sql, params).fetchone())


# single messages -------------------------------------------------------------------------------

def get(conn: apsw.Connection, message_id: int) -> Message | None:
    return _message(conn.execute(f"SELECT {COLUMNS} FROM messages m WHERE m.id = ?", (message_id,)).fetchone())


def chat_of(conn: apsw.Connection, message_id: int) -> int | None:
    row = conn.execute("SELECT chat_id FROM messages WHERE id = ?", (message_id,)).fetchone()
    return None if row is None else row["chat_id"]


def by_client_id(conn: apsw.Connection, sender_id: int, client_message_id: str) -> Message | None:
    return _message(conn.execute(
        f"SELECT {COLUMNS} FROM messages m WHERE m.sender_id = ? AND m.client_message_id = ?",
        (sender_id, client_message_id)).fetchone())


def is_hidden(conn: apsw.Connection, user_id: int, message_id: int) -> bool:
    return conn.execute("SELECT 1 FROM message_hidden WHERE user_id = ? AND message_id = ?",
                        (user_id, message_id)).fetchone() is not None


def insert(conn: apsw.Connection, *, chat_id: int, sender_id: int, type_: str, text: str | None,
           now: float, reply_to_message_id: int | None = None, client_message_id: str | None = None,
           forwarded_from_message_id: int | None = None, forward_sender_id: int | None = None,
           ) -> Message | None:
    """Insert a message; None when (sender, client_message_id) already exists (the UNIQUE index).

    The row is built from what was inserted rather than read back with RETURNING (which costs an
    ephemeral table per statement on the hottest write path).
    """
    conn.execute(
        "INSERT INTO messages(chat_id, sender_id, type, text, reply_to_message_id,"
        " forwarded_from_message_id, forward_sender_id, client_message_id, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (sender_id, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING",
        (chat_id, sender_id, type_, text, reply_to_message_id, forwarded_from_message_id,
         forward_sender_id, client_message_id, now, now))
    if conn.changes() == 0:
        return None
    return Message(conn.last_insert_rowid(), chat_id, sender_id, reply_to_message_id, forwarded_from_message_id,
                   forward_sender_id, type_, text, client_message_id, now, now, None)


def set_chat_last(conn: apsw.Connection, chat_id: int, message_id: int, at: float) -> None:
    """The chat's newest message and activity time (ChatRead last_message_*, list order)."""
    conn.execute("UPDATE chats SET last_message_id = ?, last_activity_at = ? WHERE id = ?",
                 (message_id, at, chat_id))


def refresh_chat_last(conn: apsw.Connection, chat_id: int, deleted_id: int) -> None:
    """After DELETED_ID is removed: if it was the chat's newest message, point the chat at its newest
    remaining one (and that one's time, or the chat's creation time); O(1) via (chat_id, id)."""
    conn.execute(
        "UPDATE chats SET"
        " last_message_id = (SELECT max(id) FROM messages WHERE chat_id = chats.id),"
        " last_activity_at = coalesce((SELECT created_at FROM messages WHERE chat_id = chats.id"
        "   ORDER BY id DESC LIMIT 1), created_at)"
        " WHERE id = ? AND last_message_id = ?", (chat_id, deleted_id))


def clear_pin(conn: apsw.Connection, chat_id: int, message_id: int) -> None:
    conn.execute("UPDATE chats SET pinned_message_id = NULL WHERE id = ? AND pinned_message_id = ?",
                 (chat_id, message_id))


def update_text(conn: apsw.Connection, message_id: int, text: str | None, now: float) -> None:
    conn.execute("UPDATE messages SET text = ?, updated_at = ? WHERE id = ?", (text, now, message_id))


def delete(conn: apsw.Connection, message_id: int) -> None:
    """Remove the row; mentions, hidden marks, attachments and reactions cascade, FTS by trigger."""
    conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))


def hide(conn: apsw.Connection, user_id: int, message_id: int, chat_id: int) -> None:
    conn.execute("INSERT OR IGNORE INTO message_hidden(user_id, message_id, chat_id) VALUES (?, ?, ?)",
                 (user_id, message_id, chat_id))


def copy_attachments(conn: apsw.Connection, src_message_id: int, dst_message_id: int, dst_chat_id: int,
                     uploader_id: int, now: float) -> None:
    """A forward carries the source's files: new rows pointing at the same stored objects."""
    conn.execute(
        "INSERT INTO attachments(message_id, chat_id, uploader_id, object_key, file_type, file_size,"
        " waveform, created_at)"
        " SELECT ?, ?, ?, object_key, file_type, file_size, waveform, ? FROM attachments"
        " WHERE message_id = ? ORDER BY id",
        (dst_message_id, dst_chat_id, uploader_id, now, src_message_id))


# pages -----------------------------------------------------------------------------------------

def history(conn: apsw.Connection, *, chat_id: int, viewer_id: int, after_id: int, before_id: int | None,
            limit: int) -> list[Message]:
    """Newest first: ids in (AFTER_ID, BEFORE_ID), not hidden for the viewer; walks (chat_id, id)."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM messages m"
        " WHERE m.chat_id = ? AND m.id > ? AND m.id < ?"
        " AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = ? AND h.message_id = m.id)"
        " ORDER BY m.id DESC LIMIT ?",
        (chat_id, after_id, before_id if before_id is not None else 2**63 - 1, viewer_id, limit))
    return [Message(**r) for r in rows]


def hidden_count(conn: apsw.Connection, user_id: int, chat_id: int, cap: int) -> int:
    return _one(conn, "SELECT count(*) AS n FROM (SELECT 1 FROM message_hidden WHERE user_id = ? AND chat_id = ?"
                " LIMIT ?)", (user_id, chat_id, cap))["n"]


def thread(conn: apsw.Connection, *, root_id: int, viewer_id: int, limit: int, walk: int) -> list[Message]:
    """ROOT_ID and its replies breadth-first (depth, then id), at most WALK nodes visited.

    Replies hidden for the viewer are walked through (their replies still show) but not returned.
    """
    rows = conn.execute(
        "WITH RECURSIVE t(id, depth) AS ("
        "  SELECT ?, 0"
        "  UNION ALL"
        "  SELECT r.id, t.depth + 1 FROM t JOIN messages r ON r.reply_to_message_id = t.id"
        "  ORDER BY 2, 1 LIMIT ?"
        f") SELECT {COLUMNS} FROM t JOIN messages m ON m.id = t.id"
        " WHERE NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = ? AND h.message_id = m.id)"
        " ORDER BY t.depth, t.id LIMIT ?",
        (root_id, walk, viewer_id, limit))
    return [Message(**r) for r in rows]


# mentions --------------------------------------------------------------------------------------

def member_ids_by_username(conn: apsw.Connection, chat_id: int, usernames: Sequence[str]) -> list[int]:
    """Members of CHAT_ID whose username (case-insensitive) is one of USERNAMES."""
    if not usernames:
        return []
    marks = ",".join("?" * len(usernames))
    return [r["id"] for r in conn.execute(
        f"SELECT u.id FROM users u JOIN chat_members cm ON cm.chat_id = ? AND cm.user_id = u.id"
        f" WHERE u.username IN ({marks})", (chat_id, *usernames))]


def set_mentions(conn: apsw.Connection, message_id: int, chat_id: int, user_ids: Iterable[int]) -> None:
    conn.execute("DELETE FROM message_mentions WHERE message_id = ?", (message_id,))
    conn.executemany("INSERT INTO message_mentions(message_id, user_id, chat_id) VALUES (?, ?, ?)",
                     [(message_id, uid, chat_id) for uid in user_ids])


def mention_ids(conn: apsw.Connection, message_id: int) -> set[int]:
    return {r["user_id"] for r in conn.execute(
        "SELECT user_id FROM message_mentions WHERE message_id = ?", (message_id,))}


# read cursors ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Receipts:
    """What a viewer needs to compute delivery_status in one chat: the viewer's own read cursor
    and the highest cursors among the other members."""

    is_saved: bool
    my_read: int
    others_delivered: int
    others_read: int


def receipts(conn: apsw.Connection, viewer_id: int, chat_ids: Iterable[int]) -> dict[int, Receipts]:
    """Receipts per chat for the chats among CHAT_IDS that the viewer is a member of (one query)."""
    rows = conn.execute(
        "SELECT c.id, c.is_saved, me.last_read_message_id AS my_read,"
        " (SELECT coalesce(max(o.last_delivered_message_id), 0) FROM chat_members o"
        "   WHERE o.chat_id = c.id AND o.user_id <> me.user_id) AS others_delivered,"
        " (SELECT coalesce(max(o.last_read_message_id), 0) FROM chat_members o"
        "   WHERE o.chat_id = c.id AND o.user_id <> me.user_id) AS others_read"
        " FROM chat_members me JOIN chats c ON c.id = me.chat_id"
        " WHERE me.user_id = ? AND me.chat_id IN (SELECT value FROM json_each(?))",
        (viewer_id, json.dumps(sorted(set(chat_ids)))))
    return {r["id"]: Receipts(bool(r["is_saved"]), r["my_read"], r["others_delivered"], r["others_read"])
            for r in rows}


@dataclass(frozen=True, slots=True)
class Cursors:
    last_delivered_message_id: int
    last_read_message_id: int


def advance_cursors(conn: apsw.Connection, chat_id: int, user_id: int, *, delivered: int,
                    read: int) -> Cursors:
    """Move the member's cursors forward to at least DELIVERED / READ; never backwards."""
    return Cursors(**_one(
        conn,
        "UPDATE chat_members SET"
        " last_delivered_message_id = max(last_delivered_message_id, ?),"
        " last_read_message_id = max(last_read_message_id, ?)"
        " WHERE chat_id = ? AND user_id = ?"
        " RETURNING last_delivered_message_id, last_read_message_id",
        (delivered, read, chat_id, user_id)))


# reactions -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReactionCount:
    emoji: str
    count: int
    reacted: bool


def toggle_reaction(conn: apsw.Connection, message_id: int, user_id: int, emoji: str, now: float) -> bool:
    """Add the reaction, or remove it when present; True when it is now present."""
    removed = conn.execute(
        "DELETE FROM message_reactions WHERE message_id = ? AND emoji = ? AND user_id = ? RETURNING 1",
        (message_id, emoji, user_id)).fetchone()
    if removed:
        return False
    conn.execute("INSERT INTO message_reactions(message_id, emoji, user_id, created_at) VALUES (?, ?, ?, ?)",
                 (message_id, emoji, user_id, now))
    return True


def user_reaction_count(conn: apsw.Connection, message_id: int, user_id: int) -> int:
    return _one(conn, "SELECT count(*) AS n FROM message_reactions WHERE message_id = ? AND user_id = ?",
                (message_id, user_id))["n"]


def reaction_counts(conn: apsw.Connection, message_id: int, viewer_id: int) -> list[ReactionCount]:
    """Per emoji: how many reacted and whether the viewer did; most used first, then oldest first."""
    rows = conn.execute(
        "SELECT emoji, count(*) AS count, max(user_id = ?) AS reacted FROM message_reactions"
        " WHERE message_id = ? GROUP BY emoji ORDER BY count(*) DESC, min(created_at), emoji",
        (viewer_id, message_id))
    return [ReactionCount(r["emoji"], r["count"], bool(r["reacted"])) for r in rows]
