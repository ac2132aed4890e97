"""Media: presigned uploads, attachments, downloads, avatars and the file lifecycle.

API reference 3.5 and 9, CONTRACT.md "Uploads". The bucket lives on this server:

    file_url    <base_url>/media/bucket/uploads/<32 random chars>.<ext>     (object_key uploads/...)
    upload_url  file_url?exp=<unix>&sig=<HMAC over PUT, key, type, size, exp, uploader>
    signed GET  file_url?uid=<viewer>&sid=<session>&exp=<unix>&sig=<HMAC over GET, key, viewer,
                session, exp> (POST /api/v1/media/download-url hands one out, for <img>/<video>
                tags that cannot send an Authorization header; it stops working when the sign-in
                session it was issued to ends)

Bytes go to the BlobStore (encrypted, content-addressed, stored once); the database holds one
media_objects row per object_key and counts blob references by trigger (migration 0040).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import secrets
import shutil
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import apsw

from pufferd import access, federation, messages, periodic
from pufferd.blobs import BlobCorrupt, BlobError, BlobNotFound, BlobReader, BlobWriter, UrlSigner
from pufferd.blobs.local import LocalBlobStore
from pufferd.blobs.sniff import HEAD_BYTES, detect, matches
from pufferd.config import Settings
from pufferd.context import Context
from pufferd.db import accounts_q, cdn_q, media_q, messages_q
from pufferd.db.media_q import Attachment, ChatAttachment, MediaObject
from pufferd.db.users_q import User
from pufferd.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RuleViolation,
    Unauthorized,
    Unavailable,
    field_error,
)

log = logging.getLogger("pufferd.media")

BUCKET_PATH = "/media/bucket"
KEY_PREFIX = "uploads/"

# API reference 9: the MIME allow-list, and the extension each type's object key carries
EXTENSIONS: dict[str, str] = {
    "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp",
    "video/mp4": "mp4", "video/webm": "webm",
    "audio/mpeg": "mp3", "audio/ogg": "ogg", "audio/webm": "webm", "audio/wav": "wav",
    "application/pdf": "pdf", "application/zip": "zip", "text/plain": "txt",
}
ALLOWED_TYPES = tuple(EXTENSIONS)
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{32}\.(?:" + "|".join(sorted(set(EXTENSIONS.values()))) + ")$")

MAX_ATTACHMENTS_PER_MESSAGE = 10
UPLOAD_IDLE_TIMEOUT = 60.0  # seconds a PUT may stall before it is dropped
GC_BATCH = 500
# an 'uploading' row this long past its URL's expiry lost its PUT without the reset (a crash that
# start-up recovery has not seen yet, a failed reset): the janitor removes it like a pending one
STALE_UPLOAD_SECONDS = 24 * 3600


# keys and URLs -------------------------------------------------------------------------------

def key_from_name(name: str) -> str:
    """The object key for the last path segment of a bucket URL; anything else is 404.

    The shape is strict ([A-Za-z0-9_-]{32}.ext), so no traversal or odd name reaches storage.
    """
    if not NAME_RE.match(name):
        raise NotFound("File not found")
    return KEY_PREFIX + name


def object_url(settings: Settings, object_key: str) -> str:
    """The absolute file_url of OBJECT_KEY on this server."""
    return f"{settings.base_url}{BUCKET_PATH}/{object_key}"


def key_from_url(settings: Settings, url: str) -> str | None:
    """The object key when URL is exactly a file_url of this server's bucket, else None."""
    prefix = f"{settings.base_url}{BUCKET_PATH}/{KEY_PREFIX}"
    if not isinstance(url, str) or not url.startswith(prefix):
        return None
    parts = urlsplit(url)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return None
    name = url[len(prefix):]
    return KEY_PREFIX + name if NAME_RE.match(name) else None


def _signer(ctx: Context) -> UrlSigner:
    return UrlSigner(ctx.keys.derive("media url signing"))


