"""History, threads, read status and delivery_status (API reference 8)."""
from __future__ import annotations

import pytest
from messages_helpers import Events, add_attachment, make_chat, send

from pufferd.web.keys import CTX


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_rate_limit_per_minute": 0, "duplicate_message_cooldown_seconds": 0}


async def history(client, user, chat: int, expect: int = 200, **params) -> list[dict] | dict:
    resp = await client.get(f"/api/v1/messages/{chat}", params=params, headers=user.headers)
    assert resp.status == expect, await resp.text()
    return await resp.json()


async def status(client, user, chat: int, message_id: int, kind: str = "message_read", expect: int = 200):
    resp = await client.post("/api/v1/messages/status", headers=user.headers,
                             json={"chat_id": chat, "message_id": message_id, "status": kind})
    assert resp.status == expect, await resp.text()
    return await resp.json()


async def test_history_is_newest_first_and_pages_with_before_id(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    ids = [(await send(client, alice, chat, f"m{i}"))["id"] for i in range(7)]
    page1 = await history(client, bob, chat, limit=3)
    assert [m["id"] for m in page1] == ids[::-1][:3]
    page2 = await history(client, bob, chat, limit=3, before_id=page1[-1]["id"])
    assert [m["id"] for m in page2] == ids[::-1][3:6]
    page3 = await history(client, bob, chat, limit=3, before_id=page2[-1]["id"])
    assert [m["id"] for m in page3] == ids[:1]
    assert await history(client, bob, chat, before_id=ids[0]) == []
    assert [m["text"] for m in await history(client, bob, chat)] == [f"m{i}" for i in range(6, -1, -1)]


async def test_history_of_a_chat_the_caller_is_not_in_is_404(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    await send(client, alice, chat, "private")
    assert await history(client, carol, chat, expect=404) == {"detail": "Chat not found"}
    assert await history(client, carol, 10**12, expect=404) == {"detail": "Chat not found"}


@pytest.mark.parametrize("params, field", [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "many"}, "limit"),
    ({"before_id": 0}, "before_id"), ({"before_id": "x"}, "before_id"),
])
async def test_history_bad_query_is_422(client, alice, bob, params, field):
    chat = await make_chat(client, alice, bob)
    data = await history(client, alice, chat, expect=422, **params)
    assert data["detail"][0]["loc"] == ["query", field]


async def test_history_path_must_be_an_integer(client, alice):
    resp = await client.get("/api/v1/messages/abc", headers=alice.headers)
    assert resp.status == 422


