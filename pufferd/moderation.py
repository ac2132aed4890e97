"""Moderation (issue 13, item 3; README "Moderation and reports"): server-wide bans, timeouts and
removing content, each with a reason.

Rules
- BAN bans, unbans, times out and lifts timeouts; DELETE_CONTENT removes any message (and any
  file: pufferd/cdn.py `moderate_delete_file`) as content moderation (pufferd/privileges.py).
  Nobody acts on themself, and a moderator acts only on people their role outranks
  (`privileges.outranks`): a moderator not on another moderator, an admin or the owner; an admin
  not on another admin or the owner. The same holds for their messages and files.
- A ban keeps the account and everything it owns. It signs the user out everywhere (every
  session revoked, every older token refused) and, while it lasts, refuses their sign-in (403)
  and any token (401), each naming the ban and its reason (`banned_detail`). Their sockets get
  `account_banned` (`reason`, `banned_at`) and are then closed with 4001. An unban lets them
  sign in again.
- A timeout lasts until a time (at most MAX_TIMEOUT_DAYS ahead; longer is a ban): the user reads as
  before but does not send, edit, react, upload, attach, create chats or invite
  (pufferd/access.py `check_not_timed_out`: 403 naming the end). It ends by itself (every check
  compares with the clock; nothing has to run then). A new timeout replaces the previous one.
  The user's sockets get `account_restricted` (`until`, `reason`); lifting it early sends
  `account_restricted` with `until` null.
- Removing a message is the delete-for-everyone of pufferd/messages.py (`remove_txn`: the
  members get `message_deleted`); its author gets a `message_removed` notification with the
  reason (not who removed it).
- Every action is audited (pufferd/audit.py) with actor, target, reason and client IP, in the
  action's own transaction.

Each action is a `*_txn` function that runs inside the caller's unit of work (pufferd/reports.py
resolves a report with one in the same transaction) and adds to an `Outcome` what must be
published once that transaction has committed (`publish`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import apsw

from pufferd import access, audit, messages, notifications, privileges
from pufferd.audit import ClientInfo
from pufferd.clock import iso
from pufferd.context import Context
from pufferd.db import accounts_q, messages_q, notifications_q, users_q
from pufferd.db.notifications_q import Notification
from pufferd.db.users_q import User
from pufferd.errors import Conflict, Forbidden, NotFound, field_error
from pufferd.privileges import Privilege
from pufferd.realtime.bus import Event

MAX_TIMEOUT_DAYS = 366
MESSAGE_REMOVED = "message_removed"  # the notifications an author gets (pufferd/notifications.py)
FILE_REMOVED = "file_removed"


def banned_detail(user: User) -> str:
    """What a banned USER is told when they sign in or use a token."""
    reason = f": {user.ban_reason}" if user.ban_reason else ""
    return f"Your account is banned from this server{reason}"


def state_of(user: User, now: float) -> str:
    """The account's state for administrators: disabled, banned, timed_out or active (the first
    that holds)."""
    if user.is_disabled:
        return "disabled"
    if user.banned_at is not None:
        return "banned"
    if user.timed_out(now):
        return "timed_out"
    return "active"


@dataclass
class Outcome:
    """What committed moderation actions publish: events, notifications, removed messages, and
    the users to sign out (after their events) or whose cached tokens are stale."""

    events: list[Event] = field(default_factory=list)
    notes: list[Notification] = field(default_factory=list)
    removed: list[tuple[int, int, list[int]]] = field(default_factory=list)  # (chat, message, audience)
    signed_out: set[int] = field(default_factory=set)
    changed: set[int] = field(default_factory=set)


def publish(ctx: Context, outcome: Outcome) -> None:
    """After the commit: drop stale cached tokens, publish, then close the sockets of users signed
    out (the hub sends what was published to them before the 4001 close)."""
    for user_id in outcome.changed:
        ctx.auth_cache.invalidate(user_id)
    for chat_id, message_id, audience in outcome.removed:
        messages.publish_removed(ctx, chat_id, message_id, audience)
    for event in outcome.events:
        ctx.bus.publish(event)
    notifications.publish(ctx, outcome.notes)
    for user_id in sorted(outcome.signed_out):
        ctx.hooks.revoke_sessions(user_id)


_SOMEONE = {"owner": "the owner", "admin": "an admin", "moderator": "a moderator", "user": "a user"}


def _someone(role: str) -> str:
    return _SOMEONE.get(role, f"a {role}")


def _label(actor: User) -> str:
    return f"user:{actor.id}"


def _extra(report_id: int | None) -> dict[str, Any]:
    return {"report_id": report_id} if report_id is not None else {}


def _person_txn(conn: apsw.Connection, actor: User, target_id: int, verb: str) -> User:
    """The user ACTOR may VERB (e.g. "ban"): one that exists (404), not ACTOR, and outranked (403)."""
    target = users_q.get(conn, target_id)
    if target is None:
        raise NotFound("User not found")
    if target.id == actor.id:
        raise Forbidden(f"You cannot {verb} yourself")
    if not privileges.outranks(actor, target):
        raise Forbidden(f"{_someone(actor.role).capitalize()} cannot {verb} {_someone(target.role)}")
    return target


# bans ------------------------------------------------------------------------------------------

def ban_txn(conn: apsw.Connection, actor: User, target_id: int, *, reason: str, client: ClientInfo, now: float,
            outcome: Outcome, report_id: int | None = None) -> User:
    """Ban TARGET_ID (the rules above); 409 when they are banned already."""
    privileges.require(actor, Privilege.BAN)
    target = _person_txn(conn, actor, target_id, "ban")
    if target.banned_at is not None:
        raise Conflict(f"@{target.username} is already banned (since {iso(target.banned_at)})")
    users_q.set_ban(conn, target.id, banned_at=now, reason=reason, now=now)
    sessions = accounts_q.revoke_all_sessions(conn, target.id, now, "admin")
    audit.record(conn, "user_banned", client=client, now=now, user_id=target.id, actor=_label(actor),
                 detail={"reason": reason, "sessions_revoked": sessions, **_extra(report_id)})
    outcome.events.append(Event.to("account_banned", {"reason": reason, "banned_at": iso(now)}, (target.id,)))
    outcome.signed_out.add(target.id)
    outcome.changed.add(target.id)
    return users_q.get(conn, target.id)  # type: ignore[return-value]


def unban_txn(conn: apsw.Connection, actor: User, target_id: int, *, reason: str | None, client: ClientInfo,
              now: float, outcome: Outcome) -> User:
    """Lift TARGET_ID's ban: they may sign in again; 409 when they are not banned."""
    privileges.require(actor, Privilege.BAN)
    target = _person_txn(conn, actor, target_id, "unban")
    if target.banned_at is None:
        raise Conflict(f"@{target.username} is not banned")
    users_q.set_ban(conn, target.id, banned_at=None, reason=None, now=now)
    audit.record(conn, "user_unbanned", client=client, now=now, user_id=target.id, actor=_label(actor),
                 detail={"reason": reason, "ban_reason": target.ban_reason})
    outcome.changed.add(target.id)
    return users_q.get(conn, target.id)  # type: ignore[return-value]