# upload URLs ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class UploadTicket:
    upload_url: str
    file_url: str
    object_key: str
    expires_in: int
    required_headers: dict[str, str] = field(default_factory=dict)


async def create_upload_url(ctx: Context, user: User, *, file_name: str, file_type: str,
                            file_size: int) -> UploadTicket:
    """Reserve an object key and sign a single-use PUT URL for exactly this type and size."""
    s = ctx.settings
    if file_type not in EXTENSIONS:
        raise field_error("file_type", f"File type not allowed; allowed: {', '.join(ALLOWED_TYPES)}")
    if file_size > s.max_upload_size_bytes:
        raise field_error("file_size", f"File too large: at most {s.max_upload_size_bytes} bytes")
    ctx.limiter.hit("upload_url", str(user.id), s.upload_url_rate_limit_per_minute)
    key = f"{KEY_PREFIX}{secrets.token_urlsafe(24)}.{EXTENSIONS[file_type]}"
    expires = int(ctx.clock.time()) + s.upload_url_ttl_seconds
    now = ctx.clock.time()

    def reserve_txn(conn: apsw.Connection) -> None:
        access.check_not_timed_out(conn, user.id, now)
        # bytes a user may hold that nothing refers to yet (they expire, but could fill the disk first)
        quota = max(s.unattached_upload_quota_bytes, s.max_upload_size_bytes)
        held = media_q.unattached_bytes(conn, user.id)
        if held + file_size > quota:
            raise field_error("file_size", f"Upload quota exceeded: files not yet attached may hold at most "
                                            f"{quota} bytes ({held} in use); attach them or wait for unused "
                                            f"upload URLs to expire")
        if s.user_storage_quota_bytes:  # every file the user keeps (README "File management")
            files, used = cdn_q.usage(conn, user.id)
            if used + file_size > s.user_storage_quota_bytes:
                raise Forbidden(f"Storage quota exceeded: your {files} files use {used} of your "
                                f"{s.user_storage_quota_bytes} bytes and this one needs {file_size} more; delete "
                                f"files you no longer need (GET /api/v1/cdn/files)")
        media_q.insert_object(conn, object_key=key, uploader_id=user.id, file_name=file_name,
                              file_type=file_type, file_size=file_size, upload_expires_at=expires, now=now)

    await ctx.db.write(reserve_txn)
    sig = _signer(ctx).sign("PUT", key, file_type, file_size, expires, user.id)
    file_url = object_url(s, key)
    return UploadTicket(upload_url=f"{file_url}?{urlencode({'exp': expires, 'sig': sig})}", file_url=file_url,
                        object_key=key, expires_in=s.upload_url_ttl_seconds,
                        required_headers={"Content-Type": file_type})


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


async def receive_upload(ctx: Context, name: str, *, exp: str | None, sig: str | None,
                         content_type: str | None, content_length: int | None,
                         body: AsyncIterable[bytes]) -> MediaObject:
    """Store the body of a PUT to a signed upload URL; on any refusal nothing is stored.

    Refusals: unknown key 404; missing, tampered, expired or already used signature 403; a
    Content-Type other than the signed one 400; a body longer than signed 413, shorter 400;
    bytes that do not carry the signed type's magic signature 422.
    """
    key = key_from_name(name)
    if not sig or not exp:
        raise Forbidden("Upload URL is not signed")
    try:
        expires = int(exp)
    except ValueError:
        raise Forbidden("Upload URL signature is invalid") from None
    now = ctx.clock.time()
    signer = _signer(ctx)

    def claim_txn(conn: apsw.Connection) -> MediaObject:
        obj = media_q.get_object(conn, key)
        if obj is None:
            raise NotFound("File not found")
        if obj.uploader_id is None or expires != obj.upload_expires_at or not signer.verify(
                sig, "PUT", key, obj.file_type, obj.file_size, obj.upload_expires_at, obj.uploader_id):
            raise Forbidden("Upload URL signature is invalid")
        if expires < now:
            raise Forbidden("Upload URL has expired")
        if obj.state != "pending":
            raise Forbidden("Upload URL has already been used")
        if _media_type(content_type) != obj.file_type:
            raise BadRequest(f"Content-Type must be {obj.file_type}, as signed in the upload URL")
        if content_length is not None and content_length > obj.file_size:
            raise PayloadTooLarge(f"Body is larger than the signed file_size ({obj.file_size} bytes)")
        if content_length is not None and content_length < obj.file_size:
            raise BadRequest(f"Body is smaller than the signed file_size ({obj.file_size} bytes)")
        media_q.set_state(conn, key, expect="pending", state="uploading")
        return obj

    obj = await ctx.db.write(claim_txn)
    try:
        await _check_free_space(ctx, obj.file_size)
        return await _store_body(ctx, obj, body)
    except BaseException:
        # the URL stays usable until it expires: a failed PUT may be retried
        with contextlib.suppress(Exception):
            await ctx.db.write(lambda conn: media_q.set_state(conn, key, expect="uploading", state="pending"))
        raise


