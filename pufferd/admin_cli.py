"""`pufferd admin ...`: user administration on the data directory, also while the server runs."""
from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import apsw
import click
from pydantic import TypeAdapter, ValidationError

from pufferd import accounts_admin, mail, passwords
from pufferd.accounts_admin import AdminError
from pufferd.clock import iso
from pufferd.config import Settings, SettingsError, load_settings, resolve_data_dir
from pufferd.datadir import DataDirError, open_database
from pufferd.db.database import Database, DatabaseOpenError
from pufferd.db.migrate import MigrationError
from pufferd.db.users_q import User
from pufferd.errors import Unavailable
from pufferd.keys import KeyError_
from pufferd.password_policy import password_problem
from pufferd.web.schemas.users import DisplayName, EmailAddress, Username

T = TypeVar("T")
_OPEN_ERRORS = (SettingsError, DataDirError, DatabaseOpenError, MigrationError, KeyError_)
BUSY_RETRIES = 20


def _fail(message: str) -> None:
    click.echo(f"pufferd: error: {message}", err=True)
    sys.exit(1)


def _data_dir_option(fn: Any) -> Any:
    return click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="data directory (default $PUFFERD_DATA_DIR or ./pufferd-data)")(fn)


@contextmanager
def _database(data_dir: Path | None) -> Iterator[tuple[Settings, Database]]:
    try:
        settings = load_settings(resolve_data_dir(data_dir))
        db = open_database(settings)
    except _OPEN_ERRORS as exc:
        _fail(str(exc))
        raise AssertionError from None  # unreachable: _fail exits
    try:
        yield settings, db
    finally:
        db.close()


def _run(db: Database, fn: Callable[[apsw.Connection], T]) -> T:
    """One transaction; retried when a running server's commit overtook its snapshot."""
    for attempt in range(BUSY_RETRIES):
        try:
            return db.write_sync(fn)
        except AdminError as exc:
            _fail(str(exc))
        except apsw.BusyError:
            if attempt == BUSY_RETRIES - 1:
                _fail("the database stayed busy; try again")
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _valid(kind: Any, value: str, field: str) -> str:
    """VALUE checked with the same field type the API uses, or exit with the reason."""
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        _fail(f"{field}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}")
        raise AssertionError from None  # unreachable: _fail exits


def _password(given: str | None) -> str:
    password = given if given is not None else click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        _fail(problem)
    return password


def _flags(user: User) -> str:
    flags = [name for name, on in ((user.role, user.role != "user"), ("disabled", user.is_disabled),
                                   ("verified", user.email_verified), ("2fa", user.twofa_enabled)) if on]
    return ",".join(flags) or "-"


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "email": user.email, "name": user.name,
            "role": user.role, "is_admin": user.is_admin, "is_disabled": user.is_disabled,
            "email_verified": user.email_verified, "twofa_enabled": user.twofa_enabled,
            "created_at": iso(user.created_at)}


@click.group()
def admin() -> None:
    """Administer accounts on the data directory (works while the server runs)."""


@admin.command("create-user")
@_data_dir_option
@click.option("--username", required=True)
@click.option("--email", required=True)
@click.option("--name", default=None, help="display name (default: the username)")
@click.option("--password", default=None, help="prefer the prompt: flags are visible to other users")
@click.option("--admin", "is_admin", is_flag=True, help="make the user a server administrator")
@click.option("--unverified", is_flag=True, help="leave the e-mail address unverified")
def create_user(data_dir: Path | None, username: str, email: str, name: str | None, password: str | None,
                is_admin: bool, unverified: bool) -> None:
    """Create a user with the same rules as registration."""
    email = _valid(EmailAddress, email, "email")
    username = _valid(Username, username, "username")
    name = _valid(DisplayName, name or username, "name")
    secret = _password(password)
    with _database(data_dir) as (settings, db):
        pw_hash = passwords.hash_sync(secret, settings.bcrypt_rounds)
        user = _run(db, lambda conn: accounts_admin.create_user_txn(
            conn, email=email, username=username, name=name, password_hash=pw_hash,
            is_admin=is_admin, verified=not unverified, now=time.time()))
    click.echo(f"created user {user.id} {user.username} <{user.email}>" + (" (administrator)" if is_admin else ""))


@admin.command("reset-password")
@_data_dir_option
@click.argument("user")
@click.option("--password", default=None, help="prefer the prompt: flags are visible to other users")
def reset_password(data_dir: Path | None, user: str, password: str | None) -> None:
    """Set USER's password (USER: id, username or e-mail) and sign them out everywhere."""
    secret = _password(password)
    with _database(data_dir) as (settings, db):
        pw_hash = passwords.hash_sync(secret, settings.bcrypt_rounds)
        found, revoked = _run(db, lambda conn: accounts_admin.reset_password_txn(conn, user, pw_hash, time.time()))
    click.echo(f"password of {found.username} reset; {revoked} session(s) signed out")


