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

from typing import Any

from pufferd import access, messages
from pufferd.context import Context
from pufferd.db import federation_content_q, federation_q, messages_q
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


async def _message_of(ctx: Context, remote: User, note: str) -> int:
    """The message NOTE names: one of ours (our note URL) or one REMOTE sent (its Note id).
    Whether REMOTE may react to it is messages.toggle_reaction's question (404 when not)."""
    own = actors.local_id(ctx, note, "notes")
    if own is not None:
        return own
    found = await ctx.db.read(lambda conn: messages_q.by_client_id(conn, remote.id, note)) if note else None
    if found is None:
        raise NotFound(access.MESSAGE_NOT_FOUND)
    return found.id


async def react(ctx: Context, remote: User, activity: dict[str, Any]) -> None:
    """Apply a Like or EmojiReact from REMOTE."""
    emoji = _emoji(activity)
    if emoji is None:
        return
    message_id = await _message_of(ctx, remote, _id_of(activity.get("object")))
    await messages.toggle_reaction(ctx, remote, message_id, emoji, present=True)
    aid, now = _id_of(activity), ctx.clock.time()
    await ctx.db.write(lambda conn: federation_content_q.record_reaction(conn, aid, message_id, remote.id, emoji, now))


async def undo(ctx: Context, remote: User, like: Any) -> None:
    """Apply an Undo from REMOTE of the Like (or EmojiReact) LIKE, given embedded or by id. The
    Like's id is marked as received, so that the Like itself arriving after its Undo (deliveries
    are not ordered) is taken for a redelivery and changes nothing."""
    aid = _id_of(like)
    if aid and actors.host_of(aid) == actors.host_of(remote.actor_url or ""):
        now = ctx.clock.time()
        await ctx.db.write(lambda conn: federation_q.mark_seen(conn, aid, now))
    known = await ctx.db.read(lambda conn: federation_content_q.reaction(conn, aid)) if aid else None
    if known is not None and known.user_id == remote.id:
        message_id, emoji = known.message_id, known.emoji
    elif isinstance(like, dict):
        found = _emoji(like)
        if found is None:
            return
        emoji = found
        try:
            message_id = await _message_of(ctx, remote, _id_of(like.get("object")))
        except NotFound:
            return  # nothing of ours to take a reaction from
    else:
        return  # an unknown Like named by id only: nothing to undo
    try:
        await messages.toggle_reaction(ctx, remote, message_id, emoji, present=False)
    except NotFound:
        return  # the message went (deleted for everyone) and its reactions with it

    def forget_txn(conn: Any) -> None:
        federation_content_q.take_reactions(conn, message_id, remote.id, emoji)
    await ctx.db.write(forget_txn)
