"""Reports (issue 13, item 3; README "Moderation and reports"): people report a message or a user;
moderators (RESOLVE_REPORTS) work through the queue and resolve each report with an action.

Rules
- Anyone signed in reports a message they can see (pufferd/access.py: any other is 404, as
  everywhere) or a user, with a category (CATEGORIES) and an optional description (the
  multi-line text rule, pufferd/text.py). Not their own message, not themself (422). The report
  keeps the message as it was reported (type, text, time): an edit or a deletion does not erase
  the evidence.
- One open report per person and target: reporting the same message or user again while the
  first report is open is 409, naming that report.
- The reporter sees their own reports and their state (open, resolved, dismissed), not the
  action taken nor who took it, and gets a `report_resolved` notification when a report closes.
- Moderators list the queue newest first, by state and type. A report shows the message as it
  is now (or that it is gone) and as reported, its files, up to CONTEXT messages before and after
  it, the chat's card, and the reported user's card with how often they were reported.
- Resolving applies the action in the same transaction as the resolution: `dismiss` (state
  dismissed), `delete` (removes the message: message reports only), `timeout` (with `until`) or
  `ban` of the reported user (pufferd/moderation.py; state resolved). When the action is refused
  (the author outranks the moderator, the message is gone, the user is banned already...) nothing
  changes and the report stays open. Every other open report of the same target closes with it.
  Audited as `report_resolved`, besides the action's own entry.
"""
from __future__ import annotations

from dataclasses import dataclass

import apsw

from pufferd import access, audit, moderation, privileges, text
from pufferd.audit import ClientInfo
from pufferd.clock import iso
from pufferd.context import Context
from pufferd.db import chats_q, messages_q, notifications_q, reports_q, system_q, users_q
from pufferd.db.chats_q import Chat
from pufferd.db.messages_q import Message
from pufferd.db.reports_q import AttachedFile, Report
from pufferd.db.users_q import User
from pufferd.errors import Conflict, NotFound, RuleViolation, field_error
from pufferd.privileges import Privilege

CATEGORIES = ("spam", "harassment", "hate", "violence", "sexual", "illegal", "impersonation", "other")
STATES = ("open", "resolved", "dismissed")
ACTIONS = ("dismiss", "delete", "timeout", "ban")
DESCRIPTION_MAX = 2000
CONTEXT = 3  # messages shown before and after a reported one
REPORT_RESOLVED = "report_resolved"  # the notification a reporter gets


# filing ----------------------------------------------------------------------------------------

async def file_report(ctx: Context, reporter: User, *, message_id: int | None = None, user_id: int | None = None,
               category: str, description: str | None) -> Report:
    """Report a message the reporter sees, or a user (exactly one of MESSAGE_ID and USER_ID)."""
    if (message_id is None) == (user_id is None):
        raise RuleViolation("give either message_id or user_id")
    if category not in CATEGORIES:
        raise field_error("category", f"one of {', '.join(CATEGORIES)}")
    if description is not None:
        try:
            description = text.multi_line(description) or None
        except ValueError as exc:
            raise field_error("description", str(exc)) from None
        if description is not None and len(description) > DESCRIPTION_MAX:
            raise field_error("description", f"at most {DESCRIPTION_MAX} characters")
    now = ctx.clock.time()

    def file_txn(conn: apsw.Connection) -> Report:
        message: Message | None = None
        if message_id is not None:
            message, _ = access.visible_message(conn, message_id, reporter.id)
            if message.sender_id == reporter.id:
                raise field_error("message_id", "you cannot report your own message")
            target_type, target_id, reported = "message", message.id, message.sender_id
        else:
            assert user_id is not None
            if user_id == reporter.id:
                raise field_error("user_id", "you cannot report yourself")
            if users_q.get(conn, user_id) is None:
                raise NotFound("User not found")
            target_type, target_id, reported = "user", user_id, user_id
        existing = reports_q.open_report_of(conn, reporter.id, reports_q.target_of(target_type, target_id))
        if existing is not None:
            raise Conflict(f"You already reported this {target_type}: report {existing.id} is open")
        return reports_q.insert(conn, reporter_id=reporter.id, target_type=target_type, target_id=target_id,
                                reported_user_id=reported, category=category, description=description,
                                now=now, message=message)

    return await ctx.db.write(file_txn)


async def mine(ctx: Context, reporter: User, *, state: str | None, limit: int, before_id: int | None) -> list[Report]:
    """The reporter's own reports, newest first."""
    return await ctx.db.read(lambda conn: reports_q.page(conn, limit=limit, before_id=before_id, state=state,
                                                         reporter_id=reporter.id))


# the queue -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Listed:
    """A report with the usernames of the people it names (None when they no longer exist)."""

    report: Report
    reporter_username: str | None
    reported_username: str | None
    resolver_username: str | None


def _listed(conn: apsw.Connection, found: list[Report]) -> list[Listed]:
    ids = {i for r in found for i in (r.reporter_id, r.reported_user_id, r.resolved_by) if i is not None}
    names = system_q.usernames(conn, ids)

    def name(user_id: int | None) -> str | None:
        return names.get(user_id) if user_id is not None else None

    return [Listed(r, name(r.reporter_id), name(r.reported_user_id), name(r.resolved_by)) for r in found]