@admin.command("set-role")
@_data_dir_option
@click.argument("user")
@click.argument("role", type=click.Choice(["owner", "admin", "moderator", "user"]))
@click.option("--reason", default=None, help="why, for the audit log")
def set_role(data_dir: Path | None, user: str, role: str, reason: str | None) -> None:
    """Give USER (id, username or e-mail) a server ROLE. Making someone the owner hands ownership
    over (the old owner becomes an admin); the owner cannot be demoted otherwise."""
    with _database(data_dir) as (_, db):
        change = _run(db, lambda conn: accounts_admin.set_role_txn(conn, user, role, reason, time.time()))
    if change.previous_role == change.user.role:
        click.echo(f"{change.user.username} is already {change.user.role}")
        return
    click.echo(f"{change.user.username} is now {change.user.role} (was {change.previous_role})")
    if change.previous_owner is not None:
        click.echo(f"{change.previous_owner.username} is now {change.previous_owner.role} (was owner)")


@admin.command("reset-2fa")
@_data_dir_option
@click.argument("user")
def reset_2fa(data_dir: Path | None, user: str) -> None:
    """Turn off USER's two-factor authentication and sign them out everywhere; they are mailed.

    For an owner who lost both the authenticator and the recovery codes, or whose 2FA someone
    else turned on (first reset the password, by mail or `reset-password`).
    """
    with _database(data_dir) as (settings, db):
        found, revoked = _run(db, lambda conn: accounts_admin.reset_2fa_txn(conn, user, time.time()))
    click.echo(f"2FA of {found.username} turned off; {revoked} session(s) signed out")
    s = settings
    message = mail.compose(s, found.email, f"Two-factor authentication is off for your {s.server_name} account",
                           f"Hello {found.name},\n\nthe administrator of {s.server_name} turned two-factor"
                           f" authentication off for your account ({found.username}) and signed it out"
                           " everywhere. Sign in with your password and turn it on again in the settings.\n\n"
                           "If you did not ask for this, reset your password at once.\n")
    try:
        asyncio.run(mail.make_mailer(s).send(message))
    except Unavailable:
        click.echo(f"pufferd: warning: the mail to {found.email} could not be sent", err=True)


@admin.command("set-admin")
@_data_dir_option
@click.argument("user")
@click.option("--off", is_flag=True, help="take the administrator role away instead")
def set_admin(data_dir: Path | None, user: str, off: bool) -> None:
    """Make USER a server administrator (or, with --off, no longer one): set-role USER admin|user."""
    with _database(data_dir) as (_, db):
        found = _run(db, lambda conn: accounts_admin.set_admin_txn(conn, user, not off, time.time()))
    click.echo(f"{found.username} is {'now' if found.is_admin else 'no longer'} an administrator")


@admin.command("disable-user")
@_data_dir_option
@click.argument("user")
@click.option("--enable", is_flag=True, help="re-enable the account instead")
def disable_user(data_dir: Path | None, user: str, enable: bool) -> None:
    """Disable USER (no login, every token refused) or, with --enable, allow them back."""
    with _database(data_dir) as (_, db):
        found, revoked = _run(db, lambda conn: accounts_admin.set_disabled_txn(conn, user, not enable, time.time()))
    if found.is_disabled:
        click.echo(f"{found.username} disabled; {revoked} session(s) signed out")
    else:
        click.echo(f"{found.username} enabled")


@admin.command("list-users")
@_data_dir_option
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--after-id", type=click.IntRange(0), default=0, help="list users with a larger id (paging)")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
def list_users(data_dir: Path | None, limit: int, after_id: int, as_json: bool) -> None:
    """List users by id."""
    with _database(data_dir) as (_, db):
        found = _run(db, lambda conn: accounts_admin.list_users(conn, limit=limit, after_id=after_id))
    if as_json:
        for u in found:
            click.echo(json.dumps(_user_json(u)))
        return
    rows = [("ID", "USERNAME", "EMAIL", "NAME", "FLAGS", "CREATED")]
    rows += [(str(u.id), u.username, u.email, u.name, _flags(u), iso(u.created_at) or "") for u in found]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


@admin.command("audit")
@_data_dir_option
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--user", "user_ref", default=None, help="only entries about this user (id, username or e-mail)")
@click.option("--event", default=None, help="only this event, e.g. login_failed")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
def audit_log(data_dir: Path | None, limit: int, user_ref: str | None, event: str | None, as_json: bool) -> None:
    """Print the latest audit log entries, newest first."""
    with _database(data_dir) as (_, db):
        entries = _run(db, lambda conn: accounts_admin.audit_entries(conn, limit=limit, user_ref=user_ref,
                                                                      event=event))
    for e in entries:
        if as_json:
            click.echo(json.dumps({"id": e.id, "time": iso(e.created_at), "event": e.event, "user_id": e.user_id,
                                   "actor": e.actor, "ip": e.ip_address, "user_agent": e.user_agent,
                                   "detail": e.detail}))
        else:
            detail = json.dumps(e.detail, separators=(",", ":"), sort_keys=True) if e.detail else ""
            click.echo(f"{iso(e.created_at)}  {e.event:<24} user={e.user_id if e.user_id is not None else '-':<6} "
                       f"actor={e.actor:<14} ip={e.ip_address or '-':<15} {detail}".rstrip())
