"""Refuse requests from blocked addresses before anything else reads them (issue 13, item 4).

The client address is the rate limiter's (pufferd/web/client.py: X-Forwarded-For only from
`trusted_proxies`). The health endpoints stay reachable from every address: a monitor or a load
balancer in a blocked range must not take the server out of service, and they reveal nothing.
"""
from __future__ import annotations

from aiohttp import web

from pufferd import ipblocks
from pufferd.web.client import client_ip
from pufferd.web.keys import CTX
from pufferd.web.middleware import Handler

# what /openapi.json says of the 403 this middleware adds to every other operation
DETAIL = "Requests from your address are blocked on this server (IP blocks)"


def _exempt(path: str) -> bool:
    return path == "/health" or path.startswith("/health/")


def applies_to(path: str) -> bool:
    """Requests to PATH are refused from blocked addresses (all but the health endpoints)."""
    return not _exempt(path)


@web.middleware
async def refuse_blocked(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 with a detail naming the address when a block covers the client; else pass on."""
    ctx = request.app[CTX]
    if len(ctx.ip_blocks) and not _exempt(request.path):
        ip = client_ip(request.remote, request.headers.getall("X-Forwarded-For", []), ctx.settings.trusted_proxies)
        refusal = ipblocks.refused(ctx, ip)
        if refusal is not None:
            raise refusal
    return await handler(request)
