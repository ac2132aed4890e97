"""Chats endpoints (API reference section 7). Rules live in pufferd/chats.py."""
from __future__ import annotations

from aiohttp import web

from pufferd import chats
from pufferd.web.keys import CTX, USER
from pufferd.web.route import Router
from pufferd.web.schemas.chats import (
    ChatCreate,
    ChatDetailRead,
    ChatDiscoverRead,
    ChatListQuery,
    ChatMemberRead,
    ChatNotificationSettingsRead,
    ChatRead,
    DeleteQuery,
    DiscoverQuery,
    InviteJoin,
    InviteLinkRead,
    MemberAdd,
    MuteUpdate,
    PinMessage,
    ProfileUpdate,
    RoleUpdate,
    TitleUpdate,
)

routes = Router("chats")
_ID = "/api/v1/chats/{chat_id}"


@routes.get("/api/v1/chats", query=ChatListQuery, response=list[ChatRead])
async def list_chats(request: web.Request, query: ChatListQuery) -> list[ChatRead]:
    """The caller's chats: pinned first, then by last activity.

    Paging: pass the id of the last chat received as `before_id` to get the chats that follow
    it. `query` matches title, handle, the counterpart's name or username, or a chat type.
    `archived=true` lists the archive instead.
    """
    views = await chats.list_chats(request.app[CTX], request[USER], limit=query.limit,
                                   before_id=query.before_id, query=query.query, archived=query.archived)
    return [ChatRead.of(v) for v in views]


@routes.get("/api/v1/chats/saved", response=ChatRead)
async def saved_chat(request: web.Request) -> ChatRead:
    """The caller's saved-messages chat, created on first use."""
    return ChatRead.of(await chats.saved_chat(request.app[CTX], request[USER]))


@routes.get("/api/v1/chats/discover", query=DiscoverQuery, response=list[ChatDiscoverRead])
async def discover(request: web.Request, query: DiscoverQuery) -> list[ChatDiscoverRead]:
    """Public groups and channels whose title or handle contains `query`, largest first (not those
    the caller is banned from)."""
    found = await chats.discover(request.app[CTX], request[USER], query=query.query, limit=query.limit)
    return [ChatDiscoverRead.of(v) for v in found]


@routes.post("/api/v1/chats", body=ChatCreate, response=ChatRead)
async def create_chat(request: web.Request, body: ChatCreate) -> ChatRead:
    """Create a private chat, group or channel (a private chat that exists is returned).

    403 when a privacy setting or a block forbids it, 404 for an unknown user in member_ids,
    409 when the handle is taken, 422 naming the field for a rule of section 3.3.
    """
    view = await chats.create_chat(request.app[CTX], request[USER], type=body.type, title=body.title,
                                   handle=body.handle, description=body.description,
                                   is_public=body.is_public, member_ids=body.member_ids)
    return ChatRead.of(view)


@routes.post("/api/v1/chats/join-by-invite", body=InviteJoin, response=ChatRead)
async def join_by_invite(request: web.Request, body: InviteJoin) -> ChatRead:
    """Join the chat of an invite link (works for private groups; banned users get 403)."""
    return ChatRead.of(await chats.join_by_invite(request.app[CTX], request[USER], body.token))


@routes.get(_ID, response=ChatDetailRead)
async def get_chat(request: web.Request, chat_id: int) -> ChatDetailRead:
    """A chat with the members the caller may see.

    Members see everything. Anyone not banned sees a public chat's card: no last message, no
    pinned message, an empty member list. Anyone else gets 404.
    """
    return ChatDetailRead.of_detail(await chats.get_chat(request.app[CTX], request[USER], chat_id))


@routes.delete(_ID, query=DeleteQuery, status=204)
async def delete_chat(request: web.Request, chat_id: int, query: DeleteQuery) -> None:
    """Delete a chat for the caller, or with for_all=true for everyone.

    for_all: either side of a private chat; only the owner of a group or channel.
    """
    await chats.delete_chat(request.app[CTX], request[USER], chat_id, for_all=query.for_all)


@routes.post(_ID + "/join", response=ChatRead)
async def join(request: web.Request, chat_id: int) -> ChatRead:
    """Join a public group or channel."""
    return ChatRead.of(await chats.join(request.app[CTX], request[USER], chat_id))


@routes.patch(_ID + "/title", body=TitleUpdate, response=ChatRead)
async def update_title(request: web.Request, chat_id: int, body: TitleUpdate) -> ChatRead:
    """Rename a group or channel (owner/admin)."""
    return ChatRead.of(await chats.update_profile(request.app[CTX], request[USER], chat_id, title=body.title))


@routes.patch(_ID + "/profile", body=ProfileUpdate, response=ChatRead)
async def update_profile(request: web.Request, chat_id: int, body: ProfileUpdate) -> ChatRead:
    """Edit a group's or channel's title, description and avatar (owner/admin).

    Fields left out are unchanged; null clears description or avatar_url. avatar_url must be a
    file of this server.
    """
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return ChatRead.of(await chats.update_profile(request.app[CTX], request[USER], chat_id, **changes))


