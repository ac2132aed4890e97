"""Helpers for the administration tests: users with a server role, and the admin routes of items
6-9 (analytics, file management, maintenance) to check that each one is refused to others."""
from __future__ import annotations

from typing import Any

from pufferd.web.keys import CTX

# (method, path, json body) of every route that needs a privilege
ANALYTICS_ROUTES = [
    ("GET", "/api/v1/system/stats", None),
    ("GET", "/api/v1/system/stats/series?metric=messages", None),
    ("GET", "/api/v1/system/usage", None),
]
MAINTENANCE_ROUTES = [
    ("GET", "/api/v1/system/tasks", None),
    ("POST", "/api/v1/system/tasks/media_janitor/run", None),
    ("GET", "/api/v1/system/backups", None),
]
FILE_ADMIN_ROUTES = [
    ("GET", "/api/v1/cdn/admin/files", None),
    ("GET", "/api/v1/cdn/admin/summary", None),
    ("DELETE", "/api/v1/cdn/admin/files/" + "A" * 32 + ".png", {"reason": "spam"}),
    ("POST", "/api/v1/cdn/admin/cleanup", None),
]
ADMIN_ROUTES = ANALYTICS_ROUTES + MAINTENANCE_ROUTES + FILE_ADMIN_ROUTES


async def with_role(client, make_user, role: str, username: str | None = None):
    """A new user holding ROLE (set before their token is first used)."""
    user = await make_user(username)
    await client.app[CTX].db.write(lambda c: c.execute("UPDATE users SET role = ? WHERE id = ?", (role, user.id)))
    return user


async def call(client, user, method: str, path: str, body: Any = None):
    kw: dict[str, Any] = {"headers": user.headers if user is not None else {}}
    if body is not None:
        kw["json"] = body
    return await client.request(method, path, **kw)


async def get_json(client, user, path: str, expect: int = 200) -> Any:
    resp = await client.get(path, headers=user.headers)
    body = await resp.json()
    assert resp.status == expect, body
    return body
