"""Chats: creation rules, ChatRead per viewer, the chat list, detail and discovery (API reference 3.3, 3.7, 7)."""
from __future__ import annotations

import time

from chats_helpers import (
    API,
    add_contact,
    add_message,
    block,
    call,
    chat_list,
    create,
    group,
    private,
    set_user,
    snapshot,
    sql,
)
from text_helpers import BLANK, CONTROLS, ONE_LINE_ONLY, TYPED, names_field, nfc

from pufferd.clock import iso
from pufferd.web.keys import CTX

SPEC_FIELDS = {
    "id", "public_id", "type", "title", "avatar_url", "display_title", "handle", "description", "is_public",
    "is_saved", "archived", "pinned", "unread_count", "unread_mentions_count", "pinned_message_id",
    "members_count", "online_count", "subscribers_count", "counterpart_user_id", "counterpart_name",
    "counterpart_username", "counterpart_avatar_url", "counterpart_is_online", "counterpart_last_seen_at",
    "last_message_text", "last_message_type", "last_message_created_at", "my_role", "created_at",
}


def detail_of(resp_json, field):
    """The `detail` of a 422 names the field: as a string, or as pydantic's loc list."""
    detail = resp_json["detail"]
    if isinstance(detail, str):
        return field in detail
    return any(field in e["loc"] for e in detail)


# creation: private ----------------------------------------------------------------------------

async def test_create_private_chat_has_every_spec_field_for_the_caller(client, alice, bob):
    chat = await private(client, alice, bob)
    assert set(chat) == SPEC_FIELDS
    assert chat["type"] == "private" and chat["title"] is None and chat["is_public"] is False
    assert chat["display_title"] == "Bob"
    assert chat["counterpart_user_id"] == bob.id and chat["counterpart_username"] == "bob"
    assert chat["members_count"] == 2 and chat["my_role"] == "member" and chat["subscribers_count"] is None
    assert len(chat["public_id"]) == 24 and chat["public_id"].isalnum() and chat["public_id"].isupper()


async def test_private_chat_created_again_returns_the_existing_chat_from_either_side(client, alice, bob):
    first = await private(client, alice, bob)
    again = await private(client, alice, bob)
    other_side = await private(client, bob, alice)
    assert first["id"] == again["id"] == other_side["id"]
    assert first["public_id"] == other_side["public_id"]
    assert other_side["display_title"] == "Alice"
    assert len(await chat_list(client, alice)) == 1


async def test_private_chat_needs_exactly_one_target(client, alice, bob, carol):
    for ids in ([], [bob.id, carol.id]):
        data = await create(client, alice, 422, type="private", member_ids=ids)
        assert detail_of(data, "member_ids")
    data = await create(client, alice, 422, type="private", member_ids=[alice.id])
    assert "saved" in data["detail"]


async def test_private_chat_with_duplicated_target_counts_once(client, alice, bob):
    chat = await create(client, alice, type="private", member_ids=[bob.id, bob.id])
    assert chat["members_count"] == 2


async def test_private_chat_cannot_be_public_or_titled(client, alice, bob):
    data = await create(client, alice, 422, type="private", member_ids=[bob.id], is_public=True)
    assert detail_of(data, "is_public")
    data = await create(client, alice, 422, type="private", member_ids=[bob.id], title="Hi")
    assert detail_of(data, "title")
    data = await create(client, alice, 422, type="private", member_ids=[bob.id], handle="bobchat")
    assert detail_of(data, "handle")


async def test_private_chat_with_unknown_user_is_404(client, alice):
    data = await create(client, alice, 404, type="private", member_ids=[9999])
    assert "9999" in data["detail"]


async def test_private_chat_respects_privacy_private_messages(client, alice, bob):
    await set_user(client, bob, privacy_private_messages="nobody")
    data = await create(client, alice, 403, type="private", member_ids=[bob.id])
    assert "privacy_private_messages" in data["detail"]
    await set_user(client, bob, privacy_private_messages="contacts")
    await create(client, alice, 403, type="private", member_ids=[bob.id])
    await add_contact(client, bob, alice)
    await private(client, alice, bob)


