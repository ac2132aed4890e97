"""Timeouts over HTTP (issue 13, item 3; pufferd/moderation.py, pufferd/access.py): a timed-out user
reads but is refused what would reach others, with the end in the detail, until the timeout ends
by itself (a fake clock moves past it); the user is told over the socket; the user list shows it."""
from __future__ import annotations

import time

import pytest
from admin_helpers import person
from messages_helpers import make_chat, send
from moderation_helpers import MOD, at, ban, timeout
from realtime_helpers import connect

from pufferd.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=time.time())



@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_rate_limit_per_minute": 0, "duplicate_message_cooldown_seconds": 0}


async def test_a_timed_out_user_is_refused_naming_the_end_then_allowed_after_it(client, make_user, clock, alice,
                                                                                 bob, carol):
    mod = await person(client.app, make_user, "moderator")
    group = await make_chat(client, alice, bob)
    own = await send(client, alice, group, "mine")
    theirs = await send(client, bob, group, "theirs")
    until = clock.time() + 600  # within the lifetime of the test tokens
    await timeout(client, mod, alice, until, reason="cool down")

    async def attempts() -> dict[str, tuple[int, str]]:
        tries = {
            "send": ("POST", "/api/v1/messages", {"chat_id": group, "type": "text", "text": "hi"}),
            "edit": ("PUT", f"/api/v1/messages/{own['id']}", {"text": "edited"}),
            "react": ("POST", f"/api/v1/messages/{theirs['id']}/reactions/toggle", {"emoji": "👍"}),
            "forward": ("POST", f"/api/v1/messages/{theirs['id']}/forward", {"target_chat_id": group}),
            "upload": ("POST", "/api/v1/media/upload-url",
                       {"file_name": "a.png", "file_type": "image/png", "file_size": 100}),
            "create group": ("POST", "/api/v1/chats", {"type": "group", "title": "New"}),
            "create private": ("POST", "/api/v1/chats", {"type": "private", "member_ids": [carol.id]}),
            "invite member": ("POST", f"/api/v1/chats/{group}/members", {"user_id": carol.id}),
            "invite link": ("POST", f"/api/v1/chats/{group}/invite-link", None),
        }
        out = {}
        for name, (method, path, body) in tries.items():
            resp = await client.request(method, path, json=body, headers=alice.headers)
            out[name] = (resp.status, (await resp.json()).get("detail", "") if resp.status >= 400 else "")
        return out

    refused = await attempts()
    end = at(until)
    for name, (status, detail) in refused.items():
        assert status == 403, (name, status, detail)
        assert end in detail and "cool down" in detail, (name, detail)
    # reading goes on
    resp = await client.get(f"/api/v1/messages/{group}", headers=alice.headers)
    assert resp.status == 200 and len(await resp.json()) == 2

    clock.advance(601)  # it ends by itself
    allowed = await attempts()
    assert all(status < 400 for status, _ in allowed.values()), allowed


async def test_the_timed_out_user_is_told_over_the_socket_and_when_it_is_lifted(client, make_user, clock, alice):
    mod = await person(client.app, make_user, "moderator")
    sock = await connect(client, alice)
    until = clock.time() + 600
    body = await timeout(client, mod, alice, until, reason="calm down")
    assert (body["state"], body["timeout_until"], body["timeout_reason"]) == ("timed_out", at(until), "calm down")
    event = await sock.next("account_restricted")
    assert event["data"] == {"until": at(until), "reason": "calm down"}
    resp = await client.delete(f"{MOD}/users/{alice.id}/timeout", headers=mod.headers)
    assert resp.status == 200 and (await resp.json())["state"] == "active"
    event = await sock.next("account_restricted")
    assert event["data"] == {"until": None, "reason": None}
    resp = await client.delete(f"{MOD}/users/{alice.id}/timeout", headers=mod.headers)
    assert resp.status == 409


async def test_a_timeout_must_end_in_the_future_and_within_a_year(client, make_user, clock, alice):
    mod = await person(client.app, make_user, "moderator")
    for until in (clock.time() - 1, clock.time() + 400 * 86400):
        body = await timeout(client, mod, alice, until, expect=422)
        assert body["detail"][0]["loc"] == ["body", "until"]
    resp = await client.put(f"{MOD}/users/{alice.id}/timeout", json={"until": at(clock.time() + 60), "reason": " "},
                            headers=mod.headers)
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["body", "reason"]


async def test_the_user_list_shows_and_filters_banned_and_timed_out(client, make_user, clock, alice, bob, carol):
    admin = await person(client.app, make_user, "admin")
    await ban(client, admin, alice)
    await timeout(client, admin, bob, clock.time() + 60)

    async def listed(state: str) -> set[int]:
        resp = await client.get("/api/v1/system/users", params={"state": state, "limit": 200}, headers=admin.headers)
        assert resp.status == 200, await resp.text()
        return {u["id"] for u in (await resp.json())["users"]}

    assert alice.id in await listed("banned") and bob.id not in await listed("banned")
    assert bob.id in await listed("timed_out") and alice.id not in await listed("timed_out")
    assert carol.id in await listed("active") and not {alice.id, bob.id} & await listed("active")
    clock.advance(61)
    assert bob.id in await listed("active") and bob.id not in await listed("timed_out")
