"""Moderation and reports (issue 13, item 3; README "Moderation and reports"): bans, timeouts and
removing content under /api/v1/system/moderation, the report queue under /api/v1/system/reports
(moderators), and reporting under /api/v1/reports (everyone signed in). The rules, privilege checks
included, live in pufferd/moderation.py and pufferd/reports.py."""
from __future__ import annotations

from aiohttp import web

from pufferd import cdn, moderation, reports
from pufferd.web.client import client_info
from pufferd.web.keys import CTX, USER
from pufferd.web.route import Router
from pufferd.web.schemas.cdn import DeletedRead
from pufferd.web.schemas.moderation import (
    BanRequest,
    MyReportPage,
    MyReportRead,
    MyReportsQuery,
    QueueQuery,
    RemoveRequest,
    ReportCreate,
    ReportDetailRead,
    ReportPage,
    ReportRead,
    ResolveRequest,
    TimeoutRequest,
)
from pufferd.web.schemas.system import ReasonQuery, SystemUserRead, epoch

routes = Router("moderation")
MOD = "/api/v1/system/moderation"


# bans and timeouts -------------------------------------------------------------------------------
@routes.post(MOD + "/users/{user_id}/ban", body=BanRequest, response=SystemUserRead)
async def ban(request: web.Request, user_id: int, body: BanRequest) -> SystemUserRead:
    """Ban a user server-wide (BAN), with a reason. They are signed out everywhere (their sockets get
    `account_banned`, then close with 4001) and cannot sign in or use a token until unbanned; their
    data stays. Only people the caller outranks (403); 409 when banned already."""
    ctx = request.app[CTX]
    user = await moderation.ban(ctx, request[USER], user_id, reason=body.reason, client=client_info(request))
    return SystemUserRead.of(user, ctx.clock.time())


@routes.delete(MOD + "/users/{user_id}/ban", query=ReasonQuery, response=SystemUserRead)
async def unban(request: web.Request, user_id: int, query: ReasonQuery) -> SystemUserRead:
    """Lift a ban (BAN): the user may sign in again. 409 when they are not banned."""
    ctx = request.app[CTX]
    user = await moderation.unban(ctx, request[USER], user_id, reason=query.reason, client=client_info(request))
    return SystemUserRead.of(user, ctx.clock.time())


@routes.put(MOD + "/users/{user_id}/timeout", body=TimeoutRequest, response=SystemUserRead)
async def timeout(request: web.Request, user_id: int, body: TimeoutRequest) -> SystemUserRead:
    """Time a user out until a time (BAN), with a reason: they read as before but cannot send,
    edit, react, upload, create chats or invite (403 naming the end) until it ends by itself.
    They get `account_restricted`. A new timeout replaces the previous one."""
    ctx = request.app[CTX]
    user = await moderation.timeout(ctx, request[USER], user_id, until=body.until.timestamp(), reason=body.reason,
                                    client=client_info(request))
    return SystemUserRead.of(user, ctx.clock.time())


@routes.delete(MOD + "/users/{user_id}/timeout", query=ReasonQuery, response=SystemUserRead)
async def lift_timeout(request: web.Request, user_id: int, query: ReasonQuery) -> SystemUserRead:
    """End a timeout now (BAN); the user gets `account_restricted` with `until` null. 409 when
    none holds."""
    ctx = request.app[CTX]
    user = await moderation.lift_timeout(ctx, request[USER], user_id, reason=query.reason,
                                         client=client_info(request))
    return SystemUserRead.of(user, ctx.clock.time())


# content ---------------------------------------------------------------------------------------
@routes.delete(MOD + "/messages/{message_id}", body=RemoveRequest, status=204)
async def remove_message(request: web.Request, message_id: int, body: RemoveRequest) -> None:
    """Remove any message as content moderation (DELETE_CONTENT), with a reason: the chat's members
    get `message_deleted`, the author a `message_removed` notification with the reason."""
    await moderation.remove_message(request.app[CTX], request[USER], message_id, reason=body.reason,
                                    client=client_info(request))


@routes.delete(MOD + "/files/{name}", body=RemoveRequest, response=DeletedRead)
async def remove_file(request: web.Request, name: str, body: RemoveRequest) -> DeletedRead:
    """Delete any file as content moderation (DELETE_CONTENT), with a reason: as the file
    administrators' delete (gone from every message, `message_updated` to their chats, avatars
    cleared); the uploader gets a `file_removed` notification with the reason."""
    deleted = await cdn.moderate_delete_file(request.app[CTX], request[USER], name, reason=body.reason,
                                             client=client_info(request))
    return DeletedRead.of(deleted)


# the report queue ------------------------------------------------------------------------------
@routes.get("/api/v1/system/reports", query=QueueQuery, response=ReportPage)
async def list_reports(request: web.Request, query: QueueQuery) -> ReportPage:
    """Reports newest first (RESOLVE_REPORTS), by `state` (default `open`; `all`) and `type`
    (`message`, `user`); pass `next_cursor` as `cursor` for older ones."""
    found = await reports.queue(request.app[CTX], request[USER], state=None if query.state == "all" else query.state,
                                target_type=query.type, limit=query.limit + 1, before_id=query.cursor)
    page, more = found[:query.limit], len(found) > query.limit
    return ReportPage(reports=[ReportRead.of(x) for x in page], next_cursor=page[-1].report.id if more else None)


@routes.get("/api/v1/system/reports/{report_id}", response=ReportDetailRead)
async def get_report(request: web.Request, report_id: int) -> ReportDetailRead:
    """One report (RESOLVE_REPORTS) with the reported message as it is now and as reported, its
    files, up to 3 messages before and after it, the chat's card and the reported user's card."""
    ctx = request.app[CTX]
    found = await reports.detail(ctx, request[USER], report_id)
    return ReportDetailRead.of(found, ctx.settings, ctx.clock.time())


@routes.post("/api/v1/system/reports/{report_id}/resolve", body=ResolveRequest, response=ReportRead)
async def resolve_report(request: web.Request, report_id: int, body: ResolveRequest) -> ReportRead:
    """Resolve an open report (RESOLVE_REPORTS) with `dismiss`, `delete` (the message), `timeout`
    (with `until`) or `ban`, applied in the same transaction: when the action is refused the report
    stays open. Every other open report of the same message or user closes with it."""
    listed = await reports.resolve(request.app[CTX], request[USER], report_id, action=body.action,
                                   reason=body.reason, until=epoch(body.until), client=client_info(request))
    return ReportRead.of(listed)


# reporting -------------------------------------------------------------------------------------
@routes.post("/api/v1/reports", body=ReportCreate, response=MyReportRead, status=201)
async def create_report(request: web.Request, body: ReportCreate) -> MyReportRead:
    """Report a message you can see (others are 404) or a user, with a category and an optional
    description. 409 while your earlier report of the same message or user is open."""
    report = await reports.file_report(request.app[CTX], request[USER], message_id=body.message_id,
                                       user_id=body.user_id, category=body.category, description=body.description)
    return MyReportRead.of(report)


@routes.get("/api/v1/reports/mine", query=MyReportsQuery, response=MyReportPage)
async def my_reports(request: web.Request, query: MyReportsQuery) -> MyReportPage:
    """Your reports newest first, with their state (`open`, `resolved`, `dismissed`)."""
    found = await reports.mine(request.app[CTX], request[USER], state=query.state, limit=query.limit + 1,
                               before_id=query.cursor)
    page, more = found[:query.limit], len(found) > query.limit
    return MyReportPage(reports=[MyReportRead.of(r) for r in page], next_cursor=page[-1].id if more else None)