async def test_private_chat_respects_allow_private_messages(client, alice, bob):
    await set_user(client, bob, allow_private_messages=0)
    await create(client, alice, 403, type="private", member_ids=[bob.id])


async def test_private_chat_refused_when_target_blocked_caller(client, alice, bob):
    await block(client, bob, alice)
    before = await snapshot(client)
    await create(client, alice, 403, type="private", member_ids=[bob.id])
    assert await snapshot(client) == before


async def test_private_chat_refused_when_caller_blocked_target(client, alice, bob):
    await block(client, alice, bob)
    data = await create(client, alice, 403, type="private", member_ids=[bob.id])
    assert "unblock" in data["detail"]


# creation: groups and channels ----------------------------------------------------------------

async def test_create_group_makes_caller_owner_and_adds_members(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol, description="about")
    assert chat["type"] == "group" and chat["title"] == "Club" and chat["display_title"] == "Club"
    assert chat["my_role"] == "owner" and chat["members_count"] == 3 and chat["description"] == "about"
    assert chat["counterpart_user_id"] is None
    detail = await call(client, "GET", f"{API}/{chat['id']}", bob, 200)
    assert detail["my_role"] == "member"
    assert {(m["user_id"], m["role"]) for m in detail["members"]} == {
        (alice.id, "owner"), (bob.id, "member"), (carol.id, "member")}


async def test_create_channel_counts_subscribers(client, alice, bob):
    chat = await group(client, alice, bob, type="channel", title="News")
    assert chat["type"] == "channel" and chat["subscribers_count"] == 2 and chat["members_count"] == 2


async def test_group_and_channel_require_a_title(client, alice):
    for kind in ("group", "channel"):
        data = await create(client, alice, 422, type=kind)
        assert detail_of(data, "title")
        data = await create(client, alice, 422, type=kind, title="   ")
        assert detail_of(data, "title")
    data = await create(client, alice, 422, type="group", title="x" * 129)
    assert detail_of(data, "title")


async def test_public_chat_requires_a_handle(client, alice):
    data = await create(client, alice, 422, type="group", title="Open", is_public=True)
    assert detail_of(data, "handle")


async def test_handle_requires_public(client, alice):
    data = await create(client, alice, 422, type="group", title="Closed", handle="closedclub")
    assert detail_of(data, "handle")


async def test_handle_charset_and_length(client, alice):
    for bad in ("abcd", "1starts", "has space", "dash-ed", "ünïcode", "a" * 33, "_under"):
        data = await create(client, alice, 422, type="group", title="T", is_public=True, handle=bad)
        assert detail_of(data, "handle"), bad
    for good in ("abcde", "Club_2026", "a" * 32):
        chat = await create(client, alice, type="group", title="T", is_public=True, handle=good)
        assert chat["handle"] == good and chat["is_public"] is True


async def test_duplicate_handle_is_409_regardless_of_case(client, alice, bob):
    await create(client, alice, type="channel", title="A", is_public=True, handle="newsroom")
    before = await snapshot(client)
    data = await create(client, bob, 409, type="group", title="B", is_public=True, handle="NewsRoom")
    assert "handle" in data["detail"]
    assert await snapshot(client) == before


async def test_group_members_checked_against_privacy_group_invites_all_or_nothing(client, alice, bob, carol):
    await set_user(client, carol, privacy_group_invites="nobody")
    before = await snapshot(client)
    data = await create(client, alice, 403, type="group", title="G", member_ids=[bob.id, carol.id])
    assert "privacy_group_invites" in data["detail"] and "carol" in data["detail"]
    assert await snapshot(client) == before


async def test_group_invites_in_contacts_mode_need_the_inviter_in_contacts(client, alice, bob):
    await set_user(client, bob, privacy_group_invites="contacts")
    await create(client, alice, 403, type="group", title="G", member_ids=[bob.id])
    await add_contact(client, bob, alice)
    chat = await group(client, alice, bob)
    assert chat["members_count"] == 2


async def test_group_member_who_blocked_the_creator_cannot_be_added(client, alice, bob):
    await block(client, bob, alice)
    await create(client, alice, 403, type="group", title="G", member_ids=[bob.id])


