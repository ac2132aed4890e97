"""Query functions for chats, chat members and chat bans (synchronous, inside db.read/db.write).

The chat list and ChatRead are computed with a fixed number of statements for a whole page
(see `list_page` and `reads`); `tests/db/test_chats_q.py` checks their query plans.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, NewType, cast

import apsw

ChatId = NewType("ChatId", int)

SAVED_KEY = "saved:{}"


def private_key(a: int, b: int) -> str:
    """pair_key of the private chat between users A and B (order does not matter)."""
    lo, hi = sorted((a, b))
    return f"{lo}:{hi}"


@dataclass(frozen=True, slots=True)
class Chat:
    id: ChatId
    public_id: str
    type: str
    is_saved: bool
    pair_key: str | None
    title: str | None
    handle: str | None
    description: str | None
    avatar_url: str | None
    is_public: bool
    created_by: int | None
    pinned_message_id: int | None
    invite_token: str | None
    last_message_id: int | None
    last_activity_at: float
    created_at: float
    updated_at: float

    @property
    def is_private(self) -> bool:
        """A one-to-one chat or the saved-messages chat: no roles, titles or invites."""
        return self.type == "private"


_CHAT_FIELDS = [f.name for f in fields(Chat)]
_CHAT_COLS = ", ".join(f"c.{n}" for n in _CHAT_FIELDS)


def _chat(row: dict[str, Any] | None) -> Chat | None:
    if row is None:
        return None
    row["is_saved"] = bool(row["is_saved"])
    row["is_public"] = bool(row["is_public"])
    return Chat(**{n: row[n] for n in _CHAT_FIELDS})


@dataclass(frozen=True, slots=True)
class Member:
    """One membership row, with the chat's type: the one row type for a member (pufferd/access.py
    asks every question about a member of a chat with it)."""

    id: int
    chat_id: ChatId
    user_id: int
    role: str
    joined_at: float
    archived: bool
    pinned_at: float | None
    muted: bool
    hidden: bool
    cleared_before_id: int
    last_delivered_message_id: int
    last_read_message_id: int
    chat_type: str
    is_saved: bool


_MEMBER_FIELDS = [f.name for f in fields(Member)]
_MEMBER_SELECT = (
    "SELECT m.id, m.chat_id, m.user_id, m.role, m.joined_at, m.archived, m.pinned_at, m.muted, m.hidden,"
    " m.cleared_before_id, m.last_delivered_message_id, m.last_read_message_id,"
    " c.type AS chat_type, c.is_saved FROM chat_members m JOIN chats c ON c.id = m.chat_id"
)


def _member(row: dict[str, Any] | None) -> Member | None:
    if row is None:
        return None
    for key in ("archived", "muted", "hidden", "is_saved"):
        row[key] = bool(row[key])
    return Member(**{n: row[n] for n in _MEMBER_FIELDS})


def _one(conn: apsw.Connection, sql: str, params: Any) -> dict[str, Any]:
    """The first row of a statement that always returns one (an aggregate)."""
    return cast(dict[str, Any], conn.execute(sql, params).fetchone())


def _next_id(table: str) -> str:
    """SQL for a new id of TABLE that was never used before (migration 0021 keeps the watermark)."""
    return (f"(SELECT max(coalesce((SELECT max(id) FROM {table}), 0),"
            f" (SELECT hw FROM id_watermarks WHERE name = '{table}')) + 1)")


# chats ------------------------------------------------------------------------------------------

def get(conn: apsw.Connection, chat_id: int) -> Chat | None:
    return _chat(conn.execute(f"SELECT {_CHAT_COLS} FROM chats c WHERE c.id = ?", (chat_id,)).fetchone())


def get_by_pair_key(conn: apsw.Connection, pair_key: str) -> Chat | None:
    return _chat(conn.execute(f"SELECT {_CHAT_COLS} FROM chats c WHERE c.pair_key = ?", (pair_key,)).fetchone())


def get_by_invite_token(conn: apsw.Connection, token: str) -> Chat | None:
    return _chat(conn.execute(f"SELECT {_CHAT_COLS} FROM chats c WHERE c.invite_token = ?", (token,)).fetchone())


def handle_taken(conn: apsw.Connection, handle: str) -> bool:
    return conn.execute("SELECT 1 FROM chats WHERE handle = ?", (handle,)).fetchone() is not None


def insert(conn: apsw.Connection, *, public_id: str, type: str, is_saved: bool = False,
           pair_key: str | None = None, title: str | None = None, handle: str | None = None,
           description: str | None = None, is_public: bool = False, created_by: int | None,
           now: float) -> Chat:
    row = conn.execute(
        "INSERT INTO chats(id, public_id, type, is_saved, pair_key, title, handle, description, is_public,"
        " created_by, last_activity_at, created_at, updated_at)"
        f" VALUES ({_next_id('chats')}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (public_id, type, int(is_saved), pair_key, title, handle, description, int(is_public),
         created_by, now, now, now)).fetchone()
    return _chat(row)  # type: ignore[return-value]


_UPDATABLE = {"title", "description", "avatar_url", "pinned_message_id", "invite_token"}


def update(conn: apsw.Connection, chat_id: int, now: float, **changes: Any) -> None:
    """Set the given chat columns (title, description, avatar_url, pinned_message_id, invite_token)."""
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    if not changes:
        return
    cols = ", ".join(f"{k} = ?" for k in changes)
    conn.execute(f"UPDATE chats SET {cols}, updated_at = ? WHERE id = ?", (*changes.values(), now, chat_id))


def delete(conn: apsw.Connection, chat_id: int) -> None:
    """Delete the chat; members, bans, messages and their state go with it (ON DELETE CASCADE)."""
    conn.execute("DELETE FROM notifications WHERE chat_id = ?", (chat_id,))
    conn.execute("DELETE FROM chats WHERE id = ?", (chat_id,))


def newest_message_id(conn: apsw.Connection, chat_id: int) -> int:
    return _one(conn, "SELECT max(id) AS id FROM messages WHERE chat_id = ?", (chat_id,))["id"] or 0


def message_in_chat(conn: apsw.Connection, message_id: int, chat_id: int) -> bool:
    return conn.execute("SELECT 1 FROM messages WHERE id = ? AND chat_id = ?",
                        (message_id, chat_id)).fetchone() is not None


# members ----------------------------------------------------------------------------------------

def membership_txn(conn: apsw.Connection, chat_id: int, user_id: int) -> Member | None:
    """USER_ID's membership of CHAT_ID with the chat's type, or None when not a member.

    The messages area uses this for its rules (e.g. only owner/admin post in a channel).
    """
    return _member(conn.execute(f"{_MEMBER_SELECT} WHERE m.chat_id = ? AND m.user_id = ?",
                                (chat_id, user_id)).fetchone())


def members(conn: apsw.Connection, chat_id: int) -> list[Member]:
    """Every member, oldest first (owner hand-over and the member list use this order)."""
    rows = conn.execute(f"{_MEMBER_SELECT} WHERE m.chat_id = ? ORDER BY m.joined_at, m.id", (chat_id,))
    return [_member(r) for r in rows]  # type: ignore[misc]


def member_ids(conn: apsw.Connection, chat_id: int) -> list[int]:
    return [r["user_id"] for r in conn.execute("SELECT user_id FROM chat_members WHERE chat_id = ?", (chat_id,))]


def manager_ids(conn: apsw.Connection, chat_id: int) -> list[int]:
    """The owner and admins of CHAT_ID, through the partial index of migration 0022 (named: without
    statistics the planner would walk every member by the primary key, a large channel's
    subscribers too)."""
    return [r["user_id"] for r in conn.execute(
        "SELECT user_id FROM chat_members INDEXED BY chat_members_managers WHERE chat_id = ? AND role <> 'member'",
        (chat_id,))]


@dataclass(frozen=True, slots=True)
class Audience:
    """A chat's kind and who is in it, as sets of user ids rather than one row per member: the
    posting check and the fan-out of one message (a large chat costs one aggregate row, not
    thousands of Python objects built on the writer thread)."""

    chat_id: int
    chat_type: str
    is_saved: bool
    user_ids: tuple[int, ...]      # every member, in user id order
    managers: frozenset[int]       # owner and admins
    muted: frozenset[int]
    hidden: frozenset[int]         # who deleted the chat for themselves (a new message brings it back)


def audience(conn: apsw.Connection, chat_id: int) -> Audience | None:
    """The chat's type and members in one statement and one row (walks chat_members by its
    primary key); None when the chat does not exist or has no members."""
    row = _one(
        conn,
        "SELECT c.type AS chat_type, c.is_saved, json_group_array(m.user_id) AS ids,"
        " json_group_array(m.user_id) FILTER (WHERE m.role <> 'member') AS managers,"
        " json_group_array(m.user_id) FILTER (WHERE m.muted) AS muted,"
        " json_group_array(m.user_id) FILTER (WHERE m.hidden) AS hidden"
        " FROM chats c JOIN chat_members m ON m.chat_id = c.id WHERE c.id = ?", (chat_id,))
    if row["chat_type"] is None:
        return None
    return Audience(chat_id, row["chat_type"], bool(row["is_saved"]), tuple(json.loads(row["ids"])),
                    frozenset(json.loads(row["managers"])), frozenset(json.loads(row["muted"])),
                    frozenset(json.loads(row["hidden"])))


def add_member(conn: apsw.Connection, chat_id: int, user_id: int, role: str, now: float) -> Member:
    conn.execute(
        "INSERT INTO chat_members(id, chat_id, user_id, role, joined_at)"
        f" VALUES ({_next_id('chat_members')}, ?, ?, ?, ?)",
        (chat_id, user_id, role, now))
    return membership_txn(conn, chat_id, user_id)  # type: ignore[return-value]


def remove_member(conn: apsw.Connection, chat_id: int, user_id: int) -> bool:
    cur = conn.execute("DELETE FROM chat_members WHERE chat_id = ? AND user_id = ? RETURNING user_id",
                       (chat_id, user_id))
    return cur.fetchone() is not None


def set_role(conn: apsw.Connection, chat_id: int, user_id: int, role: str) -> None:
    conn.execute("UPDATE chat_members SET role = ? WHERE chat_id = ? AND user_id = ?", (role, chat_id, user_id))


_MEMBER_STATE = {"archived", "pinned_at", "muted", "hidden", "cleared_before_id"}


def set_member_state(conn: apsw.Connection, chat_id: int, user_id: int, **changes: Any) -> None:
    """Set per-user state: archived, pinned_at, muted, hidden, cleared_before_id."""
    unknown = set(changes) - _MEMBER_STATE
    if unknown:
        raise ValueError(f"not member state: {sorted(unknown)}")
    values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
    cols = ", ".join(f"{k} = ?" for k in changes)
    conn.execute(f"UPDATE chat_members SET {cols} WHERE chat_id = ? AND user_id = ?", (*values, chat_id, user_id))


def unhide(conn: apsw.Connection, chat_id: int, user_ids: list[int] | None = None) -> list[int]:
    """Show a chat again in the lists of members who deleted it for themselves; returns who."""
    if user_ids is None:
        rows = conn.execute("UPDATE chat_members SET hidden = 0 WHERE chat_id = ? AND hidden = 1"
                            " RETURNING user_id", (chat_id,))
    else:
        rows = conn.execute("UPDATE chat_members SET hidden = 0 WHERE chat_id = ? AND hidden = 1"
                            " AND user_id IN (SELECT value FROM json_each(?)) RETURNING user_id",
                            (chat_id, json.dumps(user_ids)))
    return [r["user_id"] for r in rows]


def pinned_count(conn: apsw.Connection, user_id: int) -> int:
    return _one(conn, "SELECT count(*) AS n FROM chat_members WHERE user_id = ? AND pinned_at IS NOT NULL"
                " AND hidden = 0", (user_id,))["n"]


def oldest_successor(conn: apsw.Connection, chat_id: int, leaving_id: int) -> int | None:
    """Who inherits ownership: the oldest admin, else the oldest member (spec: owner leaving)."""
    row = conn.execute(
        "SELECT user_id FROM chat_members WHERE chat_id = ? AND user_id <> ?"
        " ORDER BY role <> 'admin', joined_at, id LIMIT 1", (chat_id, leaving_id)).fetchone()
    return row["user_id"] if row else None


# bans -------------------------------------------------------------------------------------------

def is_banned(conn: apsw.Connection, chat_id: int, user_id: int) -> bool:
    return conn.execute("SELECT 1 FROM chat_bans WHERE chat_id = ? AND user_id = ?",
                        (chat_id, user_id)).fetchone() is not None


def ban(conn: apsw.Connection, chat_id: int, user_id: int, by: int, now: float) -> None:
    conn.execute("INSERT INTO chat_bans(chat_id, user_id, banned_by, created_at) VALUES (?, ?, ?, ?)"
                 " ON CONFLICT (chat_id, user_id) DO NOTHING", (chat_id, user_id, by, now))


def unban(conn: apsw.Connection, chat_id: int, user_id: int) -> bool:
    cur = conn.execute("DELETE FROM chat_bans WHERE chat_id = ? AND user_id = ? RETURNING user_id",
                       (chat_id, user_id))
    return cur.fetchone() is not None


# the chat list ----------------------------------------------------------------------------------
#
# Order: pinned chats first (most recently pinned first), then by last activity (newest first),
# ties broken by chat id (higher first). As one descending key per member row:
#   (pinned_at IS NOT NULL, coalesce(pinned_at, 0), last_activity_at, chat id)
# `before` is such a key (the cursor chat's key, see sort_key); a page holds the rows whose key
# is strictly lower, so every chat appears at most once across pages of one walk.

_KEY = "(m.pinned_at IS NOT NULL), coalesce(m.pinned_at, 0), c.last_activity_at, c.id"
_ORDER = "(m.pinned_at IS NOT NULL) DESC, coalesce(m.pinned_at, 0) DESC, c.last_activity_at DESC, c.id DESC"

SortKey = tuple[int, float, float, int]


def sort_key(conn: apsw.Connection, user_id: int, chat_id: int) -> SortKey | None:
    """The list position of CHAT_ID for USER_ID, or None when the user is not a member."""
    row = conn.execute(
        f"SELECT {_KEY} FROM chat_members m JOIN chats c ON c.id = m.chat_id"
        " WHERE m.user_id = ? AND m.chat_id = ?", (user_id, chat_id)).fetchone()
    return cast(SortKey, tuple(row.values())) if row else None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_page(conn: apsw.Connection, user_id: int, *, archived: bool, limit: int,
              before: SortKey | None = None, query: str | None = None) -> list[int]:
    """Chat ids of one page of USER_ID's list (one statement; no per-chat work)."""
    sql = ["SELECT c.id FROM chat_members m JOIN chats c ON c.id = m.chat_id"]
    params: dict[str, Any] = {"user": user_id, "archived": int(archived), "limit": limit}
    if query:
        # the counterpart of a private chat, for matching by name (at most one row per chat)
        sql.append("LEFT JOIN chat_members o ON c.type = 'private' AND o.chat_id = c.id AND o.user_id <> m.user_id"
                   " LEFT JOIN users u ON u.id = o.user_id")
    sql.append("WHERE m.user_id = :user AND m.hidden = 0 AND m.archived = :archived")
    if before is not None:
        sql.append(f"AND ({_KEY}) < (:k1, :k2, :k3, :k4)")
        params.update(zip(("k1", "k2", "k3", "k4"), before, strict=True))
    if query:
        sql.append("AND (c.title LIKE :pat ESCAPE '\\' OR c.handle LIKE :pat ESCAPE '\\'"
                   " OR u.name LIKE :pat ESCAPE '\\' OR u.username LIKE :pat ESCAPE '\\'"
                   " OR (c.is_saved = 1 AND 'Saved Messages' LIKE :pat ESCAPE '\\') OR c.type = :type)")
        params.update(pat=_like(query), type=query.strip().lower())
    sql.append(f"ORDER BY {_ORDER} LIMIT :limit")
    return [r["id"] for r in conn.execute(" ".join(sql), params)]