async def queue(ctx: Context, moderator: User, *, state: str | None, target_type: str | None, limit: int,
                before_id: int | None) -> list[Listed]:
    """Reports newest first (RESOLVE_REPORTS), narrowed by STATE and TARGET_TYPE."""
    privileges.require(moderator, Privilege.RESOLVE_REPORTS)
    return await ctx.db.read(lambda conn: _listed(conn, reports_q.page(
        conn, limit=limit, before_id=before_id, state=state, target_type=target_type)))


@dataclass(frozen=True, slots=True)
class Detail:
    """A report with what a moderator needs to decide on it."""

    listed: Listed
    message: Message | None            # the reported message as it is now; None: gone (or a user report)
    files: list[AttachedFile]          # its attachments
    context: list[Message]             # up to CONTEXT messages either side, oldest first
    senders: dict[int, str]            # usernames of the senders shown
    chat: Chat | None
    members_count: int
    reported_user: User | None
    reports_against: tuple[int, int]   # reports naming the reported user: all, open


async def detail(ctx: Context, moderator: User, report_id: int) -> Detail:
    """One report with its content and context (RESOLVE_REPORTS)."""
    privileges.require(moderator, Privilege.RESOLVE_REPORTS)

    def detail_txn(conn: apsw.Connection) -> Detail:
        report = reports_q.get(conn, report_id)
        if report is None:
            raise NotFound("Report not found")
        message = messages_q.get(conn, report.message_id) if report.message_id is not None else None
        context = (reports_q.around(conn, report.chat_id, report.message_id, CONTEXT)
                   if report.chat_id is not None and report.message_id is not None else [])
        senders = {m.sender_id for m in (*context, *([message] if message else [])) if m.sender_id is not None}
        chat = chats_q.get(conn, report.chat_id) if report.chat_id is not None else None
        reported = users_q.get(conn, report.reported_user_id) if report.reported_user_id is not None else None
        return Detail(
            _listed(conn, [report])[0], message,
            reports_q.attachments(conn, message.id) if message else [], context, system_q.usernames(conn, senders),
            chat, reports_q.members_count(conn, chat.id) if chat else 0, reported,
            reports_q.count_against(conn, reported.id) if reported else (0, 0))

    return await ctx.db.read(detail_txn)


# resolving -------------------------------------------------------------------------------------

async def resolve(ctx: Context, moderator: User, report_id: int, *, action: str, reason: str,
                  until: float | None = None, client: ClientInfo) -> Listed:
    """Resolve an open report with ACTION (the rules above), all in one transaction."""
    privileges.require(moderator, Privilege.RESOLVE_REPORTS)
    if action not in ACTIONS:
        raise field_error("action", f"one of {', '.join(ACTIONS)}")
    if (action == "timeout") != (until is not None):
        raise field_error("until", "until is required with the timeout action, and only with it")
    now = ctx.clock.time()
    outcome = moderation.Outcome()

    def resolve_txn(conn: apsw.Connection) -> Listed:
        report = reports_q.get(conn, report_id)
        if report is None:
            raise NotFound("Report not found")
        if report.state != "open":
            raise Conflict(f"Report {report.id} is {report.state} already")
        _apply_txn(conn, moderator, report, action, reason, until, client, now, outcome)
        closed = reports_q.resolve_open(conn, report.target, state="dismissed" if action == "dismiss" else "resolved",
                                        action=action, reason=reason, timeout_until=until, by=moderator.id, now=now)
        for other in (reports_q.get(conn, i) for i in closed):
            if other is not None and other.reporter_id is not None:
                outcome.notes.append(notifications_q.insert(
                    conn, other.reporter_id, REPORT_RESOLVED, {"report_id": other.id, "state": other.state}, now))
        audit.record(
            conn, "report_resolved", client=client, now=now, user_id=report.reported_user_id,
            actor=f"user:{moderator.id}", target=f"report:{report.id}",
            detail={"action": action, "reason": reason, "reports": closed, "target": report.target,
                    **({"until": iso(until)} if until is not None else {})})
        return _listed(conn, [reports_q.get(conn, report.id)])[0]  # type: ignore[list-item]

    listed = await ctx.db.write(resolve_txn)
    moderation.publish(ctx, outcome)
    return listed


def _apply_txn(conn: apsw.Connection, moderator: User, report: Report, action: str, reason: str,
               until: float | None, client: ClientInfo, now: float, outcome: moderation.Outcome) -> None:
    if action == "dismiss":
        return
    if action == "delete":
        if report.message_id is None:
            raise field_error("action", "delete applies to message reports; a user report is resolved with"
                                        " dismiss, timeout or ban")
        if messages_q.get(conn, report.message_id) is None:
            raise Conflict("The reported message is gone already (deleted by its author or a moderator):"
                           " dismiss the report, or act on its author")
        moderation.remove_message_txn(conn, moderator, report.message_id, reason=reason, client=client, now=now,
                                      outcome=outcome, report_id=report.id)
        return
    if report.reported_user_id is None or users_q.get(conn, report.reported_user_id) is None:
        raise Conflict("The reported user's account no longer exists: dismiss the report")
    if action == "timeout":
        assert until is not None
        moderation.timeout_txn(conn, moderator, report.reported_user_id, until=until, reason=reason, client=client,
                               now=now, outcome=outcome, report_id=report.id)
    else:
        moderation.ban_txn(conn, moderator, report.reported_user_id, reason=reason, client=client, now=now,
                           outcome=outcome, report_id=report.id)
