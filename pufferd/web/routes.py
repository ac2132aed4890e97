"""The whole URL map: every handler module's Router, in one list.

Each module declares its routes next to its handlers with `@routes.get(...)` etc.; this list is
what the application and the OpenAPI document are built from.
"""
from __future__ import annotations

from pufferd.web.handlers import chats, health
from pufferd.web.handlers import realtime
from pufferd.web.handlers import messages, notifications, search
from pufferd.web.handlers import media
from pufferd.web.handlers import auth, users
from pufferd.web.handlers import system
from pufferd.web.handlers import cdn, maintenance, metrics, system_stats
from pufferd.web.handlers import moderation
from pufferd.web.handlers import federation
from pufferd.web.handlers import voice
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
