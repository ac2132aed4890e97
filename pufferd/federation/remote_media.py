"""Incoming remote media: the files of a Note fetched into the blob store (README "Federation").

Each attachment of the Note (content.attachment_items) is fetched through the safe fetcher (a GET
signed by the instance actor: the address, scheme, redirect and timeout rules of every federation
request, and the domain list for the file's host), at most federation_media_max_bytes each (from
Content-Length before reading, then while streaming), all of them at once and within
federation_media_fetch_seconds together, and stored as an upload of the sender's shadow user
(media.store_fetched: the type is what the bytes are). A file that cannot be fetched or stored for
any reason is left out: it stays a link in the message text, and nothing of it is kept.

A remote actor's icon is fetched the same way (fetch_avatar), an image only, and becomes the
avatar of its shadow user; one that cannot be fetched leaves the user without an avatar until the
actor's document is stored again.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from pufferd import media
from pufferd.context import Context
from pufferd.db import federation_q
from pufferd.db.media_q import MediaObject
from pufferd.db.users_q import User
from pufferd.errors import DomainError
from pufferd.federation import actors
from pufferd.federation.content import RemoteAttachment
from pufferd.federation.http import FetchError

log = logging.getLogger("pufferd.federation")

_FILE_NAME = re.compile(r"[^/\\\x00-\x1f]{1,120}\.[A-Za-z0-9]{1,5}")


@dataclass(frozen=True)
class Fetched:
    """The attachments of a Note and, for each, the object it was stored as (None: not fetched)."""

    items: list[RemoteAttachment]
    objects: list[MediaObject | None]

    @property
    def stored(self) -> list[MediaObject]:
        return [o for o in self.objects if o is not None]

    @property
    def failed_lines(self) -> list[str]:
        """The text lines (`name (url)`) of the attachments that were not fetched."""
        return [item.line for item, obj in zip(self.items, self.objects, strict=True) if obj is None]

    @property
    def object_keys(self) -> list[str]:
        return [o.object_key for o in self.stored]


def nothing(items: list[RemoteAttachment]) -> Fetched:
    return Fetched(items, [None] * len(items))


def file_name(item: RemoteAttachment) -> str:
    """The name a fetched file is downloaded under: its `name` when that looks like a file name
    (not a description), else the last segment of its URL, else `attachment`."""
    if _FILE_NAME.fullmatch(item.name):
        return item.name
    last = unquote(urlsplit(item.url).path.rsplit("/", 1)[-1])
    return last if _FILE_NAME.fullmatch(last) else "attachment"


async def _before(deadline: float, chunks: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """CHUNKS, each one awaited until DEADLINE (loop time) at most: TimeoutError after it."""
    try:
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        await chunks.aclose()


async def _fetch_file(ctx: Context, owner: User, url: str, *, file_name: str, claimed_type: str, cap: int,
                      deadline: float, what: str) -> MediaObject | None:
    """Fetch URL (the domain list, the fetcher's rules, signed by the instance actor) until
    DEADLINE (loop time), at most CAP bytes, and store it as a file of OWNER (media.store_fetched);
    None, logged with WHAT, when anything fails: the caller goes on without it."""
    fetcher = actors.fetcher(ctx)
    try:
        actors.check_domain(ctx, fetcher.check_url(url))
        chunks = fetcher.stream(url, max_bytes=cap, signer=await actors.instance_signer(ctx))
        async with contextlib.aclosing(_before(deadline, chunks)) as body:
            return await media.store_fetched(ctx, owner.id, file_name=file_name, claimed_type=claimed_type,
                                             body=body, max_bytes=cap)
    except (FetchError, DomainError, TimeoutError) as exc:
        log.info("%s %s not fetched: %s", what, url[:200], exc or "timed out")
    except Exception:  # never keeps the message or profile from arriving
        log.warning("%s %s not fetched", what, url[:200], exc_info=True)
    return None


async def fetch(ctx: Context, sender: User, items: list[RemoteAttachment]) -> Fetched:
    """Fetch and store ITEMS (at most as many as a message may carry) for a Note of SENDER; a file
    that cannot be fetched stays a link."""
    s = ctx.settings
    items = items[:media.MAX_ATTACHMENTS_PER_MESSAGE]
    if not items or s.federation_media_max_bytes <= 0:
        return nothing(items)
    deadline = asyncio.get_running_loop().time() + s.federation_media_fetch_seconds
    cap = min(s.federation_media_max_bytes, s.max_upload_size_bytes)
    objects = await asyncio.gather(*(
        _fetch_file(ctx, sender, item.url, file_name=file_name(item), claimed_type=item.media_type, cap=cap,
                    deadline=deadline, what="remote file") for item in items))
    return Fetched(items, list(objects))


async def fetch_avatar(ctx: Context, user: User, icon_url: str) -> User:
    """Fetch ICON_URL, the icon of remote USER's actor document, and make it USER's avatar (an
    image of USER's own, like a file it sent); USER as it is now. Within the rules of `fetch`, at
    most federation_avatar_max_bytes (0: no avatar is fetched); on any failure USER is returned
    unchanged and nothing is kept."""
    s = ctx.settings
    cap = min(s.federation_avatar_max_bytes, s.max_upload_size_bytes)
    if cap <= 0:
        return user
    deadline = asyncio.get_running_loop().time() + s.federation_media_fetch_seconds
    obj = await _fetch_file(ctx, user, icon_url, file_name="avatar", claimed_type="image/*", cap=cap,
                            deadline=deadline, what=f"avatar of {user.username}")
    if obj is None:
        return user
    if obj.file_type not in media.IMAGE_TYPES:
        log.info("avatar %s of %s is not an image (%s)", icon_url[:200], user.username, obj.file_type)
        await media.discard_unattached(ctx, [obj.object_key])
        return user
    now = ctx.clock.time()
    url = media.object_url(s, obj.object_key)
    updated = await ctx.db.write(lambda conn: federation_q.set_remote_avatar(conn, user.id, icon_url, url, now))
    if updated is None:  # the actor has another icon by now
        await media.discard_unattached(ctx, [obj.object_key])
        return user
    return updated
