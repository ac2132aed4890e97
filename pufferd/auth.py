"""Authentication of access tokens: who is calling, or 401."""
from __future__ import annotations

from pufferd import tokens
from pufferd.context import Context
from pufferd.db import users_q
from pufferd.errors import Unauthorized


async def authenticate(ctx: Context, token: str | None) -> tuple[users_q.User, tokens.Claims]:
    """The user behind an access TOKEN; 401 if missing, invalid, expired, revoked or disabled."""
    if not token:
        raise Unauthorized("Not authenticated")
    claims = tokens.decode(ctx.keys.jwt, token, expected_type="access", now=ctx.clock.time())
    user = await ctx.db.read(lambda conn: users_q.get(conn, claims.user_id))
    if user is None or user.is_disabled:
        raise Unauthorized("Invalid token")
    if claims.issued_at < user.tokens_valid_after:
        raise Unauthorized("Token revoked")
    return user, claims
