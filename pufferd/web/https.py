"""HTTPS around the application: the HSTS header, and the plain-HTTP port (redirects, ACME)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from pufferd.config import Settings

ACME_CHALLENGE_PATH = "/.well-known/acme-challenge/{token}"


def hsts(max_age: int) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An on_response_prepare hook adding Strict-Transport-Security to answers sent over TLS.

    RFC 6797, section 7.2: the header is sent over secure transport only (a browser ignores it
    on plain HTTP, and behind a proxy that terminates TLS the proxy decides).
    """
    value = f"max-age={max_age}"

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        if request.secure:
            response.headers.setdefault("Strict-Transport-Security", value)

    return add


def https_url(settings: Settings, request: web.Request) -> str:
    """Where REQUEST lives on HTTPS: public_url, else the host it asked for on the TLS port."""
    if settings.public_url:
        return settings.public_url + request.path_qs
    host = request.url.host or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    port = "" if settings.port == 443 else f":{settings.port}"
    return f"https://{host}{port}{request.path_qs}"


def plain_app(settings: Settings, challenges: Mapping[str, str]) -> web.Application:
    """The plain-HTTP port: ACME HTTP-01 answers from CHALLENGES, and 308 to HTTPS for the rest.

    308 (RFC 9110, section 15.4.9) keeps the method and body, so an API call sent to http://
    by mistake is repeated on https:// as it was, not turned into a GET.
    """

    async def challenge(request: web.Request) -> web.Response:
        # RFC 8555, section 8.3: the body is the key authorization for the token
        validation = challenges.get(request.match_info["token"])
        if validation is None:
            return web.json_response({"detail": "Not Found"}, status=404)
        return web.Response(body=validation.encode(), content_type="application/octet-stream")

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=308, headers={"Location": https_url(settings, request)})

    app = web.Application(client_max_size=1024)
    app.router.add_get(ACME_CHALLENGE_PATH, challenge)
    app.router.add_route("*", "/{tail:.*}", redirect)
    return app