async def test_group_with_unknown_member_is_404_and_creates_nothing(client, alice, bob):
    before = await snapshot(client)
    data = await create(client, alice, 404, type="group", title="G", member_ids=[bob.id, 4242])
    assert "4242" in data["detail"]
    assert await snapshot(client) == before


async def test_group_creator_listed_in_member_ids_is_not_added_twice(client, alice, bob):
    chat = await group(client, alice, alice, bob)
    assert chat["members_count"] == 2 and chat["my_role"] == "owner"


async def test_bad_create_bodies_are_422_naming_the_field(client, alice):
    cases = [({"type": "forum", "title": "x"}, "type"), ({"title": "x"}, "type"),
             ({"type": "group", "title": "x", "member_ids": ["a"]}, "member_ids"),
             ({"type": "group", "title": "x", "member_ids": list(range(1, 202))}, "member_ids"),
             ({"type": "group", "title": "x", "is_public": "maybe"}, "is_public"),
             ({"type": "group", "title": "x", "colour": "red"}, "colour"),
             ({"type": "group", "title": "x", "description": "d" * 1025}, "description")]
    for body, field in cases:
        data = await create(client, alice, 422, **body)
        assert detail_of(data, field), (body, data)


# text people type (pufferd/text.py) ------------------------------------------------------------

TITLE_REFUSED = [*CONTROLS, *ONE_LINE_ONLY, *((blank, "must not be empty") for blank in BLANK)]


async def chats_of(client) -> list[dict]:
    return await sql(client, "SELECT id, title, description FROM chats ORDER BY id")


async def test_create_accepts_titles_and_descriptions_people_type(client, alice, bob):
    for typed in TYPED:
        description = f"{typed}\n\tsecond line \u202eok in a description"
        chat = await group(client, alice, bob, title=typed, description=description)
        assert chat["title"] == nfc(typed) and chat["display_title"] == nfc(typed), typed
        assert chat["description"] == description
        stored = await sql(client, "SELECT title, description FROM chats WHERE id = ?", chat["id"])
        assert stored == [{"title": nfc(typed), "description": description}]


async def test_create_refuses_bad_titles_naming_the_field_and_creates_nothing(client, alice, bob):
    before = await chats_of(client)
    for value, named in TITLE_REFUSED:
        resp = await client.post(API, json={"type": "group", "title": value, "member_ids": [bob.id]},
                                 headers=alice.headers)
        assert resp.status == 422, value
        assert names_field(await resp.json(), "title", named), (value, await resp.json())
    assert await chats_of(client) == before


async def test_create_refuses_controls_in_the_description_and_creates_nothing(client, alice):
    before = await chats_of(client)
    for value, named in CONTROLS:
        data = await create(client, alice, 422, type="group", title="Club", description=value)
        assert names_field(data, "description", named), (value, data)
    assert await chats_of(client) == before


async def test_title_and_profile_updates_accept_what_people_type(client, alice, bob):
    chat = await group(client, alice, bob)
    for typed in TYPED:
        view = await call(client, "PATCH", f"{API}/{chat['id']}/title", alice, 200, {"title": typed})
        assert view["title"] == nfc(typed), typed
        view = await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 200,
                          {"title": f"{typed}!", "description": f"{typed}\r\n{typed}"})
        assert view["title"] == nfc(f"{typed}!") and view["description"] == f"{typed}\n{typed}"
        stored = await sql(client, "SELECT title, description FROM chats WHERE id = ?", chat["id"])
        assert stored == [{"title": view["title"], "description": view["description"]}]


async def test_title_and_profile_updates_refuse_bad_text_and_change_nothing(client, alice, bob):
    chat = await group(client, alice, bob, description="about")
    before = await chats_of(client)
    for value, named in TITLE_REFUSED:
        data = await call(client, "PATCH", f"{API}/{chat['id']}/title", alice, 422, {"title": value})
        assert names_field(data, "title", named), (value, data)
        data = await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 422,
                          {"title": value, "description": "changed"})
        assert names_field(data, "title", named), (value, data)
    for value, named in CONTROLS:
        data = await call(client, "PATCH", f"{API}/{chat['id']}/profile", alice, 422,
                          {"title": "Changed", "description": value})
        assert names_field(data, "description", named), (value, data)
    assert await chats_of(client) == before


