"""Query functions for what federated messages carry besides text (migrations 0083-0084, 0088):
the activity ids of reactions that crossed servers, a message's attachments as Documents, and the
copies of each remote Note (one message per recipient here) with the version applied to each
(synchronous, inside db.read/db.write)."""
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
class NoteCopy:
    """One message holding a remote Note: the copy of one recipient here, in their chat."""
    message_id: int
    chat_id: int
    version: float | None
    media_links: str | None = None  # None: no fetched files yet; else the lines of the files not fetched


@dataclass(frozen=True, slots=True)
class NoteAttachment:
    object_key: str
    file_type: str
    file_name: str


def record_reaction(conn: apsw.Connection, activity_id: str, message_id: int, user_id: int, emoji: str,
                    now: float) -> None:
    conn.execute("INSERT OR IGNORE INTO federation_reactions(activity_id, message_id, user_id, emoji, created_at)"
                 " VALUES (?, ?, ?, ?, ?)", (activity_id, message_id, user_id, emoji, now))


def reactions(conn: apsw.Connection, activity_id: str) -> list[FederatedReaction]:
    """The reactions the Like (or EmojiReact) ACTIVITY_ID made: one per message it landed on."""
    rows = conn.execute("SELECT activity_id, message_id, user_id, emoji FROM federation_reactions"
                        " WHERE activity_id = ? ORDER BY message_id", (activity_id,))
    return [FederatedReaction(**r) for r in rows]


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


_COPY = ("SELECT n.message_id, m.chat_id, n.version, n.media_links FROM"
         " federation_notes n JOIN messages m ON m.id = n.message_id")


def note_copies(conn: apsw.Connection, note_id: str) -> list[NoteCopy]:
    """Every message holding the remote Note NOTE_ID, oldest first."""
    rows = conn.execute(f"{_COPY} WHERE n.note_id = ? ORDER BY n.message_id", (note_id,))
    return [NoteCopy(**r) for r in rows]


def note_copy_in(conn: apsw.Connection, note_id: str, chat_id: int) -> NoteCopy | None:
    """The copy of the remote Note NOTE_ID in CHAT_ID, if any."""
    row = conn.execute(f"{_COPY} WHERE n.note_id = ? AND m.chat_id = ?", (note_id, chat_id)).fetchone()
    return NoteCopy(**row) if row else None


def note_copy_for(conn: apsw.Connection, note_id: str, user_id: int) -> NoteCopy | None:
    """The copy of the remote Note NOTE_ID in a chat USER_ID belongs to (the recipient's copy)."""
    row = conn.execute(f"{_COPY} JOIN chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = ?"
                       " WHERE n.note_id = ? ORDER BY n.message_id LIMIT 1", (user_id, note_id)).fetchone()
    return NoteCopy(**row) if row else None


def add_note_copy(conn: apsw.Connection, note_id: str, message_id: int) -> None:
    conn.execute("INSERT OR IGNORE INTO federation_notes(note_id, message_id) VALUES (?, ?)", (note_id, message_id))


def set_media_links(conn: apsw.Connection, message_id: int, lines: list[str]) -> None:
    """Record that the copy MESSAGE_ID got its files; LINES are those that could not be fetched."""
    conn.execute("UPDATE federation_notes SET media_links = ? WHERE message_id = ?", ("\n".join(lines), message_id))


def note_of(conn: apsw.Connection, message_id: int) -> str | None:
    """The remote Note id MESSAGE_ID holds; None for a message that is not a copy of one."""
    row = conn.execute("SELECT note_id FROM federation_notes WHERE message_id = ?", (message_id,)).fetchone()
    return str(row["note_id"]) if row else None


def set_note_version(conn: apsw.Connection, message_id: int, version: float) -> None:
    """Record VERSION as applied to the copy MESSAGE_ID (never moving back)."""
    conn.execute("UPDATE federation_notes SET version = max(coalesce(version, ?1), ?1) WHERE message_id = ?2",
                 (version, message_id))
