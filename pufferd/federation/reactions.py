"""Incoming reactions (issue 15, item 5): a Like or EmojiReact of a message in a private chat with
its remote author becomes their reaction through messages.toggle_reaction (the same rules, counts
and `reactions_updated` events as a local one), and an Undo of it removes it.

The emoji is the activity's `content` (or Misskey's `_misskey_reaction`), LIKE_EMOJI for a Like
without one (content.reaction_emoji); what is not one emoji (a server's custom `:emoji:`) is
accepted and ignored. The Like's id is kept (federation_reactions), so an Undo that names it only
by id still finds the reaction. Adding and removing only set the state (`present`), so a
redelivered Like or Undo changes nothing, whatever its activity id.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pufferd import access, messages
from pufferd.context import Context
from pufferd.db import federation_content_q, federation_q
from pufferd.db.users_q import User
from pufferd.errors import NotFound
from pufferd.federation import actors
from pufferd.federation.content import reaction_emoji


def _id_of(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _emoji(activity: dict[str, Any]) -> str | None:
    emoji = reaction_emoji(activity)
    return emoji if emoji is not None and messages.is_single_emoji(emoji) else None


async def _messages_of(ctx: Context, remote: User, note: str, *addressing: dict[str, Any]) -> list[int]:
    """The messages NOTE names: one of ours (our note URL), or the copies of a Note REMOTE sent
    (one per recipient here): those of the users here the activity addresses, or, when it
    addresses none of them (Mastodon's Like has no `to`), every copy. Whether REMOTE may react to
    one is messages.toggle_reaction's question (404 when not)."""
    own = actors.local_id(ctx, note, "notes")
    if own is not None:
        return [own]
    addressed = sorted({u for a in addressing for u in actors.addressed_users(ctx, a)})

    def pick_txn(conn: Any) -> list[int]:
        copies = federation_content_q.note_copies(conn, note) if note else []
        if len(copies) <= 1 or not addressed:
            return [c.message_id for c in copies]
        theirs = (federation_content_q.note_copy_for(conn, note, user_id) for user_id in addressed)
        return sorted({c.message_id for c in theirs if c is not None})
    found = await ctx.db.read(pick_txn)
    if not found:
        raise NotFound(access.MESSAGE_NOT_FOUND)
    return found


async def react(ctx: Context, remote: User, activity: dict[str, Any]) -> None:
    """Apply a Like or EmojiReact from REMOTE (to each copy it lands on)."""
    emoji = _emoji(activity)
    if emoji is None:
        return
    aid = _id_of(activity)
    for message_id in await _messages_of(ctx, remote, _id_of(activity.get("object")), activity):
        await messages.toggle_reaction(ctx, remote, message_id, emoji, present=True)
        await ctx.db.write(_recorder(aid, message_id, remote.id, emoji, ctx.clock.time()))


def _recorder(aid: str, message_id: int, user_id: int, emoji: str, now: float) -> Callable[[Any], None]:
    return lambda conn: federation_content_q.record_reaction(conn, aid, message_id, user_id, emoji, now)


async def undo(ctx: Context, remote: User, like: Any, activity: dict[str, Any] | None = None) -> None:
    """Apply an Undo (ACTIVITY) from REMOTE of the Like (or EmojiReact) LIKE, given embedded or by
    id. The Like's id is marked as received, so that the Like itself arriving after its Undo
    (deliveries are not ordered) is taken for a redelivery and changes nothing."""
    aid = _id_of(like)
    if aid and actors.host_of(aid) == actors.host_of(remote.actor_url or ""):
        now = ctx.clock.time()
        await ctx.db.write(lambda conn: federation_q.mark_seen(conn, aid, now))
    known = await ctx.db.read(lambda conn: federation_content_q.reactions(conn, aid)) if aid else []
    targets = [(k.message_id, k.emoji) for k in known if k.user_id == remote.id]
    if not targets and isinstance(like, dict):
        emoji = _emoji(like)
        if emoji is None:
            return
        try:
            found = await _messages_of(ctx, remote, _id_of(like.get("object")), like, activity or {})
        except NotFound:
            return  # nothing of ours to take a reaction from
        targets = [(message_id, emoji) for message_id in found]
    for message_id, emoji in targets:
        try:
            await messages.toggle_reaction(ctx, remote, message_id, emoji, present=False)
        except NotFound:
            continue  # the message went (deleted for everyone) and its reactions with it

        def forget_txn(conn: Any, message_id: int = message_id, emoji: str = emoji) -> None:
            federation_content_q.take_reactions(conn, message_id, remote.id, emoji)
        await ctx.db.write(forget_txn)
