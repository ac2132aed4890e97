"""Helpers for the realtime tests: real WebSocket clients over the aiohttp test client."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from pufferd import tokens
from pufferd.realtime.bus import Event
from pufferd.web.keys import CTX, HUB

WS = "/api/v1/ws"


class Sock:
    """A client socket: `ready` is the first frame the server sent."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, ready: dict[str, Any]) -> None:
        self.ws = ws
        self.ready = ready

    @property
    def seq(self) -> int:
        return self.ready["data"]["seq"]

    async def recv(self, timeout: float = 3.0) -> dict[str, Any]:
        """The next frame; fails if the socket closes first."""
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, f"expected a frame, got {msg.type} {msg.data!r} {msg.extra!r}"
        return json.loads(msg.data)

    async def next(self, *types: str, timeout: float = 3.0) -> dict[str, Any]:
        """The next frame of one of TYPES, skipping others (e.g. presence of unrelated users)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - time.monotonic()))
            if frame["type"] in types:
                return frame

    async def silent(self, *types: str, wait: float = 0.3) -> None:
        """Assert that no frame of TYPES (any frame when none given) arrives within WAIT seconds."""
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await self.ws.receive(timeout=left)
            except TimeoutError:
                return
            assert msg.type is aiohttp.WSMsgType.TEXT, f"socket ended: {msg.type}"
            frame = json.loads(msg.data)
            assert types and frame["type"] not in types, f"unexpected frame {frame}"

    async def send(self, frame: Any) -> None:
        if isinstance(frame, (bytes, str)):
            await (self.ws.send_bytes(frame) if isinstance(frame, bytes) else self.ws.send_str(frame))
        else:
            await self.ws.send_json(frame)

    async def closed_with(self, timeout: float = 3.0) -> int | None:
        """Read until the server closes the socket; its close code."""
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.ws.receive(timeout=max(0.01, deadline - time.monotonic()))
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return self.ws.close_code
            if msg.type is aiohttp.WSMsgType.ERROR:
                return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()


async def connect(client, user, *, since: int | None = None, header: bool = False,
                  token: str | None = None, **kw: Any) -> Sock:
    """Open /api/v1/ws as USER (token in the query, or in Authorization with HEADER) and read `ready`."""
    token = token or user.token
    params: dict[str, str] = {} if header else {"token": token}
    if since is not None:
        params["since"] = str(since)
    headers = {"Authorization": f"Bearer {token}"} if header else {}
    ws = await client.ws_connect(WS, params=params, headers=headers, **kw)
    ready = json.loads((await ws.receive(timeout=3)).data)
    assert ready["type"] == "ready", ready
    return Sock(ws, ready)


def publish(client, type_: str, data: dict[str, Any], *users: Any) -> None:
    """Publish on the bus as a domain function does after its commit."""
    client.app[CTX].bus.publish(Event.to(type_, data, [u.id for u in users]))


def hub(client):
    return client.app[HUB]


def token_for(client, user, *, ttl: float, now: float | None = None) -> str:
    ctx = client.app[CTX]
    token, _ = tokens.issue(ctx.keys.jwt, user_id=user.id, token_type="access",
                            now=ctx.clock.time() if now is None else now, ttl=ttl)  # type: ignore[arg-type]
    return token


def short_token(client, user) -> tuple[str, float]:
    """A token that expires 1-2 s from now (JWT exp is whole seconds); and its expiry time."""
    now = time.time()
    exp = int(now) + 2
    return token_for(client, user, ttl=exp - now, now=now), float(exp)


async def make_chat(client, owner, *members, type: str = "group") -> int:
    """Create a chat through POST /api/v1/chats; return its id."""
    body: dict[str, Any] = {"type": type, "member_ids": [m.id for m in members]}
    if type != "private":
        body["title"] = f"{type} of {owner.username}"
    resp = await client.post("/api/v1/chats", json=body, headers=owner.headers)
    assert resp.status in (200, 201), await resp.text()
    return (await resp.json())["id"]


async def db_rows(client, sql: str, *params: Any) -> list[dict[str, Any]]:
    return await client.app[CTX].db.read(lambda c: c.execute(sql, params).fetchall())


async def db_write(client, sql: str, *params: Any) -> None:
    await client.app[CTX].db.write(lambda c: c.execute(sql, params).fetchall())


async def eventually(check, timeout: float = 2.0) -> None:
    """Wait until CHECK() (sync or async) is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)