# timeouts --------------------------------------------------------------------------------------

def timeout_txn(conn: apsw.Connection, actor: User, target_id: int, *, until: float, reason: str,
                client: ClientInfo, now: float, outcome: Outcome, report_id: int | None = None) -> User:
    """Time TARGET_ID out until UNTIL (replacing a timeout they have); 422 naming `until` when it is
    not in the future or too far; 409 for a banned user."""
    privileges.require(actor, Privilege.BAN)
    if until <= now:
        raise field_error("until", "until must be in the future")
    if until > now + MAX_TIMEOUT_DAYS * 86400:
        raise field_error("until", f"a timeout lasts at most {MAX_TIMEOUT_DAYS} days; ban for longer")
    target = _person_txn(conn, actor, target_id, "time out")
    if target.banned_at is not None:
        raise Conflict(f"@{target.username} is banned; a timeout would change nothing")
    users_q.set_timeout(conn, target.id, until=until, reason=reason, now=now)
    audit.record(conn, "user_timed_out", client=client, now=now, user_id=target.id, actor=_label(actor),
                 detail={"reason": reason, "until": iso(until),
                         "replaced_until": iso(target.timeout_until) if target.timed_out(now) else None,
                         **_extra(report_id)})
    outcome.events.append(Event.to("account_restricted", {"until": iso(until), "reason": reason}, (target.id,)))
    outcome.changed.add(target.id)
    return users_q.get(conn, target.id)  # type: ignore[return-value]


def lift_timeout_txn(conn: apsw.Connection, actor: User, target_id: int, *, reason: str | None,
                     client: ClientInfo, now: float, outcome: Outcome) -> User:
    """End TARGET_ID's timeout now; 409 when none holds."""
    privileges.require(actor, Privilege.BAN)
    target = _person_txn(conn, actor, target_id, "lift the timeout of")
    if not target.timed_out(now):
        raise Conflict(f"@{target.username} is not timed out")
    users_q.set_timeout(conn, target.id, until=None, reason=None, now=now)
    audit.record(conn, "timeout_lifted", client=client, now=now, user_id=target.id, actor=_label(actor),
                 detail={"reason": reason, "until": iso(target.timeout_until)})
    outcome.events.append(Event.to("account_restricted", {"until": None, "reason": None}, (target.id,)))
    outcome.changed.add(target.id)
    return users_q.get(conn, target.id)  # type: ignore[return-value]