@routes.get(_ID + "/members", response=list[ChatMemberRead])
async def list_members(request: web.Request, chat_id: int) -> list[ChatMemberRead]:
    """The members of a chat the caller may list, oldest first: an outsider of a public chat gets
    none, a channel's subscriber only themself (only the owner and admins see subscribers)."""
    return [ChatMemberRead.of(m) for m in await chats.list_members(request.app[CTX], request[USER], chat_id)]


@routes.post(_ID + "/members", body=MemberAdd, response=ChatMemberRead, status=201)
async def add_member(request: web.Request, chat_id: int, body: MemberAdd) -> ChatMemberRead:
    """Add a user to a group or channel (owner/admin; the user's privacy_group_invites applies)."""
    return ChatMemberRead.of(await chats.add_member(request.app[CTX], request[USER], chat_id, body.user_id))


@routes.patch(_ID + "/members/{user_id}/role", body=RoleUpdate, response=ChatMemberRead)
async def set_role(request: web.Request, chat_id: int, user_id: int, body: RoleUpdate) -> ChatMemberRead:
    """Change a member's role (owner only). Role "owner" transfers ownership; the old owner becomes admin."""
    return ChatMemberRead.of(await chats.set_role(request.app[CTX], request[USER], chat_id, user_id, body.role))


@routes.delete(_ID + "/members/{user_id}", status=204)
async def remove_member(request: web.Request, chat_id: int, user_id: int) -> None:
    """Remove a member (owner: anyone but the owner; admin: plain members). Yourself: leave."""
    await chats.remove_member(request.app[CTX], request[USER], chat_id, user_id)


@routes.post(_ID + "/bans/{user_id}", status=204)
async def ban(request: web.Request, chat_id: int, user_id: int) -> None:
    """Ban a user from a group or channel (owner/admin); membership ends, rejoining is refused."""
    await chats.ban(request.app[CTX], request[USER], chat_id, user_id)


@routes.delete(_ID + "/bans/{user_id}", status=204)
async def unban(request: web.Request, chat_id: int, user_id: int) -> None:
    """Lift a ban (owner/admin)."""
    await chats.unban(request.app[CTX], request[USER], chat_id, user_id)


@routes.post(_ID + "/leave", status=204)
async def leave(request: web.Request, chat_id: int) -> None:
    """Leave a group or channel; an owner hands over to the oldest admin, else the oldest member."""
    await chats.leave(request.app[CTX], request[USER], chat_id)


@routes.post(_ID + "/clear", status=204)
async def clear_history(request: web.Request, chat_id: int) -> None:
    """Clear the chat's history for the caller only."""
    await chats.clear_history(request.app[CTX], request[USER], chat_id)


@routes.post(_ID + "/pin", body=PinMessage, response=ChatRead)
async def pin_message(request: web.Request, chat_id: int, body: PinMessage) -> ChatRead:
    """Pin a message of the chat, or unpin with message_id null (groups/channels: owner/admin)."""
    return ChatRead.of(await chats.pin_message(request.app[CTX], request[USER], chat_id, body.message_id))


@routes.get(_ID + "/notifications", response=ChatNotificationSettingsRead)
async def get_mute(request: web.Request, chat_id: int) -> ChatNotificationSettingsRead:
    """The caller's notification settings for the chat."""
    return ChatNotificationSettingsRead.of(await chats.get_mute(request.app[CTX], request[USER], chat_id))


@routes.put(_ID + "/notifications", body=MuteUpdate, response=ChatNotificationSettingsRead)
async def set_mute(request: web.Request, chat_id: int, body: MuteUpdate) -> ChatNotificationSettingsRead:
    """Mute or unmute the chat for the caller (mentions are still delivered)."""
    return ChatNotificationSettingsRead.of(
        await chats.set_mute(request.app[CTX], request[USER], chat_id, body.muted))


@routes.post(_ID + "/archive", response=ChatRead)
async def archive(request: web.Request, chat_id: int) -> ChatRead:
    """Move the chat to the caller's archive."""
    return ChatRead.of(await chats.archive(request.app[CTX], request[USER], chat_id))


@routes.post(_ID + "/unarchive", response=ChatRead)
async def unarchive(request: web.Request, chat_id: int) -> ChatRead:
    """Bring the chat back from the caller's archive."""
    return ChatRead.of(await chats.unarchive(request.app[CTX], request[USER], chat_id))


@routes.post(_ID + "/pin-chat", response=ChatRead)
async def pin_chat(request: web.Request, chat_id: int) -> ChatRead:
    """Pin the chat at the top of the caller's list (at most max_pinned_chats, default 10)."""
    return ChatRead.of(await chats.pin_chat(request.app[CTX], request[USER], chat_id))


@routes.post(_ID + "/unpin-chat", response=ChatRead)
async def unpin_chat(request: web.Request, chat_id: int) -> ChatRead:
    """Unpin the chat in the caller's list."""
    return ChatRead.of(await chats.unpin_chat(request.app[CTX], request[USER], chat_id))


@routes.post(_ID + "/invite-link", response=InviteLinkRead)
async def create_invite_link(request: web.Request, chat_id: int) -> InviteLinkRead:
    """A new invite link for a group or channel (owner/admin); the previous link stops working."""
    return InviteLinkRead.of(await chats.create_invite_link(request.app[CTX], request[USER], chat_id))
