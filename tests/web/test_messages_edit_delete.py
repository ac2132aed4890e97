"""PUT and DELETE /api/v1/messages/{message_id} (API reference 8)."""
from __future__ import annotations

import pytest
from messages_helpers import Events, add_attachment, db_rows, make_chat, send, set_role

from pufferd.app import make_app
from pufferd.clock import FakeClock
from pufferd.web.keys import CTX


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_rate_limit_per_minute": 0, "duplicate_message_cooldown_seconds": 0,
            "max_message_length": 100}


@pytest.fixture
def app(settings):
    return make_app(settings, clock=FakeClock())


async def edit(client, user, message_id: int, text, expect: int = 200):
    resp = await client.put(f"/api/v1/messages/{message_id}", json={"text": text}, headers=user.headers)
    assert resp.status == expect, await resp.text()
    return await resp.json()


async def delete(client, user, message_id: int, for_all: bool = False, expect: int = 204):
    resp = await client.delete(f"/api/v1/messages/{message_id}", params={"for_all": str(for_all).lower()},
                               headers=user.headers)
    assert resp.status == expect, await resp.text()
    return None if expect == 204 else await resp.json()


async def search(client, user, query: str) -> list[int]:
    resp = await client.get("/api/v1/messages/search", params={"query": query}, headers=user.headers)
    assert resp.status == 200
    return [m["id"] for m in await resp.json()]


async def test_sender_edits_text_and_updated_at_moves(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "helo")
    client.app[CTX].clock.advance(30)
    events = Events(client)
    data = await edit(client, alice, m["id"], "hello")
    assert data["text"] == "hello" and data["id"] == m["id"]
    assert data["created_at"] == m["created_at"] and data["updated_at"] > m["updated_at"]
    [to_sender] = events.for_user("message_updated", alice.id)
    [to_bob] = events.for_user("message_updated", bob.id)
    assert to_sender == data
    assert to_bob["text"] == "hello" and to_bob["client_message_id"] is None


async def test_editing_another_users_message_is_403(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "mine")
    assert await edit(client, bob, m["id"], "yours now", expect=403) == {"detail": "Only the sender can edit a message"}
    assert (await db_rows(client, "SELECT text FROM messages WHERE id = ?", m["id"]))[0]["text"] == "mine"


