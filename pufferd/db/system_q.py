"""Query functions for administration: users by role and state, settings overrides, server invite
codes and IP blocks (migrations 0050, 0051)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import apsw

from pufferd.db import users_q
from pufferd.db.users_q import User


def _one(conn: apsw.Connection, sql: str, params: Any) -> dict[str, Any]:
    """The first row of a statement that always returns one (an aggregate)."""
    return cast(dict[str, Any], conn.execute(sql, params).fetchone())


def _like_anywhere(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# users -----------------------------------------------------------------------------------------
# an account's state (pufferd/moderation.py state_of: the first that holds), at :now
_STATES = {
    "disabled": "is_disabled = 1",
    "banned": "is_disabled = 0 AND banned_at IS NOT NULL",
    "timed_out": "is_disabled = 0 AND banned_at IS NULL AND timeout_until > :now",
    "active": "is_disabled = 0 AND banned_at IS NULL AND (timeout_until IS NULL OR timeout_until <= :now)",
}


def list_users(conn: apsw.Connection, *, limit: int, after_id: int = 0, role: str | None = None,
               state: str | None = None, now: float = 0.0, search: str | None = None) -> list[User]:
    """Users by id after AFTER_ID; ROLE, STATE (disabled, banned, timed_out at NOW, active) and
    SEARCH (a part of the username, e-mail or name, ASCII case-insensitive) narrow the list."""
    where: list[str] = ["id > :after"]
    args: dict[str, Any] = {"after": after_id, "now": now, "limit": limit}
    if role is not None:
        where.append("role = :role")
        args["role"] = role
    if state is not None:
        where.append(f"({_STATES[state]})")
    if search:
        where.append("(username LIKE :like ESCAPE '\\' OR email LIKE :like ESCAPE '\\' OR name LIKE :like ESCAPE '\\')")
        args["like"] = _like_anywhere(search)
    rows = conn.execute(f"SELECT * FROM users WHERE {' AND '.join(where)} ORDER BY id LIMIT :limit", args)
    return [users_q.to_user(r) for r in rows]


def usernames(conn: apsw.Connection, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    return {r["id"]: r["username"] for r in conn.execute(f"SELECT id, username FROM users WHERE id IN ({marks})",
                                                         wanted)}


def count_members(conn: apsw.Connection) -> int:
    """Accounts that are not disabled."""
    return int(_one(conn, "SELECT count(*) AS n FROM users WHERE is_disabled = 0", ())["n"])


# settings overrides ----------------------------------------------------------------------------
def overrides(conn: apsw.Connection) -> dict[str, str]:
    """Every stored override: setting name -> its value as JSON text."""
    return {r["name"]: r["value"] for r in conn.execute("SELECT name, value FROM settings_overrides")}


def write_overrides(conn: apsw.Connection, changes: Mapping[str, str | None], *, by: int | None,
                    now: float) -> None:
    """Store each JSON value; None deletes the override (the configured value applies again)."""
    for name, value in changes.items():
        if value is None:
            conn.execute("DELETE FROM settings_overrides WHERE name = ?", (name,))
        else:
            conn.execute("INSERT INTO settings_overrides(name, value, updated_at, updated_by) VALUES (?, ?, ?, ?)"
                         " ON CONFLICT(name) DO UPDATE SET value = excluded.value,"
                         " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                         (name, value, now, by))


# server invites --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Invite:
    id: int
    code_hint: str
    note: str | None
    max_uses: int | None
    uses: int
    expires_at: float | None
    created_by: int | None
    created_at: float
    revoked_at: float | None

    def usable(self, now: float) -> bool:
        return (self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
                and (self.max_uses is None or self.uses < self.max_uses))


_INVITE = ("SELECT i.id, i.code_hint, i.note, i.max_uses, i.expires_at, i.created_by, i.created_at, i.revoked_at,"
           " (SELECT count(*) FROM server_invite_uses u WHERE u.invite_id = i.id) AS uses FROM server_invites i")


def insert_invite(conn: apsw.Connection, *, code_hash: str, code_hint: str, note: str | None,
                  max_uses: int | None, expires_at: float | None, by: int, now: float) -> Invite:
    row = conn.execute("INSERT INTO server_invites(code_hash, code_hint, note, max_uses, expires_at, created_by,"
                       " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                       (code_hash, code_hint, note, max_uses, expires_at, by, now)).fetchone()
    return get_invite(conn, row["id"])  # type: ignore[index,return-value]


def get_invite(conn: apsw.Connection, invite_id: int) -> Invite | None:
    row = conn.execute(_INVITE + " WHERE i.id = ?", (invite_id,)).fetchone()
    return Invite(**row) if row else None


def invite_by_hash(conn: apsw.Connection, code_hash: str) -> Invite | None:
    row = conn.execute(_INVITE + " WHERE i.code_hash = ?", (code_hash,)).fetchone()
    return Invite(**row) if row else None


def list_invites(conn: apsw.Connection, *, limit: int, before_id: int | None = None) -> list[Invite]:
    """Newest first."""
    rows = conn.execute(_INVITE + " WHERE i.id < ? ORDER BY i.id DESC LIMIT ?",
                        (before_id if before_id is not None else 2**63 - 1, limit))
    return [Invite(**r) for r in rows]


def revoke_invite(conn: apsw.Connection, invite_id: int, *, by: int, now: float) -> None:
    conn.execute("UPDATE server_invites SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
                 (now, by, invite_id))


def record_invite_use(conn: apsw.Connection, invite_id: int, user_id: int, now: float) -> None:
    conn.execute("INSERT INTO server_invite_uses(invite_id, user_id, used_at) VALUES (?, ?, ?)",
                 (invite_id, user_id, now))


# IP blocks -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IpBlock:
    id: int
    network: str
    reason: str | None
    expires_at: float | None
    attempts: int
    last_attempt_at: float | None
    created_by: int | None
    created_at: float


def ip_blocks(conn: apsw.Connection, *, active_at: float | None = None) -> list[IpBlock]:
    """Every block by id, or only those not expired at ACTIVE_AT."""
    if active_at is None:
        rows = conn.execute("SELECT * FROM ip_blocks ORDER BY id")
    else:
        rows = conn.execute("SELECT * FROM ip_blocks WHERE expires_at IS NULL OR expires_at > ? ORDER BY id",
                            (active_at,))
    return [IpBlock(**r) for r in rows]


def ip_block_page(conn: apsw.Connection, *, limit: int, after_id: int = 0) -> list[IpBlock]:
    return [IpBlock(**r) for r in conn.execute("SELECT * FROM ip_blocks WHERE id > ? ORDER BY id LIMIT ?",
                                               (after_id, limit))]


def get_ip_block(conn: apsw.Connection, block_id: int) -> IpBlock | None:
    row = conn.execute("SELECT * FROM ip_blocks WHERE id = ?", (block_id,)).fetchone()
    return IpBlock(**row) if row else None


def ip_block_by_network(conn: apsw.Connection, network: str) -> IpBlock | None:
    row = conn.execute("SELECT * FROM ip_blocks WHERE network = ?", (network,)).fetchone()
    return IpBlock(**row) if row else None


def insert_ip_block(conn: apsw.Connection, *, network: str, reason: str | None, expires_at: float | None,
                    by: int, now: float) -> IpBlock:
    row = conn.execute("INSERT INTO ip_blocks(network, reason, expires_at, created_by, created_at)"
                       " VALUES (?, ?, ?, ?, ?) RETURNING *", (network, reason, expires_at, by, now)).fetchone()
    return IpBlock(**row)  # type: ignore[arg-type]


def delete_ip_block(conn: apsw.Connection, block_id: int) -> None:
    conn.execute("DELETE FROM ip_blocks WHERE id = ?", (block_id,))


def add_ip_block_attempts(conn: apsw.Connection, counts: Mapping[int, tuple[int, float]]) -> None:
    """Add refused requests per block id: (how many, the time of the latest); a block deleted in
    the meantime is skipped."""
    conn.executemany("UPDATE ip_blocks SET attempts = attempts + ?,"
                     " last_attempt_at = max(coalesce(last_attempt_at, 0), ?) WHERE id = ?",
                     [(n, at, block_id) for block_id, (n, at) in counts.items()])