async def _check_free_space(ctx: Context, size: int) -> None:
    s = ctx.settings
    usage = await asyncio.get_running_loop().run_in_executor(None, shutil.disk_usage, s.blobs_dir)
    if usage.free < size + s.min_free_disk_bytes:
        raise Unavailable("Not enough free disk space to store this file")


async def _store_body(ctx: Context, obj: MediaObject, body: AsyncIterable[bytes]) -> MediaObject:
    writer = ctx.blobs.writer()
    head = bytearray()
    sniffed = False
    total = 0
    try:
        async for data in body:
            total += len(data)
            if total > obj.file_size:
                raise PayloadTooLarge(f"Body is larger than the signed file_size ({obj.file_size} bytes)")
            if not sniffed:
                head += data[:HEAD_BYTES - len(head)]
                if len(head) >= HEAD_BYTES:
                    _check_magic(obj.file_type, bytes(head))
                    sniffed = True
            await writer.write(data)
        if total < obj.file_size:
            raise BadRequest(f"Body is smaller than the signed file_size ({obj.file_size} bytes)")
        if not sniffed:
            _check_magic(obj.file_type, bytes(head))
        info = await writer.seal()
        now = ctx.clock.time()
        return await _place(ctx, writer, info.sha256, lambda conn: media_q.mark_stored(
            conn, obj.object_key, sha256=info.sha256, size=info.size, now=now))
    except BaseException:
        await writer.abort()
        raise


async def _place(ctx: Context, writer: BlobWriter, digest: str,
                 record_txn: Callable[[apsw.Connection], MediaObject]) -> MediaObject:
    """Move WRITER's sealed blob (DIGEST) to its address and record it with RECORD_TXN, under the
    store's lock; when the record fails, the blob visible but unrecorded is dropped unless another
    object uses it."""
    async with ctx.blobs.exclusive():
        await writer.place()
        try:
            return await ctx.db.write(record_txn)
        except BaseException:
            if not await ctx.db.read(lambda conn: media_q.blob_exists(conn, digest)):
                await ctx.blobs.delete(digest)
            raise


def _check_magic(file_type: str, head: bytes) -> None:
    if not matches(file_type, head):
        seen = detect(head)
        looks = f" (it looks like {seen})" if seen and seen != file_type else ""
        raise RuleViolation(f"File content does not match its type {file_type}{looks}")


# files fetched from other servers (pufferd/federation/remote_media.py) --------------------------

def fetched_type(claimed: str, head: bytes) -> str | None:
    """The allowed type the bytes of a fetched file are (HEAD: its first bytes): the type it
    claims when its bytes carry that type's signature, else the one they look like; text/plain
    only for a file that claims a text type (nearly any bytes look like text). None: not allowed."""
    if claimed in EXTENSIONS and claimed != "text/plain" and matches(claimed, head):
        return claimed
    seen = detect(head)
    if seen == "text/plain" and not claimed.startswith("text/"):
        return None
    return seen


