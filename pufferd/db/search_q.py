"""Full-text search queries (FTS5 tables of migration 0030). MATCH strings come already quoted
from pufferd.search.fts_query; nothing here interpolates user input into SQL."""
from __future__ import annotations

import apsw

from pufferd.db.messages_q import COLUMNS, Message


def messages(conn: apsw.Connection, *, viewer_id: int, match: str, limit: int,
             chat_id: int | None = None) -> list[Message]:
    """Messages matching MATCH that the viewer may see, newest first.

    Visible = the viewer is a member of the message's chat, the message is newer than the viewer's
    clear-history mark and not deleted for the viewer. Ordered by rowid (recency), which FTS5
    delivers in index order, so the scan stops after LIMIT visible hits (NOTES-deps.md: bm25
    ranking over 1 M rows costs ~150 ms p99; recency costs < 1 ms).
    """
    chat_filter = "" if chat_id is None else " AND m.chat_id = :chat"
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM messages_fts"
        " JOIN messages m ON m.id = messages_fts.rowid"
        " JOIN chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = :viewer"
        " WHERE messages_fts MATCH :match AND m.id > cm.cleared_before_id"
        f"{chat_filter}"
        " AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = :viewer AND h.message_id = m.id)"
        " ORDER BY messages_fts.rowid DESC LIMIT :limit",
        {"viewer": viewer_id, "match": match, "limit": limit, "chat": chat_id})
    return [Message(**r) for r in rows]


def user_ids(conn: apsw.Connection, *, viewer_id: int, match: str, limit: int) -> list[int]:
    """Users whose username or name has a word starting with the query, except disabled users and
    users who blocked the viewer; exact-prefix usernames first, then alphabetical."""
    rows = conn.execute(
        "SELECT u.id FROM users_fts JOIN users u ON u.id = users_fts.rowid"
        " WHERE users_fts MATCH :match AND u.is_disabled = 0"
        " AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = :viewer)"
        " ORDER BY u.username LIMIT :limit",
        {"viewer": viewer_id, "match": match, "limit": limit})
    return [r["id"] for r in rows]


def chat_ids(conn: apsw.Connection, *, viewer_id: int, match: str, limit: int) -> list[int]:
    """Chats the viewer is in whose title or handle matches, or, for private chats, whose
    counterpart's name or username matches; most recently active first."""
    rows = conn.execute(
        "SELECT c.id FROM chat_members cm JOIN chats c ON c.id = cm.chat_id"
        " WHERE cm.user_id = :viewer AND cm.hidden = 0 AND ("
        "   c.id IN (SELECT rowid FROM chats_fts WHERE chats_fts MATCH :match)"
        "   OR (c.type = 'private' AND EXISTS ("
        "     SELECT 1 FROM chat_members o WHERE o.chat_id = c.id AND o.user_id <> :viewer"
        "     AND o.user_id IN (SELECT rowid FROM users_fts WHERE users_fts MATCH :match))))"
        " ORDER BY c.last_activity_at DESC, c.id DESC LIMIT :limit",
        {"viewer": viewer_id, "match": match, "limit": limit})
    return [r["id"] for r in rows]
