"""Helpers for the moderation and reports tests: the moderation routes over HTTP, and the chat set-up
they act on."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pufferd.web.keys import CTX

MOD = "/api/v1/system/moderation"
REPORTS = "/api/v1/system/reports"


def at(ts: float) -> str:
    """A unix time as the ISO 8601 UTC text the API writes (whole seconds)."""
    return datetime.fromtimestamp(ts, UTC).isoformat()[:-6] + "Z"


async def answer(resp) -> tuple[int, Any]:
    return resp.status, (None if resp.status == 204 else await resp.json())


async def ban(client, actor, target, reason: str = "spamming everyone", expect: int = 200) -> Any:
    resp = await client.post(f"{MOD}/users/{target.id}/ban", json={"reason": reason}, headers=actor.headers)
    status, body = await answer(resp)
    assert status == expect, body
    return body


async def unban(client, actor, target, expect: int = 200) -> Any:
    resp = await client.delete(f"{MOD}/users/{target.id}/ban", params={"reason": "served"}, headers=actor.headers)
    status, body = await answer(resp)
    assert status == expect, body
    return body


async def timeout(client, actor, target, until: float, reason: str = "cool down", expect: int = 200) -> Any:
    resp = await client.put(f"{MOD}/users/{target.id}/timeout", json={"until": at(until), "reason": reason},
                            headers=actor.headers)
    status, body = await answer(resp)
    assert status == expect, body
    return body


async def remove_message(client, actor, message_id: int, reason: str = "off topic", expect: int = 204) -> Any:
    resp = await client.delete(f"{MOD}/messages/{message_id}", json={"reason": reason}, headers=actor.headers)
    status, body = await answer(resp)
    assert status == expect, body
    return body


async def report(client, user, expect: int = 201, **body: Any) -> Any:
    body.setdefault("category", "spam")
    resp = await client.post("/api/v1/reports", json=body, headers=user.headers)
    status, data = await answer(resp)
    assert status == expect, data
    return data


async def resolve(client, moderator, report_id: int, action: str, expect: int = 200, **extra: Any) -> Any:
    resp = await client.post(f"{REPORTS}/{report_id}/resolve",
                             json={"action": action, "reason": f"resolved: {action}", **extra},
                             headers=moderator.headers)
    status, data = await answer(resp)
    assert status == expect, data
    return data


async def notifications_of(client, user) -> list[dict[str, Any]]:
    resp = await client.get("/api/v1/notifications", headers=user.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def audit_of(client, event: str) -> list[Any]:
    from pufferd.db import audit_q
    return await client.app[CTX].db.read(lambda c: audit_q.page(c, limit=100, events=(event,)))


async def user_row(client, user_id: int):
    from pufferd.db import users_q
    return await client.app[CTX].db.read(lambda c: users_q.get(c, user_id))
