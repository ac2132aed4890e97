"""File management (issue 13, item 7; `/api/v1/cdn`): a user's own uploads and quota, and the
admins' view of every file (MANAGE_FILES).

A file is a stored media object (pufferd/media.py): what a user uploaded, under its object key.
Deleting one removes it from every message it is attached to (forwards included: they share the
upload) — each such message moves its updated_at and is published to its chat as
`message_updated` — and deletes the object; its blob loses a reference and the media janitor
removes the bytes when nothing else uses that content. A file in use as an avatar is refused to
its owner (409: change the avatar first); an admin's deletion clears that avatar too. A
moderator (DELETE_CONTENT) deletes any file of someone they outrank the admin's way, as content
moderation (pufferd/moderation.py): the uploader gets a `file_removed` notification with the reason.

Quota: `user_storage_quota_bytes` per user (0: none) counts every object the user uploaded or
reserved (a pending upload URL holds its size), as uploaded: content shared with other files
still counts for each of them. It is enforced when an upload URL is requested (media.py, 403).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import apsw

from pufferd import audit, media, messages, moderation, notifications
from pufferd.audit import ClientInfo
from pufferd.context import Context
from pufferd.db import cdn_q, media_q, messages_q, notifications_q, stats_q
from pufferd.db.cdn_q import Cursor, Duplicates, Uses
from pufferd.db.media_q import MediaObject
from pufferd.db.users_q import User
from pufferd.errors import BadRequest, Conflict, NotFound
from pufferd.privileges import Privilege, require

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileEntry:
    obj: MediaObject
    uses: Uses


@dataclass(frozen=True)
class Page:
    files: list[FileEntry]
    next_cursor: str | None


def encode_cursor(obj: MediaObject) -> str:
    return f"{obj.created_at!r}_{obj.object_key[len(media.KEY_PREFIX):]}"


def decode_cursor(value: str | None) -> Cursor | None:
    """The (created_at, object_key) a `cursor` parameter names; 400 when it is not one we gave."""
    if not value:
        return None
    at, _, name = value.partition("_")
    try:
        return float(at), media.key_from_name(name)
    except (ValueError, NotFound):
        raise BadRequest("cursor is not one this server returned (use next_cursor of the previous page)") from None


def _page(conn: apsw.Connection, objs: list[MediaObject], limit: int) -> Page:
    found = cdn_q.uses(conn, [o.object_key for o in objs])
    return Page([FileEntry(o, found[o.object_key]) for o in objs],
                encode_cursor(objs[-1]) if len(objs) == limit else None)


# a user's own files ----------------------------------------------------------------------------

async def my_files(ctx: Context, user: User, *, limit: int, cursor: str | None) -> Page:
    """USER's stored uploads, newest first, with where each is used."""
    after = decode_cursor(cursor)

    def list_txn(conn: apsw.Connection) -> Page:
        return _page(conn, cdn_q.list_files(conn, limit=limit, cursor=after, uploader_id=user.id), limit)

    return await ctx.db.read(list_txn)


@dataclass(frozen=True)
class Usage:
    files: int
    bytes: int
    quota_bytes: int | None  # None: no quota
    by_type: dict[str, tuple[int, int]]

    @property
    def remaining_bytes(self) -> int | None:
        return None if self.quota_bytes is None else max(0, self.quota_bytes - self.bytes)


async def my_usage(ctx: Context, user: User) -> Usage:
    """What USER's files take against user_storage_quota_bytes (reserved uploads included)."""
    def usage_txn(conn: apsw.Connection) -> Usage:
        files, used = cdn_q.usage(conn, user.id)
        quota = ctx.settings.user_storage_quota_bytes
        return Usage(files, used, quota or None, cdn_q.usage_by_type(conn, user.id))

    return await ctx.db.read(usage_txn)


# deleting --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Deleted:
    obj: MediaObject
    messages_updated: int
    avatars_cleared: int


async def delete_file(ctx: Context, user: User, name: str) -> Deleted:
    """USER deletes a file they uploaded: gone from every message; refused while it is an avatar."""
    return await _delete(ctx, user, name, admin=False, reason=None, client=None)


async def admin_delete_file(ctx: Context, admin: User, name: str, *, reason: str, client: ClientInfo) -> Deleted:
    """An admin (MANAGE_FILES) deletes any file, with a reason (audited); avatars using it are cleared."""
    require(admin, Privilege.MANAGE_FILES)
    return await _delete(ctx, admin, name, admin=True, reason=reason, client=client)


async def moderate_delete_file(ctx: Context, moderator: User, name: str, *, reason: str,
                               client: ClientInfo) -> Deleted:
    """A moderator (DELETE_CONTENT) deletes any file of someone they outrank as content moderation:
    as `admin_delete_file`, and the uploader is notified (`file_removed`, with the reason)."""
    require(moderator, Privilege.DELETE_CONTENT)
    return await _delete(ctx, moderator, name, admin=True, reason=reason, client=client, as_moderation=True)