async def test_editing_an_invisible_message_is_404(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    assert await edit(client, carol, m["id"], "y", expect=404) == {"detail": "Message not found"}
    await delete(client, alice, m["id"])  # deleted for me: gone for me
    assert await edit(client, alice, m["id"], "y", expect=404) == {"detail": "Message not found"}


@pytest.mark.parametrize("text", ["", "   ", "\u200b", "x" * 101])
async def test_edit_to_empty_or_too_long_text_is_422(client, alice, bob, text):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    data = await edit(client, alice, m["id"], text, expect=422)
    assert data["detail"][0]["loc"] == ["body", "text"]


async def test_edit_body_needs_text(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    resp = await client.put(f"/api/v1/messages/{m['id']}", json={}, headers=alice.headers)
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["body", "text"]


async def test_edit_reindexes_for_search(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "pineapple pizza")
    assert await search(client, bob, "pineapple") == [m["id"]]
    await edit(client, alice, m["id"], "mushroom pizza")
    assert await search(client, bob, "pineapple") == []
    assert await search(client, bob, "mushroom") == [m["id"]]


async def test_edit_mentions_notify_only_newly_mentioned(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    m = await send(client, alice, chat, "hi @bob")
    events = Events(client)
    await edit(client, alice, m["id"], "hi @bob and @carol")
    notes = events.of("notification")
    assert [(n.data["user_id"], n.data["event_type"]) for n in notes] == [(carol.id, "mention")]
    rows = await db_rows(client, "SELECT user_id FROM message_mentions WHERE message_id = ? ORDER BY user_id", m["id"])
    assert [r["user_id"] for r in rows] == sorted([bob.id, carol.id])
    await edit(client, alice, m["id"], "hi nobody")
    assert await db_rows(client, "SELECT user_id FROM message_mentions WHERE message_id = ?", m["id"]) == []


async def test_a_forwarded_message_cannot_be_edited(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, bob, chat, "original")
    resp = await client.post(f"/api/v1/messages/{m['id']}/forward", json={"target_chat_id": chat}, headers=alice.headers)
    fwd = await resp.json()
    data = await edit(client, alice, fwd["id"], "rewritten", expect=422)
    assert data["detail"][0]["msg"] == "a forwarded message cannot be edited"


async def test_delete_for_me_hides_it_for_the_caller_only(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "secretword")
    events = Events(client)
    await delete(client, bob, m["id"])
    assert await search(client, bob, "secretword") == []
    assert await search(client, alice, "secretword") == [m["id"]]
    resp = await client.get(f"/api/v1/messages/{chat}", headers=alice.headers)
    assert len(await resp.json()) == 1
    [ev] = events.of("message_deleted")
    assert ev.data == {"chat_id": chat, "message_id": m["id"]} and ev.user_ids == {bob.id}
    # again: it is no longer visible to bob
    assert await delete(client, bob, m["id"], expect=404) == {"detail": "Message not found"}


async def test_delete_for_all_by_the_sender_removes_everything(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    m = await send(client, alice, chat, "regrettable @bob")
    await add_attachment(client, m["id"], chat, "[1, 2]")
    resp = await client.post(f"/api/v1/messages/{m['id']}/reactions/toggle", json={"emoji": "👍"}, headers=bob.headers)
    assert resp.status == 200
    await delete(client, carol, m["id"])
    assert await db_rows(client, "SELECT count(*) AS n FROM notifications WHERE message_id = ?", m["id"]) == [{"n": 2}]
    events = Events(client)
    await delete(client, alice, m["id"], for_all=True)
    for table in ("messages WHERE id", "message_mentions WHERE message_id", "message_hidden WHERE message_id",
                  "attachments WHERE message_id", "message_reactions WHERE message_id",
                  "notifications WHERE message_id"):
        assert await db_rows(client, f"SELECT count(*) AS n FROM {table} = ?", m["id"]) == [{"n": 0}], table
    assert await search(client, alice, "regrettable") == []
    [ev] = events.of("message_deleted")
    assert ev.data == {"chat_id": chat, "message_id": m["id"]} and ev.user_ids == {alice.id, bob.id, carol.id}
    assert await delete(client, alice, m["id"], for_all=True, expect=404) == {"detail": "Message not found"}


async def test_delete_for_all_fixes_the_chat_last_message_and_pin(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    first = await send(client, alice, chat, "first")
    client.app[CTX].clock.advance(60)
    last = await send(client, alice, chat, "last")
    resp = await client.post(f"/api/v1/chats/{chat}/pin", json={"message_id": last["id"]}, headers=alice.headers)
    assert resp.status == 200
    await delete(client, alice, last["id"], for_all=True)
    row = (await db_rows(client, "SELECT last_message_id, last_activity_at, pinned_message_id FROM chats WHERE id = ?",
                         chat))[0]
    first_row = (await db_rows(client, "SELECT created_at FROM messages WHERE id = ?", first["id"]))[0]
    assert row == {"last_message_id": first["id"], "last_activity_at": first_row["created_at"],
                   "pinned_message_id": None}
    resp = await client.get(f"/api/v1/chats/{chat}", headers=bob.headers)
    assert (await resp.json())["last_message_text"] == "first"
    await delete(client, alice, first["id"], for_all=True)
    row = (await db_rows(client, "SELECT last_message_id, last_activity_at, created_at FROM chats WHERE id = ?", chat))[0]
    assert row["last_message_id"] is None and row["last_activity_at"] == row["created_at"]


async def test_delete_for_all_of_an_older_message_keeps_the_last_message(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    old = await send(client, alice, chat, "old")
    new = await send(client, alice, chat, "new")
    await delete(client, alice, old["id"], for_all=True)
    row = (await db_rows(client, "SELECT last_message_id FROM chats WHERE id = ?", chat))[0]
    assert row["last_message_id"] == new["id"]


async def test_group_owner_and_admin_may_delete_anyones_message_for_all(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    await set_role(client, alice, chat, carol, "admin")
    m1 = await send(client, bob, chat, "one")
    m2 = await send(client, bob, chat, "two")
    await delete(client, alice, m1["id"], for_all=True)
    await delete(client, carol, m2["id"], for_all=True)
    assert await db_rows(client, "SELECT id FROM messages WHERE chat_id = ?", chat) == []


async def test_a_plain_member_cannot_delete_others_messages_for_all(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    m = await send(client, alice, chat, "owner's")
    data = await delete(client, bob, m["id"], for_all=True, expect=403)
    assert data["detail"].startswith("Only the sender")
    assert len(await db_rows(client, "SELECT id FROM messages WHERE id = ?", m["id"])) == 1


async def test_in_a_private_chat_only_the_sender_deletes_for_all(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    m = await send(client, alice, chat, "x")
    await delete(client, bob, m["id"], for_all=True, expect=403)
    await delete(client, alice, m["id"], for_all=True)


async def test_delete_bad_for_all_is_422(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "x")
    resp = await client.delete(f"/api/v1/messages/{m['id']}", params={"for_all": "perhaps"}, headers=alice.headers)
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["query", "for_all"]
