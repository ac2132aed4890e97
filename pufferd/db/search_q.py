"""Full-text search queries (FTS5 tables of migrations 0030 and 0031). Query terms come already
quoted from pufferd.search.fts_query and are passed as parameters; nothing here interpolates user
input into SQL or into the FTS5 query."""
from __future__ import annotations

import apsw

from pufferd.db import rows as rows_of
from pufferd.db.messages_q import COLUMNS, Message

_VISIBLE = (
    " JOIN chat_members cm ON cm.chat_id = m.chat_id AND cm.user_id = :viewer"
    " WHERE m.id > cm.cleared_before_id"
    " AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = :viewer AND h.message_id = m.id)"
)


def messages(conn: apsw.Connection, *, viewer_id: int, terms: str, limit: int,
             chat_ids: list[int] | None) -> list[Message]:
    """Messages of CHAT_IDS (None: of all the viewer's chats) whose text matches TERMS and that the
    viewer may see, newest first.

    Visible = the viewer is a member of the message's chat, the message is newer than the viewer's
    clear-history mark and not deleted for the viewer. The chats are named inside the FTS5 query
    by their tokens (migration 0031), so FTS5 intersects doclists instead of this query discarding
    other chats' matches row by row. Ordered by rowid (recency), which FTS5 delivers in index
    order, so the scan stops after LIMIT hits (bm25 ranking over 1 M rows costs ~150 ms p99 for a
    common word; recency a few ms).
    """
    if chat_ids == []:
        return []
    match = f"text : ({terms})"
    if chat_ids is not None:
        match += " AND fts_chat : (" + " OR ".join(f"c{int(c)}" for c in chat_ids) + ")"
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid{_VISIBLE}"
        " AND messages_fts MATCH :match ORDER BY messages_fts.rowid DESC LIMIT :limit",
        {"viewer": viewer_id, "match": match, "limit": limit})
    return [Message(**r) for r in rows]


def recent_messages(conn: apsw.Connection, *, viewer_id: int, terms: str, limit: int,
                    window: int) -> tuple[list[Message], bool]:
    """Like `messages` over all the viewer's chats, but looking only at the WINDOW newest matches
    of TERMS in the whole server. Returns the visible ones (at most LIMIT) and whether the window
    held every match (then the answer is complete even with fewer than LIMIT)."""
    cursor = conn.execute(
        "WITH f(id) AS MATERIALIZED (SELECT rowid FROM messages_fts WHERE messages_fts MATCH :match"
        "   ORDER BY rowid DESC LIMIT :window)"
        f" SELECT (SELECT count(*) FROM f) AS scanned, {COLUMNS} FROM f JOIN messages m ON m.id = f.id"
        f"{_VISIBLE} ORDER BY f.id DESC LIMIT :limit",
        {"viewer": viewer_id, "match": f"text : ({terms})", "limit": limit, "window": window})
    rows = rows_of.every(cursor)
    complete = not rows or rows[0]["scanned"] < window
    if not rows:  # nothing visible: ask whether the window was full
        complete = rows_of.one(conn.execute(
            "SELECT count(*) AS n FROM (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?"
            " ORDER BY rowid DESC LIMIT ?)", (f"text : ({terms})", window)))["n"] < window
    return [Message(**{k: v for k, v in r.items() if k != "scanned"}) for r in rows], complete


def member_chat_ids(conn: apsw.Connection, user_id: int, cap: int) -> list[int] | None:
    """The chats USER_ID is in, or None when there are more than CAP of them."""
    ids = [r["chat_id"] for r in conn.execute(
        "SELECT chat_id FROM chat_members WHERE user_id = ? LIMIT ?", (user_id, cap + 1))]
    return None if len(ids) > cap else ids


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
