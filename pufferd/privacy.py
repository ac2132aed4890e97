"""Privacy rules of API reference section 3.7, written once; chats and messages call these.

All functions are synchronous and run inside a db.read/db.write unit of work.
"contacts" mode grants visibility only when the viewer is in the target's contacts list,
i.e. a row contacts(owner_id=target, contact_id=viewer).
"""
from __future__ import annotations

import apsw

from pufferd.db.users_q import User


def is_contact_of(conn: apsw.Connection, viewer_id: int, target_id: int) -> bool:
    """True when VIEWER is in TARGET's contacts."""
    return conn.execute("SELECT 1 FROM contacts WHERE owner_id = ? AND contact_id = ?",
                        (target_id, viewer_id)).fetchone() is not None


def has_blocked(conn: apsw.Connection, blocker_id: int, blocked_id: int) -> bool:
    return conn.execute("SELECT 1 FROM blocks WHERE blocker_id = ? AND blocked_id = ?",
                        (blocker_id, blocked_id)).fetchone() is not None


def _allowed(conn: apsw.Connection, mode: str, viewer_id: int, target_id: int) -> bool:
    if viewer_id == target_id or mode == "everyone":
        return True
    if mode == "contacts":
        return is_contact_of(conn, viewer_id, target_id)
    return False


def can_see_avatar(conn: apsw.Connection, viewer_id: int, target: User) -> bool:
    return _allowed(conn, target.privacy_avatar, viewer_id, target.id)


def can_see_last_seen(conn: apsw.Connection, viewer_id: int, target: User) -> bool:
    """Whether VIEWER may see TARGET's online flag and last-seen time."""
    if viewer_id != target.id and has_blocked(conn, target.id, viewer_id):
        return False
    return _allowed(conn, target.privacy_last_seen, viewer_id, target.id)


def can_message(conn: apsw.Connection, sender_id: int, target: User) -> bool:
    """Whether SENDER may start or continue a private chat with TARGET."""
    if sender_id == target.id:
        return True
    if has_blocked(conn, target.id, sender_id):
        return False
    if not target.allow_private_messages:
        return False
    return _allowed(conn, target.privacy_private_messages, sender_id, target.id)


def can_invite(conn: apsw.Connection, inviter_id: int, target: User) -> bool:
    """Whether INVITER may add TARGET to a group or channel (creation or add-member)."""
    if inviter_id == target.id:
        return True
    if has_blocked(conn, target.id, inviter_id):
        return False
    return _allowed(conn, target.privacy_group_invites, inviter_id, target.id)


def visible_avatar(conn: apsw.Connection, viewer_id: int, target: User) -> str | None:
    return target.avatar_url if can_see_avatar(conn, viewer_id, target) else None
