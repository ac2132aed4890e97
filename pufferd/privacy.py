"""Privacy rules of API reference section 3.7, written once; chats and messages call these.

All functions are synchronous and run inside a db.read/db.write unit of work.
"contacts" mode grants visibility only when the viewer is in the target's contacts list,
i.e. a row contacts(owner_id=target, contact_id=viewer).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import apsw

from pufferd.db import rows
from pufferd.db.users_q import User


def is_contact_of(conn: apsw.Connection, viewer_id: int, target_id: int) -> bool:
    """True when VIEWER is in TARGET's contacts."""
    return conn.execute("SELECT 1 FROM contacts WHERE owner_id = ? AND contact_id = ?",
                        (target_id, viewer_id)).fetchone() is not None


def has_blocked(conn: apsw.Connection, blocker_id: int, blocked_id: int) -> bool:
    return conn.execute("SELECT 1 FROM blocks WHERE blocker_id = ? AND blocked_id = ?",
                        (blocker_id, blocked_id)).fetchone() is not None


def _mode_allows(mode: str, viewer_id: int, target_id: int, is_contact: Callable[[], bool]) -> bool:
    if viewer_id == target_id or mode == "everyone":
        return True
    if mode == "contacts":
        return is_contact()
    return False


def _allowed(conn: apsw.Connection, mode: str, viewer_id: int, target_id: int) -> bool:
    return _mode_allows(mode, viewer_id, target_id, lambda: is_contact_of(conn, viewer_id, target_id))


def can_see_avatar(conn: apsw.Connection, viewer_id: int, target: User) -> bool:
    """Whether VIEWER receives TARGET's avatar_url; a user TARGET blocked never does."""
    if viewer_id != target.id and has_blocked(conn, target.id, viewer_id):
        return False
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


# Batch form, for list endpoints: the same rules, with contacts and blocks read once for many
# (viewer, target) pairs instead of one query per decision.

@dataclass(frozen=True, slots=True)
class Relations:
    """Contacts and blocks between a set of viewers and a set of targets."""

    contacts: frozenset[tuple[int, int]]  # (viewer, target): viewer is in target's contacts
    blocked: frozenset[tuple[int, int]]   # (viewer, target): target has blocked viewer


def relations(conn: apsw.Connection, viewer_ids: Iterable[int], target_ids: Iterable[int]) -> Relations:
    """Read every contact and block edge from TARGET_IDS towards VIEWER_IDS (two queries)."""
    viewers = json.dumps(sorted(set(viewer_ids)))
    targets = json.dumps(sorted(set(target_ids)))
    contacts = conn.execute(
        "SELECT contact_id AS v, owner_id AS t FROM contacts"
        " WHERE owner_id IN (SELECT value FROM json_each(?)) AND contact_id IN (SELECT value FROM json_each(?))",
        (targets, viewers))
    blocked = conn.execute(
        "SELECT blocked_id AS v, blocker_id AS t FROM blocks"
        " WHERE blocker_id IN (SELECT value FROM json_each(?)) AND blocked_id IN (SELECT value FROM json_each(?))",
        (targets, viewers))
    return Relations(frozenset((r["v"], r["t"]) for r in rows.every(contacts)),
                     frozenset((r["v"], r["t"]) for r in rows.every(blocked)))


def sees_avatar(rel: Relations, viewer_id: int, target_id: int, privacy_avatar: str) -> bool:
    """can_see_avatar over pre-read Relations."""
    if viewer_id != target_id and (viewer_id, target_id) in rel.blocked:
        return False
    return _mode_allows(privacy_avatar, viewer_id, target_id, lambda: (viewer_id, target_id) in rel.contacts)


def sees_last_seen(rel: Relations, viewer_id: int, target_id: int, privacy_last_seen: str) -> bool:
    """can_see_last_seen over pre-read Relations."""
    if viewer_id != target_id and (viewer_id, target_id) in rel.blocked:
        return False
    return _mode_allows(privacy_last_seen, viewer_id, target_id, lambda: (viewer_id, target_id) in rel.contacts)
