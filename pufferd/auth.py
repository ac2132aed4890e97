"""Authentication of access tokens: who is calling, or 401."""
from __future__ import annotations

from pufferd import moderation, tokens
from pufferd.context import Context
from pufferd.db import accounts_q, users_q
from pufferd.errors import Unauthorized


async def authenticate(ctx: Context, token: str | None) -> tuple[users_q.User, tokens.Claims]:
    """The user behind an access TOKEN; 401 if missing, invalid, expired, revoked or disabled, or
    if the account is banned (the detail names the ban and its reason: pufferd/moderation.py).

    Revoked means: issued before the user's last revoke-all (users.tokens_valid_after), revoked
    one by one, or issued with a refresh session (claim `sid`) that has been revoked since.
    A token verified moments ago is answered from ctx.auth_cache (pufferd/authcache.py says when
    that is safe); otherwise everything is read in one database hop.
    """
    if not token:
        raise Unauthorized("Not authenticated")
    cached = ctx.auth_cache.get(token)
    if cached is not None:
        if cached[1].expires_at <= ctx.clock.time():
            raise Unauthorized("Token expired")
        return cached
    user, claims = await ctx.auth_cache.verify_once(token, lambda: _verify(ctx, token))
    if claims.expires_at <= ctx.clock.time():  # a shared verification may have started earlier
        raise Unauthorized("Token expired")
    return user, claims


async def _verify(ctx: Context, token: str) -> tuple[users_q.User, tokens.Claims]:
    """Every check of an access token, with one database hop; fills the cache on success."""
    claims = tokens.decode(ctx.keys.jwt, token, expected_type="access", now=ctx.clock.time())
    generation = ctx.auth_cache.generation(claims.user_id)

    def load(conn) -> tuple[users_q.User | None, bool]:
        user = users_q.get(conn, claims.user_id)
        if user is None:
            return None, False
        return user, accounts_q.access_token_refused(conn, claims.jti, claims.session_jti)

    user, refused = await ctx.db.read(load)
    if user is None or user.is_disabled:
        raise Unauthorized("Invalid token")
    if user.banned_at is not None:
        raise Unauthorized(moderation.banned_detail(user))
    if refused or claims.issued_at < user.tokens_valid_after:
        raise Unauthorized("Token revoked")
    ctx.auth_cache.put(token, user, claims, generation)
    return user, claims