async def store_fetched(ctx: Context, owner_id: int, *, file_name: str, claimed_type: str,
                        body: AsyncIterable[bytes], max_bytes: int) -> MediaObject:
    """Store a file another server serves as an upload of OWNER_ID (a remote user's shadow user):
    encrypted and content-addressed like an upload, its type sniffed from its bytes (fetched_type;
    CLAIMED_TYPE is never trusted alone), stored and not yet attached (attach_fetched_txn attaches
    it; discard_unattached drops it when nothing did). Refused, with nothing stored: more than
    MAX_BYTES, a type not allowed (RuleViolation), the owner's storage quota
    (user_storage_quota_bytes), too little free disk."""
    s = ctx.settings
    await _check_free_space(ctx, max_bytes)
    writer = ctx.blobs.writer()
    head = bytearray()
    file_type: str | None = None
    total = 0

    def typed() -> str:
        found = fetched_type(claimed_type, bytes(head))
        if found is None:
            raise RuleViolation(f"The file is not of an allowed type (it claims {claimed_type or 'nothing'})")
        return found
    try:
        async for data in body:
            total += len(data)
            if total > max_bytes:
                raise PayloadTooLarge(f"The file is larger than {max_bytes} bytes")
            if file_type is None:
                head += data[:HEAD_BYTES - len(head)]
                if len(head) >= HEAD_BYTES:
                    file_type = typed()
            await writer.write(data)
        if file_type is None:
            file_type = typed()
        info = await writer.seal()
        now = ctx.clock.time()
        key = f"{KEY_PREFIX}{secrets.token_urlsafe(24)}.{EXTENSIONS[file_type]}"
        kind = file_type

        def store_txn(conn: apsw.Connection) -> MediaObject:
            if s.user_storage_quota_bytes:
                _, used = cdn_q.usage(conn, owner_id)
                if used + info.size > s.user_storage_quota_bytes:
                    raise Forbidden(f"Storage quota exceeded: the sender's files here use {used} of "
                                    f"{s.user_storage_quota_bytes} bytes")
            media_q.insert_object(conn, object_key=key, uploader_id=owner_id, file_name=file_name,
                                  file_type=kind, file_size=info.size, upload_expires_at=int(now), now=now)
            media_q.set_state(conn, key, expect="pending", state="uploading")
            return media_q.mark_stored(conn, key, sha256=info.sha256, size=info.size, now=now)

        return await _place(ctx, writer, info.sha256, store_txn)
    except BaseException:
        await writer.abort()
        raise


def attach_fetched_txn(conn: apsw.Connection, message_id: int, chat_id: int, sender_id: int,
                       objects: list[MediaObject], now: float) -> bool:
    """Attach fetched OBJECTS (store_fetched) to the copy MESSAGE_ID of a remote Note, as its sender's
    files, unless it has attachments already (a redelivery); at most MAX_ATTACHMENTS_PER_MESSAGE.
    False when nothing was attached."""
    if not objects or media_q.count_attachments(conn, message_id):
        return False
    for obj in objects[:MAX_ATTACHMENTS_PER_MESSAGE]:
        media_q.insert_attachment(conn, message_id=message_id, chat_id=chat_id, uploader_id=sender_id,
                                  object_key=obj.object_key, file_type=obj.file_type, file_size=obj.file_size,
                                  waveform=None, now=now)
    return True


async def discard_unattached(ctx: Context, object_keys: list[str]) -> None:
    """Delete the objects of OBJECT_KEYS that nothing refers to yet, and the blobs no other object
    uses (a fetched file whose message was refused or failed leaves neither row nor file)."""
    if not object_keys:
        return
    async with ctx.blobs.exclusive():
        digests = await ctx.db.write(lambda conn: media_q.delete_unattached_objects(conn, object_keys))
        for digest in digests:
            await ctx.blobs.delete(digest)


# attachments ---------------------------------------------------------------------------------

