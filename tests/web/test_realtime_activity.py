"""Typing relay, presence (online/offline, grace, privacy) and delivery acks over real sockets."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from pufferd.web.keys import CTX
from tests.web.realtime_helpers import connect, db_rows, eventually, hub, make_chat

GRACE = 0.15


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"presence_grace_seconds": GRACE, "typing_interval_seconds": 2.0}


async def put_privacy(client, user, **fields) -> None:
    resp = await client.put("/api/v1/users/profile", json=fields, headers=user.headers)
    assert resp.status == 200, await resp.text()


# typing ---------------------------------------------------------------------------------------

async def test_typing_is_relayed_to_the_other_members_but_not_the_sender(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    a, a2 = await connect(client, alice), await connect(client, alice)
    b, c = await connect(client, bob), await connect(client, carol)
    await a.send({"type": "typing", "data": {"chat_id": chat}})
    for sock in (b, c):
        frame = await sock.next("typing")
        assert frame["data"]["chat_id"] == chat and frame["data"]["user_id"] == alice.id
        expires = datetime.fromisoformat(frame["data"]["expires_at"].replace("Z", "+00:00")).timestamp()
        assert 5 < expires - time.time() <= 6.5
        assert isinstance(frame["seq"], int)
    await a.silent("typing", "error", wait=0.2)
    await a2.silent("typing", wait=0.1)


async def test_typing_in_a_chat_the_sender_is_not_in_is_an_error_and_relays_nothing(client, alice, bob, carol):
    chat = await make_chat(client, bob, carol)
    a, b = await connect(client, alice), await connect(client, bob)
    await a.send({"type": "typing", "data": {"chat_id": chat}})
    assert (await a.next("error"))["data"] == {"code": "not_found", "detail": "Chat not found", "status": 404}
    await a.send({"type": "typing", "data": {"chat_id": 987654}})
    assert (await a.next("error"))["data"]["code"] == "not_found"
    await b.silent("typing", wait=0.2)


async def test_typing_is_rate_limited_per_user_per_chat(client, alice, bob):
    first = await make_chat(client, alice, bob)
    second = await make_chat(client, alice, bob)
    a, b = await connect(client, alice), await connect(client, bob)
    for _ in range(3):
        await a.send({"type": "typing", "data": {"chat_id": first}})
    await a.send({"type": "typing", "data": {"chat_id": second}})
    got = [(await b.next("typing"))["data"]["chat_id"] for _ in range(2)]
    assert sorted(got) == sorted([first, second])
    await b.silent("typing", wait=0.3)
    await a.silent("error", wait=0.05)  # dropped silently: clients send one per keystroke


async def test_typing_is_relayed_again_after_the_interval(client, alice, bob):
    client.app[CTX].settings.typing_interval_seconds = 0.2
    chat = await make_chat(client, alice, bob)
    a, b = await connect(client, alice), await connect(client, bob)
    await a.send({"type": "typing", "data": {"chat_id": chat}})
    await b.next("typing")
    await asyncio.sleep(0.25)
    await a.send({"type": "typing", "data": {"chat_id": chat}})
    await b.next("typing")


async def test_typing_is_not_relayed_in_channels(client, alice, bob):
    channel = await make_chat(client, alice, bob, type="channel")
    a, b = await connect(client, alice), await connect(client, bob)
    await a.send({"type": "typing", "data": {"chat_id": channel}})
    await b.send({"type": "typing", "data": {"chat_id": channel}})
    await a.silent("typing", "error", wait=0.2)
    await b.silent("typing", "error", wait=0.1)


async def test_typing_is_not_relayed_to_a_counterpart_who_blocked_the_sender(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    resp = await client.post(f"/api/v1/users/{alice.id}/block", headers=bob.headers)
    assert resp.status == 204, await resp.text()
    a, b = await connect(client, alice), await connect(client, bob)
    await a.send({"type": "typing", "data": {"chat_id": chat}})
    await b.silent("typing", wait=0.3)


async def test_typing_after_leaving_the_chat_is_refused(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    resp = await client.post(f"/api/v1/chats/{chat}/leave", headers=carol.headers)
    assert resp.status == 204, await resp.text()
    c, b = await connect(client, carol), await connect(client, bob)
    await c.send({"type": "typing", "data": {"chat_id": chat}})
    assert (await c.next("error"))["data"]["code"] == "not_found"
    await b.silent("typing", wait=0.2)


# presence -------------------------------------------------------------------------------------

async def test_presence_online_then_offline_after_the_grace_period(client, alice, bob):
    await make_chat(client, alice, bob, type="private")
    b = await connect(client, bob)
    await b.silent("presence", wait=0.05)
    phone = await connect(client, alice)
    online = await b.next("presence")
    assert online["data"]["user_id"] == alice.id and online["data"]["is_online"] is True
    assert "seq" in online
    laptop = await connect(client, alice)  # a second device is no transition
    await b.silent("presence", wait=0.1)
    assert client.app[CTX].presence.is_online(alice.id)
    closed_at = time.time()
    await phone.close()
    await laptop.close()
    offline = await b.next("presence", timeout=2)
    assert offline["data"]["user_id"] == alice.id and offline["data"]["is_online"] is False
    assert offline["data"]["last_seen_at"].endswith("Z")
    assert not client.app[CTX].presence.is_online(alice.id)
    rows = await db_rows(client, "SELECT last_seen_at FROM users WHERE id = ?", alice.id)
    assert abs(rows[0]["last_seen_at"] - closed_at) < 1.0


async def test_reconnect_within_the_grace_period_sends_no_presence(client, alice, bob):
    await make_chat(client, alice, bob, type="private")
    b = await connect(client, bob)
    a = await connect(client, alice)
    await b.next("presence")
    await a.close()
    await eventually(lambda: hub(client).sockets_of(alice.id) == 0)
    assert client.app[CTX].presence.is_online(alice.id)  # still online inside the grace period
    a = await connect(client, alice)
    await b.silent("presence", wait=GRACE * 3)
    assert client.app[CTX].presence.is_online(alice.id)


async def test_presence_is_not_sent_when_last_seen_is_hidden(client, alice, bob):
    await make_chat(client, alice, bob, type="private")
    await put_privacy(client, alice, privacy_last_seen="nobody")
    b = await connect(client, bob)
    a = await connect(client, alice)
    await a.close()
    await b.silent("presence", wait=GRACE * 3)


async def test_presence_with_contacts_privacy_reaches_only_contacts(client, alice, bob, carol):
    await make_chat(client, alice, bob, carol)
    await put_privacy(client, alice, privacy_last_seen="contacts")
    for other in (bob, carol):  # only alice's presence is in play
        await put_privacy(client, other, privacy_last_seen="nobody")
    resp = await client.post(f"/api/v1/users/{bob.id}/contacts", headers=alice.headers)
    assert resp.status == 204, await resp.text()
    b, c = await connect(client, bob), await connect(client, carol)
    await connect(client, alice)
    assert (await b.next("presence"))["data"]["user_id"] == alice.id
    await c.silent("presence", wait=0.3)


async def test_presence_reaches_contacts_without_a_shared_chat(client, alice, bob):
    resp = await client.post(f"/api/v1/users/{alice.id}/contacts", headers=bob.headers)
    assert resp.status == 204, await resp.text()
    b = await connect(client, bob)
    await connect(client, alice)
    assert (await b.next("presence"))["data"]["user_id"] == alice.id


async def test_presence_is_not_sent_to_a_user_who_was_blocked(client, alice, bob):
    await make_chat(client, alice, bob, type="private")
    resp = await client.post(f"/api/v1/users/{bob.id}/block", headers=alice.headers)
    assert resp.status == 204, await resp.text()
    b = await connect(client, bob)
    await connect(client, alice)
    await b.silent("presence", wait=0.3)


async def test_presence_is_not_fanned_out_to_groups_above_the_size_limit(client, alice, bob, carol):
    client.app[CTX].settings.presence_max_group_members = 2
    await make_chat(client, alice, bob, carol)  # three members
    b = await connect(client, bob)
    await connect(client, alice)
    await b.silent("presence", wait=0.3)


async def test_presence_is_not_sent_to_strangers(client, alice, bob):
    b = await connect(client, bob)
    await connect(client, alice)
    await b.silent("presence", wait=0.3)


# delivery acks --------------------------------------------------------------------------------

async def send_message(client, user, chat_id: int, text: str = "hi") -> dict:
    resp = await client.post("/api/v1/messages", json={"chat_id": chat_id, "type": "text", "text": text},
                             headers=user.headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_ack_of_message_created_advances_the_delivered_cursor(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    a, b = await connect(client, alice), await connect(client, bob)
    sent = await send_message(client, alice, chat)
    created = await b.next("message_created")
    assert created["data"]["id"] == sent["id"]
    await b.send({"type": "ack", "data": {"chat_id": chat, "message_id": created["data"]["id"]}})
    status = await a.next("message_status")
    assert status["data"] == {"chat_id": chat, "user_id": bob.id, "last_delivered_message_id": sent["id"],
                              "last_read_message_id": 0}
    rows = await db_rows(client, "SELECT last_delivered_message_id AS d FROM chat_members"
                         " WHERE chat_id = ? AND user_id = ?", chat, bob.id)
    assert rows == [{"d": sent["id"]}]


async def test_acks_are_coalesced_and_never_move_the_cursor_back(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")
    b = await connect(client, bob)
    ids = [(await send_message(client, alice, chat, f"m{i}"))["id"] for i in range(5)]
    for mid in reversed(ids):
        await b.send({"type": "ack", "data": {"chat_id": chat, "message_id": mid}})

    async def cursor() -> int:
        rows = await db_rows(client, "SELECT last_delivered_message_id AS d FROM chat_members"
                             " WHERE chat_id = ? AND user_id = ?", chat, bob.id)
        return rows[0]["d"]
    await eventually(lambda: cursor())
    await asyncio.sleep(0.1)
    assert await cursor() == ids[-1]


async def test_ack_for_a_chat_the_user_is_not_in_is_an_error(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, type="private")
    sent = await send_message(client, alice, chat)
    c = await connect(client, carol)
    await c.send({"type": "ack", "data": {"chat_id": chat, "message_id": sent["id"]}})
    answer = await c.next("error")
    assert answer["data"]["code"] == "not_found"


async def test_chat_read_shows_the_counterpart_online_while_a_socket_is_open(client, alice, bob):
    chat = await make_chat(client, alice, bob, type="private")

    async def counterpart() -> dict:
        resp = await client.get(f"/api/v1/chats/{chat}", headers=bob.headers)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    before = await counterpart()
    assert before["counterpart_is_online"] is False
    a = await connect(client, alice)
    assert (await counterpart())["counterpart_is_online"] is True
    await a.close()

    async def offline_with_last_seen() -> bool:
        after = await counterpart()
        return after["counterpart_is_online"] is False and after["counterpart_last_seen_at"] is not None
    await eventually(offline_with_last_seen, timeout=2)
