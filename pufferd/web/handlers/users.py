"""Users endpoints (API reference section 6). Rules live in pufferd/users.py."""
from __future__ import annotations

from aiohttp import web

from pufferd import users
from pufferd.web.keys import CTX, USER
from pufferd.web.route import Router
from pufferd.web.schemas.users import (
    ContactByEmailRequest,
    UserProfileUpdate,
    UserRead,
    UserSearchQuery,
    UserSearchRead,
)

routes = Router("users")

# the fixed paths come before /users/{user_id}


@routes.get("/api/v1/users/me", response=UserRead)
async def me(request: web.Request) -> UserRead:
    """The caller's own profile."""
    return UserRead.own(request[USER])


@routes.get("/api/v1/users/search", query=UserSearchQuery, response=list[UserSearchRead])
async def search(request: web.Request, query: UserSearchQuery) -> list[UserSearchRead]:
    """Users whose username or name starts with `query` (an optional leading @ is ignored).

    Fewer than 2 characters give an empty list. Users who blocked the caller are never listed.
    """
    found = await users.search(request.app[CTX], request[USER], query.query, query.limit)
    return [UserSearchRead.of(p.user, p.avatar_url, p.email) for p in found]


@routes.put("/api/v1/users/profile", body=UserProfileUpdate, response=UserRead)
async def update_profile(request: web.Request, body: UserProfileUpdate) -> UserRead:
    """Change the fields sent; the others stay. 409 when the username is taken."""
    return UserRead.own(await users.update_profile(request.app[CTX], request[USER], body.changes()))


@routes.get("/api/v1/users/blocked", response=list[UserSearchRead])
async def blocked(request: web.Request) -> list[UserSearchRead]:
    """The users the caller has blocked, most recent first."""
    return [UserSearchRead.of(p.user, p.avatar_url, p.email)
            for p in await users.blocked(request.app[CTX], request[USER])]


@routes.get("/api/v1/users/contacts", response=list[UserSearchRead])
async def contacts(request: web.Request) -> list[UserSearchRead]:
    """The caller's contacts, by name."""
    return [UserSearchRead.of(p.user, p.avatar_url, p.email)
            for p in await users.contacts(request.app[CTX], request[USER])]


@routes.post("/api/v1/users/contacts/by-email", body=ContactByEmailRequest, status=204)
async def add_contact_by_email(request: web.Request, body: ContactByEmailRequest) -> None:
    """Add the user with this e-mail address to the caller's contacts.

    404 for an address nobody (enabled, who has not blocked the caller) uses. The answer tells
    whether an address is registered, so it is limited per user (429 over
    contact_by_email_rate_limit_per_minute, default 10).
    """
    await users.add_contact_by_email(request.app[CTX], request[USER], body.email)


@routes.post("/api/v1/users/{user_id}/contacts", status=204)
async def add_contact(request: web.Request, user_id: int) -> None:
    """Add a user to the caller's contacts (they then pass the caller's "contacts" privacy settings)."""
    await users.add_contact(request.app[CTX], request[USER], user_id)


@routes.delete("/api/v1/users/{user_id}/contacts", status=204)
async def remove_contact(request: web.Request, user_id: int) -> None:
    """Remove a user from the caller's contacts."""
    await users.remove_contact(request.app[CTX], request[USER], user_id)


@routes.post("/api/v1/users/{user_id}/block", status=204)
async def block(request: web.Request, user_id: int) -> None:
    """Block a user: they cannot message or invite the caller, find them, or see their avatar."""
    await users.block(request.app[CTX], request[USER], user_id)


@routes.delete("/api/v1/users/{user_id}/block", status=204)
async def unblock(request: web.Request, user_id: int) -> None:
    """Unblock a user."""
    await users.unblock(request.app[CTX], request[USER], user_id)


@routes.get("/api/v1/users/{user_id}", response=UserRead)
async def get_user(request: web.Request, user_id: int) -> UserRead:
    """A user's profile, with their privacy settings applied (avatar_url may be null).

    email is null unless the caller is that user or a server administrator. A user who blocked
    the caller is 404, as for an unknown id (search does not list them either).
    """
    profile = await users.get_profile(request.app[CTX], request[USER], user_id)
    return UserRead.of(profile.user, profile.avatar_url, profile.email)