# ChatRead rows ----------------------------------------------------------------------------------
#
# `reads` computes, in one statement, every column of ChatRead that comes from the database for
# a list of (chat, viewer) pairs: the viewer's membership state, unread counts from the read
# cursor, the newest message the viewer may see, and the private-chat counterpart. The viewer
# need not be a member (a public chat seen from outside): then the membership columns are NULL.

_READS = """
WITH p(ord, chat_id, viewer_id) AS MATERIALIZED (
    SELECT key, value ->> 0, value ->> 1 FROM json_each(?)
),
b AS MATERIALIZED (
    SELECT p.ord, p.viewer_id, c.id, c.public_id, c.type, c.is_saved, c.title, c.avatar_url, c.handle,
           c.description, c.is_public, c.pinned_message_id, c.created_at,
           m.role, m.archived, m.pinned_at, m.muted, m.hidden, m.last_read_message_id,
           coalesce(m.cleared_before_id, 0) AS cleared,
           max(coalesce(m.last_read_message_id, 0), coalesce(m.cleared_before_id, 0)) AS read_upto
      FROM p JOIN chats c ON c.id = p.chat_id
      LEFT JOIN chat_members m ON m.chat_id = p.chat_id AND m.user_id = p.viewer_id
),
v AS MATERIALIZED (
    SELECT b.*,
           (SELECT x.id FROM messages x
             WHERE x.chat_id = b.id AND x.id > b.cleared
               AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = b.viewer_id AND h.message_id = x.id)
             ORDER BY x.id DESC LIMIT 1) AS last_id,
           -- unread minus the unread ones deleted for the viewer: two range counts instead of a
           -- hidden-check per unread message (message_hidden rows are rare)
           CASE WHEN b.role IS NULL THEN 0 ELSE
           (SELECT count(*) FROM messages x
             WHERE x.chat_id = b.id AND x.id > b.read_upto AND x.sender_id IS NOT b.viewer_id)
           - (SELECT count(*) FROM message_hidden h JOIN messages x ON x.id = h.message_id
               WHERE h.user_id = b.viewer_id AND h.chat_id = b.id AND h.message_id > b.read_upto
                 AND x.sender_id IS NOT b.viewer_id)
           END AS unread_count,
           CASE WHEN b.role IS NULL THEN 0 ELSE
           (SELECT count(*) FROM message_mentions n
             WHERE n.user_id = b.viewer_id AND n.chat_id = b.id AND n.message_id > b.read_upto
               AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = b.viewer_id AND h.message_id = n.message_id))
           END AS unread_mentions_count,
           CASE WHEN b.pinned_message_id IS NOT NULL AND EXISTS (
                SELECT 1 FROM messages x WHERE x.id = b.pinned_message_id AND x.chat_id = b.id)
                THEN b.pinned_message_id END AS live_pinned_message_id
      FROM b
)
SELECT v.*, lm.text AS last_message_text, lm.type AS last_message_type, lm.created_at AS last_message_created_at,
       u.id AS cp_id, u.name AS cp_name, u.username AS cp_username, u.avatar_url AS cp_avatar_url,
       u.last_seen_at AS cp_last_seen_at, u.privacy_avatar AS cp_privacy_avatar,
       u.privacy_last_seen AS cp_privacy_last_seen
  FROM v
  LEFT JOIN messages lm ON lm.id = v.last_id
  LEFT JOIN chat_members o ON v.type = 'private' AND v.is_saved = 0 AND o.chat_id = v.id AND o.user_id <> v.viewer_id
  LEFT JOIN users u ON u.id = o.user_id
 ORDER BY v.ord
"""


