"""Health endpoints (API reference, section 4)."""
from __future__ import annotations

from aiohttp import web

from pufferd import health
from pufferd.errors import Unavailable
from pufferd.web.keys import CTX
from pufferd.web.route import Router
from pufferd.web.schemas.common import HealthStatus, ReadyStatus

routes = Router("health")
_OK = HealthStatus(status="ok")


@routes.get("/health", response=HealthStatus, auth=False)
async def health_status(request: web.Request) -> HealthStatus:
    """The server process answers."""
    return _OK


@routes.get("/health/live", response=HealthStatus, auth=False)
async def health_live(request: web.Request) -> HealthStatus:
    """Liveness: the event loop runs."""
    return _OK


@routes.get("/health/ready", response=ReadyStatus, auth=False, openapi={"responses": {
    "503": {"description": "A part is not ready; detail names each part checked"}}})
async def health_ready(request: web.Request) -> ReadyStatus:
    """Readiness: the database answers a real query, the blob store is writable, disk is free."""
    parts = await health.readiness(request.app[CTX])
    if not all(parts.values()):
        raise Unavailable({"status": "not_ready", **parts})
    return ReadyStatus(status="ready", **{k: "ok" for k in parts})
