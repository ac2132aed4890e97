"""The baseline of bench_realtime.py: a bare aiohttp WebSocket broadcast of the same shape.

`GET /api/v1/ws` accepts any client (no auth, compress off, the same heartbeat as pufferd);
`POST /api/v1/messages` takes pufferd's message body and writes one frame shaped like pufferd's
`message_created` event (the MessageRead fields, with seq) to every socket: encoded once, written
with `send_frame` in a loop. No database, no auth, no queues: the most a plain aiohttp process
does per delivery. Same event loop choice as `pufferd serve` (uvloop when installed).

    python3 bench/bare_broadcast.py --port 8081
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import sys
import time
from datetime import UTC, datetime

from aiohttp import WSMsgType, web

CLIENTS = web.AppKey("clients", set)
IDS = web.AppKey("ids", itertools.count)


async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=30.0, compress=False)
    await ws.prepare(request)
    await ws.send_str('{"type":"ready","data":{"user_id":0,"seq":0}}')
    clients = request.app[CLIENTS]
    clients.add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        clients.discard(ws)
    return ws


async def post_message(request: web.Request) -> web.Response:
    body = await request.json()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    mid = next(request.app[IDS])
    message = {"id": mid, "chat_id": body["chat_id"], "sender_id": 1, "reply_to_message_id": None,
               "forwarded_from_message_id": None, "forwarded_from_sender_id": None, "type": body["type"],
               "text": body["text"], "delivery_status": "delivered", "attachment_waveform": None,
               "client_message_id": None, "created_at": now, "updated_at": now}
    frame = json.dumps({"type": "message_created", "data": message, "seq": int(time.time() * 1e6)},
                       separators=(",", ":"), ensure_ascii=False).encode()
    for ws in list(request.app[CLIENTS]):
        if not ws.closed:
            try:
                await ws.send_frame(frame, WSMsgType.TEXT)
            except ConnectionError:
                pass
    return web.json_response(message, status=201)


async def serve(host: str, port: int) -> None:
    app = web.Application()
    app[CLIENTS] = set()
    app[IDS] = itertools.count(1)
    app.router.add_get("/api/v1/ws", ws_handler)
    app.router.add_post("/api/v1/messages", post_message)
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
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
