"""Editing a message obeys the rules of sending it (pufferd/access.py can_edit → can_post): blocks,
bans, a channel's posting right and the message rate limit."""
from __future__ import annotations

import pytest
from messages_helpers import Events, db_rows, make_chat, send, set_role

from pufferd import access


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_rate_limit_per_minute": 4, "duplicate_message_cooldown_seconds": 0}


async def edit(client, user, message_id: int, text: str, expect: int = 200) -> dict:
    resp = await client.put(f"/api/v1/messages/{message_id}", json={"text": text}, headers=user.headers)
    data = await resp.json()
    assert resp.status == expect, data
    return data


async def stored_text(client, message_id: int) -> str:
    return (await db_rows(client, "SELECT text FROM messages WHERE id = ?", message_id))[0]["text"]


async def test_a_blocked_user_cannot_edit_old_messages_into_the_blockers_chat(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    old = await send(client, bob, chat, "hello")
    resp = await client.post(f"/api/v1/users/{bob.id}/block", headers=alice.headers)
    assert resp.status == 204
    events = Events(client)
    data = await edit(client, bob, old["id"], "still here @alice", expect=403)
    assert data == {"detail": access.NOT_ACCEPTED}
    assert await stored_text(client, old["id"]) == "hello"
    assert events.for_user("message_updated", alice.id) == [] and events.for_user("notification", alice.id) == []
    assert await db_rows(client, "SELECT * FROM notifications WHERE user_id = ? AND event_type = 'mention'",
                         alice.id) == []


async def test_the_blocker_cannot_edit_their_old_messages_to_the_blocked_user(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    old = await send(client, alice, chat, "hello")
    resp = await client.post(f"/api/v1/users/{bob.id}/block", headers=alice.headers)
    assert resp.status == 204
    assert await edit(client, alice, old["id"], "hi", expect=403) == {"detail": access.YOU_BLOCKED}
    await client.delete(f"/api/v1/users/{bob.id}/block", headers=alice.headers)
    assert (await edit(client, alice, old["id"], "hi"))["text"] == "hi"


async def test_an_admin_who_lost_the_channel_posting_right_cannot_edit_old_posts(client, alice, bob, carol):
    channel = await make_chat(client, alice, bob, carol, type="channel")
    await set_role(client, alice, channel, bob, "admin")
    post = await send(client, bob, channel, "news")
    await set_role(client, alice, channel, bob, "member")
    events = Events(client)
    assert await edit(client, bob, post["id"], "fake news", expect=403) == {"detail": access.CHANNEL_POSTING}
    assert await stored_text(client, post["id"]) == "news"
    assert events.of("message_updated") == []


async def test_a_banned_user_cannot_edit_old_messages(client, alice, bob, carol):
    group = await make_chat(client, alice, bob, carol)
    old = await send(client, bob, group, "hello")
    resp = await client.post(f"/api/v1/chats/{group}/bans/{bob.id}", headers=alice.headers)
    assert resp.status == 204
    assert await edit(client, bob, old["id"], "after the ban", expect=404) == {"detail": access.MESSAGE_NOT_FOUND}
    assert await stored_text(client, old["id"]) == "hello"


async def test_edits_count_against_the_message_rate_limit(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "v0")
    for n in range(1, 4):
        await edit(client, alice, m["id"], f"v{n}")
    resp = await client.put(f"/api/v1/messages/{m['id']}", json={"text": "v4"}, headers=alice.headers)
    assert resp.status == 429 and "Retry-After" in resp.headers
    assert (await resp.json())["detail"].startswith("Rate limit exceeded.")
    assert await stored_text(client, m["id"]) == "v3"
