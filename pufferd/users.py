"""Users (API reference section 6): profiles, search, contacts and blocks, with the privacy rules
of section 3.7 applied (pufferd/privacy.py) to everything one user reads about another."""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import apsw

from pufferd import federation, media, privacy, privileges
from pufferd.context import Context
from pufferd.db import contacts_q, users_q
from pufferd.db.users_q import User
from pufferd.errors import BadRequest, Conflict, NotFound
from pufferd.privileges import Privilege

SEARCH_MIN_CHARS = 2
USER_NOT_FOUND = "User not found"


@dataclass(frozen=True, slots=True)
class Profile:
    """A user as one viewer may see them: avatar_url is None when privacy hides it, email unless
    the viewer may see it (`sees_email`)."""

    user: User
    avatar_url: str | None
    email: str | None


def sees_email(viewer: User, target_id: int) -> bool:
    """Only the user themself and server administrators (who manage roles from the user list,
    pufferd/privileges.py) see an e-mail address. User ids are sequential, so an address shown to
    every user would let anyone list them all."""
    return viewer.id == target_id or privileges.has(viewer, Privilege.MANAGE_ROLES)


def _profiles(conn: apsw.Connection, viewer: User, targets: Sequence[User]) -> list[Profile]:
    """Privacy applied to a list with one read of the relations, not one query per user."""
    rel = privacy.relations(conn, [viewer.id], [t.id for t in targets])
    return [Profile(t, t.avatar_url if privacy.sees_avatar(rel, viewer.id, t.id, t.privacy_avatar) else None,
                    t.email if sees_email(viewer, t.id) else None)
            for t in targets]


def _visible_target(conn: apsw.Connection, viewer: User, target: User | None) -> User:
    """TARGET as VIEWER may find them: an enabled account that has not blocked VIEWER (for whom
    it is "not found", as in search; server administrators are not refused)."""
    if target is None or target.is_disabled:
        raise NotFound(USER_NOT_FOUND)
    if target.id != viewer.id and not viewer.is_admin and privacy.has_blocked(conn, target.id, viewer.id):
        raise NotFound(USER_NOT_FOUND)
    return target


def search_text(query: str) -> str | None:
    """The prefix to search for, or None when shorter than 2 characters after an optional '@'.
    NFC like the names it is compared with (pufferd/text.py), however the keyboard encoded it."""
    text = unicodedata.normalize("NFC", query).strip()
    if text.startswith("@"):
        text = text[1:].strip()
    return text if len(text) >= SEARCH_MIN_CHARS else None


async def search(ctx: Context, viewer: User, query: str, limit: int) -> list[Profile]:
    """Users whose username or name starts with QUERY; users who blocked the viewer never appear."""
    prefix = search_text(query)
    if prefix is None:
        return []

    def search_txn(conn: apsw.Connection) -> list[Profile]:
        return _profiles(conn, viewer, users_q.search(conn, viewer.id, prefix, limit))

    return await ctx.db.read(search_txn)


async def get_profile(ctx: Context, viewer: User, user_id: int) -> Profile:
    """Another user's profile as the viewer may see it (avatar by privacy_avatar, e-mail only to
    themself and server administrators); 404 for unknown or disabled accounts and for a user who
    has blocked the viewer (as search does not list them)."""
    def get_txn(conn: apsw.Connection) -> Profile:
        target = _visible_target(conn, viewer, users_q.get(conn, user_id))
        [profile] = _profiles(conn, viewer, [target])
        return profile

    return await ctx.db.read(get_txn)