async def attach(ctx: Context, user: User, *, message_id: int, file_url: str, file_type: str,
                 file_size: int, waveform: list[int] | None) -> Attachment:
    """Attach an uploaded file to a message: only its sender, only their own stored upload."""
    key = key_from_url(ctx.settings, file_url)
    if key is None:
        raise field_error("file_url", "file_url must be a file URL of this server's media bucket")
    now = ctx.clock.time()

    def attach_txn(conn: apsw.Connection) -> tuple[Attachment, messages.MessageEvent | None, bool]:
        """The attachment, message_updated when MessageRead changed (attachment_waveform), and
        whether the Note went to the queue for a remote counterpart (federation/outgoing.py)."""
        message = access.attachable_message(conn, message_id, user.id, now)
        obj = media_q.get_object(conn, key)
        if obj is None:
            raise NotFound("File not found")
        if obj.uploader_id != user.id:
            raise Forbidden("Only files you uploaded can be attached")
        if obj.state != "stored":
            raise Conflict("The file has not been uploaded yet")
        if obj.file_type != file_type:
            raise field_error("file_type", f"file_type does not match the uploaded file ({obj.file_type})")
        if obj.file_size != file_size:
            raise field_error("file_size", f"file_size does not match the uploaded file ({obj.file_size})")
        if media_q.attachment_exists(conn, message.id, key):
            raise Conflict("This file is already attached to the message")
        if media_q.count_attachments(conn, message.id) >= MAX_ATTACHMENTS_PER_MESSAGE:
            raise RuleViolation(f"A message has at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments")
        attachment = media_q.insert_attachment(conn, message_id=message.id, chat_id=message.chat_id,
                                               uploader_id=user.id, object_key=key, file_type=obj.file_type,
                                               file_size=obj.file_size, waveform=waveform, now=now)
        after = messages_q.get(conn, message.id)
        assert after is not None
        federation_out = federation.outgoing_if_enabled(ctx)
        federated = federation_out is not None and federation_out.attachment_txn(ctx, conn, after, now)
        if after.waveform == message.waveform:
            return attachment, None, federated
        # MessageRead.attachment_waveform changed: the chat hears message_updated
        return attachment, messages.updated_txn(conn, user.id, after), federated

    attachment, event, federated = await ctx.db.write(attach_txn)
    if event is not None:
        messages.publish(ctx, [event])
    if federated:
        ctx.federation.poke()
    return attachment


async def chat_attachments(ctx: Context, user: User, chat_id: int, *, limit: int,
                           before_id: int | None) -> list[ChatAttachment]:
    """A page of a chat's attachments, newest first, for its members (others: 404)."""
    def list_txn(conn: apsw.Connection) -> list[ChatAttachment]:
        member = access.member_or_404(conn, chat_id, user.id)
        return media_q.chat_attachments(conn, chat_id=chat_id, viewer_id=user.id,
                                        cleared_before_id=member.cleared_before_id, before_id=before_id, limit=limit)

    return await ctx.db.read(list_txn)


# downloads -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignedGet:
    """The query of a signed download URL."""

    uid: str | None
    exp: str | None
    sig: str | None
    sid: str | None = None  # the session of the token it was issued to; absent for a token without one

    @property
    def present(self) -> bool:
        return bool(self.uid or self.exp or self.sig or self.sid)


