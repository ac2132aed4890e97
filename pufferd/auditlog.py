"""Reading the audit log over the API (issue 13, item 5): filtered pages, newest first, and the
"recent activity" feed, the same rows told in plain words ("alice changed bob's role to moderator").

Entries are written by pufferd/audit.py in the transaction of the change they describe.
The feed shows the events that have a phrase in PHRASES (administration and moderation, new
accounts), not sign-ins or failed logins; a new event gets a line there to appear in it.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import apsw

from pufferd import privileges
from pufferd.context import Context
from pufferd.db import audit_q, system_q
from pufferd.db.audit_q import AuditEntry
from pufferd.db.users_q import User
from pufferd.privileges import Privilege

_USER_ACTOR = re.compile(r"^user:(\d+)$")


@dataclass(frozen=True, slots=True)
class Filters:
    actor: str | None = None     # 'user:5', 'cli:alice', 'anonymous', or a user id
    action: str | None = None    # an audit event
    target: str | None = None    # a user id, or 'ip:...', 'invite:...', 'settings'
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True, slots=True)
class Named:
    """An entry with the usernames of the people it names (None when they no longer exist)."""

    entry: AuditEntry
    actor_user_id: int | None
    actor_username: str | None
    username: str | None


def _query(filters: Filters) -> dict[str, Any]:
    actor = filters.actor
    if actor is not None and actor.isdigit():
        actor = f"user:{actor}"
    user_id = target = None
    if filters.target is not None:
        if filters.target.isdigit():
            user_id = int(filters.target)
        else:
            target = filters.target
    return {"actor": actor, "user_id": user_id, "target": target, "since": filters.since,
            "until": filters.until}


def _named(conn: apsw.Connection, entries: list[AuditEntry]) -> list[Named]:
    actor_ids = {e.id: int(m.group(1)) for e in entries if (m := _USER_ACTOR.match(e.actor))}
    ids = set(actor_ids.values()) | {e.user_id for e in entries if e.user_id is not None}
    names = system_q.usernames(conn, ids)
    return [Named(e, actor_ids.get(e.id), names.get(actor_ids.get(e.id, -1)),
                  names.get(e.user_id) if e.user_id is not None else None) for e in entries]


async def page(ctx: Context, actor: User, filters: Filters, *, limit: int,
               before_id: int | None = None) -> list[Named]:
    """Entries newest first, every filter applied; BEFORE_ID continues after that entry."""
    privileges.require(actor, Privilege.VIEW_AUDIT)
    query = _query(filters)
    events = (filters.action,) if filters.action is not None else None

    def page_txn(conn: apsw.Connection) -> list[Named]:
        return _named(conn, audit_q.page(conn, limit=limit, events=events, before_id=before_id, **query))

    return await ctx.db.read(page_txn)


# the feed --------------------------------------------------------------------------------------
def _role(e: Named) -> str:
    return str(e.entry.detail.get("to", "?"))


def _changes(e: Named) -> str:
    changes = e.entry.detail.get("changes") or {}
    return ", ".join(f"{name} to {_show(c.get('to'))}" if c.get("to") is not None else f"{name} back to its default"
                     for name, c in changes.items()) or "nothing"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"' if value else "nothing"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _network(e: Named) -> str:
    return str(e.entry.detail.get("network") or (e.entry.target or "").removeprefix("ip:"))


# event -> (entry with names -> the sentence after the actor's name)
PHRASES: dict[str, Callable[[Named], str]] = {
    "register": lambda e: "joined the server"
    + (f" with invite {e.entry.detail['invite_id']}" if e.entry.detail.get("invite_id") else ""),
    "role_changed": lambda e: f"changed {_whose(e)} role to {_role(e)}",
    "settings_changed": lambda e: f"changed the settings: {_changes(e)}",
    "server_info_changed": lambda e: f"changed the server's {_changes(e).replace('server_', '')}",
    "invite_created": lambda e: f"created invite {e.entry.target.removeprefix('invite:') if e.entry.target else ''}",
    "invite_revoked": lambda e: f"revoked invite {e.entry.target.removeprefix('invite:') if e.entry.target else ''}",
    "ip_blocked": lambda e: f"blocked {_network(e)}",
    "ip_unblocked": lambda e: f"unblocked {_network(e)}",
    "admin_create_user": lambda e: f"created the account {_who(e)}",
    "admin_reset_password": lambda e: f"reset the password of {_who(e)}",
    "admin_set_admin": lambda e: f"{'made' if e.entry.detail.get('is_admin') else 'removed'} {_who(e)}"
    + (" an administrator" if e.entry.detail.get("is_admin") else " as administrator"),
    "admin_disable_user": lambda e: f"{'disabled' if e.entry.detail.get('disabled') else 'enabled'} {_who(e)}",
    "admin_reset_2fa": lambda e: f"turned off the two-factor authentication of {_who(e)}",
    "file_deleted": lambda e: "deleted a file",
    "media_cleanup": lambda e: "ran the file clean-up",
    "task_run": lambda e: "ran a background task",
    "user_banned": lambda e: f"banned {_who(e)}",
    "user_unbanned": lambda e: f"lifted the ban of {_who(e)}",
    "user_timed_out": lambda e: f"timed out {_who(e)} until {e.entry.detail.get('until', '?')}",
    "timeout_lifted": lambda e: f"lifted the timeout of {_who(e)}",
    "message_removed": lambda e: f"removed a message of {_who(e)}",
    "report_resolved": lambda e: f"resolved {e.entry.target.replace(':', ' ') if e.entry.target else 'a report'}"
    f" with {e.entry.detail.get('action', '?')}",
}


def _who(e: Named) -> str:
    if e.username is not None:
        return e.username
    return f"user {e.entry.user_id}" if e.entry.user_id is not None else "someone"


def _whose(e: Named) -> str:
    if e.actor_user_id is not None and e.actor_user_id == e.entry.user_id:
        return "their own"
    name = _who(e)
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _actor_name(e: Named) -> str:
    if e.entry.event == "register" and e.username is not None:
        return e.username
    if e.actor_username is not None:
        return e.actor_username
    actor = e.entry.actor
    if actor.startswith("cli:") or actor == "cli":
        return "the command line" + (f" ({actor[4:]})" if actor.startswith("cli:") else "")
    m = _USER_ACTOR.match(actor)
    return f"user {m.group(1)}" if m else actor


def describe(e: Named) -> str:
    """One sentence: who did what to whom."""
    phrase = PHRASES.get(e.entry.event)
    return f"{_actor_name(e)} {phrase(e) if phrase else e.entry.event.replace('_', ' ')}"


@dataclass(frozen=True, slots=True)
class Activity:
    named: Named
    text: str


async def activity(ctx: Context, actor: User, *, limit: int, before_id: int | None = None) -> list[Activity]:
    """The newest events of PHRASES, each told in one sentence."""
    privileges.require(actor, Privilege.VIEW_AUDIT)
    events = tuple(PHRASES)

    def feed_txn(conn: apsw.Connection) -> list[Named]:
        return _named(conn, audit_q.page(conn, limit=limit, events=events, before_id=before_id))

    return [Activity(n, describe(n)) for n in await ctx.db.read(feed_txn)]
