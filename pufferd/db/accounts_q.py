"""Query functions for sessions, refresh tokens, revoked access tokens and e-mail tokens."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw

from pufferd.db import rows


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user_id: int
    current_jti: str
    ip_address: str | None
    user_agent: str | None
    created_at: float
    last_used_at: float
    expires_at: float
    revoked_at: float | None
    revoke_reason: str | None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    jti: str
    session: Session
    issued_at: float
    rotated_at: float | None


_SESSION_COLS = ("id, user_id, current_jti, ip_address, user_agent, created_at, last_used_at,"
                 " expires_at, revoked_at, revoke_reason")


def _session(row: dict[str, Any] | None) -> Session | None:
    return None if row is None else Session(**row)


# sessions ------------------------------------------------------------------------------------
def insert_session(conn: apsw.Connection, *, session_id: str, user_id: int, ip_address: str | None,
                   user_agent: str | None, now: float, expires_at: float) -> Session:
    """Create a session whose first refresh token has jti SESSION_ID."""
    row = conn.execute(
        f"INSERT INTO auth_sessions(id, user_id, current_jti, ip_address, user_agent, created_at,"
        f" last_used_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_SESSION_COLS}",
        (session_id, user_id, session_id, ip_address, user_agent, now, now, expires_at)).fetchone()
    conn.execute("INSERT INTO refresh_tokens(jti, session_id, issued_at) VALUES (?, ?, ?)",
                 (session_id, session_id, now))
    return _session(row)  # type: ignore[return-value]


def get_session(conn: apsw.Connection, session_id: str) -> Session | None:
    return _session(conn.execute(f"SELECT {_SESSION_COLS} FROM auth_sessions WHERE id = ?",
                                 (session_id,)).fetchone())


def active_sessions(conn: apsw.Connection, user_id: int, now: float) -> list[Session]:
    """The user's sessions that can still refresh, newest first."""
    rows = conn.execute(
        f"SELECT {_SESSION_COLS} FROM auth_sessions WHERE user_id = ? AND revoked_at IS NULL"
        " AND expires_at > ? ORDER BY created_at DESC, id", (user_id, now))
    return [Session(**r) for r in rows]


def revoke_session(conn: apsw.Connection, session_id: str, now: float, reason: str) -> bool:
    """Revoke one session; True when it was active."""
    row = conn.execute("UPDATE auth_sessions SET revoked_at = ?, revoke_reason = ?"
                       " WHERE id = ? AND revoked_at IS NULL RETURNING id",
                       (now, reason, session_id)).fetchone()
    return row is not None


def revoke_all_sessions(conn: apsw.Connection, user_id: int, now: float, reason: str) -> int:
    """Revoke every active session of the user; return how many."""
    rows = conn.execute("UPDATE auth_sessions SET revoked_at = ?, revoke_reason = ?"
                        " WHERE user_id = ? AND revoked_at IS NULL RETURNING id",
                        (now, reason, user_id)).fetchall()
    return len(rows)


def prune_expired(conn: apsw.Connection, user_id: int, now: float) -> None:
    """Forget the user's sessions (and their refresh tokens) whose tokens can no longer be valid."""
    conn.execute("DELETE FROM auth_sessions WHERE user_id = ? AND expires_at <= ?", (user_id, now))
    conn.execute("DELETE FROM revoked_access_tokens WHERE user_id = ? AND expires_at <= ?",
                 (user_id, now))
    conn.execute("DELETE FROM account_tokens WHERE user_id = ? AND expires_at <= ?", (user_id, now))


# refresh tokens ------------------------------------------------------------------------------
def get_refresh_token(conn: apsw.Connection, jti: str) -> RefreshToken | None:
    row = conn.execute(
        "SELECT r.jti AS r_jti, r.issued_at AS r_issued_at, r.rotated_at AS r_rotated_at,"
        " s.id, s.user_id, s.current_jti, s.ip_address, s.user_agent, s.created_at, s.last_used_at,"
        " s.expires_at, s.revoked_at, s.revoke_reason"
        " FROM refresh_tokens r JOIN auth_sessions s ON s.id = r.session_id WHERE r.jti = ?",
        (jti,)).fetchone()
    if row is None:
        return None
    jti_, issued, rotated = row.pop("r_jti"), row.pop("r_issued_at"), row.pop("r_rotated_at")
    return RefreshToken(jti_, Session(**row), issued, rotated)


def rotate(conn: apsw.Connection, *, old_jti: str, new_jti: str, session_id: str, now: float,
           expires_at: float, ip_address: str | None, user_agent: str | None) -> None:
    """Mark OLD_JTI used and make NEW_JTI the session's current refresh token."""
    conn.execute("UPDATE refresh_tokens SET rotated_at = ? WHERE jti = ?", (now, old_jti))
    conn.execute("INSERT INTO refresh_tokens(jti, session_id, issued_at) VALUES (?, ?, ?)",
                 (new_jti, session_id, now))
    conn.execute("UPDATE auth_sessions SET current_jti = ?, last_used_at = ?, expires_at = ?,"
                 " ip_address = ?, user_agent = ? WHERE id = ?",
                 (new_jti, now, expires_at, ip_address, user_agent, session_id))


# access tokens -------------------------------------------------------------------------------
def revoke_access_token(conn: apsw.Connection, jti: str, user_id: int, expires_at: float) -> None:
    conn.execute("INSERT OR IGNORE INTO revoked_access_tokens(jti, user_id, expires_at) VALUES (?, ?, ?)",
                 (jti, user_id, expires_at))


def access_token_refused(conn: apsw.Connection, jti: str, session_id: str | None) -> bool:
    """True when the access token JTI was revoked, or the session it was issued with was."""
    row = conn.execute(
        "SELECT EXISTS(SELECT 1 FROM revoked_access_tokens WHERE jti = ?1)"
        " OR (?2 IS NOT NULL AND NOT EXISTS(SELECT 1 FROM auth_sessions"
        "                                   WHERE id = ?2 AND revoked_at IS NULL)) AS refused",
        (jti, session_id))
    return bool(rows.one(row)["refused"])


# e-mail tokens -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AccountToken:
    user_id: int
    purpose: str
    expires_at: float


def replace_account_token(conn: apsw.Connection, *, token_hash: str, user_id: int, purpose: str,
                          now: float, expires_at: float) -> None:
    """Store a new token for PURPOSE; earlier unused tokens of that purpose stop working."""
    conn.execute("DELETE FROM account_tokens WHERE user_id = ? AND purpose = ?", (user_id, purpose))
    conn.execute("INSERT INTO account_tokens(token_hash, user_id, purpose, created_at, expires_at)"
                 " VALUES (?, ?, ?, ?, ?)", (token_hash, user_id, purpose, now, expires_at))


def take_account_token(conn: apsw.Connection, token_hash: str, purpose: str) -> AccountToken | None:
    """Remove the token (single use) and return it, or None when unknown."""
    row = conn.execute("DELETE FROM account_tokens WHERE token_hash = ? AND purpose = ?"
                       " RETURNING user_id, purpose, expires_at", (token_hash, purpose)).fetchone()
    return None if row is None else AccountToken(**row)


def delete_account_tokens(conn: apsw.Connection, user_id: int, purpose: str) -> None:
    conn.execute("DELETE FROM account_tokens WHERE user_id = ? AND purpose = ?", (user_id, purpose))