async def find_download(ctx: Context, name: str, *, viewer: User | None, signed: SignedGet) -> MediaObject:
    """The object NAME names, if the caller may download it.

    The caller is the bearer-token user (VIEWER) or, without one, the user a valid signed GET
    URL names. Who may download is access.visible_file (the uploader, members who see a message
    it is attached to, whoever may see the user or chat whose avatar it is); anyone else gets 404.
    """
    key = key_from_name(name)
    viewer_id: int | None = viewer.id if viewer is not None else None
    if viewer_id is None:
        if not signed.present:
            raise Unauthorized("Not authenticated: send a bearer token or use a signed download URL")
        try:
            uid, expires = int(signed.uid or ""), int(signed.exp or "")
        except ValueError:
            raise Forbidden("Download URL signature is invalid") from None
        if not _signer(ctx).verify(signed.sig, "GET", key, uid, signed.sid or "", expires):
            raise Forbidden("Download URL signature is invalid")
        if expires < ctx.clock.time():
            raise Forbidden("Download URL has expired")
        viewer_id = uid

    def find_txn(conn: apsw.Connection) -> MediaObject:
        if viewer is None:
            user = media_q.active_user(conn, viewer_id)
            # revoking all sessions also ends the signed URLs issued before it
            # (to the second: a URL issued in the second of the revocation survives it)
            issued = int(signed.exp or 0) - ctx.settings.download_url_ttl_seconds
            if user is None or issued < int(user.tokens_valid_after):
                raise Forbidden("Download URL is no longer valid")
            # ...and ending the session it was issued to (sign-out, refresh-token reuse) ends it
            if signed.sid and accounts_q.access_token_refused(conn, signed.sid, signed.sid):
                raise Forbidden("Download URL is no longer valid")
        return access.visible_file(conn, key, viewer_id)

    return await ctx.db.read(find_txn)


async def open_blob(ctx: Context, obj: MediaObject) -> BlobReader:
    """Open the blob behind a stored object; a missing or corrupt blob is a 503 and is logged."""
    assert obj.sha256 is not None
    try:
        return await ctx.blobs.open(obj.sha256)
    except (BlobNotFound, BlobCorrupt) as exc:
        log.error("blob %s of %s cannot be read: %s (run pufferd doctor)", obj.sha256, obj.object_key, exc)
        raise Unavailable("The stored file is unavailable") from None


async def sign_download_url(ctx: Context, user: User, file_url: str, *,
                            session: str | None = None) -> tuple[str, int]:
    """A short-lived GET URL for a file USER may see, usable without an Authorization header,
    until it expires or SESSION (the caller's sign-in session) ends."""
    key = key_from_url(ctx.settings, file_url)
    if key is None:
        raise field_error("file_url", "file_url must be a file URL of this server's media bucket")
    await ctx.db.read(lambda conn: access.visible_file(conn, key, user.id))
    ttl = ctx.settings.download_url_ttl_seconds
    return signed_get_url(ctx, key, user.id, session=session, expires=int(ctx.clock.time()) + ttl), ttl


def signed_get_url(ctx: Context, object_key: str, user_id: int, *, session: str | None, expires: int) -> str:
    """The GET URL of OBJECT_KEY signed for USER_ID (and SESSION) until EXPIRES (unix seconds);
    also the Document links of federated attachments (pufferd/federation/outgoing.py)."""
    sig = _signer(ctx).sign("GET", object_key, user_id, session or "", expires)
    query = urlencode({"uid": user_id, **({"sid": session} if session else {}), "exp": expires, "sig": sig})
    return f"{object_url(ctx.settings, object_key)}?{query}"


# avatars -------------------------------------------------------------------------------------

def check_avatar_url_txn(conn: apsw.Connection, settings: Settings, url: str | None, user_id: int, *,
                         current: str | None = None) -> None:
    """Refuse (422, naming avatar_url) an avatar that is not an image this user uploaded here.

    Called by the users and chats areas inside their update transaction. None or "" clears the
    avatar; the avatar already set (CURRENT) may be sent again unchanged.
    """
    if not url or url == current:
        return
    key = key_from_url(settings, url)
    if key is None:
        raise field_error("avatar_url", "avatar_url must be a file URL of this server's media bucket")
    obj = media_q.get_object(conn, key)
    if obj is None or obj.uploader_id != user_id or obj.state != "stored":
        raise field_error("avatar_url", "avatar_url must be a file you uploaded")
    if obj.file_type not in IMAGE_TYPES:
        raise field_error("avatar_url", f"avatar_url must be an image ({', '.join(sorted(IMAGE_TYPES))})")


# lifecycle -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Collected:
    expired_uploads: int
    unattached: int
    blobs: int