def reads(conn: apsw.Connection, pairs: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """One row per (chat_id, viewer_id) pair that names an existing chat, in the given order."""
    if not pairs:
        return []
    return cast(list[dict[str, Any]], conn.execute(_READS, (json.dumps(pairs),)).fetchall())


def members_of(conn: apsw.Connection, chat_ids: list[int]) -> dict[int, list[int]]:
    """The member ids of each of CHAT_IDS (one row per chat): members_count and online_count come from these."""
    rows = conn.execute(
        "SELECT chat_id, json_group_array(user_id) AS ids FROM chat_members"
        " WHERE chat_id IN (SELECT value FROM json_each(?)) GROUP BY chat_id",
        (json.dumps(sorted(set(chat_ids))),))
    return {r["chat_id"]: json.loads(r["ids"]) for r in rows}


def privacy_modes(conn: apsw.Connection, user_ids: list[int]) -> dict[int, str]:
    """privacy_last_seen of each user (for counting who is visibly online)."""
    rows = conn.execute("SELECT id, privacy_last_seen FROM users WHERE id IN (SELECT value FROM json_each(?))",
                        (json.dumps(sorted(set(user_ids))),))
    return {r["id"]: r["privacy_last_seen"] for r in rows}


# discovery --------------------------------------------------------------------------------------

def discover(conn: apsw.Connection, viewer_id: int, query: str | None, limit: int) -> list[dict[str, Any]]:
    """Public groups and channels matching QUERY by title or handle, largest first; not those
    VIEWER_ID is banned from (for them the chat does not exist: pufferd.access.visible_chat)."""
    where = ("c.is_public = 1 AND NOT EXISTS (SELECT 1 FROM chat_bans b"
             " WHERE b.chat_id = c.id AND b.user_id = :viewer)")
    params: dict[str, Any] = {"viewer": viewer_id, "limit": limit}
    if query:
        where += " AND (c.title LIKE :pat ESCAPE '\\' OR c.handle LIKE :pat ESCAPE '\\')"
        params["pat"] = _like(query)
    sql = (
        "SELECT c.id, c.public_id, c.type, c.title, c.handle, c.description, c.avatar_url, c.created_at,"
        " (SELECT count(*) FROM chat_members x WHERE x.chat_id = c.id) AS members_count,"
        " EXISTS (SELECT 1 FROM chat_members x WHERE x.chat_id = c.id AND x.user_id = :viewer) AS is_member"
        f" FROM chats c WHERE {where}"
        " ORDER BY members_count DESC, c.last_activity_at DESC, c.id DESC LIMIT :limit")
    return cast(list[dict[str, Any]], conn.execute(sql, params).fetchall())
