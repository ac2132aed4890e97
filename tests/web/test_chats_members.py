"""Chats: membership, roles, leaving, bans, joining public chats and invite links (API reference 7)."""
from __future__ import annotations

import json

import pytest
from chats_helpers import API, add_contact, block, call, chat_list, create, group, private, set_user, snapshot, sql


@pytest.fixture
async def dave(make_user):
    return await make_user("dave")


@pytest.fixture
async def erin(make_user):
    return await make_user("erin")


def members_path(chat, user=None):
    base = f"{API}/{chat['id']}/members"
    return base if user is None else f"{base}/{user.id}"


async def roles(client, chat, viewer):
    return {m["user_id"]: m["role"] for m in await call(client, "GET", members_path(chat), viewer, 200)}


async def make_admin(client, chat, owner, user):
    await call(client, "PATCH", members_path(chat, user) + "/role", owner, 200, {"role": "admin"})


# adding members -------------------------------------------------------------------------------

async def test_owner_adds_a_member(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    member = await call(client, "POST", members_path(chat), alice, 201, {"user_id": carol.id})
    assert member["user_id"] == carol.id and member["role"] == "member" and set(member) == {
        "id", "user_id", "role", "joined_at"}
    assert (await chat_list(client, carol))[0]["id"] == chat["id"]


async def test_added_user_gets_a_notification(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    await call(client, "POST", members_path(chat), alice, 201, {"user_id": carol.id})
    rows = await sql(client, "SELECT user_id, event_type, payload, chat_id FROM notifications ORDER BY id")
    assert [(r["user_id"], r["event_type"]) for r in rows] == [(bob.id, "added_to_chat"), (carol.id, "added_to_chat")]
    assert json.loads(rows[1]["payload"]) == {"chat_id": chat["id"], "by_user_id": alice.id}


async def test_admin_adds_a_member(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    await make_admin(client, chat, alice, bob)
    await call(client, "POST", members_path(chat), bob, 201, {"user_id": carol.id})


async def test_member_cannot_add_members(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    before = await snapshot(client)
    data = await call(client, "POST", members_path(chat), bob, 403, {"user_id": carol.id})
    assert "owner or an admin" in data["detail"]
    assert await snapshot(client) == before


async def test_non_member_adding_is_404(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    await call(client, "POST", members_path(chat), carol, 404, {"user_id": carol.id})


async def test_nobody_is_added_to_a_private_chat(client, alice, bob, carol):
    chat = await private(client, alice, bob)
    data = await call(client, "POST", members_path(chat), alice, 422, {"user_id": carol.id})
    assert "groups and channels" in data["detail"]


async def test_adding_an_existing_member_is_409(client, alice, bob):
    chat = await group(client, alice, bob)
    await call(client, "POST", members_path(chat), alice, 409, {"user_id": bob.id})


async def test_adding_an_unknown_user_is_404(client, alice, bob):
    chat = await group(client, alice, bob)
    data = await call(client, "POST", members_path(chat), alice, 404, {"user_id": 5555})
    assert "5555" in data["detail"]


async def test_adding_respects_privacy_group_invites_and_changes_nothing(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    await set_user(client, carol, privacy_group_invites="nobody")
    before = await snapshot(client)
    data = await call(client, "POST", members_path(chat), alice, 403, {"user_id": carol.id})
    assert "privacy_group_invites" in data["detail"]
    assert await snapshot(client) == before
    await set_user(client, carol, privacy_group_invites="contacts")
    await call(client, "POST", members_path(chat), alice, 403, {"user_id": carol.id})
    await add_contact(client, carol, alice)
    await call(client, "POST", members_path(chat), alice, 201, {"user_id": carol.id})


async def test_adding_a_user_who_blocked_the_inviter_is_403(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    await block(client, carol, alice)
    await call(client, "POST", members_path(chat), alice, 403, {"user_id": carol.id})


async def test_adding_a_banned_user_is_refused_until_unbanned(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    await call(client, "POST", f"{API}/{chat['id']}/bans/{carol.id}", alice, 204)
    data = await call(client, "POST", members_path(chat), alice, 422, {"user_id": carol.id})
    assert "banned" in data["detail"]
    await call(client, "DELETE", f"{API}/{chat['id']}/bans/{carol.id}", alice, 204)
    await call(client, "POST", members_path(chat), alice, 201, {"user_id": carol.id})


async def test_add_member_body_is_validated(client, alice, bob):
    chat = await group(client, alice, bob)
    for body in ({}, {"user_id": "x"}, {"user_id": 0}, {"user_id": 2, "role": "admin"}):
        data = await call(client, "POST", members_path(chat), alice, 422, body)
        assert data["detail"][0]["loc"][0] == "body"


# roles ----------------------------------------------------------------------------------------

async def test_owner_promotes_and_demotes_admins(client, alice, bob):
    chat = await group(client, alice, bob)
    data = await call(client, "PATCH", members_path(chat, bob) + "/role", alice, 200, {"role": "admin"})
    assert data["role"] == "admin" and data["user_id"] == bob.id
    assert (await call(client, "GET", f"{API}/{chat['id']}", bob, 200))["my_role"] == "admin"
    await call(client, "PATCH", members_path(chat, bob) + "/role", alice, 200, {"role": "member"})
    assert (await roles(client, chat, alice))[bob.id] == "member"


async def test_admin_cannot_change_roles(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    await make_admin(client, chat, alice, bob)
    data = await call(client, "PATCH", members_path(chat, carol) + "/role", bob, 403, {"role": "admin"})
    assert "only the owner" in data["detail"]
    await call(client, "PATCH", members_path(chat, alice) + "/role", bob, 403, {"role": "member"})


async def test_member_cannot_change_roles(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    await call(client, "PATCH", members_path(chat, bob) + "/role", bob, 403, {"role": "admin"})


async def test_owner_cannot_demote_themselves(client, alice, bob):
    chat = await group(client, alice, bob)
    data = await call(client, "PATCH", members_path(chat, alice) + "/role", alice, 422, {"role": "admin"})
    assert "owner" in data["detail"]
    assert (await roles(client, chat, alice))[alice.id] == "owner"


async def test_making_someone_owner_transfers_ownership(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    data = await call(client, "PATCH", members_path(chat, bob) + "/role", alice, 200, {"role": "owner"})
    assert data["role"] == "owner"
    assert await roles(client, chat, alice) == {alice.id: "admin", bob.id: "owner", carol.id: "member"}
    # the old owner is no longer allowed to change roles
    await call(client, "PATCH", members_path(chat, carol) + "/role", alice, 403, {"role": "admin"})


async def test_role_of_a_non_member_is_404(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    data = await call(client, "PATCH", members_path(chat, carol) + "/role", alice, 404, {"role": "admin"})
    assert "not a member" in data["detail"]


async def test_unknown_role_is_422(client, alice, bob):
    chat = await group(client, alice, bob)
    data = await call(client, "PATCH", members_path(chat, bob) + "/role", alice, 422, {"role": "king"})
    assert data["detail"][0]["loc"] == ["body", "role"]


async def test_private_chats_have_no_roles(client, alice, bob):
    chat = await private(client, alice, bob)
    await call(client, "PATCH", members_path(chat, bob) + "/role", alice, 422, {"role": "admin"})


# removing members -----------------------------------------------------------------------------

async def test_owner_removes_an_admin(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    await make_admin(client, chat, alice, bob)
    await call(client, "DELETE", members_path(chat, bob), alice, 204)
    assert bob.id not in await roles(client, chat, alice)
    await call(client, "GET", f"{API}/{chat['id']}", bob, 404)


async def test_admin_removes_a_member_but_not_an_admin_or_the_owner(client, alice, bob, carol, dave):
    chat = await group(client, alice, bob, carol, dave)
    await make_admin(client, chat, alice, bob)
    await make_admin(client, chat, alice, dave)
    await call(client, "DELETE", members_path(chat, carol), bob, 204)
    data = await call(client, "DELETE", members_path(chat, dave), bob, 403)
    assert "only the owner can remove an admin" in data["detail"]
    data = await call(client, "DELETE", members_path(chat, alice), bob, 403)
    assert "owner cannot be removed" in data["detail"]


async def test_member_cannot_remove_members(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    await call(client, "DELETE", members_path(chat, carol), bob, 403)


async def test_removing_a_non_member_is_404(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    await call(client, "DELETE", members_path(chat, carol), alice, 404)


async def test_removing_yourself_is_leaving(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    await call(client, "DELETE", members_path(chat, carol), carol, 204)
    assert carol.id not in await roles(client, chat, alice)


# leaving --------------------------------------------------------------------------------------

async def test_member_leaves(client, alice, bob):
    chat = await group(client, alice, bob)
    await call(client, "POST", f"{API}/{chat['id']}/leave", bob, 204)
    assert await chat_list(client, bob) == []
    assert await roles(client, chat, alice) == {alice.id: "owner"}


async def test_owner_leaving_hands_over_to_the_oldest_admin(client, alice, bob, carol, dave):
    chat = await group(client, alice, bob)
    await call(client, "POST", members_path(chat), alice, 201, {"user_id": carol.id})
    await call(client, "POST", members_path(chat), alice, 201, {"user_id": dave.id})
    await make_admin(client, chat, alice, dave)
    await make_admin(client, chat, alice, carol)
    await call(client, "POST", f"{API}/{chat['id']}/leave", alice, 204)
    # carol joined before dave, so she is the oldest admin; bob is older but not an admin
    assert await roles(client, chat, bob) == {bob.id: "member", carol.id: "owner", dave.id: "admin"}


async def test_owner_leaving_without_admins_hands_over_to_the_oldest_member(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    await call(client, "POST", members_path(chat), alice, 201, {"user_id": carol.id})
    await call(client, "POST", f"{API}/{chat['id']}/leave", alice, 204)
    assert await roles(client, chat, bob) == {bob.id: "owner", carol.id: "member"}


async def test_last_owner_leaving_deletes_the_chat(client, alice):
    chat = await group(client, alice)
    await call(client, "POST", f"{API}/{chat['id']}/leave", alice, 204)
    assert await sql(client, "SELECT id FROM chats WHERE id = ?", chat["id"]) == []


async def test_private_chat_cannot_be_left(client, alice, bob):
    chat = await private(client, alice, bob)
    data = await call(client, "POST", f"{API}/{chat['id']}/leave", alice, 422)
    assert "delete" in data["detail"]


async def test_leaving_a_chat_you_are_not_in(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    await call(client, "POST", f"{API}/{chat['id']}/leave", carol, 404)
    public = await create(client, alice, type="group", title="P", is_public=True, handle="publicgrp")
    data = await call(client, "POST", f"{API}/{public['id']}/leave", carol, 403)
    assert "not a member" in data["detail"]


# bans -----------------------------------------------------------------------------------------

async def test_ban_removes_membership_and_blocks_rejoining(client, alice, bob, carol):
    chat = await create(client, alice, type="group", title="P", is_public=True, handle="bannable",
                        member_ids=[bob.id, carol.id])
    link = await call(client, "POST", f"{API}/{chat['id']}/invite-link", alice, 200)
    await call(client, "POST", f"{API}/{chat['id']}/bans/{carol.id}", alice, 204)
    assert carol.id not in await roles(client, chat, alice)
    data = await call(client, "POST", f"{API}/{chat['id']}/join", carol, 403)
    assert "banned" in data["detail"]
    await call(client, "POST", f"{API}/join-by-invite", carol, 403, {"token": link["token"]})
    await call(client, "DELETE", f"{API}/{chat['id']}/bans/{carol.id}", alice, 204)
    await call(client, "POST", f"{API}/{chat['id']}/join", carol, 200)


async def test_ban_of_a_non_member_prevents_joining(client, alice, bob):
    chat = await create(client, alice, type="channel", title="P", is_public=True, handle="preban")
    await call(client, "POST", f"{API}/{chat['id']}/bans/{bob.id}", alice, 204)
    await call(client, "POST", f"{API}/{chat['id']}/join", bob, 403)


async def test_admin_bans_members_but_not_admins_or_the_owner(client, alice, bob, carol, dave):
    chat = await group(client, alice, bob, carol, dave)
    await make_admin(client, chat, alice, bob)
    await make_admin(client, chat, alice, dave)
    await call(client, "POST", f"{API}/{chat['id']}/bans/{carol.id}", bob, 204)
    await call(client, "POST", f"{API}/{chat['id']}/bans/{dave.id}", bob, 403)
    data = await call(client, "POST", f"{API}/{chat['id']}/bans/{alice.id}", bob, 403)
    assert "owner cannot be banned" in data["detail"]
    await call(client, "POST", f"{API}/{chat['id']}/bans/{dave.id}", alice, 204)


async def test_member_cannot_ban_or_unban(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    await call(client, "POST", f"{API}/{chat['id']}/bans/{carol.id}", bob, 403)
    await call(client, "POST", f"{API}/{chat['id']}/bans/{carol.id}", alice, 204)
    await call(client, "DELETE", f"{API}/{chat['id']}/bans/{carol.id}", bob, 403)


async def test_ban_rules_for_self_unknown_users_and_private_chats(client, alice, bob):
    chat = await group(client, alice, bob)
    await call(client, "POST", f"{API}/{chat['id']}/bans/{alice.id}", alice, 422)
    await call(client, "POST", f"{API}/{chat['id']}/bans/8888", alice, 404)
    dm = await private(client, alice, bob)
    await call(client, "POST", f"{API}/{dm['id']}/bans/{bob.id}", alice, 422)


async def test_unban_of_a_user_who_is_not_banned_is_404(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    data = await call(client, "DELETE", f"{API}/{chat['id']}/bans/{carol.id}", alice, 404)
    assert "not banned" in data["detail"]


async def test_banning_twice_is_harmless(client, alice, bob):
    chat = await group(client, alice, bob)
    await call(client, "POST", f"{API}/{chat['id']}/bans/{bob.id}", alice, 204)
    await call(client, "POST", f"{API}/{chat['id']}/bans/{bob.id}", alice, 204)
    assert len(await sql(client, "SELECT * FROM chat_bans")) == 1


# joining public chats -------------------------------------------------------------------------

async def test_join_a_public_group(client, alice, bob):
    chat = await create(client, alice, type="group", title="Open", is_public=True, handle="opengroup")
    view = await call(client, "POST", f"{API}/{chat['id']}/join", bob, 200)
    assert view["my_role"] == "member" and view["members_count"] == 2
    again = await call(client, "POST", f"{API}/{chat['id']}/join", bob, 200)
    assert again["members_count"] == 2


async def test_join_a_public_channel(client, alice, bob):
    chat = await create(client, alice, type="channel", title="Open", is_public=True, handle="openchan")
    view = await call(client, "POST", f"{API}/{chat['id']}/join", bob, 200)
    assert view["subscribers_count"] == 2


async def test_joining_a_non_public_chat_is_404(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    dm = await private(client, alice, bob)
    for cid in (chat["id"], dm["id"], 99999):
        assert await call(client, "POST", f"{API}/{cid}/join", carol, 404) == {"detail": "Chat not found"}


# invite links ---------------------------------------------------------------------------------

async def test_invite_link_joins_a_private_group(client, settings, alice, bob, carol):
    chat = await group(client, alice, bob)
    link = await call(client, "POST", f"{API}/{chat['id']}/invite-link", alice, 200)
    assert link["chat_id"] == chat["id"] and len(link["token"]) >= 32
    assert link["invite_url"] == f"{settings.base_url}/join?token={link['token']}"
    view = await call(client, "POST", f"{API}/join-by-invite", carol, 200, {"token": link["token"]})
    assert view["id"] == chat["id"] and view["my_role"] == "member" and view["members_count"] == 3
    again = await call(client, "POST", f"{API}/join-by-invite", carol, 200, {"token": link["token"]})
    assert again["members_count"] == 3


async def test_a_new_invite_link_revokes_the_old_one(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    old = await call(client, "POST", f"{API}/{chat['id']}/invite-link", alice, 200)
    new = await call(client, "POST", f"{API}/{chat['id']}/invite-link", alice, 200)
    assert old["token"] != new["token"]
    data = await call(client, "POST", f"{API}/join-by-invite", carol, 404, {"token": old["token"]})
    assert "invite" in data["detail"]
    await call(client, "POST", f"{API}/join-by-invite", carol, 200, {"token": new["token"]})


async def test_admin_creates_invite_links_member_cannot(client, alice, bob, carol):
    chat = await group(client, alice, bob, carol)
    await call(client, "POST", f"{API}/{chat['id']}/invite-link", bob, 403)
    await make_admin(client, chat, alice, bob)
    await call(client, "POST", f"{API}/{chat['id']}/invite-link", bob, 200)


async def test_private_chats_have_no_invite_links(client, alice, bob):
    chat = await private(client, alice, bob)
    await call(client, "POST", f"{API}/{chat['id']}/invite-link", alice, 422)


async def test_join_by_invite_validates_the_token(client, alice):
    await call(client, "POST", f"{API}/join-by-invite", alice, 404, {"token": "nope"})
    data = await call(client, "POST", f"{API}/join-by-invite", alice, 422, {"token": ""})
    assert data["detail"][0]["loc"] == ["body", "token"]
    await call(client, "POST", f"{API}/join-by-invite", alice, 422, {})


async def test_invite_link_of_a_deleted_chat_stops_working(client, alice, bob, carol):
    chat = await group(client, alice, bob)
    link = await call(client, "POST", f"{API}/{chat['id']}/invite-link", alice, 200)
    await call(client, "DELETE", f"{API}/{chat['id']}?for_all=true", alice, 204)
    await call(client, "POST", f"{API}/join-by-invite", carol, 404, {"token": link["token"]})


async def test_erin_unrelated_user_sees_nothing(client, alice, bob, erin):
    await group(client, alice, bob)
    assert await chat_list(client, erin) == []


# the permission matrix of manager actions -----------------------------------------------------

MANAGER_ACTIONS = [
    ("POST", "/members", lambda t: {"user_id": t.id}, 201),
    ("POST", "/bans/{t}", None, 204),
    ("POST", "/invite-link", None, 200),
    ("PATCH", "/title", lambda t: {"title": "Renamed"}, 200),
    ("PATCH", "/profile", lambda t: {"description": "about"}, 200),
    ("POST", "/pin", lambda t: {"message_id": None}, 200),
]


@pytest.mark.parametrize("role,expect", [("owner", None), ("admin", None), ("member", 403), ("outsider", 404)])
@pytest.mark.parametrize("method,suffix,body,ok", MANAGER_ACTIONS,
                         ids=[f"{m} {s}" for m, s, _, _ in MANAGER_ACTIONS])
async def test_manager_actions_by_role(client, alice, bob, carol, dave, role, expect, method, suffix, body, ok):
    chat = await group(client, alice, bob, carol)
    await make_admin(client, chat, alice, bob)
    actor = {"owner": alice, "admin": bob, "member": carol, "outsider": dave}[role]
    target = dave if role != "outsider" else carol
    before = await snapshot(client)
    path = f"{API}/{chat['id']}" + suffix.format(t=target.id)
    await call(client, method, path, actor, expect or ok, body(target) if body else None)
    if expect:
        assert await snapshot(client) == before


@pytest.mark.parametrize("role,expect", [("owner", 204), ("admin", 204), ("member", 403), ("outsider", 404)])
async def test_unban_by_role(client, alice, bob, carol, dave, erin, role, expect):
    chat = await group(client, alice, bob, carol)
    await make_admin(client, chat, alice, bob)
    await call(client, "POST", f"{API}/{chat['id']}/bans/{erin.id}", alice, 204)
    actor = {"owner": alice, "admin": bob, "member": carol, "outsider": dave}[role]
    await call(client, "DELETE", f"{API}/{chat['id']}/bans/{erin.id}", actor, expect)
