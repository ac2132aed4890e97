"""Sign-outs made by other processes (`pufferd admin reset-password`, `disable-user`), noticed by
the serving process. Its own module, not part of pufferd.accounts: the app starts this watch at
start-up, and importing accounts would bring every account operation (and what they import)
into a server that has not yet been asked for one (issue 17, lean start)."""
from __future__ import annotations

from collections.abc import AsyncIterator

from pufferd import periodic
from pufferd.context import Context
from pufferd.db import users_q

REVOCATION_POLL_S = 1.0


async def watch(ctx: Context) -> AsyncIterator[None]:
    """For the app's cleanup_ctx: notice sign-outs written by another process (`pufferd admin
    reset-password`, `disable-user` move users.tokens_valid_after) within REVOCATION_POLL_S, and
    act on them as on one made here: drop the user's cached tokens, close their sockets (4001).
    One index seek per poll; a sign-out made by this server is seen again, which changes nothing."""
    mark = await ctx.db.read(users_q.newest_revocation)

    async def poll() -> None:
        nonlocal mark
        since = mark
        for user_id, at in await ctx.db.read(lambda conn: users_q.revocations_after(conn, since)):
            ctx.auth_cache.invalidate(user_id)
            ctx.hooks.revoke_sessions(user_id, at)
            mark = max(mark, at)

    async with periodic.running("revocation watch", REVOCATION_POLL_S, poll):
        yield