# content ---------------------------------------------------------------------------------------

def check_may_moderate_content_txn(conn: apsw.Connection, actor: User, author_id: int | None) -> User | None:
    """ACTOR (DELETE_CONTENT) may remove content of AUTHOR_ID: their own, that of someone they
    outrank, or of an account that is gone (None). Returns the author."""
    privileges.require(actor, Privilege.DELETE_CONTENT)
    author = users_q.get(conn, author_id) if author_id is not None else None
    if author is not None and author.id != actor.id and not privileges.outranks(actor, author):
        raise Forbidden(f"{_someone(actor.role).capitalize()} cannot remove the content of {_someone(author.role)}")
    return author


def remove_message_txn(conn: apsw.Connection, actor: User, message_id: int, *, reason: str, client: ClientInfo,
                       now: float, outcome: Outcome, report_id: int | None = None) -> None:
    """Remove any message as content moderation (the rules above); 404 when it does not exist."""
    privileges.require(actor, Privilege.DELETE_CONTENT)
    message = messages_q.get(conn, message_id)
    if message is None:
        raise NotFound(access.MESSAGE_NOT_FOUND)
    author = check_may_moderate_content_txn(conn, actor, message.sender_id)
    audience = messages.remove_txn(conn, message)
    if author is not None and author.id != actor.id:
        outcome.notes.append(notifications_q.insert(
            conn, author.id, MESSAGE_REMOVED,
            {"chat_id": message.chat_id, "message_id": message.id, "reason": reason, "removed_by": "moderation"},
            now, chat_id=message.chat_id))
    audit.record(conn, "message_removed", client=client, now=now, user_id=author.id if author else None,
                 actor=_label(actor), target=f"message:{message.id}",
                 detail={"reason": reason, "chat_id": message.chat_id, "message_id": message.id,
                         "message_type": message.type, **_extra(report_id)})
    outcome.removed.append((message.chat_id, message.id, audience))


# over the API ----------------------------------------------------------------------------------

async def _run(ctx: Context, txn: Any) -> Any:
    outcome = Outcome()
    now = ctx.clock.time()
    result = await ctx.db.write(lambda conn: txn(conn, now, outcome))
    publish(ctx, outcome)
    return result


async def ban(ctx: Context, actor: User, target_id: int, *, reason: str, client: ClientInfo) -> User:
    """Ban a user server-wide (BAN); the user as they are now."""
    privileges.require(actor, Privilege.BAN)
    return await _run(ctx, lambda conn, now, out: ban_txn(conn, actor, target_id, reason=reason, client=client,
                                                          now=now, outcome=out))


async def unban(ctx: Context, actor: User, target_id: int, *, reason: str | None, client: ClientInfo) -> User:
    """Lift a ban (BAN)."""
    privileges.require(actor, Privilege.BAN)
    return await _run(ctx, lambda conn, now, out: unban_txn(conn, actor, target_id, reason=reason, client=client,
                                                            now=now, outcome=out))


async def timeout(ctx: Context, actor: User, target_id: int, *, until: float, reason: str,
                  client: ClientInfo) -> User:
    """Time a user out until UNTIL (BAN)."""
    privileges.require(actor, Privilege.BAN)
    return await _run(ctx, lambda conn, now, out: timeout_txn(conn, actor, target_id, until=until, reason=reason,
                                                              client=client, now=now, outcome=out))


async def lift_timeout(ctx: Context, actor: User, target_id: int, *, reason: str | None,
                       client: ClientInfo) -> User:
    """End a timeout early (BAN)."""
    privileges.require(actor, Privilege.BAN)
    return await _run(ctx, lambda conn, now, out: lift_timeout_txn(conn, actor, target_id, reason=reason,
                                                                   client=client, now=now, outcome=out))


async def remove_message(ctx: Context, actor: User, message_id: int, *, reason: str, client: ClientInfo) -> None:
    """Remove any message as content moderation (DELETE_CONTENT)."""
    privileges.require(actor, Privilege.DELETE_CONTENT)
    await _run(ctx, lambda conn, now, out: remove_message_txn(conn, actor, message_id, reason=reason, client=client,
                                                              now=now, outcome=out))
