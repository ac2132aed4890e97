"""What a chat shows to whom (pufferd/access.py): banned users, outsiders of public chats, channel
subscribers."""
from __future__ import annotations

import pytest
from chats_helpers import API, add_message, call, create

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
