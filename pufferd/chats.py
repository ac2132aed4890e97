"""Chats: private chats, groups, channels and saved messages (API reference 3.3, 3.7, 7).

Every rule of the chats area lives here; handlers parse, call one function and serialise. Who
may see or act on a chat is asked of pufferd/access.py; what a client receives (ChatRead and the
other read models) is computed by pufferd/chat_reads.py. Each function runs its whole unit of work
in one database hop, which returns a `_Change`; after the commit the affected users' ChatRead is
computed in one read hop and `chat_updated` / `chat_removed` / `notification` events are published.

Roles: a group or channel has exactly one owner, any number of admins, and members. Owner and
admins manage members, bans, invite links, the profile and pinned messages; only the owner
changes roles, transfers ownership and deletes the chat for everyone. Private chats (and the
saved-messages chat) have no roles that matter: both sides are "member" (the saved chat's only
member is its "owner").
"""
from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import apsw

from pufferd import access, chat_reads, media, notifications, privacy, text
from pufferd.chat_reads import ChatDetail, ChatView, DiscoverView, InviteLink, MemberView, NotificationSettings
from pufferd.context import Context
from pufferd.db import chats_q, notifications_q, users_q
from pufferd.db.chats_q import Chat, Member
from pufferd.db.users_q import User
from pufferd.errors import Conflict, Forbidden, NotFound, RuleViolation, field_error
from pufferd.realtime.bus import Event

# A handle: 5-32 characters, ASCII letters, digits and "_", starting with a letter; unique
# without regard to case ("MyGroup" and "mygroup" collide).
HANDLE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{4,31}$"
_HANDLE = re.compile(HANDLE_PATTERN)
TITLE_MAX = 128
DESCRIPTION_MAX = 1024
MAX_INITIAL_MEMBERS = 200
_PUBLIC_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: 24 chars = 120 bits


# Publishing -------------------------------------------------------------------------------------

@dataclass
class _Change:
    """What a committed unit of work changed: each transaction returns one, and it is published
    after the commit (the only way a transaction's outcome reaches the bus)."""

    chat_id: int
    updated: set[int] = field(default_factory=set)   # users whose ChatRead changed
    removed: set[int] = field(default_factory=set)   # users who no longer have the chat
    notes: list[notifications_q.Notification] = field(default_factory=list)


async def _read_and_publish(ctx: Context, change: _Change, wanted: set[int]) -> dict[int, ChatView]:
    views: dict[int, ChatView] = {}
    if wanted:
        views = await ctx.db.read(lambda conn: chat_reads.chat_reads_txn(conn, ctx.presence, change.chat_id, wanted))
    for uid in sorted(change.updated):
        if uid in views:
            ctx.bus.publish(Event.to("chat_updated", views[uid].to_json(), [uid]))
    if change.removed:
        ctx.bus.publish(Event.to("chat_removed", {"chat_id": change.chat_id}, change.removed))
    for n in change.notes:
        ctx.bus.publish(Event.to("notification", notifications.as_dict(n), [n.user_id]))
    return views


async def _publish(ctx: Context, change: _Change) -> None:
    """Publish the events of a committed CHANGE: each updated user's own ChatRead, chat_removed,
    notifications."""
    await _read_and_publish(ctx, change, set(change.updated))


async def _publish_for(ctx: Context, change: _Change, caller: int) -> ChatView:
    """Publish CHANGE and return CALLER's ChatRead, computed in the same read hop."""
    views = await _read_and_publish(ctx, change, change.updated | {caller})
    if caller not in views:  # the chat went away between the commit and the read
        raise NotFound(access.CHAT_NOT_FOUND)
    return views[caller]


# Shared checks ----------------------------------------------------------------------------------

def _watchers(conn: apsw.Connection, chat: Chat) -> set[int]:
    """Who is told when membership counts change: every member; in a channel only owner/admins
    (subscribers do not follow each other's comings and goings)."""
    if chat.type == "channel":
        return set(chats_q.manager_ids(conn, chat.id))
    return set(chats_q.member_ids(conn, chat.id))


