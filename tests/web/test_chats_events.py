"""Chats: every committed change is published on the bus, addressed to the users it affects."""
from __future__ import annotations

import json

from chats_helpers import API, Recorder, add_message, call, create, group, private, set_user, snapshot


async def test_creating_a_group_sends_each_member_their_own_chat_read(client, alice, bob, carol):
    rec = Recorder(client)
    chat = await group(client, alice, bob, carol)
    updates = rec.of("chat_updated")
    assert len(updates) == 3 and all(len(e.user_ids) == 1 for e in updates)
    by_user = {next(iter(e.user_ids)): e.data for e in updates}
    assert by_user[alice.id]["my_role"] == "owner" and by_user[bob.id]["my_role"] == "member"
    assert by_user[alice.id] == chat


async def test_users_added_at_creation_get_a_notification_event(client, alice, bob):
    rec = Recorder(client)
    chat = await group(client, alice, bob)
    [event] = rec.of("notification")
    assert event.user_ids == {bob.id}
    assert event.data["event_type"] == "added_to_chat" and event.data["user_id"] == bob.id
    assert json.loads(event.data["payload"]) == {"chat_id": chat["id"], "by_user_id": alice.id}
    assert set(event.data) == {"id", "user_id", "event_type", "payload", "created_at"}


async def test_private_chat_creation_reaches_both_sides(client, alice, bob):
    rec = Recorder(client)
    await private(client, alice, bob)
    assert rec.updated_for(bob)[0]["display_title"] == "Alice"
    assert rec.updated_for(alice)[0]["display_title"] == "Bob"
    assert rec.of("notification") == []
    rec.clear()
    await private(client, alice, bob)  # the existing chat: nothing changed, nothing sent
    assert rec.events == []


async def test_adding_a_member_updates_counts_for_members_and_notifies_the_new_one(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    rec = Recorder(client)
    await call(client, "POST", f"{API}/{chat['id']}/members", alice, 201, {"user_id": carol.id})
    assert {u for e in rec.of("chat_updated") for u in e.user_ids} == {alice.id, bob.id, carol.id}
    assert all(d["members_count"] == 3 for u in (alice, bob, carol) for d in rec.updated_for(u))
    assert [e.user_ids for e in rec.of("notification")] == [{carol.id}]


async def test_channel_joins_are_told_to_owner_and_admins_only(client, alice, bob, carol):
    chat = await create(client, alice, type="channel", title="C", is_public=True, handle="chanjoin",
                        member_ids=[bob.id])
    rec = Recorder(client)
    await call(client, "POST", f"{API}/{chat['id']}/join", carol, 200)
    assert {u for e in rec.of("chat_updated") for u in e.user_ids} == {alice.id, carol.id}


async def test_leaving_sends_removed_to_the_leaver_and_updates_to_the_rest(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    rec = Recorder(client)
    await call(client, "POST", f"{API}/{chat['id']}/leave", alice, 204)
    assert rec.removed_for(alice) == [{"chat_id": chat["id"]}]
    assert rec.updated_for(alice) == []
    assert rec.updated_for(bob)[0]["my_role"] == "owner"  # the oldest member inherits
    assert rec.updated_for(carol)[0]["members_count"] == 2


async def test_removal_and_ban_send_chat_removed_to_the_user(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    rec = Recorder(client)
    await call(client, "DELETE", f"{API}/{chat['id']}/members/{bob.id}", alice, 204)
    await call(client, "POST", f"{API}/{chat['id']}/bans/{carol.id}", alice, 204)
    assert rec.removed_for(bob) == [{"chat_id": chat["id"]}]
    assert rec.removed_for(carol) == [{"chat_id": chat["id"]}]
    assert rec.updated_for(alice)[-1]["members_count"] == 1


async def test_delete_for_all_tells_every_member(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    rec = Recorder(client)
    await call(client, "DELETE", f"{API}/{chat['id']}?for_all=true", alice, 204)
    [event] = rec.of("chat_removed")
    assert event.user_ids == {alice.id, bob.id, carol.id} and event.data == {"chat_id": chat["id"]}
    assert rec.of("chat_updated") == []


async def test_delete_for_me_tells_only_the_caller(client, alice, bob):
    chat = await private(client, alice, bob)
    rec = Recorder(client)
    await call(client, "DELETE", f"{API}/{chat['id']}", bob, 204)
    [event] = rec.events
    assert event.type == "chat_removed" and event.user_ids == {bob.id}


async def test_per_user_state_changes_reach_only_the_caller(client, alice, bob):
    chat = await group(client, alice, bob)
    await add_message(client, chat["id"], bob, "x")
    for action, field, value in (("archive", "archived", True), ("pin-chat", "pinned", True),
                                 ("clear", "unread_count", 0)):
        rec = Recorder(client)
        await client.post(f"{API}/{chat['id']}/{action}", headers=alice.headers)
        [event] = rec.of("chat_updated")
        assert event.user_ids == {alice.id} and event.data[field] == value


async def test_edits_reach_every_member(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    mid = await add_message(client, chat["id"], bob, "x")
    rec = Recorder(client)
    await call(client, "PATCH", f"{API}/{chat['id']}/title", alice, 200, {"title": "T2"})
    await call(client, "POST", f"{API}/{chat['id']}/pin", alice, 200, {"message_id": mid})
    for user in (alice, bob, carol):
        titles = [d["title"] for d in rec.updated_for(user)]
        assert titles == ["T2", "T2"]
        assert rec.updated_for(user)[-1]["pinned_message_id"] == mid


async def test_role_change_updates_the_users_whose_role_changed(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    rec = Recorder(client)
    await call(client, "PATCH", f"{API}/{chat['id']}/members/{bob.id}/role", alice, 200, {"role": "owner"})
    assert {u for e in rec.of("chat_updated") for u in e.user_ids} == {alice.id, bob.id}
    assert rec.updated_for(alice)[0]["my_role"] == "admin" and rec.updated_for(bob)[0]["my_role"] == "owner"


async def test_events_apply_each_viewers_privacy(client, alice, bob):
    await set_user(client, bob, avatar_url="http://127.0.0.1:7575/a.png", privacy_avatar="nobody")
    await set_user(client, alice, avatar_url="http://127.0.0.1:7575/b.png")
    rec = Recorder(client)
    await private(client, alice, bob)
    assert rec.updated_for(alice)[0]["counterpart_avatar_url"] is None
    assert rec.updated_for(bob)[0]["counterpart_avatar_url"] == "http://127.0.0.1:7575/b.png"


async def test_a_refused_request_publishes_nothing_and_changes_nothing(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    await set_user(client, carol, privacy_group_invites="nobody")
    before = await snapshot(client)
    rec = Recorder(client)
    await call(client, "POST", f"{API}/{chat['id']}/members", alice, 403, {"user_id": carol.id})
    await call(client, "POST", f"{API}/{chat['id']}/leave", carol, 404)
    await call(client, "DELETE", f"{API}/{chat['id']}?for_all=true", bob, 403)
    assert rec.events == []
    assert await snapshot(client) == before
