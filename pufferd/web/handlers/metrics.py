"""GET /metrics: the Prometheus text format (README "Metrics"; pufferd/web/metrics.py)."""
from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from pufferd.errors import NotFound
from pufferd.web.keys import CTX
from pufferd.web.metrics import METRICS, check_access
from pufferd.web.route import Router

routes = Router("metrics")

_OPENAPI = {
    "security": [{"bearerAuth": []}, {}],
    "responses": {
        "200": {"description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}}},
        "401": {"description": "metrics_token is set and the request does not bear it"},
        "403": {"description": "No metrics_token is set and the client is not on loopback (or is proxied)"},
    },
}


@routes.get("/metrics", auth=False, openapi=_OPENAPI)
async def metrics(request: web.Request) -> web.Response:
    """Server metrics for Prometheus: requests by route and status, latencies, sockets, event-loop
    lag, database writer queue and batch sizes, messages sent, blob bytes, process CPU and memory.

    Guarded by the `metrics_token` setting (a bearer token); without one, served to loopback
    clients only. 404 with `metrics_enabled` off.
    """
    settings = request.app[CTX].settings
    if not settings.metrics_enabled:
        raise NotFound("Not found")
    token = settings.metrics_token
    check_access(request, token.get_secret_value() if token else None)
    body = await request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
