"""Typing indicators and presence: who may be told (membership through pufferd/access.py,
privacy through pufferd/privacy.py).

The realtime layer calls these and delivers what they publish; it never decides an audience.
"""
from __future__ import annotations

from pufferd import access, privacy
from pufferd.clock import iso
from pufferd.context import Context
from pufferd.db import activity_q, users_q
from pufferd.errors import RateLimited
from pufferd.realtime.bus import Event

TYPING_BUCKET = "typing"


async def typing(ctx: Context, user_id: int, chat_id: int) -> bool:
    """Relay "USER is typing in CHAT" to the chat's other members; False when dropped.

    Who is told is access.typing_audience: NotFound unless USER is a member (same answer whether
    the chat exists or not); nobody in channels (subscribers see posts, not who writes them); not
    a private-chat counterpart who blocked USER. At most one relay per user and chat per
    `typing_interval_seconds` (more are dropped silently, as clients send one per keystroke). The event's
    `expires_at` (now + `typing_expires_seconds`) lets a client drop a stale one, e.g. replayed.
    """
    try:  # before the read: clients send a frame per keystroke
        ctx.limiter.hit(TYPING_BUCKET, f"{user_id}:{chat_id}", 1, ctx.settings.typing_interval_seconds)
    except RateLimited:
        return False
    recipients = await ctx.db.read(lambda conn: access.typing_audience(conn, chat_id, user_id))
    if not recipients:
        return False
    expires_at = iso(ctx.clock.time() + ctx.settings.typing_expires_seconds)
    ctx.bus.publish(Event.to("typing", {"chat_id": chat_id, "user_id": user_id, "expires_at": expires_at},
                             recipients))
    return True


async def presence_changed(ctx: Context, user_id: int, online: bool, at: float) -> None:
    """Publish USER's presence to those allowed to see it; going offline writes last_seen_at.

    Audience: contacts (both directions), private-chat counterparts and members of shared groups
    up to `presence_max_group_members` members, filtered by the target's privacy_last_seen and
    blocks (privacy.can_see_last_seen). Nothing is published if the state changed again meanwhile.
    """
    limit = ctx.settings.presence_max_group_members

    def audience_txn(conn) -> list[int]:
        if not online:
            activity_q.set_last_seen(conn, [(user_id, at)])
        target = users_q.get(conn, user_id)
        if target is None:
            return []
        candidates = activity_q.presence_candidates(conn, user_id, limit)
        if not candidates:
            return []
        rel = privacy.relations(conn, candidates, [user_id])
        return [v for v in candidates
                if privacy.sees_last_seen(rel, v, user_id, target.privacy_last_seen)]

    audience = await (ctx.db.read(audience_txn) if online else ctx.db.write(audience_txn))
    if ctx.presence.is_online(user_id) != online or not audience:
        return
    ctx.bus.publish(Event.to("presence", {"user_id": user_id, "is_online": online,
                                          "last_seen_at": iso(at)}, audience))


async def record_last_seen(ctx: Context, seen: dict[int, float]) -> None:
    """Write last_seen_at for users still online when the server stops (one transaction)."""
    await ctx.db.write(lambda conn: activity_q.set_last_seen(conn, seen.items()))
