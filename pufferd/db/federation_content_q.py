"""Query functions for what federated messages carry besides text (migrations 0083-0084): the
activity ids of reactions that crossed servers, a message's attachments as Documents, and the
version of each remote Note applied (synchronous, inside db.read/db.write)."""
from __future__ import annotations

from dataclasses import dataclass

import apsw

from pufferd.db.rows import every


@dataclass(frozen=True, slots=True)
class FederatedReaction:
    activity_id: str
    message_id: int
    user_id: int
    emoji: str


@dataclass(frozen=True, slots=True)
class NoteAttachment:
    object_key: str
    file_type: str
    file_name: str


def record_reaction(conn: apsw.Connection, activity_id: str, message_id: int, user_id: int, emoji: str,
                    now: float) -> None:
    conn.execute("INSERT OR IGNORE INTO federation_reactions(activity_id, message_id, user_id, emoji, created_at)"
                 " VALUES (?, ?, ?, ?, ?)", (activity_id, message_id, user_id, emoji, now))


def reaction(conn: apsw.Connection, activity_id: str) -> FederatedReaction | None:
    row = conn.execute("SELECT activity_id, message_id, user_id, emoji FROM federation_reactions"
                       " WHERE activity_id = ?", (activity_id,)).fetchone()
    return FederatedReaction(**row) if row else None


def take_reactions(conn: apsw.Connection, message_id: int, user_id: int, emoji: str) -> list[str]:
    """Forget the activities of USER_ID's EMOJI reaction on MESSAGE_ID; their ids, oldest first."""
    rows = every(conn.execute("DELETE FROM federation_reactions WHERE message_id = ? AND user_id = ? AND emoji = ?"
                              " RETURNING activity_id, created_at", (message_id, user_id, emoji)))
    return [r["activity_id"] for r in sorted(rows, key=lambda r: r["created_at"])]


def note_attachments(conn: apsw.Connection, message_id: int) -> list[NoteAttachment]:
    """MESSAGE_ID's stored attachments in the order they were attached, with the file names."""
    rows = conn.execute("SELECT a.object_key, a.file_type, o.file_name FROM attachments a"
                        " JOIN media_objects o ON o.object_key = a.object_key"
                        " WHERE a.message_id = ? AND o.state = 'stored' ORDER BY a.id", (message_id,))
    return [NoteAttachment(**r) for r in rows]


def note_version(conn: apsw.Connection, note_id: str) -> float | None:
    row = conn.execute("SELECT version FROM federation_notes WHERE note_id = ?", (note_id,)).fetchone()
    return float(row["version"]) if row else None


def set_note_version(conn: apsw.Connection, note_id: str, message_id: int, version: float) -> None:
    conn.execute("INSERT INTO federation_notes(note_id, message_id, version) VALUES (?, ?, ?)"
                 " ON CONFLICT(note_id) DO UPDATE SET version = max(version, excluded.version),"
                 " message_id = excluded.message_id", (note_id, message_id, version))
