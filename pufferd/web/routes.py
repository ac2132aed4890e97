"""The whole URL map: every handler module's Router, in one list.

Each module declares its routes next to its handlers with `@routes.get(...)` etc.; this list is
what the application and the OpenAPI document are built from.
"""
from __future__ import annotations

from pufferd.web.handlers import (
    auth,
    cdn,
    chats,
    federation,
    health,
    maintenance,
    media,
    messages,
    metrics,
    moderation,
    notifications,
    realtime,
    search,
    system,
    system_stats,
    users,
    voice,
)
from pufferd.web.route import Route

ROUTERS = [
    health.routes,
    auth.routes,
    users.routes,
    realtime.routes,
    chats.routes,
    messages.routes,
    search.routes,
    notifications.routes,
    media.routes,
    system.routes,
    system_stats.routes,
    moderation.routes,
    maintenance.routes,
    cdn.routes,
    metrics.routes,
    federation.routes,
    voice.routes,
]


def all_routes() -> list[Route]:
    return [r for router in ROUTERS for r in router.routes]
