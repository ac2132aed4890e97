"""Chats: per-user state (archive, pin-chat, mute, clear, delete) and edits (title, profile, pinned message)."""
from __future__ import annotations

from chats_helpers import API, add_message, call, chat_list, create, group, private, snapshot, sql
from media_helpers import png, upload

# pin-chat -------------------------------------------------------------------------------------


async def test_pin_and_unpin_chat(client, alice, bob):
    chat = await group(client, alice, bob)
    view = await call(client, "POST", f"{API}/{chat['id']}/pin-chat", alice, 200)
    assert view["pinned"] is True
    again = await call(client, "POST", f"{API}/{chat['id']}/pin-chat", alice, 200)
    assert again["pinned"] is True
    view = await call(client, "POST", f"{API}/{chat['id']}/unpin-chat", alice, 200)
    assert view["pinned"] is False
    assert (await chat_list(client, bob))[0]["pinned"] is False


async def test_at_most_ten_chats_are_pinned(client, settings, alice, bob):
    assert settings.max_pinned_chats == 10
    chats = [await group(client, alice, bob, title=f"G{i}") for i in range(11)]
    for chat in chats[:10]:
        await call(client, "POST", f"{API}/{chat['id']}/pin-chat", alice, 200)
    before = await snapshot(client)
    data = await call(client, "POST", f"{API}/{chats[10]['id']}/pin-chat", alice, 422)
    assert "at most 10" in data["detail"]
    assert await snapshot(client) == before
    # re-pinning an already pinned chat is not a new pin
    await call(client, "POST", f"{API}/{chats[0]['id']}/pin-chat", alice, 200)
    await call(client, "POST", f"{API}/{chats[0]['id']}/unpin-chat", alice, 200)
    await call(client, "POST", f"{API}/{chats[10]['id']}/pin-chat", alice, 200)


