"""Follows (issue 15, item 4): a local user follows or unfollows a remote actor; the lists."""
from __future__ import annotations

import apsw

from pufferd.context import Context
from pufferd.db import federation_q
from pufferd.db.users_q import User
from pufferd.errors import NotFound, RuleViolation
from pufferd.federation import actors, outgoing


async def follow(ctx: Context, user: User, handle: str, *, undo: bool = False) -> tuple[User, str | None]:
    """Follow (or with UNDO stop following) the remote user HANDLE; the user and the new state."""
    target = await actors.resolve(ctx, user, handle)
    if not target.is_remote:
        raise RuleViolation("handle: follows are for remote users")
    now = ctx.clock.time()

    def follow_txn(conn: apsw.Connection) -> str | None:
        act = federation_q.actor(conn, target.id)
        if act is None:
            raise NotFound(actors.USER_NOT_FOUND)
        if undo:
            row = conn.execute("SELECT activity_id FROM federation_follows WHERE follower_id = ? AND followee_id = ?",
                               (user.id, target.id)).fetchone()
            if row is not None:
                federation_q.delete_follow(conn, user.id, target.id)
                outgoing.follow_txn(ctx, conn, "Undo", user, act, {
                    "id": row["activity_id"], "type": "Follow", "actor": actors.actor_url(ctx, user.id),
                    "object": act.actor_url}, now)
            return None
        existing = federation_q.follow_state(conn, user.id, target.id)
        if existing is not None:
            return existing
        aid = outgoing.follow_txn(ctx, conn, "Follow", user, act, act.actor_url, now)
        federation_q.set_follow(conn, user.id, target.id, "pending", aid, now)
        return "pending"

    result = await ctx.db.write(follow_txn)
    ctx.federation.poke()
    return target, result


async def listing(ctx: Context, user: User, *, followers: bool) -> list[tuple[User, str]]:
    """USER's followers or followees with the state (pending, accepted)."""
    actors.enabled_or_404(ctx)
    return await ctx.db.read(lambda conn: federation_q.follows(conn, user.id, followers=followers))


def block_txn(ctx: Context, conn: apsw.Connection, blocker: User, target_id: int, now: float) -> bool:
    """Blocking a remote user ends the follows between them both ways: ours is taken back with an
    Undo{Follow}, theirs refused with a Reject{Follow} (how their server learns that it ended);
    True when something was queued. No Block activity is sent: the block itself stays private."""
    act = federation_q.actor(conn, target_id)
    if act is None or blocker.is_remote:
        return False
    me = actors.actor_url(ctx, blocker.id)
    queued = False
    for follower_id, followee_id in ((blocker.id, target_id), (target_id, blocker.id)):
        row = conn.execute("SELECT activity_id FROM federation_follows WHERE follower_id = ? AND followee_id = ?",
                           (follower_id, followee_id)).fetchone()
        if row is None:
            continue
        federation_q.delete_follow(conn, follower_id, followee_id)
        if not ctx.settings.federation_enabled:
            continue
        ours = follower_id == blocker.id
        follow = {"id": row["activity_id"], "type": "Follow", "actor": me if ours else act.actor_url,
                  "object": act.actor_url if ours else me}
        outgoing.follow_txn(ctx, conn, "Undo" if ours else "Reject", blocker, act, follow, now)
        queued = True
    return queued