def _user_txn(conn: apsw.Connection, user_id: int) -> User:
    user = users_q.get(conn, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def _check_invite(conn: apsw.Connection, inviter: User, target: User) -> None:
    if not privacy.can_invite(conn, inviter.id, target):
        raise Forbidden(f"user {target.id} (@{target.username}) does not accept group invites from you"
                        " (privacy_group_invites)")


def _new_public_id() -> str:
    return "".join(secrets.choice(_PUBLIC_ID_ALPHABET) for _ in range(24))


def _clean_title(title: str | None) -> str | None:
    """The title as stored: the rule for one-line text people type (pufferd/text.py)."""
    if title is None:
        return None
    try:
        title = text.one_line(title)
    except ValueError as exc:
        raise field_error("title", str(exc)) from None
    if len(title) > TITLE_MAX:
        raise RuleViolation(f"title: at most {TITLE_MAX} characters")
    return title


def _added_note(conn: apsw.Connection, user_id: int, chat_id: int, by: int, now: float) -> notifications_q.Notification:
    return notifications_q.insert(conn, user_id, "added_to_chat", {"chat_id": chat_id, "by_user_id": by}, now,
                                  chat_id=chat_id)


# Creation ---------------------------------------------------------------------------------------

async def create_chat(ctx: Context, user: User, *, type: str, title: str | None = None,
                      handle: str | None = None, description: str | None = None, is_public: bool = False,
                      member_ids: Iterable[int] = ()) -> ChatView:
    """Create a chat (API reference 3.3 rules); a private chat that exists already is returned."""
    targets = list(dict.fromkeys(member_ids))
    if type == "private":
        return await _create_private(ctx, user, targets, title=title, handle=handle,
                                     description=description, is_public=is_public)
    if type not in ("group", "channel"):
        raise RuleViolation("type: must be private, group or channel")
    title = _clean_title(title)
    if title is None:
        raise RuleViolation("title: required for group and channel chats")
    if description is not None and len(description) > DESCRIPTION_MAX:
        raise RuleViolation(f"description: at most {DESCRIPTION_MAX} characters")
    if is_public and not handle:
        raise RuleViolation("handle: required for a public chat")
    if handle and not is_public:
        raise RuleViolation("handle: only public chats have a handle (set is_public to true)")
    if handle and not _HANDLE.match(handle):
        raise RuleViolation("handle: 5-32 characters, ASCII letters, digits and _, starting with a letter")
    targets = [t for t in targets if t != user.id]
    if len(targets) > MAX_INITIAL_MEMBERS:
        raise RuleViolation(f"member_ids: at most {MAX_INITIAL_MEMBERS} initial members")
    now = ctx.clock.time()

    def txn(conn: apsw.Connection) -> _Change:
        access.check_not_timed_out(conn, user.id, now)
        if handle and chats_q.handle_taken(conn, handle):
            raise Conflict(f"handle: @{handle} is already taken")
        invitees = [_user_txn(conn, t) for t in targets]
        for target in invitees:
            _check_invite(conn, user, target)
        chat = chats_q.insert(conn, public_id=_new_public_id(), type=type, title=title, handle=handle or None,
                              description=description, is_public=is_public, created_by=user.id, now=now)
        chats_q.add_member(conn, chat.id, user.id, "owner", now)
        change = _Change(chat.id, updated={user.id})
        for target in invitees:
            chats_q.add_member(conn, chat.id, target.id, "member", now)
            change.updated.add(target.id)
            change.notes.append(_added_note(conn, target.id, chat.id, user.id, now))
        return change

    change = await ctx.db.write(txn)
    return await _publish_for(ctx, change, user.id)


async def _create_private(ctx: Context, user: User, targets: list[int], *, title: str | None,
                          handle: str | None, description: str | None, is_public: bool) -> ChatView:
    if is_public:
        raise RuleViolation("is_public: a private chat cannot be public")
    for name, value in (("title", title), ("handle", handle), ("description", description)):
        if value is not None:
            raise RuleViolation(f"{name}: private chats have no {name}")
    if len(targets) != 1:
        raise RuleViolation("member_ids: a private chat needs exactly one other user")
    target_id = targets[0]
    if target_id == user.id:
        raise RuleViolation("member_ids: a private chat needs another user"
                            " (your own chat is GET /api/v1/chats/saved)")
    now = ctx.clock.time()

    def txn(conn: apsw.Connection) -> _Change:
        target = _user_txn(conn, target_id)
        existing = chats_q.get_by_pair_key(conn, chats_q.private_key(user.id, target_id))
        if existing is not None:
            # creating it again returns it (and shows it again if the caller had deleted it)
            return _Change(existing.id, updated=set(chats_q.unhide(conn, existing.id, [user.id])))
        access.check_not_timed_out(conn, user.id, now)
        access.check_private_counterpart(conn, user.id, target.id)
        chat = chats_q.insert(conn, public_id=_new_public_id(), type="private",
                              pair_key=chats_q.private_key(user.id, target_id), created_by=user.id, now=now)
        chats_q.add_member(conn, chat.id, user.id, "member", now)
        chats_q.add_member(conn, chat.id, target_id, "member", now)
        return _Change(chat.id, updated={user.id, target_id})

    change = await ctx.db.write(txn)
    return await _publish_for(ctx, change, user.id)


async def saved_chat(ctx: Context, user: User) -> ChatView:
    """The caller's saved-messages chat, created on first use."""
    key = chats_q.SAVED_KEY.format(user.id)

    def read_txn(conn: apsw.Connection) -> ChatView | None:
        chat = chats_q.get_by_pair_key(conn, key)
        if chat is None:
            return None
        member = chats_q.membership_txn(conn, chat.id, user.id)
        if member is None or member.hidden:
            return None
        return chat_reads.chat_reads_txn(conn, ctx.presence, chat.id, [user.id])[user.id]

    view = await ctx.db.read(read_txn)
    if view is not None:
        return view
    now = ctx.clock.time()

    def txn(conn: apsw.Connection) -> _Change:
        chat = chats_q.get_by_pair_key(conn, key)
        if chat is None:
            chat = chats_q.insert(conn, public_id=_new_public_id(), type="private", is_saved=True,
                                  pair_key=key, created_by=user.id, now=now)
            chats_q.add_member(conn, chat.id, user.id, "owner", now)
            return _Change(chat.id, updated={user.id})
        return _Change(chat.id, updated=set(chats_q.unhide(conn, chat.id, [user.id])))

    change = await ctx.db.write(txn)
    return await _publish_for(ctx, change, user.id)


# Reading ----------------------------------------------------------------------------------------

async def list_chats(ctx: Context, user: User, *, limit: int, before_id: int | None = None,
                     query: str | None = None, archived: bool = False) -> list[ChatView]:
    """One page of the caller's chats: pinned first, then by last activity.

    Cursor: `before_id` is the id of the last chat of the previous page. The next page holds the
    chats that sort after that chat's current position. A chat moves up when it gets a message;
    such a move arrives as a `chat_updated` event, so a client that pages and listens misses
    nothing. The cursor chat must be one of the caller's chats (else 422 naming before_id).
    """
    query = (query or "").strip() or None

    def txn(conn: apsw.Connection) -> list[ChatView]:
        before = None
        if before_id is not None:
            before = chats_q.sort_key(conn, user.id, before_id)
            if before is None:
                raise RuleViolation("before_id: not one of your chats")
        ids = chats_q.list_page(conn, user.id, archived=archived, limit=limit, before=before, query=query)
        return chat_reads.views_txn(conn, ctx.presence, [(i, user.id) for i in ids])

    return await ctx.db.read(txn)


async def get_chat(ctx: Context, user: User, chat_id: int) -> ChatDetail:
    """ChatDetailRead: a chat the caller belongs to, or the card of a public chat they are not
    banned from (access.visible_chat, sees_history, visible_members)."""
    def txn(conn: apsw.Connection) -> ChatDetail:
        chat, me = access.visible_chat(conn, chat_id, user.id)
        view = chat_reads.chat_reads_txn(conn, ctx.presence, chat_id, [user.id])[user.id]
        return ChatDetail(view, [MemberView.of(m) for m in access.visible_members(conn, chat, me)])

    return await ctx.db.read(txn)


async def list_members(ctx: Context, user: User, chat_id: int) -> list[MemberView]:
    """The members of a chat the caller can see, oldest first."""
    def txn(conn: apsw.Connection) -> list[MemberView]:
        chat, me = access.visible_chat(conn, chat_id, user.id)
        return [MemberView.of(m) for m in access.visible_members(conn, chat, me)]

    return await ctx.db.read(txn)


async def discover(ctx: Context, user: User, *, query: str | None, limit: int) -> list[DiscoverView]:
    """Public groups and channels whose title or handle contains QUERY, largest first (not those
    the caller is banned from)."""
    query = (query or "").strip() or None
    rows = await ctx.db.read(lambda conn: chats_q.discover(conn, user.id, query, limit))
    return [DiscoverView.of_row(r) for r in rows]


# Membership -------------------------------------------------------------------------------------

async def add_member(ctx: Context, user: User, chat_id: int, target_id: int) -> MemberView:
    """Owner/admin adds a user to a group or channel (privacy_group_invites and bans apply)."""
    now = ctx.clock.time()

    def txn(conn: apsw.Connection) -> tuple[_Change, Member]:
        chat, me = access.joined_chat(conn, chat_id, user.id)
        access.require_manager(me, "add members")
        access.check_not_timed_out(conn, user.id, now)
        target = _user_txn(conn, target_id)
        if chats_q.membership_txn(conn, chat_id, target_id) is not None:
            raise Conflict("user is already a member of this chat")
        if chats_q.is_banned(conn, chat_id, target_id):
            raise RuleViolation("user is banned from this chat; unban them first")
        _check_invite(conn, user, target)
        member = chats_q.add_member(conn, chat_id, target_id, "member", now)
        return _Change(chat_id, updated=_watchers(conn, chat) | {target_id},
                       notes=[_added_note(conn, target_id, chat_id, user.id, now)]), member

    change, member = await ctx.db.write(txn)
    await _publish(ctx, change)
    return MemberView.of(member)


async def set_role(ctx: Context, user: User, chat_id: int, target_id: int, role: str) -> MemberView:
    """Only the owner changes roles. Making someone "owner" transfers ownership: the old owner
    becomes an admin, so there is always exactly one owner."""
    if role not in ("owner", "admin", "member"):
        raise RuleViolation("role: must be owner, admin or member")

    def txn(conn: apsw.Connection) -> tuple[_Change, Member]:
        chat, me = access.joined_chat(conn, chat_id, user.id)
        if chat.is_private:
            raise RuleViolation("only groups and channels have roles")
        if me.role != "owner":
            raise Forbidden("only the owner can change roles")
        target = chats_q.membership_txn(conn, chat_id, target_id)
        if target is None:
            raise NotFound("user is not a member of this chat")
        if target_id == user.id:
            if role == "owner":
                return _Change(chat_id), target
            raise RuleViolation("the owner cannot change their own role; make another member the owner instead")
        change = _Change(chat_id)
        if target.role != role:
            chats_q.set_role(conn, chat_id, target_id, role)
            change.updated.add(target_id)
            if role == "owner":
                chats_q.set_role(conn, chat_id, user.id, "admin")
                change.updated.add(user.id)
        return change, dataclasses.replace(target, role=role)

    change, member = await ctx.db.write(txn)
    await _publish(ctx, change)
    return MemberView.of(member)


async def remove_member(ctx: Context, user: User, chat_id: int, target_id: int) -> None:
    """Owner removes anyone but themselves; an admin removes plain members. Removing yourself is leaving."""
    if target_id == user.id:
        return await leave(ctx, user, chat_id)

    def txn(conn: apsw.Connection) -> _Change:
        chat, me = access.joined_chat(conn, chat_id, user.id)
        access.require_manager(me, "remove members")
        target = chats_q.membership_txn(conn, chat_id, target_id)
        if target is None:
            raise NotFound("user is not a member of this chat")
        if target.role == "owner":
            raise Forbidden("the owner cannot be removed")
        if target.role == "admin" and me.role != "owner":
            raise Forbidden("only the owner can remove an admin")
        chats_q.remove_member(conn, chat_id, target_id)
        return _Change(chat_id, updated=_watchers(conn, chat), removed={target_id})

    await _publish(ctx, await ctx.db.write(txn))


async def leave(ctx: Context, user: User, chat_id: int) -> None:
    """Leave a group or channel. An owner hands ownership to the oldest admin, else the oldest
    member; an owner who is the last member deletes the chat."""
    def txn(conn: apsw.Connection) -> _Change:
        chat, me = access.joined_chat(conn, chat_id, user.id)
        if chat.is_private:
            raise RuleViolation("a private chat cannot be left; delete it instead")
        change = _Change(chat_id, removed={user.id})
        if me.role == "owner":
            successor = chats_q.oldest_successor(conn, chat_id, user.id)
            if successor is None:
                chats_q.delete(conn, chat_id)
                return change
            chats_q.set_role(conn, chat_id, successor, "owner")
            change.updated.add(successor)
        chats_q.remove_member(conn, chat_id, user.id)
        change.updated |= _watchers(conn, chat)
        return change

    await _publish(ctx, await ctx.db.write(txn))


async def join(ctx: Context, user: User, chat_id: int) -> ChatView:
    """Join a public group or channel (banned users are refused)."""
    now = ctx.clock.time()

    def txn(conn: apsw.Connection) -> _Change:
        chat = access.chat_or_404(conn, chat_id)
        if chats_q.membership_txn(conn, chat_id, user.id) is not None:
            return _Change(chat_id, updated=set(chats_q.unhide(conn, chat_id, [user.id])))
        if not chat.is_public:
            raise NotFound(access.CHAT_NOT_FOUND)
        return _join_txn(conn, chat, user, now)

    return await _publish_for(ctx, await ctx.db.write(txn), user.id)


def _join_txn(conn: apsw.Connection, chat: Chat, user: User, now: float) -> _Change:
    access.check_not_banned(conn, chat.id, user.id)
    chats_q.add_member(conn, chat.id, user.id, "member", now)
    return _Change(chat.id, updated=_watchers(conn, chat) | {user.id})


async def create_invite_link(ctx: Context, user: User, chat_id: int) -> InviteLink:
    """A new invite link for a group or channel; it replaces (revokes) the previous one."""
    token = secrets.token_urlsafe(24)
    now = ctx.clock.time()

    def txn(conn: apsw.Connection) -> None:
        chat, me = access.joined_chat(conn, chat_id, user.id)
        access.require_manager(me, "create invite links")
        access.check_not_timed_out(conn, user.id, now)
        chats_q.update(conn, chat_id, now, invite_token=token)

    await ctx.db.write(txn)
    return InviteLink(chat_id, token, f"{ctx.settings.base_url}/join?token={token}")


async def join_by_invite(ctx: Context, user: User, token: str) -> ChatView:
    """Join the chat of an invite link (private groups too; banned users are refused)."""
    now = ctx.clock.time()

    def txn(conn: apsw.Connection) -> _Change:
        chat = chats_q.get_by_invite_token(conn, token)
        if chat is None:
            raise NotFound("invite link not found or revoked")
        if chats_q.membership_txn(conn, chat.id, user.id) is not None:
            return _Change(chat.id, updated=set(chats_q.unhide(conn, chat.id, [user.id])))
        return _join_txn(conn, chat, user, now)

    return await _publish_for(ctx, await ctx.db.write(txn), user.id)


# Bans -------------------------------------------------------------------------------------------

async def ban(ctx: Context, user: User, chat_id: int, target_id: int) -> None:
    """Ban a user from a group or channel: membership ends and joining again is refused."""
    now = ctx.clock.time()

    def txn(conn: apsw.Connection) -> _Change:
        chat, me = access.joined_chat(conn, chat_id, user.id)
        access.require_manager(me, "ban users")
        if target_id == user.id:
            raise RuleViolation("you cannot ban yourself")
        _user_txn(conn, target_id)
        target = chats_q.membership_txn(conn, chat_id, target_id)
        change = _Change(chat_id)
        if target is not None:
            if target.role == "owner":
                raise Forbidden("the owner cannot be banned")
            if target.role == "admin" and me.role != "owner":
                raise Forbidden("only the owner can ban an admin")
            chats_q.remove_member(conn, chat_id, target_id)
            change.removed.add(target_id)
            change.updated = _watchers(conn, chat)
        chats_q.ban(conn, chat_id, target_id, user.id, now)
        return change

    await _publish(ctx, await ctx.db.write(txn))


async def unban(ctx: Context, user: User, chat_id: int, target_id: int) -> None:
    """Lift a ban (the user may then join or be added again)."""
    def txn(conn: apsw.Connection) -> None:
        chat, me = access.joined_chat(conn, chat_id, user.id)
        access.require_manager(me, "unban users")
        if not chats_q.unban(conn, chat_id, target_id):
            raise NotFound("user is not banned from this chat")

    await ctx.db.write(txn)


# Edits ------------------------------------------------------------------------------------------

_UNSET: Any = object()


async def update_profile(ctx: Context, user: User, chat_id: int, *, title: Any = _UNSET,
                         description: Any = _UNSET, avatar_url: Any = _UNSET) -> ChatView:
    """Edit a group's or channel's title, description or avatar (owner/admin).

    The one place chat profile changes are checked: the title and the title endpoint come here
    too. An argument left out is unchanged; None clears description or avatar_url.
    """
    changes: dict[str, Any] = {}
    if title is not _UNSET:
        if title is None:
            raise RuleViolation("title: a group or channel must have a title")
        changes["title"] = _clean_title(title)
    if description is not _UNSET:
        if description is not None and len(description) > DESCRIPTION_MAX:
            raise RuleViolation(f"description: at most {DESCRIPTION_MAX} characters")
        changes["description"] = description
    if avatar_url is not _UNSET:
        changes["avatar_url"] = avatar_url
    now = ctx.clock.time()

    def txn(conn: apsw.Connection) -> _Change:
        chat, me = access.joined_chat(conn, chat_id, user.id)
        access.require_manager(me, "edit the chat profile")
        if "avatar_url" in changes:
            # an image of this server's media store that the editor uploaded (media area's rule)
            media.check_avatar_url_txn(conn, ctx.settings, changes["avatar_url"], user.id, current=chat.avatar_url)
        if not changes:
            return _Change(chat_id)
        chats_q.update(conn, chat_id, now, **changes)
        return _Change(chat_id, updated=set(chats_q.member_ids(conn, chat_id)))

    return await _publish_for(ctx, await ctx.db.write(txn), user.id)


async def pin_message(ctx: Context, user: User, chat_id: int, message_id: int | None) -> ChatView:
    """Pin a message of the chat (None unpins). In groups and channels only owner/admin may."""
    now = ctx.clock.time()

    def txn(conn: apsw.Connection) -> _Change:
        chat, me = access.joined_chat(conn, chat_id, user.id)
        if not chat.is_private:
            access.require_manager(me, "pin messages")
        if message_id is not None and not chats_q.message_in_chat(conn, message_id, chat_id):
            raise RuleViolation("message_id: the message does not belong to this chat")
        chats_q.update(conn, chat_id, now, pinned_message_id=message_id)
        return _Change(chat_id, updated=set(chats_q.member_ids(conn, chat_id)))

    return await _publish_for(ctx, await ctx.db.write(txn), user.id)


# Per-user state ---------------------------------------------------------------------------------

async def _set_state(ctx: Context, user: User, chat_id: int, **state: Any) -> ChatView:
    def txn(conn: apsw.Connection) -> _Change:
        access.joined_chat(conn, chat_id, user.id)
        chats_q.set_member_state(conn, chat_id, user.id, **state)
        return _Change(chat_id, updated={user.id})

    return await _publish_for(ctx, await ctx.db.write(txn), user.id)


async def archive(ctx: Context, user: User, chat_id: int) -> ChatView:
    """Move the chat to the caller's archive (GET /chats?archived=true)."""
    return await _set_state(ctx, user, chat_id, archived=True)


async def unarchive(ctx: Context, user: User, chat_id: int) -> ChatView:
    return await _set_state(ctx, user, chat_id, archived=False)


async def pin_chat(ctx: Context, user: User, chat_id: int) -> ChatView:
    """Pin the chat at the top of the caller's list; at most settings.max_pinned_chats are pinned."""
    limit = ctx.settings.max_pinned_chats
    now = ctx.clock.time()

    def txn(conn: apsw.Connection) -> _Change:
        _, me = access.joined_chat(conn, chat_id, user.id)
        if me.pinned_at is not None:  # already pinned: it keeps its place
            return _Change(chat_id)
        if chats_q.pinned_count(conn, user.id) >= limit:
            raise RuleViolation(f"at most {limit} chats can be pinned; unpin one first")
        chats_q.set_member_state(conn, chat_id, user.id, pinned_at=now)
        return _Change(chat_id, updated={user.id})

    return await _publish_for(ctx, await ctx.db.write(txn), user.id)


async def unpin_chat(ctx: Context, user: User, chat_id: int) -> ChatView:
    return await _set_state(ctx, user, chat_id, pinned_at=None)


async def get_mute(ctx: Context, user: User, chat_id: int) -> NotificationSettings:
    def txn(conn: apsw.Connection) -> NotificationSettings:
        _, me = access.joined_chat(conn, chat_id, user.id)
        return NotificationSettings(chat_id, user.id, me.muted)

    return await ctx.db.read(txn)


async def set_mute(ctx: Context, user: User, chat_id: int, muted: bool) -> NotificationSettings:
    """Mute or unmute the chat for the caller (mentions are still delivered: messages area)."""
    def txn(conn: apsw.Connection) -> NotificationSettings:
        access.joined_chat(conn, chat_id, user.id)
        chats_q.set_member_state(conn, chat_id, user.id, muted=muted)
        return NotificationSettings(chat_id, user.id, muted)

    return await ctx.db.write(txn)


async def clear_history(ctx: Context, user: User, chat_id: int) -> None:
    """Hide every message up to the chat's newest one, for the caller only."""
    def txn(conn: apsw.Connection) -> _Change:
        _, me = access.joined_chat(conn, chat_id, user.id)
        newest = chats_q.newest_message_id(conn, chat_id)
        chats_q.set_member_state(conn, chat_id, user.id, cleared_before_id=max(newest, me.cleared_before_id))
        return _Change(chat_id, updated={user.id})

    await _publish(ctx, await ctx.db.write(txn))


async def delete_chat(ctx: Context, user: User, chat_id: int, *, for_all: bool) -> None:
    """Delete a chat. for_all: either side of a private chat, only the owner of a group or
    channel; it then goes for every member with all its messages. Otherwise the chat is deleted
    for the caller only: its history is cleared and it leaves their list (a new message brings
    it back); in a group or channel they stay a member."""
    def txn(conn: apsw.Connection) -> _Change:
        chat, me = access.joined_chat(conn, chat_id, user.id)
        if for_all:
            if not chat.is_private and me.role != "owner":
                raise Forbidden("only the owner can delete a group or channel for everyone")
            everyone = set(chats_q.member_ids(conn, chat_id))
            chats_q.delete(conn, chat_id)
            return _Change(chat_id, removed=everyone)
        newest = chats_q.newest_message_id(conn, chat_id)
        chats_q.set_member_state(conn, chat_id, user.id, hidden=True, pinned_at=None,
                                 cleared_before_id=max(newest, me.cleared_before_id))
        return _Change(chat_id, removed={user.id})

    await _publish(ctx, await ctx.db.write(txn))
