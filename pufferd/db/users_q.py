"""Query functions for users (synchronous, run inside db.read/db.write)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, NewType

import apsw

from pufferd.db import rows

UserId = NewType("UserId", int)


@dataclass(frozen=True, slots=True)
class User:
    id: UserId
    email: str
    username: str
    name: str
    password_hash: str
    bio: str | None
    avatar_url: str | None
    email_verified: bool
    role: str  # owner | admin | moderator | user; what each may do: pufferd/privileges.py
    is_disabled: bool
    twofa_enabled: bool
    twofa_secret: str | None
    twofa_last_step: int | None
    allow_private_messages: bool
    privacy_private_messages: str
    privacy_last_seen: str
    privacy_avatar: str
    privacy_group_invites: str
    tokens_valid_after: float
    last_seen_at: float | None
    created_at: float
    updated_at: float
    # moderation (migration 0070, pufferd/moderation.py): a ban refuses sign-in and tokens; a
    # timeout until a time refuses posting and the like (pufferd/access.py) and ends by itself
    banned_at: float | None = None
    ban_reason: str | None = None
    timeout_until: float | None = None
    timeout_reason: str | None = None
    # federation (migration 0080): a remote person's shadow user; they never sign in here
    is_remote: bool = False
    actor_url: str | None = None
    # migration 0087: findable from other servers by handle (WebFinger)
    federation_findable: bool = True

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(**{f.name: row[f.name] for f in _FIELDS})

    def timed_out(self, now: float) -> bool:
        """A timeout holds at NOW (it ends by itself at timeout_until)."""
        return self.timeout_until is not None and self.timeout_until > now

    @property
    def is_admin(self) -> bool:
        """The role is owner or admin (the `is_admin` of earlier versions); checks use privileges."""
        return self.role in ("owner", "admin")


_FIELDS = fields(User)
_BOOLS = {"email_verified", "is_disabled", "twofa_enabled", "allow_private_messages", "is_remote", "federation_findable"}


def _user(row: dict[str, Any] | None) -> User | None:
    if row is None:
        return None
    for key in _BOOLS:
        row[key] = bool(row[key])
    return User.from_row(row)


def get(conn: apsw.Connection, user_id: int) -> User | None:
    return _user(conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone())


def get_by_email(conn: apsw.Connection, email: str) -> User | None:
    return _user(conn.execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone())


def get_by_username(conn: apsw.Connection, username: str) -> User | None:
    return _user(conn.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone())


def insert(conn: apsw.Connection, *, email: str, username: str, name: str, password_hash: str,
           now: float, role: str = "user", email_verified: bool = False) -> User:
    row = conn.execute(
        "INSERT INTO users(email, username, name, password_hash, role, email_verified,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (email, username, name, password_hash, role, int(email_verified), now, now),
    ).fetchone()
    return _user(row)  # type: ignore[return-value]


def count(conn: apsw.Connection) -> int:
    return rows.one(conn.execute("SELECT count(*) AS n FROM users"))["n"]


# accounts area -------------------------------------------------------------------------------
_PROFILE_COLUMNS = {"name", "username", "bio", "avatar_url", "allow_private_messages",
                    "privacy_private_messages", "privacy_last_seen", "privacy_avatar",
                    "privacy_group_invites", "federation_findable"}


def to_user(row: dict[str, Any]) -> User:
    """A users row (SELECT u.* ...) as a User, for queries of other tables that join users."""
    return _user(row)  # type: ignore[return-value]


def email_taken(conn: apsw.Connection, email: str) -> bool:
    return conn.execute("SELECT 1 FROM users WHERE email = ?", (email,)).fetchone() is not None


def username_taken(conn: apsw.Connection, username: str, *, except_id: int | None = None) -> bool:
    return conn.execute("SELECT 1 FROM users WHERE username = ? AND id IS NOT ?",
                        (username, except_id)).fetchone() is not None


def update_profile(conn: apsw.Connection, user_id: int, changes: dict[str, Any], now: float) -> User:
    """Set the given profile columns (names from _PROFILE_COLUMNS) and updated_at."""
    unknown = set(changes) - _PROFILE_COLUMNS
    if unknown:
        raise ValueError(f"not profile columns: {sorted(unknown)}")
    cols = sorted(changes)
    values = [int(changes[c]) if isinstance(changes[c], bool) else changes[c] for c in cols]
    assignments = "".join(f"{c} = ?, " for c in cols)
    row = conn.execute(f"UPDATE users SET {assignments}updated_at = ? WHERE id = ? RETURNING *",
                       (*values, now, user_id)).fetchone()
    return _user(row)  # type: ignore[return-value]


def set_password(conn: apsw.Connection, user_id: int, password_hash: str, now: float) -> None:
    """New password; every token issued before NOW stops working (sessions revoked elsewhere)."""
    conn.execute("UPDATE users SET password_hash = ?, tokens_valid_after = max(tokens_valid_after, ?),"
                 " updated_at = ? WHERE id = ?", (password_hash, now, now, user_id))


def revoke_tokens_before(conn: apsw.Connection, user_id: int, now: float) -> None:
    conn.execute("UPDATE users SET tokens_valid_after = max(tokens_valid_after, ?) WHERE id = ?",
                 (now, user_id))


def revocations_after(conn: apsw.Connection, mark: float) -> list[tuple[int, float]]:
    """(user id, tokens_valid_after) of every user whose tokens were revoked after MARK, oldest first."""
    return [(r["id"], r["tokens_valid_after"]) for r in conn.execute(
        "SELECT id, tokens_valid_after FROM users WHERE tokens_valid_after > ? ORDER BY tokens_valid_after",
        (mark,))]


def newest_revocation(conn: apsw.Connection) -> float:
    return rows.one(conn.execute("SELECT coalesce(max(tokens_valid_after), 0) AS t FROM users"))["t"]


def set_email_verified(conn: apsw.Connection, user_id: int, now: float) -> None:
    conn.execute("UPDATE users SET email_verified = 1, updated_at = ? WHERE id = ? AND email_verified = 0",
                 (now, user_id))


def set_twofa(conn: apsw.Connection, user_id: int, *, enabled: bool, secret: str | None,
              last_step: int | None, now: float) -> None:
    conn.execute("UPDATE users SET twofa_enabled = ?, twofa_secret = ?, twofa_last_step = ?, updated_at = ?"
                 " WHERE id = ?", (int(enabled), secret, last_step, now, user_id))


def set_twofa_enabled(conn: apsw.Connection, user_id: int, now: float) -> None:
    conn.execute("UPDATE users SET twofa_enabled = 1, updated_at = ? WHERE id = ?", (now, user_id))


def set_twofa_last_step(conn: apsw.Connection, user_id: int, step: int) -> None:
    conn.execute("UPDATE users SET twofa_last_step = ? WHERE id = ?", (step, user_id))


def set_role(conn: apsw.Connection, user_id: int, role: str, now: float) -> None:
    conn.execute("UPDATE users SET role = ?, updated_at = ? WHERE id = ?", (role, now, user_id))


def owner(conn: apsw.Connection) -> User | None:
    """The one owner (users_one_owner), None only in a database without one."""
    return _user(conn.execute("SELECT * FROM users WHERE role = 'owner'").fetchone())


def count_role(conn: apsw.Connection, role: str, *, active_only: bool = True, except_id: int | None = None) -> int:
    row = conn.execute("SELECT count(*) AS n FROM users WHERE role = ? AND id IS NOT ?"
                       + (" AND is_disabled = 0" if active_only else ""), (role, except_id)).fetchone()
    return int(row["n"]) if row else 0


def set_disabled(conn: apsw.Connection, user_id: int, disabled: bool, now: float) -> None:
    conn.execute("UPDATE users SET is_disabled = ?, updated_at = ? WHERE id = ?",
                 (int(disabled), now, user_id))


def set_ban(conn: apsw.Connection, user_id: int, *, banned_at: float | None, reason: str | None, now: float) -> None:
    """Ban (BANNED_AT set) or unban (None) the user; a ban also refuses every token issued before."""
    conn.execute("UPDATE users SET banned_at = ?1, ban_reason = ?2, updated_at = ?3,"
                 " tokens_valid_after = CASE WHEN ?1 IS NULL THEN tokens_valid_after"
                 " ELSE max(tokens_valid_after, ?3) END WHERE id = ?4",
                 (banned_at, reason, now, user_id))


def set_timeout(conn: apsw.Connection, user_id: int, *, until: float | None, reason: str | None, now: float) -> None:
    """Time the user out until UNTIL (None: lift it)."""
    conn.execute("UPDATE users SET timeout_until = ?, timeout_reason = ?, updated_at = ? WHERE id = ?",
                 (until, reason, now, user_id))


def delete(conn: apsw.Connection, user_id: int) -> None:
    conn.execute("DELETE FROM users WHERE id = ?", (user_id,))


def find(conn: apsw.Connection, ref: str) -> User | None:
    """A user by id (digits), e-mail (contains @) or username."""
    if ref.isdigit():
        return get(conn, int(ref))
    if "@" in ref:
        return get_by_email(conn, ref)
    return get_by_username(conn, ref)


def list_all(conn: apsw.Connection, *, limit: int, after_id: int = 0) -> list[User]:
    rows = conn.execute("SELECT * FROM users WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
    return [_user(r) for r in rows]  # type: ignore[misc]


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(conn: apsw.Connection, viewer_id: int, prefix: str, limit: int) -> list[User]:
    """Enabled users other than VIEWER whose username or name starts with PREFIX (ASCII case-
    insensitive), excluding users who blocked VIEWER; exact username first, then by username."""
    pattern = _like_prefix(prefix)
    rows = conn.execute(
        "SELECT * FROM users u"
        " WHERE (u.username LIKE ?1 ESCAPE '\\' OR u.name LIKE ?1 ESCAPE '\\')"
        "   AND u.id <> ?2 AND u.is_disabled = 0"
        "   AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = ?2)"
        " ORDER BY u.username = ?3 DESC, u.username LIKE ?1 ESCAPE '\\' DESC, u.username"
        " LIMIT ?4", (pattern, viewer_id, prefix, limit))
    return [_user(r) for r in rows]  # type: ignore[misc]
