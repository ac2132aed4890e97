"""Queries behind presence (synchronous, run inside db.read/db.write). Who may be told that a
user is typing is an access question (pufferd/access.py)."""
from __future__ import annotations

from collections.abc import Iterable

import apsw


def presence_candidates(conn: apsw.Connection, user_id: int, max_group_members: int) -> list[int]:
    """Users who may be told USER's presence, before privacy: USER's contacts, users who have USER
    in their contacts, private-chat counterparts, and members of groups (not channels) shared with
    USER that have at most MAX_GROUP_MEMBERS members (checked by probing for member number
    MAX_GROUP_MEMBERS + 1, so a large group costs no full count)."""
    rows = conn.execute(
        "SELECT contact_id AS uid FROM contacts WHERE owner_id = ?1"
        " UNION SELECT owner_id FROM contacts WHERE contact_id = ?1"
        " UNION SELECT o.user_id FROM chat_members m"
        "   JOIN chats c ON c.id = m.chat_id"
        "   JOIN chat_members o ON o.chat_id = m.chat_id AND o.user_id <> ?1"
        "  WHERE m.user_id = ?1 AND (c.type = 'private' OR (c.type = 'group' AND NOT EXISTS"
        "        (SELECT 1 FROM chat_members n WHERE n.chat_id = c.id LIMIT 1 OFFSET ?2)))",
        (user_id, max_group_members))
    return [r["uid"] for r in rows]


def set_last_seen(conn: apsw.Connection, seen: Iterable[tuple[int, float]]) -> None:
    """users.last_seen_at for each (user id, time); an older time never overwrites a newer one."""
    conn.executemany("UPDATE users SET last_seen_at = max(coalesce(last_seen_at, 0), ?2) WHERE id = ?1",
                     list(seen))
