"""Query functions for users (synchronous, run inside db.read/db.write)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, NewType

import apsw

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
    is_admin: bool
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

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(**{f.name: row[f.name] for f in _FIELDS})


_FIELDS = fields(User)
_BOOLS = {"email_verified", "is_admin", "is_disabled", "twofa_enabled", "allow_private_messages"}


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
           now: float, is_admin: bool = False, email_verified: bool = False) -> User:
    row = conn.execute(
        "INSERT INTO users(email, username, name, password_hash, is_admin, email_verified,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (email, username, name, password_hash, int(is_admin), int(email_verified), now, now),
    ).fetchone()
    return _user(row)  # type: ignore[return-value]


def count(conn: apsw.Connection) -> int:
    return conn.execute("SELECT count(*) AS n FROM users").fetchone()["n"]
