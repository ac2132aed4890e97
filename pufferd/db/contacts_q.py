"""Query functions for contacts and blocks (tables of 0001_core.sql)."""
from __future__ import annotations

import apsw

from pufferd.db import users_q
from pufferd.db.users_q import User


def add_contact(conn: apsw.Connection, owner_id: int, contact_id: int, now: float) -> None:
    conn.execute("INSERT INTO contacts(owner_id, contact_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                 (owner_id, contact_id, now))


def remove_contact(conn: apsw.Connection, owner_id: int, contact_id: int) -> None:
    conn.execute("DELETE FROM contacts WHERE owner_id = ? AND contact_id = ?", (owner_id, contact_id))


def contacts_of(conn: apsw.Connection, owner_id: int) -> list[User]:
    """The users OWNER_ID lists as contacts, by name."""
    rows = conn.execute(
        "SELECT u.* FROM contacts c JOIN users u ON u.id = c.contact_id"
        " WHERE c.owner_id = ? ORDER BY u.name COLLATE NOCASE, u.username", (owner_id,))
    return [users_q.to_user(r) for r in rows]


def block(conn: apsw.Connection, blocker_id: int, blocked_id: int, now: float) -> None:
    conn.execute("INSERT INTO blocks(blocker_id, blocked_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                 (blocker_id, blocked_id, now))


def unblock(conn: apsw.Connection, blocker_id: int, blocked_id: int) -> None:
    conn.execute("DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?", (blocker_id, blocked_id))


def blocked_by(conn: apsw.Connection, blocker_id: int) -> list[User]:
    """The users BLOCKER_ID has blocked, most recent first."""
    rows = conn.execute(
        "SELECT u.* FROM blocks b JOIN users u ON u.id = b.blocked_id"
        " WHERE b.blocker_id = ? ORDER BY b.created_at DESC, u.id", (blocker_id,))
    return [users_q.to_user(r) for r in rows]
