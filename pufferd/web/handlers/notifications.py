"""Notifications endpoint (API reference section 10)."""
from __future__ import annotations

from aiohttp import web

from pufferd import notifications
from pufferd.web.keys import CTX, USER
from pufferd.web.route import Router
from pufferd.web.schemas.notifications import NotificationRead, NotificationsQuery

routes = Router("notifications")


@routes.get("/api/v1/notifications", query=NotificationsQuery, response=list[NotificationRead])
async def list_notifications(request: web.Request, query: NotificationsQuery) -> list[NotificationRead]:
    """The caller's newest notifications first (event types: message_created, mention,
    added_to_chat)."""
    found = await notifications.latest(request.app[CTX], request[USER], query.limit)
    return [NotificationRead.of(n) for n in found]
