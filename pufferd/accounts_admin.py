"""Account administration without the HTTP API (`pufferd admin ...`), on the data directory itself.

Each function is one synchronous unit of work on a connection (`*_txn`), run by the CLI through
`Database.write_sync`; SQLite's WAL locking makes that safe while a server uses the same directory.
A change that signs a user out moves users.tokens_valid_after and revokes their refresh sessions,
which the running server sees on the next request (its open WebSockets close only when it next
checks their token). Every change is written to the audit log with the operating-system user.
"""
from __future__ import annotations

import getpass

import apsw

from pufferd import audit, roles
from pufferd.db import accounts_q, audit_q, twofa_q, users_q
from pufferd.db.users_q import User
from pufferd.errors import DomainError
from pufferd.privileges import Role
from pufferd.roles import RoleChange


class AdminError(Exception):
    """The command cannot be carried out; the message is one line for the operator."""


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _find(conn: apsw.Connection, ref: str) -> User:
    user = users_q.find(conn, ref)
    if user is None:
        raise AdminError(f"no user {ref!r} (give an id, a username or an e-mail address)")
    return user


def _record(conn: apsw.Connection, event: str, user: User, now: float, **detail: object) -> None:
    audit.record(conn, event, client=audit.CLI, user_id=user.id, actor=actor(), now=now, detail=detail or None)


def _owner_stays(user: User) -> None:
    if user.role == "owner":
        raise AdminError(f"{user.username} is the owner; make another user the owner first"
                         " (pufferd admin set-role USER owner)")


def create_user_txn(conn: apsw.Connection, *, email: str, username: str, name: str, password_hash: str,
                    is_admin: bool, verified: bool, now: float) -> User:
    if users_q.email_taken(conn, email):
        raise AdminError(f"the e-mail address {email} is already registered")
    if users_q.username_taken(conn, username):
        raise AdminError(f"the username {username} is already taken")
    user = users_q.insert(conn, email=email, username=username, name=name, password_hash=password_hash,
                          now=now, role="admin" if is_admin else "user", email_verified=verified)
    _record(conn, "admin_create_user", user, now, username=username, is_admin=is_admin)
    return user


def _sign_out_txn(conn: apsw.Connection, user: User, now: float, reason: str) -> int:
    users_q.revoke_tokens_before(conn, user.id, now)
    return accounts_q.revoke_all_sessions(conn, user.id, now, reason)


def reset_password_txn(conn: apsw.Connection, ref: str, password_hash: str, now: float) -> tuple[User, int]:
    """New password; every session of the user ends. Returns the user and how many sessions ended."""
    user = _find(conn, ref)
    users_q.set_password(conn, user.id, password_hash, now)
    accounts_q.delete_account_tokens(conn, user.id, "reset_password")
    revoked = _sign_out_txn(conn, user, now, "admin")
    _record(conn, "admin_reset_password", user, now, sessions_revoked=revoked)
    return user, revoked


def set_role_txn(conn: apsw.Connection, ref: str, role: str, reason: str | None, now: float) -> RoleChange:
    """Give the user REF the ROLE with the owner's authority (pufferd/roles.py has the rules):
    making someone the owner hands ownership over; the owner is never demoted otherwise."""
    user = _find(conn, ref)
    try:
        return roles.change_role_txn(conn, actor_id=None, actor_label=actor(), target_id=user.id, role=Role(role),
                                     reason=reason, client=audit.CLI, now=now)
    except ValueError:
        raise AdminError(f"unknown role {role!r}; roles: {', '.join(Role)}") from None
    except DomainError as exc:
        raise AdminError(str(exc.detail)) from None


def reset_2fa_txn(conn: apsw.Connection, ref: str, now: float) -> tuple[User, int]:
    """Turn the user's 2FA off (secret and recovery codes gone) for an owner who lost both the
    authenticator and the codes, or whose 2FA someone else turned on; every session ends, so
    whoever did that is signed out too. Returns the user and how many sessions ended."""
    user = _find(conn, ref)
    if not user.twofa_enabled and not user.twofa_secret:
        raise AdminError(f"{user.username} does not use 2FA")
    users_q.set_twofa(conn, user.id, enabled=False, secret=None, last_step=None, now=now)
    twofa_q.delete_recovery_codes(conn, user.id)
    twofa_q.clear_failures(conn, user.id)
    revoked = _sign_out_txn(conn, user, now, "admin")
    _record(conn, "admin_reset_2fa", user, now, sessions_revoked=revoked)
    return users_q.get(conn, user.id), revoked  # type: ignore[return-value]


def set_admin_txn(conn: apsw.Connection, ref: str, is_admin: bool, now: float) -> User:
    """`set-admin`: the admin role (the owner stays owner), or with IS_ADMIN false back to user."""
    user = _find(conn, ref)
    if user.role == Role.OWNER and is_admin or not is_admin and user.role not in (Role.ADMIN, Role.OWNER):
        return user
    return set_role_txn(conn, ref, Role.ADMIN if is_admin else Role.USER, None, now).user


def set_disabled_txn(conn: apsw.Connection, ref: str, disabled: bool, now: float) -> tuple[User, int]:
    """Disable (and sign out) or re-enable an account. Returns the user and the sessions ended."""
    user = _find(conn, ref)
    if disabled:
        _owner_stays(user)
    users_q.set_disabled(conn, user.id, disabled, now)
    revoked = _sign_out_txn(conn, user, now, "admin") if disabled else 0
    _record(conn, "admin_disable_user", user, now, disabled=disabled, sessions_revoked=revoked)
    return users_q.get(conn, user.id), revoked  # type: ignore[return-value]


def list_users(conn: apsw.Connection, *, limit: int, after_id: int = 0) -> list[User]:
    return users_q.list_all(conn, limit=limit, after_id=after_id)


def audit_entries(conn: apsw.Connection, *, limit: int, user_ref: str | None = None,
                  event: str | None = None) -> list[audit_q.AuditEntry]:
    """The newest audit entries first; USER_REF may name a user that no longer exists by id."""
    user_id = None
    if user_ref is not None:
        found = users_q.find(conn, user_ref)
        if found is None and not user_ref.isdigit():
            raise AdminError(f"no user {user_ref!r} (give an id, a username or an e-mail address)")
        user_id = found.id if found else int(user_ref)
    if event is not None and event not in audit.EVENTS:
        raise AdminError(f"unknown event {event!r}; events: {', '.join(audit.EVENTS)}")
    return audit_q.latest(conn, limit=limit, user_id=user_id, event=event)