async def test_history_honours_clear_history_for_the_caller_only(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    await send(client, alice, chat, "old 1")
    await send(client, alice, chat, "old 2")
    resp = await client.post(f"/api/v1/chats/{chat}/clear", headers=bob.headers)
    assert resp.status == 204
    await send(client, alice, chat, "new")
    assert [m["text"] for m in await history(client, bob, chat)] == ["new"]
    assert [m["text"] for m in await history(client, alice, chat)] == ["new", "old 2", "old 1"]


async def test_history_leaves_out_messages_deleted_for_me(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    keep = await send(client, alice, chat, "keep")
    gone = await send(client, alice, chat, "gone")
    resp = await client.delete(f"/api/v1/messages/{gone['id']}", headers=bob.headers)
    assert resp.status == 204
    assert [m["id"] for m in await history(client, bob, chat)] == [keep["id"]]
    assert len(await history(client, alice, chat)) == 2
    # a full page is still full: hidden rows do not eat into the limit
    for i in range(3):
        await send(client, alice, chat, f"more {i}")
    assert len(await history(client, bob, chat, limit=4)) == 4


async def test_history_query_walks_the_chat_id_index(client):
    plan = await client.app[CTX].db.read(lambda c: c.execute(
        "EXPLAIN QUERY PLAN SELECT m.id FROM messages m WHERE m.chat_id = 1 AND m.id > 0 AND m.id < 100"
        " AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = 1 AND h.message_id = m.id)"
        " ORDER BY m.id DESC LIMIT 50").fetchall())
    details = " | ".join(r["detail"] for r in plan)
    assert "USING COVERING INDEX messages_by_chat" in details or "USING INDEX messages_by_chat" in details
    assert "TEMP B-TREE" not in details


async def test_attachment_waveform_comes_with_the_message(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    voice = await send(client, alice, chat, None, type="voice")
    plain = await send(client, alice, chat, None, type="file")
    await add_attachment(client, voice["id"], chat, "[4, 7, 10, 9, 6]")
    await add_attachment(client, plain["id"], chat, None)
    by_id = {m["id"]: m for m in await history(client, bob, chat)}
    assert by_id[voice["id"]]["attachment_waveform"] == [4, 7, 10, 9, 6]
    assert by_id[plain["id"]]["attachment_waveform"] is None


# delivery status and cursors ----------------------------------------------------------------

async def test_delivery_status_moves_from_sent_to_delivered_to_read(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m1 = await send(client, alice, chat, "one")
    m2 = await send(client, alice, chat, "two")
    assert [m["delivery_status"] for m in await history(client, alice, chat)] == ["sent", "sent"]
    assert [m["delivery_status"] for m in await history(client, bob, chat)] == ["delivered", "delivered"]
    await status(client, bob, chat, m1["id"], "message_delivered")
    assert [m["delivery_status"] for m in await history(client, alice, chat)] == ["sent", "delivered"]
    await status(client, bob, chat, m2["id"], "message_read")
    assert [m["delivery_status"] for m in await history(client, alice, chat)] == ["read", "read"]
    assert [m["delivery_status"] for m in await history(client, bob, chat)] == ["read", "read"]


async def test_client_message_id_is_shown_to_the_sender_only(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    await send(client, alice, chat, "x", client_message_id="mine-1")
    assert (await history(client, alice, chat))[0]["client_message_id"] == "mine-1"
    assert (await history(client, bob, chat))[0]["client_message_id"] is None


async def test_status_cursors_only_move_forward_and_both_are_returned(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    ids = [(await send(client, alice, chat, f"m{i}"))["id"] for i in range(4)]
    assert await status(client, bob, chat, ids[1], "message_delivered") == {
        "last_delivered_message_id": ids[1], "last_read_message_id": 0}
    assert await status(client, bob, chat, ids[2], "message_read") == {
        "last_delivered_message_id": ids[2], "last_read_message_id": ids[2]}
    assert await status(client, bob, chat, ids[0], "message_read") == {
        "last_delivered_message_id": ids[2], "last_read_message_id": ids[2]}
    assert await status(client, bob, chat, ids[3], "message_delivered") == {
        "last_delivered_message_id": ids[3], "last_read_message_id": ids[2]}


async def test_status_publishes_message_status_only_when_a_cursor_moves(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    events = Events(client)
    await status(client, bob, chat, m["id"])
    await status(client, bob, chat, m["id"])
    got = events.of("message_status")
    assert len(got) == 1
    assert got[0].data == {"chat_id": chat, "user_id": bob.id, "last_delivered_message_id": m["id"],
                           "last_read_message_id": m["id"]}
    assert got[0].user_ids == {alice.id, bob.id}


async def test_unread_counts_in_chat_read_follow_the_read_cursor(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    ids = [(await send(client, alice, chat, f"m{i} @bob" if i == 2 else f"m{i}"))["id"] for i in range(3)]
    resp = await client.get(f"/api/v1/chats/{chat}", headers=bob.headers)
    data = await resp.json()
    assert (data["unread_count"], data["unread_mentions_count"]) == (3, 1)
    await status(client, bob, chat, ids[1])
    data = await (await client.get(f"/api/v1/chats/{chat}", headers=bob.headers)).json()
    assert (data["unread_count"], data["unread_mentions_count"]) == (1, 1)
    await status(client, bob, chat, ids[2])
    data = await (await client.get(f"/api/v1/chats/{chat}", headers=bob.headers)).json()
    assert (data["unread_count"], data["unread_mentions_count"]) == (0, 0)


async def test_status_for_a_message_of_another_chat_is_404(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    other = await make_chat(client, alice, carol)
    await send(client, alice, chat, "here")
    theirs = await send(client, alice, other, "there")
    assert await status(client, bob, chat, theirs["id"], expect=404) == {"detail": "Message not found"}
    assert await status(client, bob, chat, 10**9, expect=404) == {"detail": "Message not found"}
    assert await status(client, carol, chat, theirs["id"], expect=404) == {"detail": "Chat not found"}


async def test_status_accepts_a_since_deleted_message(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    first = await send(client, alice, chat, "one")
    await send(client, alice, chat, "two")
    resp = await client.delete(f"/api/v1/messages/{first['id']}", params={"for_all": "true"}, headers=alice.headers)
    assert resp.status == 204
    assert (await status(client, bob, chat, first["id"]))["last_read_message_id"] == first["id"]


@pytest.mark.parametrize("body, field", [
    ({"status": "seen"}, "status"), ({"message_id": 0}, "message_id"), ({"chat_id": "x"}, "chat_id"),
    ({"extra": 1}, "extra"),
])
async def test_status_bad_bodies_are_422(client, alice, bob, body, field):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    resp = await client.post("/api/v1/messages/status", headers=bob.headers,
                             json={"chat_id": chat, "message_id": m["id"], "status": "message_read", **body})
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["body", field]


async def test_mark_delivered_is_the_delivery_receipt_of_status(client, alice, bob):
    from pufferd import messages
    from pufferd.db import users_q

    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    ctx = client.app[CTX]
    bob_user = await ctx.db.read(lambda c: users_q.get(c, bob.id))
    cursors = await messages.mark_delivered(ctx, bob_user, chat, m["id"])
    assert (cursors.last_delivered_message_id, cursors.last_read_message_id) == (m["id"], 0)
    assert (await history(client, alice, chat))[0]["delivery_status"] == "delivered"


# threads ----------------------------------------------------------------------------------------

async def thread(client, user, message_id: int, expect: int = 200, **params):
    resp = await client.get(f"/api/v1/messages/{message_id}/thread", params=params, headers=user.headers)
    assert resp.status == expect, await resp.text()
    return await resp.json()


async def test_thread_is_root_then_replies_breadth_first(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    root = (await send(client, alice, chat, "root"))["id"]
    a = (await send(client, bob, chat, "a", reply_to_message_id=root))["id"]
    a1 = (await send(client, alice, chat, "a1", reply_to_message_id=a))["id"]
    b = (await send(client, bob, chat, "b", reply_to_message_id=root))["id"]
    await send(client, alice, chat, "unrelated")
    a1x = (await send(client, bob, chat, "a1x", reply_to_message_id=a1))["id"]
    b1 = (await send(client, alice, chat, "b1", reply_to_message_id=b))["id"]
    assert [m["id"] for m in await thread(client, bob, root)] == [root, a, b, a1, b1, a1x]
    assert [m["id"] for m in await thread(client, bob, root, limit=3)] == [root, a, b]
    assert [m["id"] for m in await thread(client, bob, a)] == [a, a1, a1x]


async def test_thread_skips_replies_hidden_for_me_but_keeps_their_replies(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    root = (await send(client, alice, chat, "root"))["id"]
    a = (await send(client, bob, chat, "a", reply_to_message_id=root))["id"]
    a1 = (await send(client, alice, chat, "a1", reply_to_message_id=a))["id"]
    await client.delete(f"/api/v1/messages/{a}", headers=alice.headers)
    assert [m["id"] for m in await thread(client, alice, root, limit=2)] == [root, a1]
    assert [m["id"] for m in await thread(client, bob, root)] == [root, a, a1]


async def test_thread_of_an_invisible_message_is_404(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    root = (await send(client, alice, chat, "root"))["id"]
    assert await thread(client, carol, root, expect=404) == {"detail": "Message not found"}
    assert await thread(client, alice, 10**9, expect=404) == {"detail": "Message not found"}
    resp = await client.get(f"/api/v1/messages/{root}/thread", params={"limit": 501}, headers=alice.headers)
    assert resp.status == 422
