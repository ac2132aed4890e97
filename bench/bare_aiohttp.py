"""The baseline of bench_baseline.py: a bare aiohttp server answering GET /health/live.

Same body as pufferd's /health/live, same event loop choice (uvloop when installed, as
`pufferd serve` does), no middleware and no access log. With --middleware, one middleware that does nothing but
await the handler: the floor that aiohttp's middleware dispatch puts under any middleware.

    python3 bench/bare_aiohttp.py --port 8080 [--middleware]
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BODY = b'{"status":"ok"}'


async def live(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/json")


@web.middleware
async def passthrough(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await handler(request)


async def serve(host: str, port: int, middleware: bool) -> None:
    app = web.Application(middlewares=[passthrough] if middleware else [])
    app.router.add_get("/health/live", live)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
    print(f"listening on http://{bound[0]}:{bound[1]}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--middleware", action="store_true", help="add one pass-through middleware")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port, args.middleware))
    else:
        uvloop.run(serve(args.host, args.port, args.middleware))


if __name__ == "__main__":
    main()