async def collect_garbage(ctx: Context) -> Collected:
    """One janitor pass: expired upload URLs, never-attached uploads, unreferenced blobs."""
    now = ctx.clock.time()
    stored_before = now - ctx.settings.unattached_upload_ttl_seconds

    def expire_txn(conn: apsw.Connection) -> tuple[int, int]:
        return (media_q.delete_expired_pending(conn, now, now - STALE_UPLOAD_SECONDS, GC_BATCH),
                media_q.delete_unattached(conn, stored_before, GC_BATCH))

    expired = unattached = removed = 0
    while True:
        e, u = await ctx.db.write(expire_txn)
        expired, unattached = expired + e, unattached + u
        if e < GC_BATCH and u < GC_BATCH:
            break
    while True:
        # rows and files go together under the store's lock, so an upload of the same content
        # cannot re-reference a blob between its row being dropped and its file being deleted
        async with ctx.blobs.exclusive():
            digests = await ctx.db.write(lambda conn: media_q.take_unreferenced_blobs(conn, GC_BATCH))
            for digest in digests:
                await ctx.blobs.delete(digest)
        removed += len(digests)
        if len(digests) < GC_BATCH:
            break
    if expired or unattached or removed:
        log.info("media janitor: %d expired upload URLs, %d unattached uploads, %d blobs removed",
                 expired, unattached, removed)
    return Collected(expired, unattached, removed)


async def recover(ctx: Context) -> None:
    """Start-up: clear crash leftovers (temp files, interrupted PUTs, blob files without a row)."""
    temps = await ctx.blobs.start()
    reset = await ctx.db.write(media_q.reset_uploading)
    orphans: list[str] = []
    async with ctx.blobs.exclusive():
        on_disk = await ctx.blobs.digests()
        for i in range(0, len(on_disk), GC_BATCH):
            batch = on_disk[i:i + GC_BATCH]
            known = await ctx.db.read(functools.partial(media_q.known_blobs, digests=batch))
            orphans += [d for d in batch if d not in known]
        for digest in orphans:
            await ctx.blobs.delete(digest)
    if temps or reset or orphans:
        log.info("media recovery: %d temp files, %d interrupted uploads, %d orphan blobs removed",
                 temps, reset, len(orphans))


async def lifecycle(ctx: Context) -> AsyncIterator[None]:
    """For the app's cleanup_ctx: recover at start-up, run the janitor, stop it cleanly."""
    await recover(ctx)
    try:
        async with periodic.running("media janitor", ctx.settings.media_janitor_interval_seconds,
                                    lambda: collect_garbage(ctx), board=ctx.tasks):
            yield
    finally:
        await ctx.blobs.close()


# integrity (pufferd doctor) ------------------------------------------------------------------

@dataclass
class BlobCheck:
    checked: int = 0
    bytes: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupt)


def verify_blobs(store: LocalBlobStore, conn: apsw.Connection) -> BlobCheck:
    """Decrypt every recorded blob (every chunk must authenticate, the digest and size match).

    Synchronous and read-only, for `pufferd doctor`, on the calling thread. Blob files with no
    database row are listed as orphans (the server removes them at start-up).
    """
    recorded = media_q.blobs(conn)
    report = BlobCheck()
    for digest, size in sorted(recorded.items()):
        try:
            info = store.verify_sync(digest)
        except BlobNotFound:
            report.missing.append(digest)
            continue
        except BlobError as exc:
            report.corrupt.append(f"{digest} ({exc})")
            continue
        if info.size != size:
            report.corrupt.append(f"{digest} (size {info.size}, recorded {size})")
            continue
        report.checked += 1
        report.bytes += info.size
    if report.missing:
        # the server may have released a blob meanwhile (doctor runs beside it): only rows still there count
        report.missing = [d for d in report.missing if media_q.blob_exists(conn, d)]
    report.orphans = sorted(set(store.digests_sync()) - set(recorded))
    return report
