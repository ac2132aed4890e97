"""Notifications (API reference 3.6 and 10) and the message events published on the bus."""
from __future__ import annotations

import json

import pytest
from messages_helpers import Events, db_rows, db_write, make_chat, mute, send

from pufferd import notifications as notifications_mod
from pufferd.web.keys import CTX


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"message_rate_limit_per_minute": 0, "duplicate_message_cooldown_seconds": 0}


async def notifications(client, user, expect: int = 200, **params):
    resp = await client.get("/api/v1/notifications", params=params, headers=user.headers)
    assert resp.status == expect, await resp.text()
    return await resp.json()


def message_notes(items: list[dict]) -> list[dict]:
    return [n for n in items if n["event_type"] in ("message_created", "mention")]


async def test_every_member_but_the_sender_is_notified(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    m = await send(client, alice, chat, "hello all")
    assert message_notes(await notifications(client, alice)) == []
    for user in (bob, carol):
        [note] = message_notes(await notifications(client, user))
        assert set(note) == {"id", "user_id", "event_type", "payload", "created_at"}
        assert note["user_id"] == user.id and note["event_type"] == "message_created"
        assert json.loads(note["payload"]) == {"chat_id": chat, "message_id": m["id"], "sender_id": alice.id}


async def test_muted_members_are_not_notified_unless_mentioned(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    await mute(client, bob, chat)
    await mute(client, carol, chat)
    await send(client, alice, chat, "quiet please")
    assert message_notes(await notifications(client, bob)) == []
    m = await send(client, alice, chat, "but @bob must see this")
    [note] = message_notes(await notifications(client, bob))
    assert note["event_type"] == "mention"
    assert json.loads(note["payload"])["message_id"] == m["id"]
    assert message_notes(await notifications(client, carol)) == []


async def test_a_mention_replaces_the_plain_notification(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    await send(client, alice, chat, "@bob look")
    assert [n["event_type"] for n in message_notes(await notifications(client, bob))] == ["mention"]


async def test_notifications_are_newest_first_and_limited(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    sent = [(await send(client, alice, chat, f"m{i}"))["id"] for i in range(5)]
    got = await notifications(client, bob, limit=3)
    assert [json.loads(n["payload"])["message_id"] for n in got] == sent[::-1][:3]
    for bad in (0, 201, "x"):
        data = await notifications(client, bob, expect=422, limit=bad)
        assert data["detail"][0]["loc"] == ["query", "limit"]
    resp = await client.get("/api/v1/notifications")
    assert resp.status == 401


async def test_added_to_chat_notifications_are_listed(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    got = await notifications(client, bob)
    assert [(n["event_type"], json.loads(n["payload"])["chat_id"]) for n in got] == [("added_to_chat", chat)]


async def test_notifications_are_published_to_their_user(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    await mute(client, carol, chat)
    events = Events(client)
    await send(client, alice, chat, "ping")
    notes = events.of("notification")
    assert [(e.user_ids, e.data["event_type"]) for e in notes] == [(frozenset({bob.id}), "message_created")]
    assert notes[0].data == (await notifications(client, bob))[0]


async def test_deleting_a_message_for_all_deletes_its_notifications(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    m = await send(client, alice, chat, "oops @bob")
    keep = await send(client, alice, chat, "fine")
    await client.delete(f"/api/v1/messages/{m['id']}", params={"for_all": "true"}, headers=alice.headers)
    assert [json.loads(n["payload"])["message_id"] for n in message_notes(await notifications(client, bob))] == [keep["id"]]


async def test_message_created_goes_to_every_member_with_their_view(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, carol)
    events = Events(client)
    m = await send(client, alice, chat, "hi", client_message_id="local-1")
    created = events.of("message_created")
    [to_alice] = events.for_user("message_created", alice.id)
    [to_bob] = events.for_user("message_created", bob.id)
    assert to_alice == m                     # exactly the HTTP response
    assert to_bob == {**m, "delivery_status": "delivered", "client_message_id": None}
    assert set().union(*(e.user_ids for e in created)) == {alice.id, bob.id, carol.id}
    assert await db_rows(client, "SELECT count(*) AS n FROM notifications WHERE message_id = ?", m["id"]) == [{"n": 2}]


async def test_a_refused_send_publishes_nothing_and_stores_nothing(client, alice, bob, carol):
    chat = await make_chat(client, alice, bob, type="channel")
    events = Events(client)
    await send(client, bob, chat, "not allowed", expect=403)
    assert events.seen == []
    assert await db_rows(client, "SELECT count(*) AS n FROM notifications WHERE message_id IS NOT NULL") == [{"n": 0}]


# retention ---------------------------------------------------------------------------------------------

async def test_notifications_past_the_retention_period_are_pruned_in_batches(client, alice, bob, monkeypatch):
    monkeypatch.setattr(notifications_mod, "PRUNE_BATCH", 3)  # several write jobs
    chat = await make_chat(client, alice, bob)
    sent = [(await send(client, alice, chat, f"m{i}"))["id"] for i in range(10)]
    ctx = client.app[CTX]
    days = ctx.settings.notification_retention_days
    # bob's `added_to_chat` and the first seven messages' are one day past the retention period,
    # the rest one day inside it
    await db_write(client, "UPDATE notifications SET created_at = ? - (? + 1) * 86400"
                   " WHERE coalesce(message_id, 0) <= ?", ctx.clock.time(), days, sent[6])
    await db_write(client, "UPDATE notifications SET created_at = ? - (? - 1) * 86400 WHERE message_id > ?",
                   ctx.clock.time(), days, sent[6])
    assert await notifications_mod.prune(ctx) == 8
    kept = message_notes(await notifications(client, bob))
    assert [json.loads(n["payload"])["message_id"] for n in kept] == sent[:6:-1]
    assert await notifications_mod.prune(ctx) == 0


@pytest.mark.parametrize("settings_overrides", [{"notification_retention_days": 0}])
async def test_a_retention_of_zero_keeps_notifications_forever(client, alice, bob):
    chat = await make_chat(client, alice, bob)
    await send(client, alice, chat, "old news")
    await db_write(client, "UPDATE notifications SET created_at = 0")
    assert await notifications_mod.prune(client.app[CTX]) == 0
    assert len(message_notes(await notifications(client, bob))) == 1


async def test_pruning_reads_the_oldest_rows_by_id_not_the_whole_table(client):
    plan = await db_rows(client, "EXPLAIN QUERY PLAN SELECT id, created_at FROM notifications ORDER BY id LIMIT 10")
    assert [r["detail"] for r in plan] == ["SCAN notifications"]  # rowid order: stops after LIMIT rows


# large chats -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings_overrides", [{
    "message_rate_limit_per_minute": 0, "duplicate_message_cooldown_seconds": 0,
    "notify_every_message_max_members": 2}])
async def test_a_chat_over_the_size_limit_stores_mentions_only(client, alice, bob, carol):
    small = await make_chat(client, alice, bob)  # 2 members: at the limit, every message notifies
    big = await make_chat(client, alice, bob, carol)  # 3 members: over it
    await send(client, alice, small, "hi bob")
    await send(client, alice, big, "hi everyone")
    m = await send(client, alice, big, "@carol this one is for you")
    bob_notes = message_notes(await notifications(client, bob))
    assert [(json.loads(n["payload"])["chat_id"], n["event_type"]) for n in bob_notes] == [(small, "message_created")]
    [carol_note] = message_notes(await notifications(client, carol))
    assert carol_note["event_type"] == "mention" and json.loads(carol_note["payload"])["message_id"] == m["id"]


@pytest.mark.parametrize("settings_overrides", [{
    "message_rate_limit_per_minute": 0, "duplicate_message_cooldown_seconds": 0,
    "notify_every_message_max_members": 2}])
async def test_members_of_a_large_chat_still_get_the_message_event(client, alice, bob, carol):
    big = await make_chat(client, alice, bob, carol)
    events = Events(client)
    await send(client, alice, big, "hello all")
    assert {uid for e in events.of("message_created") for uid in e.user_ids} == {alice.id, bob.id, carol.id}
    assert events.of("notification") == []
