"""Forwards and reactions (API reference 3.4 and 8)."""
from __future__ import annotations

import pytest
from messages_helpers import Events, add_attachment, block, db_rows, make_chat, send


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_rate_limit_per_minute": 0, "duplicate_message_cooldown_seconds": 0}


async def forward(client, user, message_id: int, target: int, include_author: bool = True, expect: int = 201):
    resp = await client.post(f"/api/v1/messages/{message_id}/forward", headers=user.headers,
                             json={"target_chat_id": target, "include_author": include_author})
    assert resp.status == expect, await resp.text()
    return await resp.json()


async def forward_bulk(client, user, message_id: int, targets: list, include_author: bool = True,
                       expect: int = 201):
    resp = await client.post(f"/api/v1/messages/{message_id}/forward-bulk", headers=user.headers,
                             json={"target_chat_ids": targets, "include_author": include_author})
    assert resp.status == expect, await resp.text()
    return await resp.json()


async def test_forward_copies_into_the_target_and_names_the_source(client, alice, bob, carol):
    source_chat = await make_chat(client, bob, alice)
    target = await make_chat(client, alice, carol)
    original = await send(client, bob, source_chat, "worth sharing")
    events = Events(client)
    fwd = await forward(client, alice, original["id"], target)
    assert fwd["chat_id"] == target and fwd["sender_id"] == alice.id
    assert fwd["forwarded_from_message_id"] == original["id"]
    assert fwd["forwarded_from_sender_id"] == bob.id
    assert fwd["text"] == "worth sharing" and fwd["type"] == "text" and fwd["delivery_status"] == "sent"
    assert [e.data["id"] for e in events.of("message_created")] == [fwd["id"], fwd["id"]]
    assert {u for e in events.of("message_created") for u in e.user_ids} == {alice.id, carol.id}
    resp = await client.get(f"/api/v1/messages/{target}", headers=carol.headers)
    assert [m["id"] for m in await resp.json()] == [fwd["id"]]


async def test_forward_without_author_hides_the_original_author(client, alice, bob, carol):
    source_chat = await make_chat(client, bob, alice)
    target = await make_chat(client, alice, carol)
    original = await send(client, bob, source_chat, "anonymous tip")
    fwd = await forward(client, alice, original["id"], target, include_author=False)
    assert fwd["forwarded_from_sender_id"] is None and fwd["sender_id"] == alice.id
    # carol cannot reach the source either: it is in a chat she is not in
    resp = await client.get(f"/api/v1/messages/{original['id']}/thread", headers=carol.headers)
    assert resp.status == 404


async def test_forwarding_a_forward_keeps_the_original_author(client, alice, bob, carol):
    c1 = await make_chat(client, bob, alice)
    c2 = await make_chat(client, alice, carol)
    c3 = await make_chat(client, carol, bob)
    original = await send(client, bob, c1, "chain")
    first = await forward(client, alice, original["id"], c2)
    second = await forward(client, carol, first["id"], c3)
    assert second["forwarded_from_message_id"] == first["id"]
    assert second["forwarded_from_sender_id"] == bob.id
    hidden = await forward(client, alice, original["id"], c2, include_author=False)
    third = await forward(client, carol, hidden["id"], c3)
    assert third["forwarded_from_sender_id"] == alice.id  # the copy stands as alice's own


async def test_forward_carries_the_attachments(client, alice, bob, carol):
    source_chat = await make_chat(client, bob, alice)
    target = await make_chat(client, alice, carol)
    voice = await send(client, bob, source_chat, None, type="voice")
    await add_attachment(client, voice["id"], source_chat, "[3, 5, 8]")
    fwd = await forward(client, alice, voice["id"], target)
    assert fwd["type"] == "voice" and fwd["attachment_waveform"] == [3, 5, 8]
    rows = await db_rows(client, "SELECT chat_id, object_key FROM attachments WHERE message_id = ?", fwd["id"])
    assert rows == [{"chat_id": target, "object_key": f"uploads/test-{voice['id']}.ogg"}]


