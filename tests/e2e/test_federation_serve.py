"""Two real `pufferd serve` processes on loopback with different server names federate: they
resolve each other's users, exchange direct messages both ways (replies included) seen live over
WebSocket, and a message sent while the other server is down arrives after it restarts."""
from __future__ import annotations

import asyncio
import shutil
import socket
import time
from pathlib import Path

import aiohttp
from e2e_support import ADMIN_USERNAME, ServerProcess


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(port: int) -> dict[str, str]:
    return {"PUFFERD_FEDERATION_ENABLED": "1", "PUFFERD_FEDERATION_ALLOW_HTTP": "1",
            "PUFFERD_FEDERATION_ALLOW_PRIVATE_ADDRESSES": "1", "PUFFERD_SERVER_NAME": f"127.0.0.1:{port}",
            "PUFFERD_PUBLIC_URL": f"http://127.0.0.1:{port}", "PUFFERD_FEDERATION_RETRY_BASE_SECONDS": "0.5",
            "PUFFERD_FEDERATION_RETRY_MAX_SECONDS": "1", "PUFFERD_FEDERATION_QUEUE_INTERVAL_SECONDS": "0.5"}


async def _event(ws: aiohttp.ClientWebSocketResponse, type_: str, text: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), deadline - time.monotonic())
        if msg.get("type") == type_ and msg["data"].get("text") == text:
            return msg["data"]  # type: ignore[no-any-return]


async def test_two_servers_exchange_direct_messages(template_init_dir: Path, tmp_path: Path, start_server) -> None:
    dirs = []
    for name in ("a", "b"):
        d = tmp_path / name
        shutil.copytree(template_init_dir, d)
        dirs.append(d)
    pa, pb = _free_port(), _free_port()
    a: ServerProcess = start_server(dirs[0], "--port", str(pa), env=_env(pa))
    b: ServerProcess = start_server(dirs[1], "--port", str(pb), env=_env(pb))
    async with aiohttp.ClientSession() as http:
        # identity: WebFinger and NodeInfo
        async with http.get(f"{b.base_url}/.well-known/webfinger",
                            params={"resource": f"acct:{ADMIN_USERNAME}@127.0.0.1:{pb}"}) as resp:
            assert resp.status == 200, await resp.text()
        async with http.get(f"{b.base_url}/nodeinfo/2.1") as resp:
            assert (await resp.json())["software"]["name"] == "pufferd"
        # resolve each other's admin
        async with http.post(f"{a.base_url}/api/v1/federation/resolve", headers=a.headers(),
                             json={"handle": f"@{ADMIN_USERNAME}@127.0.0.1:{pb}"}) as resp:
            assert resp.status == 200, await resp.text()
            bob_at_a = await resp.json()
        assert bob_at_a["is_remote"] is True and bob_at_a["username"] == f"{ADMIN_USERNAME}@127.0.0.1:{pb}"
        async with http.post(f"{a.base_url}/api/v1/chats", headers=a.headers(),
                             json={"type": "private", "member_ids": [bob_at_a["id"]]}) as resp:
            assert resp.status in (200, 201), await resp.text()
            chat_a = (await resp.json())["id"]

        ws_b = await http.ws_connect(f"{b.base_url}/api/v1/ws", headers=b.headers())
        ws_a = await http.ws_connect(f"{a.base_url}/api/v1/ws", headers=a.headers())
        async with http.post(f"{a.base_url}/api/v1/messages", headers=a.headers(),
                             json={"chat_id": chat_a, "type": "text", "text": "hello from A <b>plain</b>"}) as resp:
            assert resp.status == 201, await resp.text()
            first = await resp.json()
        got = await _event(ws_b, "message_created", "hello from A <b>plain</b>")
        assert got["text"] == "hello from A <b>plain</b>"
        chat_b = got["chat_id"]

        # reply from B reaches A live, as a reply to A's message
        async with http.post(f"{b.base_url}/api/v1/messages", headers=b.headers(),
                             json={"chat_id": chat_b, "type": "text", "text": "hi back",
                                   "reply_to_message_id": got["id"]}) as resp:
            assert resp.status == 201, await resp.text()
        back = await _event(ws_a, "message_created", "hi back")
        assert back["text"] == "hi back" and back["chat_id"] == chat_a
        assert back["reply_to_message_id"] == first["id"]

        # B's outbox lists nothing; A's actor has a key
        async with http.get(f"{b.base_url}/ap/users/1/outbox") as resp:
            assert (await resp.json())["totalItems"] == 0
        await ws_b.close()

        # B is down: A's message waits in the queue and arrives after B restarts
        b.stop()
        async with http.post(f"{a.base_url}/api/v1/messages", headers=a.headers(),
                             json={"chat_id": chat_a, "type": "text", "text": "while you were away"}) as resp:
            assert resp.status == 201, await resp.text()
        await asyncio.sleep(1.5)
        async with http.get(f"{a.base_url}/api/v1/federation/queue", headers=a.headers(),
                            params={"state": "pending"}) as resp:
            assert resp.status == 200
            assert any(r["activity_type"] == "Create" and r["attempts"] >= 1 for r in await resp.json())
        b = start_server(dirs[1], "--port", str(pb), env=_env(pb))
        deadline = time.monotonic() + 30
        texts: list[str] = []
        while time.monotonic() < deadline:
            async with http.get(f"{b.base_url}/api/v1/messages/{chat_b}", headers=b.headers()) as resp:
                texts = [m["text"] for m in await resp.json()]
            if "while you were away" in texts:
                break
            await asyncio.sleep(0.3)
        assert "while you were away" in texts, a.log()
        await ws_a.close()