async def update_profile(ctx: Context, user: User, changes: dict[str, Any]) -> User:
    """Apply the fields the client sent (already shape-checked); 409 when the username is taken.

    Every rule about a profile change that needs the database lives in update_txn below.
    """
    if not changes:
        return user
    now = ctx.clock.time()

    def update_txn(conn: apsw.Connection) -> tuple[User, bool]:
        if "username" in changes and users_q.username_taken(conn, changes["username"], except_id=user.id):
            raise Conflict("Username already taken")
        if "avatar_url" in changes:
            media.check_avatar_url_txn(conn, ctx.settings, changes["avatar_url"], user.id, current=user.avatar_url)
        before = users_q.get(conn, user.id) or user
        updated = users_q.update_profile(conn, user.id, changes, now)
        # servers that know this profile get Update{Person}
        federation_out = federation.outgoing_if_enabled(ctx)
        return updated, federation_out is not None and federation_out.profile_txn(ctx, conn, before, updated, now)

    updated, queued = await ctx.db.write(update_txn)
    ctx.auth_cache.invalidate(user.id)
    if queued:
        ctx.federation.poke()
    return updated


# contacts ------------------------------------------------------------------------------------
async def add_contact(ctx: Context, owner: User, contact_id: int) -> None:
    """Put a user in the owner's contacts (idempotent). Contacts see what "contacts" mode shows."""
    if contact_id == owner.id:
        raise BadRequest("You cannot add yourself to your contacts")
    now = ctx.clock.time()

    def add_txn(conn: apsw.Connection) -> None:
        _visible_target(conn, owner, users_q.get(conn, contact_id))
        contacts_q.add_contact(conn, owner.id, contact_id, now)

    await ctx.db.write(add_txn)


async def add_contact_by_email(ctx: Context, owner: User, email: str) -> None:
    """Add the user with this address to the owner's contacts. Whether an address is registered
    shows in the answer (204 or 404), so lookups are limited per user
    (contact_by_email_rate_limit_per_minute); a user who blocked the owner is "not found"."""
    ctx.limiter.hit("contacts_by_email", str(owner.id), ctx.settings.contact_by_email_rate_limit_per_minute)
    now = ctx.clock.time()

    def add_txn(conn: apsw.Connection) -> None:
        target = _visible_target(conn, owner, users_q.get_by_email(conn, email))
        if target.id == owner.id:
            raise BadRequest("You cannot add yourself to your contacts")
        contacts_q.add_contact(conn, owner.id, target.id, now)

    await ctx.db.write(add_txn)


async def remove_contact(ctx: Context, owner: User, contact_id: int) -> None:
    def remove_txn(conn: apsw.Connection) -> None:
        if users_q.get(conn, contact_id) is None:
            raise NotFound(USER_NOT_FOUND)
        contacts_q.remove_contact(conn, owner.id, contact_id)

    await ctx.db.write(remove_txn)


async def contacts(ctx: Context, owner: User) -> list[Profile]:
    return await ctx.db.read(lambda conn: _profiles(conn, owner, contacts_q.contacts_of(conn, owner.id)))


# blocks --------------------------------------------------------------------------------------
async def block(ctx: Context, blocker: User, target_id: int) -> None:
    """Block a user (idempotent): they can no longer message or invite the blocker, find them in
    search, or see their avatar and last-seen time (privacy.py); follows with a remote user end
    both ways (federation/follows.py)."""
    if target_id == blocker.id:
        raise BadRequest("You cannot block yourself")
    now = ctx.clock.time()

    def block_txn(conn: apsw.Connection) -> bool:
        if users_q.get(conn, target_id) is None:
            raise NotFound(USER_NOT_FOUND)
        contacts_q.block(conn, blocker.id, target_id, now)
        from pufferd.federation import follows as federation_follows  # on first use (issue 17)
        return federation_follows.block_txn(ctx, conn, blocker, target_id, now)

    if await ctx.db.write(block_txn):
        ctx.federation.poke()
    for fn in list(ctx.hooks.blocked):
        fn(blocker.id, target_id)


async def unblock(ctx: Context, blocker: User, target_id: int) -> None:
    def unblock_txn(conn: apsw.Connection) -> None:
        if users_q.get(conn, target_id) is None:
            raise NotFound(USER_NOT_FOUND)
        contacts_q.unblock(conn, blocker.id, target_id)

    await ctx.db.write(unblock_txn)


async def blocked(ctx: Context, blocker: User) -> list[Profile]:
    return await ctx.db.read(lambda conn: _profiles(conn, blocker, contacts_q.blocked_by(conn, blocker.id)))