async def test_forward_of_an_invisible_message_is_404(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    mine = await make_chat(client, carol, bob)
    m = await send(client, alice, chat, "not yours")
    data = await forward(client, carol, m["id"], mine, expect=404)
    assert data == {"detail": "Message not found"}


async def test_forward_into_a_chat_where_the_caller_may_not_post(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    channel = await make_chat(client, carol, alice, type="channel")
    stranger = await make_chat(client, carol, bob)
    m = await send(client, alice, chat, "x")
    assert await forward(client, alice, m["id"], channel, expect=403) == {
        "detail": "Only the owner and admins can post in a channel"}
    assert await forward(client, alice, m["id"], stranger, expect=404) == {"detail": "Chat not found"}
    assert len(await db_rows(client, "SELECT id FROM messages")) == 1


async def test_forward_into_a_private_chat_respects_blocks(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    private = await make_chat(client, alice, carol, type="private")
    m = await send(client, alice, chat, "x")
    await block(client, carol, alice)
    await forward(client, alice, m["id"], private, expect=403)


async def test_forward_bulk_delivers_to_every_target(client, alice, bob, carol):
    chat = await make_chat(client, bob, alice)
    t1 = await make_chat(client, alice, carol)
    t2 = await make_chat(client, alice, bob, carol)
    m = await send(client, bob, chat, "to all")
    copies = await forward_bulk(client, alice, m["id"], [t2, t1], include_author=False)
    assert [c["chat_id"] for c in copies] == [t2, t1]
    assert all(c["forwarded_from_message_id"] == m["id"] and c["forwarded_from_sender_id"] is None for c in copies)


async def test_forward_bulk_is_all_or_nothing(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    ok = await make_chat(client, alice, carol)
    channel = await make_chat(client, carol, alice, type="channel")
    m = await send(client, alice, chat, "x")
    events = Events(client)
    data = await forward_bulk(client, alice, m["id"], [ok, channel], expect=403)
    assert data == {"detail": "Only the owner and admins can post in a channel"}
    assert await db_rows(client, "SELECT id FROM messages WHERE chat_id = ?", ok) == []
    assert await db_rows(client, "SELECT last_message_id FROM chats WHERE id = ?", ok) == [{"last_message_id": None}]
    assert events.seen == []


@pytest.mark.parametrize("targets", [[], [1, 1], [0], ["x"], list(range(1, 22))])
async def test_forward_bulk_bad_targets_are_422(client, alice, bob, targets):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    resp = await client.post(f"/api/v1/messages/{m['id']}/forward-bulk", headers=alice.headers,
                             json={"target_chat_ids": targets})
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"][:2] == ["body", "target_chat_ids"]


# reactions --------------------------------------------------------------------------------------

async def toggle(client, user, message_id: int, emoji, expect: int = 200):
    resp = await client.post(f"/api/v1/messages/{message_id}/reactions/toggle", json={"emoji": emoji},
                             headers=user.headers)
    assert resp.status == expect, await resp.text()
    return await resp.json()


async def reactions(client, user, message_id: int, expect: int = 200):
    resp = await client.get(f"/api/v1/messages/{message_id}/reactions", headers=user.headers)
    assert resp.status == expect, await resp.text()
    return await resp.json()


async def test_toggle_adds_then_removes_and_counts_per_emoji(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    m = await send(client, alice, chat, "react to me")
    assert await toggle(client, bob, m["id"], "👍") == [{"emoji": "👍", "count": 1, "reacted": True}]
    await toggle(client, carol, m["id"], "👍")
    await toggle(client, carol, m["id"], "🎉")
    assert await reactions(client, bob, m["id"]) == [
        {"emoji": "👍", "count": 2, "reacted": True}, {"emoji": "🎉", "count": 1, "reacted": False}]
    assert await reactions(client, alice, m["id"]) == [
        {"emoji": "👍", "count": 2, "reacted": False}, {"emoji": "🎉", "count": 1, "reacted": False}]
    assert await toggle(client, bob, m["id"], "👍") == [
        {"emoji": "👍", "count": 1, "reacted": False}, {"emoji": "🎉", "count": 1, "reacted": False}]


async def test_toggle_publishes_reactions_updated_to_the_members(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    events = Events(client)
    await toggle(client, bob, m["id"], "❤️")
    [ev] = events.of("reactions_updated")
    assert ev.user_ids == {alice.id, bob.id}
    assert ev.data == {"chat_id": chat, "message_id": m["id"], "reactions": [{"emoji": "❤️", "count": 1}],
                       "user_id": bob.id, "emoji": "❤️", "reacted": True}


@pytest.mark.parametrize("emoji", ["👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "1️⃣", "❤️", "🧑🏽‍🚀"])
async def test_single_emoji_graphemes_are_accepted(client, alice, bob, emoji):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    assert await toggle(client, bob, m["id"], emoji) == [{"emoji": emoji, "count": 1, "reacted": True}]


@pytest.mark.parametrize("emoji", ["", "a", "ok", "👍👍", "👍 ", " 👍", "🇫", "🏻", "1", "\u200d", "😀\u200d",
                                   "<script>", "'; DROP TABLE message_reactions; --", "👍" + "\ufe0f" * 40, 5, None])
async def test_anything_but_one_emoji_is_422(client, alice, bob, emoji):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    data = await toggle(client, bob, m["id"], emoji, expect=422)
    assert data["detail"][0]["loc"] == ["body", "emoji"]
    assert await reactions(client, bob, m["id"]) == []


async def test_reactions_on_an_invisible_message_are_404(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    assert await toggle(client, carol, m["id"], "👍", expect=404) == {"detail": "Message not found"}
    assert await reactions(client, carol, m["id"], expect=404) == {"detail": "Message not found"}
    assert await reactions(client, alice, 10**9, expect=404) == {"detail": "Message not found"}


async def test_one_user_may_put_at_most_ten_emoji_on_a_message(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    many = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋"]
    for e in many[:10]:
        await toggle(client, bob, m["id"], e)
    data = await toggle(client, bob, m["id"], many[10], expect=422)
    assert data["detail"][0]["msg"] == "at most 10 different reactions per message"
    assert len(await reactions(client, bob, m["id"])) == 10


async def test_a_block_in_a_private_chat_forbids_reacting(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    m = await send(client, alice, chat, "x")
    await block(client, alice, bob)
    await toggle(client, bob, m["id"], "👍", expect=403)
    assert await reactions(client, bob, m["id"]) == []
