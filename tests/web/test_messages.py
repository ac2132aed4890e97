"""POST /api/v1/messages: the sending rules of API reference 3.4, 8 and 12."""
from __future__ import annotations

import asyncio

import pytest
from messages_helpers import Events, block, db_rows, db_write, make_chat, send, set_role

from pufferd.app import make_app
from pufferd.clock import FakeClock
from pufferd.web.keys import CTX


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"max_message_length": 120, "message_rate_limit_per_minute": 5,
            "duplicate_message_cooldown_seconds": 3}


@pytest.fixture
def app(settings):
    return make_app(settings, clock=FakeClock())


def advance(client, seconds: float) -> None:
    client.app[CTX].clock.advance(seconds)


async def test_send_returns_201_with_the_message_read_shape(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    data = await send(client, alice, chat, "Hello", client_message_id="client-msg-0001")
    assert set(data) == {"id", "chat_id", "sender_id", "reply_to_message_id", "forwarded_from_message_id",
                         "forwarded_from_sender_id", "type", "text", "delivery_status",
                         "attachment_waveform", "client_message_id", "created_at", "updated_at"}
    assert data["chat_id"] == chat and data["sender_id"] == alice.id and data["type"] == "text"
    assert data["text"] == "Hello" and data["delivery_status"] == "sent"
    assert data["attachment_waveform"] is None and data["reply_to_message_id"] is None
    assert data["client_message_id"] == "client-msg-0001"
    assert data["created_at"] == data["updated_at"] and data["created_at"].endswith("Z")


async def test_send_keeps_the_chat_last_message_current(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    first = await send(client, alice, chat, "first")
    advance(client, 5)
    second = await send(client, bob, chat, "second")
    row = (await db_rows(client, "SELECT last_message_id, last_activity_at FROM chats WHERE id = ?", chat))[0]
    assert row["last_message_id"] == second["id"] > first["id"]
    assert row["last_activity_at"] == client.app[CTX].clock.time()
    resp = await client.get(f"/api/v1/chats/{chat}", headers=alice.headers)
    assert (await resp.json())["last_message_text"] == "second"


async def test_non_member_gets_404_chat_not_found(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    data = await send(client, carol, chat, "let me in", expect=404)
    assert data == {"detail": "Chat not found"}
    assert await send(client, carol, 999_999, "nowhere", expect=404) == {"detail": "Chat not found"}
    assert await db_rows(client, "SELECT id FROM messages") == []


async def test_channel_member_cannot_post_but_owner_and_admin_can(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol, type="channel")
    data = await send(client, bob, chat, "hi all", expect=403)
    assert data == {"detail": "Only the owner and admins can post in a channel"}
    await send(client, alice, chat, "owner post")
    await set_role(client, alice, chat, carol, "admin")
    await send(client, carol, chat, "admin post")


async def test_private_chat_blocked_by_counterpart_is_403(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    await block(client, bob, alice)
    data = await send(client, alice, chat, "hello?", expect=403)
    assert data == {"detail": "This user does not accept private messages from you (privacy_private_messages)"}


async def test_private_chat_with_a_user_the_sender_blocked_is_403(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    await block(client, alice, bob)
    data = await send(client, alice, chat, "hello?", expect=403)
    assert data == {"detail": "You have blocked this user; unblock them to send messages"}


async def test_private_chat_privacy_private_messages_is_enforced(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    await db_write(client, "UPDATE users SET privacy_private_messages = 'contacts' WHERE id = ?", bob.id)
    await send(client, alice, chat, "not a contact", expect=403)
    await db_write(client, "INSERT INTO contacts(owner_id, contact_id, created_at) VALUES (?, ?, 0)",
                   bob.id, alice.id)
    await send(client, alice, chat, "now a contact")
    await db_write(client, "UPDATE users SET privacy_private_messages = 'nobody' WHERE id = ?", bob.id)
    await send(client, alice, chat, "nobody", expect=403)
    await db_write(client, "UPDATE users SET privacy_private_messages = 'everyone', allow_private_messages = 0"
                   " WHERE id = ?", bob.id)
    await send(client, alice, chat, "disallowed", expect=403)


async def test_saved_messages_chat_accepts_messages_and_reads_as_read(client, alice):
    resp = await client.get("/api/v1/chats/saved", headers=alice.headers)
    saved = (await resp.json())["id"]
    data = await send(client, alice, saved, "note to self")
    assert data["delivery_status"] == "read"


async def test_text_over_the_length_limit_is_422_naming_text(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    await send(client, alice, chat, "x" * 120)
    data = await send(client, alice, chat, "y" * 121, expect=422)
    assert data["detail"][0]["loc"] == ["body", "text"]
    assert "at most 120 characters" in data["detail"][0]["msg"]
    # the limit counts characters, not bytes: 120 four-byte emoji fit
    await send(client, alice, chat, "😀" * 120)


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t ", "\u200b", "\u200d\ufeff", "\u3000",
                                  "\u3164\u2800", "\ufe0f"])  # Hangul filler, blank Braille, a lone selector
async def test_empty_or_whitespace_text_is_422_for_type_text(client, alice, bob, text):
    chat = await make_chat(client, alice, bob)
    data = await send(client, alice, chat, text, expect=422)
    assert data["detail"][0]["loc"] == ["body", "text"]
    assert await db_rows(client, "SELECT id FROM messages") == []


async def test_media_types_may_have_no_text(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    for type_ in ("image", "video", "audio", "voice", "file", "circle_video"):
        advance(client, 20)  # stay under the 5-per-minute limit of this module
        data = await send(client, alice, chat, None, type=type_)
        assert data["type"] == type_ and data["text"] is None


@pytest.mark.parametrize("body, field", [
    ({"type": "sticker", "text": "x"}, "type"),
    ({"text": 5}, "text"),
    ({"text": "x", "reply_to_message_id": "abc"}, "reply_to_message_id"),
    ({"text": "x", "reply_to_message_id": 0}, "reply_to_message_id"),
    ({"text": "x", "client_message_id": ""}, "client_message_id"),
    ({"text": "x", "client_message_id": "has space"}, "client_message_id"),
    ({"text": "x", "client_message_id": "x" * 65}, "client_message_id"),
    ({"text": "x", "surprise": 1}, "surprise"),
    ({"text": "x" * 70000}, "text"),
])
async def test_bad_bodies_are_422_naming_the_field(client, alice, bob, body, field):
    chat = await make_chat(client, alice, bob)
    resp = await client.post("/api/v1/messages", json={"chat_id": chat, **body}, headers=alice.headers)
    assert resp.status == 422
    assert field in (await resp.json())["detail"][0]["loc"]


async def test_missing_chat_id_and_malformed_json(client, alice):
    resp = await client.post("/api/v1/messages", json={"text": "x"}, headers=alice.headers)
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["body", "chat_id"]
    resp = await client.post("/api/v1/messages", data=b"{not json", headers=alice.headers)
    assert resp.status == 400
    resp = await client.post("/api/v1/messages", json={"chat_id": 1, "text": "x"})
    assert resp.status == 401


async def test_reply_to_a_message_of_the_same_chat(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    root = await send(client, alice, chat, "question")
    reply = await send(client, bob, chat, "answer", reply_to_message_id=root["id"])
    assert reply["reply_to_message_id"] == root["id"]


async def test_reply_to_outside_the_chat_is_422(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    other = await make_chat(client, alice, carol)
    elsewhere = await send(client, alice, other, "elsewhere")
    for target in (elsewhere["id"], 10**9):
        data = await send(client, alice, chat, "reply", reply_to_message_id=target, expect=422)
        assert data["detail"][0]["loc"] == ["body", "reply_to_message_id"]


async def test_client_message_id_replay_returns_the_original_with_200(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    events = Events(client)
    first = await send(client, alice, chat, "once", client_message_id="c-1")
    again = await send(client, alice, chat, "once", client_message_id="c-1", expect=200)
    assert again == first
    # a retry with other text still returns what was stored
    other = await send(client, alice, chat, "changed", client_message_id="c-1", expect=200)
    assert other["id"] == first["id"] and other["text"] == "once"
    assert len(await db_rows(client, "SELECT id FROM messages")) == 1
    assert len(events.of("message_created")) == 2  # one send: sender's view + the others' view
    # the same id from another sender is another message
    theirs = await send(client, bob, chat, "mine", client_message_id="c-1")
    assert theirs["id"] != first["id"]


async def test_concurrent_retries_store_one_message(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    body = {"chat_id": chat, "type": "text", "text": "racy", "client_message_id": "race-1"}
    resps = await asyncio.gather(*(client.post("/api/v1/messages", json=body, headers=alice.headers)
                                   for _ in range(12)))
    statuses = sorted(r.status for r in resps)
    ids = {(await r.json())["id"] for r in resps}
    assert statuses == [200] * 11 + [201]
    assert len(ids) == 1
    assert len(await db_rows(client, "SELECT id FROM messages")) == 1


async def test_client_message_id_reused_for_another_chat_is_409(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    other = await make_chat(client, alice, carol)
    await send(client, alice, chat, "one", client_message_id="c-9")
    data = await send(client, alice, other, "one", client_message_id="c-9", expect=409)
    assert "another chat" in data["detail"]


async def test_message_rate_limit_per_minute_is_429_with_retry_after(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    for i in range(5):
        await send(client, alice, chat, f"message {i}")
    resp = await client.post("/api/v1/messages", json={"chat_id": chat, "text": "one more"}, headers=alice.headers)
    assert resp.status == 429
    retry = int(resp.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert await resp.json() == {"detail": f"Rate limit exceeded. Retry in {retry} seconds."}
    await send(client, bob, chat, "others are not limited")
    advance(client, 61)
    await send(client, alice, chat, "after a minute")


async def test_rate_limited_retry_still_gets_its_original(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    first = await send(client, alice, chat, "m0", client_message_id="keep")
    for i in range(1, 5):
        await send(client, alice, chat, f"m{i}")
    again = await send(client, alice, chat, "m0", client_message_id="keep", expect=200)
    assert again["id"] == first["id"]
    await send(client, alice, chat, "new one", client_message_id="new", expect=429)


async def test_duplicate_text_in_the_same_chat_within_cooldown_is_429(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob)
    other = await make_chat(client, alice, carol)
    await send(client, alice, chat, "spam")
    data = await send(client, alice, chat, "spam", expect=429)
    assert data["detail"].startswith("Rate limit exceeded. Retry in ")
    await send(client, alice, other, "spam")      # another chat
    await send(client, bob, chat, "spam")         # another sender
    await send(client, alice, chat, "spam!")      # another text
    advance(client, 3)
    await send(client, alice, chat, "spam")


async def test_duplicate_cooldown_lets_a_client_message_id_retry_through(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    first = await send(client, alice, chat, "retry me", client_message_id="r-1")
    again = await send(client, alice, chat, "retry me", client_message_id="r-1", expect=200)
    assert again["id"] == first["id"]
    await send(client, alice, chat, "retry me", client_message_id="r-2", expect=429)


async def test_a_refused_send_does_not_start_the_duplicate_cooldown(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    await send(client, alice, chat, "fix me", reply_to_message_id=10**9, expect=422)
    await send(client, alice, chat, "fix me")


async def test_mentions_of_members_are_stored(client, alice, bob, carol, make_user):
    dave = await make_user("dave")
    chat = await make_chat(client, alice, bob, carol)
    msg = await send(client, alice, chat, "hi @bob and @CAROL, not @dave nor @alice; mail bob@x.org @nobody")
    rows = await db_rows(client, "SELECT user_id FROM message_mentions WHERE message_id = ? ORDER BY user_id",
                         msg["id"])
    assert [r["user_id"] for r in rows] == sorted([bob.id, carol.id])
    assert dave.id not in [r["user_id"] for r in rows]
    resp = await client.get(f"/api/v1/chats/{chat}", headers=bob.headers)
    assert (await resp.json())["unread_mentions_count"] == 1


ROUND_TRIP = [
    pytest.param('say "hi" * NEAR(a b) -x AND OR NOT ^col: {x}', id="fts-syntax"),
    pytest.param("'; DROP TABLE messages; -- \" OR 1=1 /*", id="sql-looking"),
    pytest.param("🧑🏽‍🚀 𝄞 😀 🇫🇷 \U0001F9EA", id="4-byte-emoji"),
    pytest.param("مرحبا بالعالم שלום עולם", id="rtl"),
    pytest.param("zero\u200bwidth\u200cjoin\u200dx\ufeff\u2060end", id="zero-width"),
    pytest.param("\u202etxt.exe\u202c and a\u0301 combining", id="bidi-override-combining"),
    pytest.param("line1\nline2\r\n\ttab  double  space ", id="whitespace-kept"),
    pytest.param("nul\x00inside", id="nul"),
]


@pytest.mark.parametrize("text", ROUND_TRIP)
async def test_text_round_trips_intact(client, alice, bob, text):
    chat = await make_chat(client, alice, bob)
    sent = await send(client, alice, chat, text)
    assert sent["text"] == text
    resp = await client.get(f"/api/v1/messages/{chat}", headers=bob.headers)
    assert [m["text"] for m in await resp.json()] == [text]


async def test_what_a_caller_writes_with_the_message_shares_its_transaction(client, alice, bob):
    """messages.send(with_message=...): the hook runs in the message's transaction, for a new
    message and for one found by its client_message_id; when it fails, no message is stored."""
    from pufferd import messages
    from pufferd.db import users_q

    ctx = client.app[CTX]
    chat = await make_chat(client, alice, bob)
    author = await ctx.db.read(lambda conn: users_q.get(conn, alice.id))
    seen: list[int] = []

    def failing(conn, message) -> None:
        conn.execute("CREATE TABLE side_rows(message_id INTEGER)")
        raise RuntimeError("the hook failed")

    with pytest.raises(RuntimeError):
        await messages.send(ctx, author, chat_id=chat, type_="text", text="all or nothing",
                            client_message_id="with-hook-1", with_message=failing)
    rows = await db_rows(client, "SELECT id FROM messages WHERE client_message_id = 'with-hook-1'")
    assert rows == []
    assert await db_rows(client, "SELECT name FROM sqlite_master WHERE name = 'side_rows'") == []

    def recording(conn, message) -> None:
        assert conn.execute("SELECT count(*) AS n FROM messages WHERE id = ?", (message.id,)).fetchone()["n"] == 1
        seen.append(message.id)

    first, created = await messages.send(ctx, author, chat_id=chat, type_="text", text="all or nothing",
                                         client_message_id="with-hook-1", with_message=recording)
    again, created_again = await messages.send(ctx, author, chat_id=chat, type_="text", text="all or nothing",
                                               client_message_id="with-hook-1", with_message=recording)
    assert (created, created_again) == (True, False)
    assert seen == [first.message.id, first.message.id] and again.message.id == first.message.id
