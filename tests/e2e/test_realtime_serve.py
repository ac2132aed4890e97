"""A real `pufferd serve`: WebSockets over loopback, and SIGTERM closing them with 1001."""
from __future__ import annotations

import asyncio
import signal

import aiohttp


async def test_sigterm_closes_every_socket_with_1001_and_the_server_exits_cleanly(server):
    url = server.base_url + "/api/v1/ws"
    async with aiohttp.ClientSession() as session:
        by_header = await session.ws_connect(url, headers=server.headers())
        by_query = await session.ws_connect(url, params={"token": server.token()})
        for ws in (by_header, by_query):
            ready = await ws.receive_json(timeout=5)
            assert ready["type"] == "ready" and ready["data"]["user_id"] == 1
        server.process.send_signal(signal.SIGTERM)
        for ws in (by_header, by_query):
            msg = await ws.receive(timeout=10)
            assert msg.type is aiohttp.WSMsgType.CLOSE, msg
            assert ws.close_code == 1001
            assert msg.extra == "server shutting down"
    assert await asyncio.to_thread(server.stop) == 0


async def test_socket_without_token_is_refused_before_upgrade_by_the_real_server(server):
    async with aiohttp.ClientSession() as session:
        resp = await session.get(server.base_url + "/api/v1/ws",
                                 headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                          "Sec-WebSocket-Version": "13",
                                          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert resp.status == 401
        assert await resp.json() == {"detail": "Not authenticated"}
