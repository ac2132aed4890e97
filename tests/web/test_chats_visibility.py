"""What a chat shows to whom (pufferd/access.py): banned users, outsiders of public chats, channel
subscribers."""
from __future__ import annotations

import pytest
from chats_helpers import API, Recorder, add_message, call, create

from pufferd import access


@pytest.fixture
async def dave(make_user):
    return await make_user("dave")


async def public_group(client, owner, *members, handle: str = "opengroup", type: str = "group"):
    return await create(client, owner, type=type, title="Open", is_public=True, handle=handle,
                        member_ids=[m.id for m in members])


# banned users and outsiders of public chats (hole 9) --------------------------------------------

async def test_a_banned_user_gets_nothing_of_a_public_chat(client, alice, bob, carol):
    chat = await public_group(client, alice, bob, carol)
    await add_message(client, chat["id"], bob, "the plan for tomorrow")
    await call(client, "POST", f"{API}/{chat['id']}/bans/{carol.id}", alice, 204)
    for path in (f"{API}/{chat['id']}", f"{API}/{chat['id']}/members"):
        assert await call(client, "GET", path, carol, 404) == {"detail": access.CHAT_NOT_FOUND}
    found = await call(client, "GET", f"{API}/discover?query=Open", carol, 200)
    assert found == []
    assert [c["id"] for c in await call(client, "GET", f"{API}/discover?query=Open", bob, 200)] == [chat["id"]]


async def test_an_outsider_sees_the_public_card_without_history_or_members(client, alice, bob, dave):
    chat = await public_group(client, alice, bob)
    mid = await add_message(client, chat["id"], bob, "members only, please")
    await call(client, "POST", f"{API}/{chat['id']}/pin", alice, 200, {"message_id": mid})
    detail = await call(client, "GET", f"{API}/{chat['id']}", dave, 200)
    assert (detail["title"], detail["handle"], detail["members_count"], detail["my_role"]) == ("Open", "opengroup", 2,
                                                                                              None)
    assert detail["last_message_text"] is None and detail["last_message_type"] is None
    assert detail["last_message_created_at"] is None and detail["pinned_message_id"] is None
    assert detail["members"] == []
    assert await call(client, "GET", f"{API}/{chat['id']}/members", dave, 200) == []
    # members still see all of it
    inside = await call(client, "GET", f"{API}/{chat['id']}", bob, 200)
    assert inside["last_message_text"] == "members only, please" and inside["pinned_message_id"] == mid
    assert [m["user_id"] for m in inside["members"]] == [alice.id, bob.id]


async def test_an_outsider_of_a_public_channel_sees_no_subscribers(client, alice, bob, dave):
    chat = await public_group(client, alice, bob, type="channel", handle="openchannel")
    await add_message(client, chat["id"], alice, "first post")
    detail = await call(client, "GET", f"{API}/{chat['id']}", dave, 200)
    assert detail["subscribers_count"] == 2 and detail["members"] == [] and detail["last_message_text"] is None
    assert await call(client, "GET", f"{API}/{chat['id']}/members", dave, 200) == []


# channel subscribers (hole 10) ------------------------------------------------------------------

async def channel_with(client, owner, admin, *subscribers) -> int:
    chat = await create(client, owner, type="channel", title="News", member_ids=[admin.id, *(s.id for s in subscribers)])
    await call(client, "PATCH", f"{API}/{chat['id']}/members/{admin.id}/role", owner, 200, {"role": "admin"})
    return chat["id"]


async def test_channel_subscribers_do_not_see_each_other(client, alice, bob, carol, dave):
    chat = await channel_with(client, alice, dave, bob, carol)
    for path in (f"{API}/{chat}/members", f"{API}/{chat}"):
        data = await call(client, "GET", path, bob, 200)
        listed = data if isinstance(data, list) else data["members"]
        assert [(m["user_id"], m["role"]) for m in listed] == [(bob.id, "member")], path
    detail = await call(client, "GET", f"{API}/{chat}", bob, 200)
    assert detail["subscribers_count"] == 4
    for manager in (alice, dave):
        members = await call(client, "GET", f"{API}/{chat}/members", manager, 200)
        assert {m["user_id"] for m in members} == {alice.id, bob.id, carol.id, dave.id}


async def test_a_read_cursor_in_a_channel_reaches_only_the_owner_admins_and_its_owner(client, alice, bob, carol,
                                                                                      dave):
    chat = await channel_with(client, alice, dave, bob, carol)
    post = await add_message(client, chat, alice, "news")
    events = Recorder(client)
    body = {"chat_id": chat, "message_id": post, "status": "message_read"}
    resp = await client.post("/api/v1/messages/status", json=body, headers=bob.headers)
    assert resp.status == 200, await resp.text()
    [status] = events.of("message_status")
    assert status.user_ids == {alice.id, dave.id, bob.id}
    assert status.data["user_id"] == bob.id and status.data["last_read_message_id"] == post
    events.clear()
    resp = await client.post("/api/v1/messages/status", json=body, headers=alice.headers)
    assert resp.status == 200
    [status] = events.of("message_status")
    assert status.user_ids == {alice.id, dave.id}  # subscribers see their own cursor only


async def test_a_channel_reaction_names_the_reacting_subscriber_only_to_owner_and_admins(client, alice, bob,
                                                                                         carol, dave):
    chat = await channel_with(client, alice, dave, bob, carol)
    post = await add_message(client, chat, alice, "news")
    events = Recorder(client)
    resp = await client.post(f"/api/v1/messages/{post}/reactions/toggle", json={"emoji": "👍"}, headers=carol.headers)
    assert resp.status == 200, await resp.text()
    by_user = {u: e.data for e in events.of("reactions_updated") for u in e.user_ids}
    assert set(by_user) == {alice.id, bob.id, carol.id, dave.id}
    for told in (alice.id, dave.id, carol.id):
        assert (by_user[told]["user_id"], by_user[told]["emoji"], by_user[told]["reacted"]) == (carol.id, "👍", True)
    assert by_user[bob.id]["user_id"] is None and by_user[bob.id]["emoji"] is None
    assert by_user[bob.id]["reactions"] == [{"emoji": "👍", "count": 1}]
