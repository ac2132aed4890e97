"""Helpers for the chats tests: chats over the real HTTP API, messages seeded in SQL (so these
tests do not depend on the messages area), a bus recorder and a database snapshot."""
from __future__ import annotations

import time
from typing import Any

from pufferd.realtime.bus import Event
from pufferd.web.keys import CTX

API = "/api/v1/chats"


async def create(client, user, expect: int = 200, **body: Any) -> dict[str, Any]:
    resp = await client.post(API, json=body, headers=user.headers)
    data = await resp.json()
    assert resp.status == expect, data
    return data


async def group(client, owner, *members, type: str = "group", title: str = "Club", **extra: Any) -> dict[str, Any]:
    return await create(client, owner, type=type, title=title, member_ids=[m.id for m in members], **extra)


async def private(client, a, b) -> dict[str, Any]:
    return await create(client, a, type="private", member_ids=[b.id])


async def call(client, method: str, path: str, user, expect: int, json: Any = None) -> Any:
    resp = await client.request(method, path, json=json, headers=user.headers)
    data = None if resp.status == 204 else await resp.json()
    assert resp.status == expect, data
    return data


async def chat_list(client, user, **params: Any) -> list[dict[str, Any]]:
    params = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
    resp = await client.get(API, params=params, headers=user.headers)
    data = await resp.json()
    assert resp.status == 200, data
    return data


async def sql(client, statement: str, *params: Any) -> list[dict[str, Any]]:
    return await client.app[CTX].db.write(lambda c: c.execute(statement, params).fetchall())


async def add_message(client, chat_id: int, sender, text: str = "hello", *, mentions: tuple = (),
                      at: float | None = None) -> int:
    """A message stored as the messages area stores it (row, chat activity, mentions)."""
    now = at if at is not None else time.time()

    def txn(c):
        mid = c.execute("INSERT INTO messages(chat_id, sender_id, type, text, created_at, updated_at)"
                        " VALUES (?, ?, 'text', ?, ?, ?) RETURNING id",
                        (chat_id, sender.id, text, now, now)).fetchone()["id"]
        c.execute("UPDATE chats SET last_message_id = ?, last_activity_at = ? WHERE id = ?", (mid, now, chat_id))
        for user in mentions:
            c.execute("INSERT INTO message_mentions(message_id, user_id, chat_id) VALUES (?, ?, ?)",
                      (mid, user.id, chat_id))
        return mid

    return await client.app[CTX].db.write(txn)


async def set_user(client, user, **cols: Any) -> None:
    assigns = ", ".join(f"{k} = ?" for k in cols)
    await sql(client, f"UPDATE users SET {assigns} WHERE id = ?", *cols.values(), user.id)


async def add_contact(client, owner, contact) -> None:
    await sql(client, "INSERT INTO contacts(owner_id, contact_id, created_at) VALUES (?, ?, ?)",
              owner.id, contact.id, time.time())


async def block(client, blocker, blocked) -> None:
    await sql(client, "INSERT INTO blocks(blocker_id, blocked_id, created_at) VALUES (?, ?, ?)",
              blocker.id, blocked.id, time.time())


async def snapshot(client) -> dict[str, list[dict[str, Any]]]:
    """Every row the chats area writes, to show that a refused request changed nothing."""
    tables = {"chats": "id", "chat_members": "chat_id, user_id", "chat_bans": "chat_id, user_id",
              "notifications": "id"}

    def read(c):
        return {t: c.execute(f"SELECT * FROM {t} ORDER BY {order}").fetchall() for t, order in tables.items()}

    return await client.app[CTX].db.read(read)


class Recorder:
    """Every event published on the bus while it is attached."""

    def __init__(self, client) -> None:
        self.events: list[Event] = []
        client.app[CTX].bus.subscribe(self.events.append)

    def of(self, type_: str) -> list[Event]:
        return [e for e in self.events if e.type == type_]

    def updated_for(self, user) -> list[dict[str, Any]]:
        return [e.data for e in self.of("chat_updated") if user.id in e.user_ids]

    def removed_for(self, user) -> list[dict[str, Any]]:
        return [e.data for e in self.of("chat_removed") if user.id in e.user_ids]

    def clear(self) -> None:
        self.events.clear()
