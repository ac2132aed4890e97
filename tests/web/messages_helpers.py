"""Helpers shared by the messages, search and notifications tests: chats over the real HTTP API,
sending, and a recorder of bus events."""
from __future__ import annotations

import time
from typing import Any

from pufferd.realtime.bus import Event
from pufferd.web.keys import CTX


async def make_chat(client, owner, *members, type: str = "group", title: str | None = None) -> int:
    """Create a chat through POST /api/v1/chats; return its id."""
    body: dict[str, Any] = {"type": type, "member_ids": [m.id for m in members]}
    if type != "private":
        body["title"] = title or f"{type} of {owner.username}"
    resp = await client.post("/api/v1/chats", json=body, headers=owner.headers)
    assert resp.status in (200, 201), await resp.text()
    return (await resp.json())["id"]


async def send(client, user, chat_id: int, text: str | None = "hello", *, expect: int = 201,
               **extra: Any) -> dict[str, Any]:
    body = {"chat_id": chat_id, "type": "text", "text": text, **extra}
    resp = await client.post("/api/v1/messages", json=body, headers=user.headers)
    data = await resp.json()
    assert resp.status == expect, data
    return data


async def set_role(client, owner, chat_id: int, user, role: str) -> None:
    resp = await client.patch(f"/api/v1/chats/{chat_id}/members/{user.id}/role", json={"role": role},
                              headers=owner.headers)
    assert resp.status == 200, await resp.text()


async def mute(client, user, chat_id: int, muted: bool = True) -> None:
    resp = await client.put(f"/api/v1/chats/{chat_id}/notifications", json={"muted": muted}, headers=user.headers)
    assert resp.status == 200, await resp.text()


async def db_write(client, sql: str, *params: Any) -> None:
    await client.app[CTX].db.write(lambda c: c.execute(sql, params).fetchall())


async def db_rows(client, sql: str, *params: Any) -> list[dict[str, Any]]:
    return await client.app[CTX].db.read(lambda c: c.execute(sql, params).fetchall())


async def block(client, blocker, blocked) -> None:
    await db_write(client, "INSERT INTO blocks(blocker_id, blocked_id, created_at) VALUES (?, ?, ?)",
                   blocker.id, blocked.id, time.time())


async def add_attachment(client, message_id: int, chat_id: int, waveform: str | None) -> None:
    """An attachment row as the media area stores it (only what MessageRead reads from it)."""
    await db_write(client, "INSERT INTO attachments(message_id, chat_id, object_key, file_type, file_size,"
                   " waveform, created_at) VALUES (?, ?, ?, 'audio/ogg', 10, ?, ?)",
                   message_id, chat_id, f"uploads/test-{message_id}.ogg", waveform, time.time())


class Events:
    """Records every event published on the app's bus."""

    def __init__(self, client) -> None:
        self.seen: list[Event] = []
        client.app[CTX].bus.subscribe(self.seen.append)

    def of(self, type_: str) -> list[Event]:
        return [e for e in self.seen if e.type == type_]

    def for_user(self, type_: str, user_id: int) -> list[dict[str, Any]]:
        return [e.data for e in self.seen if e.type == type_ and user_id in e.user_ids]

    def clear(self) -> None:
        self.seen.clear()
