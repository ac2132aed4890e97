"""File management (issue 13, item 7; README "File management"): a user's own files and quota,
and every file for admins (MANAGE_FILES). `{name}` is the last segment of a file_url."""
from __future__ import annotations

from aiohttp import web

from pufferd import cdn
from pufferd.web.client import client_info
from pufferd.web.keys import CTX, USER
from pufferd.web.route import Router
from pufferd.web.schemas.cdn import (
    AdminDeleteRequest,
    AllFilesQuery,
    CleanupRead,
    DeletedRead,
    FilePage,
    MyFilesQuery,
    SummaryRead,
    UsageRead,
)

routes = Router("cdn")


@routes.get("/api/v1/cdn/files", query=MyFilesQuery, response=FilePage)
async def my_files(request: web.Request, query: MyFilesQuery) -> FilePage:
    """The caller's uploads, newest first, each with where it is used (messages, avatars)."""
    ctx = request.app[CTX]
    page = await cdn.my_files(ctx, request[USER], limit=query.limit, cursor=query.cursor)
    return FilePage.of(page, ctx.settings)


@routes.get("/api/v1/cdn/usage", response=UsageRead)
async def my_usage(request: web.Request) -> UsageRead:
    """The caller's storage use against their quota (`user_storage_quota_bytes`)."""
    return UsageRead.of(await cdn.my_usage(request.app[CTX], request[USER]))


@routes.delete("/api/v1/cdn/files/{name}", response=DeletedRead)
async def delete_my_file(request: web.Request, name: str) -> DeletedRead:
    """Delete one of the caller's files: it disappears from every message it is attached to
    (`message_updated` to each chat). 409 while it is the caller's or a chat's avatar; 404 for a
    file that is not the caller's."""
    return DeletedRead.of(await cdn.delete_file(request.app[CTX], request[USER], name))


@routes.get("/api/v1/cdn/admin/files", query=AllFilesQuery, response=FilePage)
async def all_files(request: web.Request, query: AllFilesQuery) -> FilePage:
    """Every stored file, newest first, filtered by uploader, type, unused and size (MANAGE_FILES)."""
    ctx = request.app[CTX]
    page = await cdn.all_files(ctx, request[USER], limit=query.limit, cursor=query.cursor,
                               uploader_id=query.uploader_id, file_type=query.file_type, unused=query.unused,
                               min_size=query.min_size, max_size=query.max_size)
    return FilePage.of(page, ctx.settings)


@routes.get("/api/v1/cdn/admin/summary", response=SummaryRead)
async def summary(request: web.Request) -> SummaryRead:
    """Totals by type and the duplicates content addressing stored once (MANAGE_FILES)."""
    return SummaryRead.of(await cdn.summary(request.app[CTX], request[USER]))


@routes.delete("/api/v1/cdn/admin/files/{name}", body=AdminDeleteRequest, response=DeletedRead)
async def admin_delete_file(request: web.Request, name: str, body: AdminDeleteRequest) -> DeletedRead:
    """Delete any file with a reason (MANAGE_FILES, audited): removed from every message, and
    cleared where it is an avatar."""
    deleted = await cdn.admin_delete_file(request.app[CTX], request[USER], name, reason=body.reason,
                                          client=client_info(request))
    return DeletedRead.of(deleted)


@routes.post("/api/v1/cdn/admin/cleanup", response=CleanupRead)
async def cleanup(request: web.Request) -> CleanupRead:
    """Run the orphan clean-up (the media janitor) now (MANAGE_FILES, audited)."""
    result = await cdn.cleanup_now(request.app[CTX], request[USER], client_info(request))
    return CleanupRead(expired_uploads=result.expired_uploads, unattached=result.unattached, blobs=result.blobs)
