"""The chats area's read model: what a client receives about a chat (API reference 3.3, 7).

ChatRead is computed per viewer (unread counts, the last message they may see, the counterpart's
avatar and presence as privacy allows) for many (chat, viewer) pairs with a fixed number of
statements, whether for one chat and its members after a change or for a page of a chat list.
The rules that change chats are in pufferd/chats.py; who may see what, in pufferd/access.py.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import apsw

from pufferd import access, privacy
from pufferd.clock import iso
from pufferd.db import chats_q
from pufferd.db.chats_q import Member
from pufferd.realtime.presence import Presence

SAVED_TITLE = "Saved Messages"
DELETED_ACCOUNT = "Deleted Account"


def _iso(ts: float) -> str:
    return iso(ts) or ""


@dataclass(frozen=True, slots=True)
class ChatView:
    """ChatRead for one viewer (API reference 3.3); times are already ISO strings."""

    id: int
    public_id: str
    type: str
    title: str | None
    avatar_url: str | None
    display_title: str
    handle: str | None
    description: str | None
    is_public: bool
    is_saved: bool
    archived: bool
    pinned: bool
    unread_count: int
    unread_mentions_count: int
    pinned_message_id: int | None
    members_count: int
    online_count: int
    subscribers_count: int | None
    counterpart_user_id: int | None
    counterpart_name: str | None
    counterpart_username: str | None
    counterpart_avatar_url: str | None
    counterpart_is_online: bool | None
    counterpart_last_seen_at: str | None
    last_message_text: str | None
    last_message_type: str | None
    last_message_created_at: str | None
    my_role: str | None
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """The ChatRead JSON object (the `chat_updated` event's data)."""
        return {name: getattr(self, name) for name in _VIEW_FIELDS}


_VIEW_FIELDS = tuple(f.name for f in fields(ChatView))


@dataclass(frozen=True, slots=True)
class MemberView:
    """ChatMemberRead."""

    id: int
    user_id: int
    role: str
    joined_at: str

    @classmethod
    def of(cls, m: Member) -> MemberView:
        return cls(m.id, m.user_id, m.role, _iso(m.joined_at))


@dataclass(frozen=True, slots=True)
class ChatDetail:
    """ChatDetailRead: the viewer's ChatRead plus the members they may see."""

    chat: ChatView
    members: list[MemberView]


@dataclass(frozen=True, slots=True)
class DiscoverView:
    """ChatDiscoverRead: a public group or channel as seen from outside."""

    id: int
    public_id: str
    type: str
    title: str | None
    handle: str | None
    description: str | None
    avatar_url: str | None
    members_count: int
    subscribers_count: int | None
    is_member: bool
    created_at: str

    @classmethod
    def of_row(cls, r: dict[str, Any]) -> DiscoverView:
        """From a row of chats_q.discover."""
        return cls(id=r["id"], public_id=r["public_id"], type=r["type"], title=r["title"], handle=r["handle"],
                   description=r["description"], avatar_url=r["avatar_url"], members_count=r["members_count"],
                   subscribers_count=r["members_count"] if r["type"] == "channel" else None,
                   is_member=bool(r["is_member"]), created_at=_iso(r["created_at"]))


@dataclass(frozen=True, slots=True)
class InviteLink:
    chat_id: int
    token: str
    invite_url: str


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    chat_id: int
    user_id: int
    muted: bool


def views_txn(conn: apsw.Connection, presence: Presence, pairs: list[tuple[int, int]]) -> list[ChatView]:
    """ChatRead for each (chat_id, viewer_id) pair, in order, with a fixed number of statements.

    Statements: one for the chat rows (chats_q.reads), one for the member ids, and at most three
    for privacy (last-seen modes of online members, contacts, blocks) — never one per chat.
    `last_message_*` is the newest message the viewer may see: ids at or below their
    cleared_before_id and messages they deleted for themselves are skipped, so a cleared chat
    shows no last message and a hidden last message shows the one before it.
    """
    rows = chats_q.reads(conn, pairs)
    if not rows:
        return []
    members = chats_q.members_of(conn, [r["id"] for r in rows])
    online = presence.online_among({u for ids in members.values() for u in ids})
    viewers = {r["viewer_id"] for r in rows}
    counterparts = {r["cp_id"] for r in rows if r["cp_id"] is not None}
    modes = chats_q.privacy_modes(conn, sorted(online - viewers)) if online - viewers else {}
    targets = (online | counterparts) - viewers
    rel = privacy.relations(conn, viewers, targets) if targets else privacy.Relations(frozenset(), frozenset())
    return [_view(r, members.get(r["id"], []), online, modes, rel) for r in rows]


def _view(r: dict[str, Any], member_ids: list[int], online: set[int], modes: dict[int, str],
          rel: privacy.Relations) -> ChatView:
    viewer = r["viewer_id"]
    online_count = sum(1 for u in member_ids if u in online
                       and (u == viewer or privacy.sees_last_seen(rel, viewer, u, modes.get(u, "nobody"))))
    cp = r["cp_id"]
    is_private = r["type"] == "private"
    cp_avatar = cp_online = cp_seen = None
    if cp is not None:
        if privacy.sees_avatar(rel, viewer, cp, r["cp_privacy_avatar"]):
            cp_avatar = r["cp_avatar_url"]
        if privacy.sees_last_seen(rel, viewer, cp, r["cp_privacy_last_seen"]):
            cp_online = cp in online
            cp_seen = iso(r["cp_last_seen_at"])
    if r["is_saved"]:
        display = SAVED_TITLE
    elif is_private:
        display = r["cp_name"] if cp is not None else DELETED_ACCOUNT
    else:
        display = r["title"] or ""
    members_count = len(member_ids)
    history = access.sees_history(r["role"])
    return ChatView(
        id=r["id"], public_id=r["public_id"], type=r["type"], title=r["title"], avatar_url=r["avatar_url"],
        display_title=display, handle=r["handle"], description=r["description"],
        is_public=bool(r["is_public"]), is_saved=bool(r["is_saved"]), archived=bool(r["archived"]),
        pinned=r["pinned_at"] is not None, unread_count=r["unread_count"],
        unread_mentions_count=r["unread_mentions_count"],
        pinned_message_id=r["live_pinned_message_id"] if history else None,
        members_count=members_count, online_count=online_count,
        subscribers_count=members_count if r["type"] == "channel" else None,
        counterpart_user_id=cp, counterpart_name=r["cp_name"], counterpart_username=r["cp_username"],
        counterpart_avatar_url=cp_avatar, counterpart_is_online=cp_online, counterpart_last_seen_at=cp_seen,
        last_message_text=r["last_message_text"] if history else None,
        last_message_type=r["last_message_type"] if history else None,
        last_message_created_at=iso(r["last_message_created_at"]) if history else None, my_role=r["role"],
        created_at=_iso(r["created_at"]),
    )


def chat_reads_txn(conn: apsw.Connection, presence: Presence, chat_id: int,
                   viewer_ids: Iterable[int]) -> dict[int, ChatView]:
    """ChatRead of one chat for many viewers, in one read hop (for fan-out after a change).

    Returns {} when the chat does not exist (any more).
    """
    viewers = sorted(set(viewer_ids))
    views = views_txn(conn, presence, [(chat_id, v) for v in viewers])
    if not views:
        return {}
    return {view_viewer: view for view_viewer, view in zip(viewers, views, strict=True)}
