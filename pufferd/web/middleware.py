"""Middlewares: errors as {"detail": ...}, CORS. Body size is aiohttp's client_max_size."""
from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from pufferd.errors import DomainError

log = logging.getLogger("pufferd.web")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# headers of an aiohttp HTTPException that must survive the conversion to JSON
_KEEP = ("Allow", "Retry-After", "WWW-Authenticate", "Location", "Content-Range")


def _json_error(status: int, detail: object, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"detail": detail}, status=status, headers=headers)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render domain errors and aiohttp HTTP errors as JSON; a crash is a 500 with a request id."""
    try:
        return await handler(request)
    except DomainError as exc:
        return _json_error(exc.status, exc.detail, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if exc.status == 404:
            detail = "Not found"
        elif exc.status == 405:
            detail = "Method not allowed"
        elif exc.status == 413:
            detail = "Request body too large"
        headers = {k: v for k, v in exc.headers.items() if k in _KEEP}
        return _json_error(exc.status, detail, headers)
    except ConnectionResetError:
        raise
    except Exception:
        request_id = secrets.token_hex(6)
        log.exception("unhandled error in %s %s (request id %s)", request.method, request.path, request_id)
        return _json_error(500, f"Internal server error (request id {request_id})")


def cors(origins: list[str]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Answer preflights and add CORS headers for the configured origins ("*" allows any)."""
    allow_any = "*" in origins
    allowed = set(origins)

    @web.middleware
    async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not origin or not (allow_any or origin in allowed):
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response: web.StreamResponse = web.Response(status=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = request.headers.get(
                "Access-Control-Request-Headers", "Authorization, Content-Type")
            response.headers["Access-Control-Max-Age"] = "600"
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = exc
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Expose-Headers"] = "Retry-After, ETag, Content-Range, Content-Disposition, Content-Length, Accept-Ranges"
        if isinstance(response, web.HTTPException):
            raise response
        return response

    return cors_middleware
