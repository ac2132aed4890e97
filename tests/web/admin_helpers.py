"""Helpers for the administration tests: people with server roles, the owner `init` created."""
from __future__ import annotations

import time
from typing import Any

from pufferd import tokens
from pufferd.db import users_q
from pufferd.web.keys import CTX

OWNER_ID = 1  # the administrator of the template data directory (tests/conftest.py) is the owner
ROLES = ("owner", "admin", "moderator", "user")


class Person:
    """A user of the app under test with a signed access token."""

    def __init__(self, user_id: int, username: str, token: str) -> None:
        self.id = user_id
        self.username = username
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def token_for(app, user_id: int) -> str:
    ctx = app[CTX]
    token, _ = tokens.issue(ctx.keys.jwt, user_id=user_id, token_type="access", now=ctx.clock.time(),
                            ttl=ctx.settings.access_token_ttl_seconds)
    return token


def owner(app) -> Person:
    return Person(OWNER_ID, "admin", token_for(app, OWNER_ID))


async def set_role(app, user: Any, role: str) -> None:
    """Give USER a role straight in the database (test set-up, not the rule under test)."""
    ctx = app[CTX]
    await ctx.db.write(lambda c: users_q.set_role(c, user.id, role, time.time()))
    ctx.auth_cache.invalidate(user.id)


async def person(app, make_user, role: str, username: str | None = None) -> Any:
    """A new user with ROLE (the owner role belongs to OWNER_ID: use owner(app))."""
    user = await make_user(username or f"{role}{time.monotonic_ns() % 1_000_000}")
    if role != "user":
        await set_role(app, user, role)
    return user


async def role_of(app, user_id: int) -> str:
    user = await app[CTX].db.read(lambda c: users_q.get(c, user_id))
    return user.role


async def audit_rows(app, event: str) -> list[Any]:
    from pufferd.db import audit_q
    return await app[CTX].db.read(lambda c: audit_q.page(c, limit=100, events=(event,)))
