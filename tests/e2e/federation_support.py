"""Helpers of the federation tests that run real servers: a loopback port, the settings that let
servers on loopback federate over http quickly, and waiting for what arrives."""
from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def federation_env(port: int) -> dict[str, str]:
    """A server on PORT of loopback that federates over http with private addresses, retrying fast."""
    return {"PUFFERD_FEDERATION_ENABLED": "1", "PUFFERD_FEDERATION_ALLOW_HTTP": "1",
            "PUFFERD_FEDERATION_ALLOW_PRIVATE_ADDRESSES": "1", "PUFFERD_SERVER_NAME": f"127.0.0.1:{port}",
            "PUFFERD_PUBLIC_URL": f"http://127.0.0.1:{port}", "PUFFERD_FEDERATION_RETRY_BASE_SECONDS": "0.5",
            "PUFFERD_FEDERATION_RETRY_MAX_SECONDS": "1", "PUFFERD_FEDERATION_QUEUE_INTERVAL_SECONDS": "0.5"}


async def next_event(ws: aiohttp.ClientWebSocketResponse, type_: str, match: dict[str, Any],
                     timeout: float = 20) -> dict[str, Any]:
    """The next event of TYPE_ whose data has MATCH's items, skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        msg = await asyncio.wait_for(ws.receive_json(), deadline - time.monotonic())
        if msg.get("type") == type_ and all(msg["data"].get(k) == v for k, v in match.items()):
            return msg["data"]  # type: ignore[no-any-return]


async def until(probe: Callable[[], Awaitable[Any]], timeout: float = 20) -> Any:
    """Poll PROBE until it answers something truthy, or TIMEOUT passes; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        got = await probe()
        if got or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.2)