async def test_per_user_state_needs_membership(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    for action in ("archive", "unarchive", "pin-chat", "unpin-chat", "clear"):
        await call(client, "POST", f"{API}/{chat['id']}/{action}", carol, 404)
    await call(client, "GET", f"{API}/{chat['id']}/notifications", carol, 404)
    await call(client, "PUT", f"{API}/{chat['id']}/notifications", carol, 404, {"muted": True})


# mute -----------------------------------------------------------------------------------------

async def test_mute_settings_round_trip(client, alice, bob):
    chat = await group(client, alice, bob)
    path = f"{API}/{chat['id']}/notifications"
    assert await call(client, "GET", path, alice, 200) == {"chat_id": chat["id"], "user_id": alice.id, "muted": False}
    assert await call(client, "PUT", path, alice, 200, {"muted": True}) == {
        "chat_id": chat["id"], "user_id": alice.id, "muted": True}
    assert (await call(client, "GET", path, alice, 200))["muted"] is True
    assert (await call(client, "GET", path, bob, 200))["muted"] is False
    await call(client, "PUT", path, alice, 200, {"muted": False})
    assert (await call(client, "GET", path, alice, 200))["muted"] is False


async def test_mute_body_is_validated(client, alice, bob):
    chat = await group(client, alice, bob)
    for body in ({}, {"muted": "loud"}):
        data = await call(client, "PUT", f"{API}/{chat['id']}/notifications", alice, 422, body)
        assert data["detail"][0]["loc"][:2] == ["body", "muted"]


# clear history --------------------------------------------------------------------------------

async def test_clear_history_sets_the_cursor_to_the_newest_message_for_the_caller_only(client, alice, bob):
    chat = await group(client, alice, bob)
    await add_message(client, chat["id"], bob, "a")
    newest = await add_message(client, chat["id"], bob, "b")
    await call(client, "POST", f"{API}/{chat['id']}/clear", alice, 204)
    rows = await sql(client, "SELECT user_id, cleared_before_id FROM chat_members WHERE chat_id = ? ORDER BY user_id",
                     chat["id"])
    assert {r["user_id"]: r["cleared_before_id"] for r in rows} == {alice.id: newest, bob.id: 0}
    assert (await chat_list(client, alice))[0]["unread_count"] == 0


async def test_clear_history_of_an_empty_chat(client, alice, bob):
    chat = await private(client, alice, bob)
    await call(client, "POST", f"{API}/{chat['id']}/clear", alice, 204)
    assert (await chat_list(client, alice))[0]["last_message_text"] is None


# delete ---------------------------------------------------------------------------------------

async def test_delete_private_chat_for_all_by_either_side(client, alice, bob):
    chat = await private(client, alice, bob)
    await add_message(client, chat["id"], alice, "bye")
    await call(client, "DELETE", f"{API}/{chat['id']}?for_all=true", bob, 204)
    assert await chat_list(client, alice) == [] and await chat_list(client, bob) == []
    await call(client, "GET", f"{API}/{chat['id']}", alice, 404)
    assert await sql(client, "SELECT id FROM messages WHERE chat_id = ?", chat["id"]) == []


async def test_delete_private_chat_for_me_hides_it_for_the_caller_only(client, alice, bob):
    chat = await private(client, alice, bob)
    await add_message(client, chat["id"], bob, "hello")
    await call(client, "DELETE", f"{API}/{chat['id']}", alice, 204)
    assert await chat_list(client, alice) == []
    [bob_view] = await chat_list(client, bob)
    assert bob_view["last_message_text"] == "hello"
    # starting the chat again brings it back, with the old history cleared
    view = await private(client, alice, bob)
    assert view["id"] == chat["id"] and view["last_message_text"] is None and view["unread_count"] == 0
    assert [c["id"] for c in await chat_list(client, alice)] == [chat["id"]]


async def test_delete_for_me_unpins_the_chat(client, alice, bob):
    chat = await group(client, alice, bob)
    await call(client, "POST", f"{API}/{chat['id']}/pin-chat", alice, 200)
    await call(client, "DELETE", f"{API}/{chat['id']}?for_all=false", alice, 204)
    rows = await sql(client, "SELECT pinned_at, hidden FROM chat_members WHERE chat_id = ? AND user_id = ?",
                     chat["id"], alice.id)
    assert rows == [{"pinned_at": None, "hidden": 1}]


async def test_only_the_owner_deletes_a_group_for_all(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    await call(client, "PATCH", f"{API}/{chat['id']}/members/{bob.id}/role", alice, 200, {"role": "admin"})
    before = await snapshot(client)
    for user in (bob, carol):
        data = await call(client, "DELETE", f"{API}/{chat['id']}?for_all=true", user, 403)
        assert "only the owner" in data["detail"]
    assert await snapshot(client) == before
    await call(client, "DELETE", f"{API}/{chat['id']}?for_all=true", alice, 204)
    for user in (alice, bob, carol):
        assert await chat_list(client, user) == []


async def test_member_deleting_a_channel_for_me_stays_a_member(client, alice, bob):
    chat = await group(client, alice, bob, type="channel", title="News")
    await call(client, "DELETE", f"{API}/{chat['id']}", bob, 204)
    assert await chat_list(client, bob) == []
    assert (await call(client, "GET", f"{API}/{chat['id']}", bob, 200))["my_role"] == "member"


async def test_delete_validates_for_all_and_the_chat(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    resp = await client.delete(f"{API}/{chat['id']}?for_all=perhaps", headers=alice.headers)
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["query", "for_all"]
    await call(client, "DELETE", f"{API}/{chat['id']}?for_all=true", carol, 404)
    await call(client, "DELETE", f"{API}/424242", alice, 404)


async def test_saved_chat_can_be_deleted(client, alice):
    saved = await call(client, "GET", f"{API}/saved", alice, 200)
    await call(client, "DELETE", f"{API}/{saved['id']}?for_all=true", alice, 204)
    fresh = await call(client, "GET", f"{API}/saved", alice, 200)
    assert fresh["id"] != saved["id"]


# pinned message -------------------------------------------------------------------------------

async def test_pin_and_unpin_a_message(client, alice, bob):
    chat = await group(client, alice, bob)
    mid = await add_message(client, chat["id"], bob, "rules")
    view = await call(client, "POST", f"{API}/{chat['id']}/pin", alice, 200, {"message_id": mid})
    assert view["pinned_message_id"] == mid
    assert (await chat_list(client, bob))[0]["pinned_message_id"] == mid
    view = await call(client, "POST", f"{API}/{chat['id']}/pin", alice, 200, {"message_id": None})
    assert view["pinned_message_id"] is None


async def test_pinned_message_must_belong_to_the_chat(client, alice, bob):
    chat = await group(client, alice, bob)
    other = await private(client, alice, bob)
    mid = await add_message(client, other["id"], bob, "elsewhere")
    for message_id in (mid, 777777):
        data = await call(client, "POST", f"{API}/{chat['id']}/pin", alice, 422, {"message_id": message_id})
        assert "message_id" in data["detail"]


async def test_group_members_cannot_pin_messages_but_private_chat_members_can(client, alice, bob):
    chat = await group(client, alice, bob)
    mid = await add_message(client, chat["id"], bob, "x")
    await call(client, "POST", f"{API}/{chat['id']}/pin", bob, 403, {"message_id": mid})
    dm = await private(client, alice, bob)
    mid = await add_message(client, dm["id"], alice, "y")
    assert (await call(client, "POST", f"{API}/{dm['id']}/pin", bob, 200, {"message_id": mid}))[
        "pinned_message_id"] == mid


async def test_pin_body_needs_message_id(client, alice, bob):
    chat = await group(client, alice, bob)
    data = await call(client, "POST", f"{API}/{chat['id']}/pin", alice, 422, {})
    assert data["detail"][0]["loc"] == ["body", "message_id"]


# title and profile ----------------------------------------------------------------------------

async def test_owner_and_admin_rename_a_group(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    view = await call(client, "PATCH", f"{API}/{chat['id']}/title", alice, 200, {"title": "  Renamed "})
    assert view["title"] == "Renamed" and view["display_title"] == "Renamed"
    await call(client, "PATCH", f"{API}/{chat['id']}/members/{bob.id}/role", alice, 200, {"role": "admin"})
    await call(client, "PATCH", f"{API}/{chat['id']}/title", bob, 200, {"title": "By admin"})
    data = await call(client, "PATCH", f"{API}/{chat['id']}/title", carol, 403, {"title": "By member"})
    assert "owner or an admin" in data["detail"]
    assert (await chat_list(client, carol))[0]["title"] == "By admin"


async def test_private_chats_cannot_be_renamed(client, alice, bob):
    chat = await private(client, alice, bob)
    data = await call(client, "PATCH", f"{API}/{chat['id']}/title", alice, 422, {"title": "Us"})
    assert "groups and channels" in data["detail"]
    await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 422, {"description": "Us"})


async def test_title_is_validated(client, alice, bob):
    chat = await group(client, alice, bob)
    for body in ({}, {"title": ""}, {"title": "   "}, {"title": "x" * 129}, {"title": None}):
        data = await call(client, "PATCH", f"{API}/{chat['id']}/title", alice, 422, body)
        assert data["detail"][0]["loc"] == ["body", "title"]


async def test_profile_update_changes_only_the_fields_given(client, alice, bob):
    chat = await group(client, alice, bob, description="old")
    avatar = (await upload(client, alice, png()))["file_url"]
    view = await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 200, {"avatar_url": avatar})
    assert view["avatar_url"] == avatar and view["description"] == "old" and view["title"] == "Club"
    view = await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 200,
                      {"description": None, "title": "New"})
    assert view["description"] is None and view["title"] == "New" and view["avatar_url"] == avatar
    view = await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 200, {})
    assert view["title"] == "New"
    view = await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 200, {"avatar_url": None})
    assert view["avatar_url"] is None