async def test_malformed_json_is_400(client, alice):
    resp = await client.post(API, data="{nope", headers={**alice.headers, "Content-Type": "application/json"})
    assert resp.status == 400


async def test_chats_need_authentication(client):
    for method, path in (("GET", API), ("POST", API), ("GET", f"{API}/1"), ("GET", f"{API}/saved")):
        resp = await client.request(method, path)
        assert resp.status == 401


# saved messages -------------------------------------------------------------------------------

async def test_saved_chat_is_created_once(client, alice):
    first = await call(client, "GET", f"{API}/saved", alice, 200)
    second = await call(client, "GET", f"{API}/saved", alice, 200)
    assert first["id"] == second["id"]
    assert first["is_saved"] is True and first["type"] == "private" and first["display_title"] == "Saved Messages"
    assert first["members_count"] == 1 and first["my_role"] == "owner" and first["counterpart_user_id"] is None
    assert [c["id"] for c in await chat_list(client, alice)] == [first["id"]]


async def test_saved_chats_are_personal(client, alice, bob):
    a = await call(client, "GET", f"{API}/saved", alice, 200)
    b = await call(client, "GET", f"{API}/saved", bob, 200)
    assert a["id"] != b["id"]
    await call(client, "GET", f"{API}/{a['id']}", bob, 404)


# detail and members ---------------------------------------------------------------------------

async def test_unknown_chat_is_404(client, alice):
    for path in (f"{API}/987654", f"{API}/987654/members"):
        data = await call(client, "GET", path, alice, 404)
        assert data == {"detail": "Chat not found"}