async def _delete(ctx: Context, actor: User, name: str, *, admin: bool, reason: str | None,
                  client: ClientInfo | None, as_moderation: bool = False) -> Deleted:
    key = media.key_from_name(name)
    now = ctx.clock.time()
    notes: list[notifications_q.Notification] = []

    def delete_txn(conn: apsw.Connection) -> tuple[Deleted, list[messages.MessageEvent]]:
        notes.clear()
        obj = media_q.get_object(conn, key)
        if obj is None or (not admin and obj.uploader_id != actor.id):
            raise NotFound("File not found")
        if as_moderation:
            moderation.check_may_moderate_content_txn(conn, actor, obj.uploader_id)
            if obj.uploader_id is not None and obj.uploader_id != actor.id:
                notes.append(notifications_q.insert(
                    conn, obj.uploader_id, moderation.FILE_REMOVED,
                    {"file_name": obj.file_name, "file_type": obj.file_type, "reason": reason or "",
                     "removed_by": "moderation"}, now))
        found = cdn_q.uses(conn, [key])[key]
        if not admin and (found.avatar_user_ids or found.avatar_chat_ids):
            where = ("your profile picture" if found.avatar_user_ids else
                     f"the avatar of chat {found.avatar_chat_ids[0]}")
            raise Conflict(f"This file is in use as {where}; set another avatar (or none) before deleting it")
        if admin:
            cdn_q.clear_avatars(conn, found.avatar_user_ids, found.avatar_chat_ids, now)
        attached = cdn_q.attached_to(conn, key)
        cdn_q.remove(conn, key, [a.message_id for a in attached], now)
        # each sender gets their own view of the change, everyone else the shared one
        events = [messages.updated_txn(conn, m.sender_id or 0, m)
                  for m in (messages_q.get(conn, a.message_id) for a in attached) if m is not None]
        if admin:
            assert client is not None
            audit.record(conn, "file_deleted", client=client, now=now, user_id=obj.uploader_id,
                         actor=f"user:{actor.id}",
                         detail={"target": f"file:{key}", "reason": reason or "", "file_name": obj.file_name,
                                 **({"moderation": True} if as_moderation else {}),
                                 "file_type": obj.file_type, "file_size": obj.file_size,
                                 "messages": len(attached),
                                 "avatars": len(found.avatar_user_ids) + len(found.avatar_chat_ids)})
        return Deleted(obj, len(attached), len(found.avatar_user_ids) + len(found.avatar_chat_ids)), events

    deleted, events = await ctx.db.write(delete_txn)
    messages.publish(ctx, events)
    notifications.publish(ctx, notes)
    return deleted


# everyone's files (MANAGE_FILES) ---------------------------------------------------------------

async def all_files(ctx: Context, admin: User, *, limit: int, cursor: str | None, uploader_id: int | None,
                    file_type: str | None, unused: bool | None, min_size: int | None,
                    max_size: int | None) -> Page:
    """Every stored file, newest first, filtered; with where each is used."""
    require(admin, Privilege.MANAGE_FILES)
    after = decode_cursor(cursor)

    def list_txn(conn: apsw.Connection) -> Page:
        objs = cdn_q.list_files(conn, limit=limit, cursor=after, uploader_id=uploader_id, file_type=file_type,
                                unused=unused, min_size=min_size, max_size=max_size)
        return _page(conn, objs, limit)

    return await ctx.db.read(list_txn)


@dataclass(frozen=True)
class Summary:
    by_type: dict[str, tuple[int, int]]  # stored files and their bytes (as uploaded) per type
    blobs: int                            # distinct contents on disk
    blob_bytes: int
    duplicates: Duplicates
    pending_uploads: int
    pending_bytes: int

    @property
    def files(self) -> int:
        return sum(f for f, _ in self.by_type.values())

    @property
    def bytes(self) -> int:
        return sum(b for _, b in self.by_type.values())


async def summary(ctx: Context, admin: User) -> Summary:
    """Totals by type, and what content addressing saved (files sharing one stored content)."""
    require(admin, Privilege.MANAGE_FILES)

    def summary_txn(conn: apsw.Connection) -> Summary:
        totals = stats_q.totals(conn)
        by_type = {n[len("files:"):]: (v, totals.get(f"bytes:{n[len('files:'):]}", 0))
                   for n, v in sorted(totals.items()) if n.startswith("files:") and v > 0}
        pending_n, pending_b = cdn_q.pending(conn)
        return Summary(by_type, totals.get("blobs", 0), totals.get("blob_bytes", 0), cdn_q.duplicates(conn),
                       pending_n, pending_b)

    return await ctx.db.read(summary_txn)


async def cleanup_now(ctx: Context, admin: User, client: ClientInfo) -> media.Collected:
    """Run the media janitor now (expired upload URLs, never-attached uploads, unused blobs); audited."""
    require(admin, Privilege.MANAGE_FILES)
    state = ctx.tasks.get("media_janitor")
    if state is not None:  # through the board, so the task list shows this run
        await ctx.tasks.run(state)
        if state.last_result != "ok":
            raise RuntimeError(f"the media janitor failed: {state.last_detail.get('error')}")
        result = media.Collected(**{k: int(state.last_detail.get(k, 0)) for k in ("expired_uploads", "unattached",
                                                                                 "blobs")})
    else:
        result = await media.collect_garbage(ctx)
    now = ctx.clock.time()
    await ctx.db.write(lambda conn: audit.record(conn, "media_cleanup", client=client, now=now, user_id=admin.id,
                                                 detail={"target": "media", "expired_uploads": result.expired_uploads,
                                                         "unattached": result.unattached, "blobs": result.blobs}))
    return result