def names_avatar(data):
    return any(e["loc"] == ["body", "avatar_url"] for e in data["detail"])


async def test_profile_avatar_must_be_an_image_of_this_server_uploaded_by_the_editor(client, settings, alice, bob):
    chat = await group(client, alice, bob)
    await call(client, "PATCH", f"{API}/{chat['id']}/members/{bob.id}/role", alice, 200, {"role": "admin"})
    before = await snapshot(client)
    for url in ("https://evil.example/cat.png", f"{settings.base_url}/nothing/here.png"):
        data = await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 422,
                          {"avatar_url": url, "title": "Changed"})
        assert names_avatar(data), data
    bobs = (await upload(client, bob, png()))["file_url"]
    assert names_avatar(await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 422, {"avatar_url": bobs}))
    text = (await upload(client, alice, b"just text", file_type="text/plain", name="a.txt"))["file_url"]
    assert names_avatar(await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 422, {"avatar_url": text}))
    assert await snapshot(client) == before
    data = await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 422, {"avatar_url": "not a url"})
    assert names_avatar(data)
    # the admin who uploaded it may set it
    await call(client, "PATCH", f"{API}/{chat['id']}/profile", bob, 200, {"avatar_url": bobs})


async def test_profile_title_cannot_be_removed(client, alice, bob):
    chat = await group(client, alice, bob)
    data = await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 422, {"title": None})
    assert "title" in data["detail"]


async def test_member_cannot_edit_the_profile(client, alice, bob):
    chat = await create(client, alice, type="channel", title="C", member_ids=[bob.id])
    await call(client, "PATCH", f"{API}/{chat['id']}/profile", bob, 403, {"description": "mine"})