async def test_chat_caller_cannot_see_is_404_like_an_unknown_one(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    dm = await private(client, alice, bob)
    for cid in (chat["id"], dm["id"]):
        assert await call(client, "GET", f"{API}/{cid}", carol, 404) == {"detail": "Chat not found"}
        await call(client, "GET", f"{API}/{cid}/members", carol, 404)


async def test_non_integer_chat_id_is_422(client, alice):
    data = await call(client, "GET", f"{API}/abc/members", alice, 422)
    assert detail_of(data, "chat_id")


async def test_public_chat_is_visible_to_non_members(client, alice, carol):
    chat = await create(client, alice, type="channel", title="News", is_public=True, handle="dailynews")
    detail = await call(client, "GET", f"{API}/{chat['id']}", carol, 200)
    assert detail["my_role"] is None and detail["members_count"] == 1 and detail["unread_count"] == 0
    assert detail["members"] == [] and detail["last_message_text"] is None  # the card, not who is in it


async def test_members_are_listed_oldest_first_with_ids(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    await call(client, "POST", f"{API}/{chat['id']}/members", alice, 201, {"user_id": carol.id})
    members = await call(client, "GET", f"{API}/{chat['id']}/members", bob, 200)
    assert [m["user_id"] for m in members] == [alice.id, bob.id, carol.id]
    assert set(members[0]) == {"id", "user_id", "role", "joined_at"}
    assert len({m["id"] for m in members}) == 3 and all(m["joined_at"].endswith("Z") for m in members)


# ChatRead computed for the viewer -------------------------------------------------------------

async def test_unread_count_follows_the_read_cursor_and_skips_own_messages(client, alice, bob):
    chat = await private(client, alice, bob)
    m1 = await add_message(client, chat["id"], bob, "one")
    await add_message(client, chat["id"], alice, "mine")
    await add_message(client, chat["id"], bob, "two")
    [view] = await chat_list(client, alice)
    assert view["unread_count"] == 2
    await sql(client, "UPDATE chat_members SET last_read_message_id = ? WHERE chat_id = ? AND user_id = ?",
              m1, chat["id"], alice.id)
    [view] = await chat_list(client, alice)
    assert view["unread_count"] == 1
    [bob_view] = await chat_list(client, bob)
    assert bob_view["unread_count"] == 1


async def test_unread_count_skips_messages_hidden_for_the_viewer(client, alice, bob):
    chat = await private(client, alice, bob)
    await add_message(client, chat["id"], bob, "one")
    m2 = await add_message(client, chat["id"], bob, "two")
    await sql(client, "INSERT INTO message_hidden(user_id, message_id, chat_id) VALUES (?, ?, ?)",
              alice.id, m2, chat["id"])
    [view] = await chat_list(client, alice)
    assert view["unread_count"] == 1
    assert view["last_message_text"] == "one"  # the hidden last message is not shown


async def test_hiding_own_or_already_read_messages_does_not_change_unread_count(client, alice, bob):
    chat = await private(client, alice, bob)
    read = await add_message(client, chat["id"], bob, "read")
    mine = await add_message(client, chat["id"], alice, "mine")
    await add_message(client, chat["id"], bob, "new")
    await sql(client, "UPDATE chat_members SET last_read_message_id = ? WHERE chat_id = ? AND user_id = ?",
              read, chat["id"], alice.id)
    for mid in (read, mine):
        await sql(client, "INSERT INTO message_hidden(user_id, message_id, chat_id) VALUES (?, ?, ?)",
                  alice.id, mid, chat["id"])
    assert (await chat_list(client, alice))[0]["unread_count"] == 1


async def test_unread_mentions_count(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    m1 = await add_message(client, chat["id"], alice, "@bob hi", mentions=(bob,))
    await add_message(client, chat["id"], carol, "@bob @alice", mentions=(bob, alice))
    await add_message(client, chat["id"], carol, "no mention")
    views = {u.username: (await chat_list(client, u))[0] for u in (alice, bob, carol)}
    assert views["bob"]["unread_mentions_count"] == 2 and views["bob"]["unread_count"] == 3
    assert views["alice"]["unread_mentions_count"] == 1 and views["alice"]["unread_count"] == 2
    assert views["carol"]["unread_mentions_count"] == 0
    await sql(client, "UPDATE chat_members SET last_read_message_id = ? WHERE user_id = ?", m1, bob.id)
    assert (await chat_list(client, bob))[0]["unread_mentions_count"] == 1


async def test_last_message_fields_show_the_newest_message(client, alice, bob):
    chat = await private(client, alice, bob)
    assert (await chat_list(client, alice))[0]["last_message_text"] is None
    await add_message(client, chat["id"], bob, "first", at=1_790_000_000.0)
    await add_message(client, chat["id"], bob, "second", at=1_790_000_060.0)
    [view] = await chat_list(client, alice)
    assert view["last_message_text"] == "second" and view["last_message_type"] == "text"
    assert view["last_message_created_at"] == iso(1_790_000_060.0)


async def test_cleared_chat_shows_no_last_message_and_no_unread(client, alice, bob):
    chat = await private(client, alice, bob)
    await add_message(client, chat["id"], bob, "old")
    await call(client, "POST", f"{API}/{chat['id']}/clear", alice, 204)
    [view] = await chat_list(client, alice)
    assert view["last_message_text"] is None and view["unread_count"] == 0
    [bob_view] = await chat_list(client, bob)
    assert bob_view["last_message_text"] == "old"
    await add_message(client, chat["id"], bob, "new")
    [view] = await chat_list(client, alice)
    assert view["last_message_text"] == "new" and view["unread_count"] == 1


async def test_pinned_message_of_a_deleted_message_is_null(client, alice, bob):
    chat = await private(client, alice, bob)
    mid = await add_message(client, chat["id"], bob, "pin me")
    pinned = await call(client, "POST", f"{API}/{chat['id']}/pin", alice, 200, {"message_id": mid})
    assert pinned["pinned_message_id"] == mid
    await sql(client, "DELETE FROM messages WHERE id = ?", mid)
    assert (await chat_list(client, alice))[0]["pinned_message_id"] is None


async def test_counterpart_avatar_follows_privacy_avatar(client, alice, bob):
    await set_user(client, bob, avatar_url="http://127.0.0.1:7575/files/bob.png")
    chat = await private(client, alice, bob)
    assert chat["counterpart_avatar_url"] == "http://127.0.0.1:7575/files/bob.png"
    await set_user(client, bob, privacy_avatar="nobody")
    assert (await chat_list(client, alice))[0]["counterpart_avatar_url"] is None
    await set_user(client, bob, privacy_avatar="contacts")
    assert (await chat_list(client, alice))[0]["counterpart_avatar_url"] is None
    await add_contact(client, bob, alice)
    assert (await chat_list(client, alice))[0]["counterpart_avatar_url"] is not None


async def test_counterpart_presence_follows_privacy_last_seen(client, alice, bob):
    ctx = client.app[CTX]
    await set_user(client, bob, last_seen_at=1_790_000_000.0)
    chat = await private(client, alice, bob)
    ctx.presence.connected(bob.id)
    [view] = await chat_list(client, alice)
    assert view["counterpart_is_online"] is True and view["counterpart_last_seen_at"] == iso(1_790_000_000.0)
    assert view["online_count"] == 1
    await set_user(client, bob, privacy_last_seen="nobody")
    [view] = await chat_list(client, alice)
    assert view["counterpart_is_online"] is None and view["counterpart_last_seen_at"] is None
    assert view["online_count"] == 0  # the count does not leak what the flag hides
    await set_user(client, bob, privacy_last_seen="contacts")
    await add_contact(client, bob, alice)
    [view] = await chat_list(client, alice)
    assert view["counterpart_is_online"] is True
    assert chat["id"] == view["id"]


async def test_counterpart_who_blocked_viewer_shows_no_presence(client, alice, bob):
    await private(client, alice, bob)
    client.app[CTX].presence.connected(bob.id)
    await block(client, bob, alice)
    [view] = await chat_list(client, alice)
    assert view["counterpart_is_online"] is None and view["online_count"] == 0


async def test_online_count_in_groups_counts_visible_members_and_self(client, alice, bob, carol):
    ctx = client.app[CTX]
    chat = await group(client, alice, bob, carol)
    for u in (alice, bob, carol):
        ctx.presence.connected(u.id)
    await set_user(client, carol, privacy_last_seen="nobody")
    view = await call(client, "GET", f"{API}/{chat['id']}", alice, 200)
    assert view["online_count"] == 2
    carol_view = await call(client, "GET", f"{API}/{chat['id']}", carol, 200)
    assert carol_view["online_count"] == 3  # carol sees herself


# the list -------------------------------------------------------------------------------------

async def test_list_orders_by_last_activity(client, alice, bob, carol):
    a = await group(client, alice, bob, title="A")
    b = await group(client, alice, carol, title="B")
    c = await private(client, alice, bob)
    assert [x["id"] for x in await chat_list(client, alice)] == [c["id"], b["id"], a["id"]]
    await add_message(client, a["id"], bob, "news", at=time.time() + 10)
    assert [x["id"] for x in await chat_list(client, alice)] == [a["id"], c["id"], b["id"]]


async def test_pinned_chats_come_first(client, alice, bob):
    a = await group(client, alice, bob, title="A")
    b = await group(client, alice, bob, title="B")
    c = await group(client, alice, bob, title="C")
    await call(client, "POST", f"{API}/{a['id']}/pin-chat", alice, 200)
    await call(client, "POST", f"{API}/{b['id']}/pin-chat", alice, 200)
    ids = [x["id"] for x in await chat_list(client, alice)]
    assert ids[:2] == sorted(ids[:2], reverse=True) == [b["id"], a["id"]] and ids[2] == c["id"]
    assert [x["id"] for x in await chat_list(client, bob)] == [c["id"], b["id"], a["id"]]


async def test_paging_with_before_id_visits_every_chat_once(client, alice, bob):
    made = [await group(client, alice, bob, title=f"G{i}") for i in range(7)]
    await call(client, "POST", f"{API}/{made[2]['id']}/pin-chat", alice, 200)
    full = [x["id"] for x in await chat_list(client, alice, limit=100)]
    seen, before = [], None
    while True:
        params = {"limit": 3} | ({"before_id": before} if before else {})
        page = await chat_list(client, alice, **params)
        if not page:
            break
        seen += [x["id"] for x in page]
        before = page[-1]["id"]
    assert seen == full and len(full) == 7 and full[0] == made[2]["id"]


async def test_paging_is_stable_when_a_later_chat_gets_a_message(client, alice, bob):
    made = [await group(client, alice, bob, title=f"G{i}") for i in range(4)]
    first = await chat_list(client, alice, limit=2)
    await add_message(client, made[0]["id"], bob, "bump", at=time.time() + 100)  # moves to the top
    second = await chat_list(client, alice, limit=2, before_id=first[-1]["id"])
    ids = [x["id"] for x in first + second]
    assert len(ids) == len(set(ids))
    assert [x["id"] for x in second] == [made[1]["id"]]


async def test_before_id_must_be_one_of_the_callers_chats(client, alice, bob, carol):
    other = await group(client, bob, carol)
    resp = await client.get(API, params={"before_id": str(other["id"])}, headers=alice.headers)
    assert resp.status == 422 and "before_id" in (await resp.json())["detail"]


async def test_list_limit_is_bounded(client, alice):
    for bad in ("0", "101", "x"):
        resp = await client.get(API, params={"limit": bad}, headers=alice.headers)
        assert resp.status == 422
        assert any("limit" in e["loc"] for e in (await resp.json())["detail"])


async def test_list_query_matches_title_handle_counterpart_and_type(client, alice, bob, carol):
    await set_user(client, carol, name="Caroline Smith")
    g = await group(client, alice, bob, title="Chess Club")
    p = await create(client, alice, type="channel", title="Daily", is_public=True, handle="newsdesk")
    d = await private(client, alice, carol)
    saved = await call(client, "GET", f"{API}/saved", alice, 200)

    async def ids(q):
        return {x["id"] for x in await chat_list(client, alice, query=q)}

    assert await ids("chess") == {g["id"]}
    assert await ids("NEWSD") == {p["id"]}
    assert await ids("caroline") == {d["id"]}
    assert await ids("carol") == {d["id"]}
    assert await ids("channel") == {p["id"]}
    assert await ids("saved") == {saved["id"]}
    assert await ids("%") == set()
    assert await ids("nothing-like-this") == set()


async def test_archived_chats_are_listed_separately(client, alice, bob):
    a = await group(client, alice, bob, title="A")
    b = await group(client, alice, bob, title="B")
    view = await call(client, "POST", f"{API}/{a['id']}/archive", alice, 200)
    assert view["archived"] is True
    assert [x["id"] for x in await chat_list(client, alice)] == [b["id"]]
    assert [x["id"] for x in await chat_list(client, alice, archived=True)] == [a["id"]]
    assert len(await chat_list(client, bob)) == 2
    view = await call(client, "POST", f"{API}/{a['id']}/unarchive", alice, 200)
    assert view["archived"] is False
    assert len(await chat_list(client, alice)) == 2


# discovery ------------------------------------------------------------------------------------

async def test_discover_lists_only_public_groups_and_channels(client, alice, bob, carol):
    big = await create(client, alice, type="group", title="Runners", is_public=True, handle="runners",
                       member_ids=[bob.id, carol.id])
    chan = await create(client, bob, type="channel", title="Run news", is_public=True, handle="runnews")
    await group(client, alice, bob, title="Secret runners")
    await private(client, alice, bob)
    found = await call(client, "GET", f"{API}/discover?query=run", carol, 200)
    assert [f["id"] for f in found] == [big["id"], chan["id"]]
    assert found[0]["members_count"] == 3 and found[0]["is_member"] is True and found[0]["subscribers_count"] is None
    assert found[1]["members_count"] == 1 and found[1]["is_member"] is False and found[1]["subscribers_count"] == 1
    assert [f["id"] for f in await call(client, "GET", f"{API}/discover?query=RUNNEWS", carol, 200)] == [chan["id"]]
    assert await call(client, "GET", f"{API}/discover?query=secret", carol, 200) == []
    assert len(await call(client, "GET", f"{API}/discover?limit=1", carol, 200)) == 1
    await call(client, "GET", f"{API}/discover?limit=0", carol, 422)
