"""Server roles over HTTP (issue 13, item 1): the role × privilege matrix of the administration
routes, who may give which role, the one owner and ownership transfer, the user list."""
from __future__ import annotations

import pytest
from admin_helpers import OWNER_ID, audit_rows, owner, person, role_of, set_role

from pufferd.privileges import Privilege, privileges_of
from pufferd.web.keys import CTX

SYSTEM = "/api/v1/system"

# (method, path, json body, the privilege it needs; None: any signed-in user)
ROUTES = [
    ("PUT", "/server-info", {"description": "A club"}, Privilege.MANAGE_SETTINGS),
    ("GET", "/settings", None, Privilege.MANAGE_SETTINGS),
    ("PUT", "/settings", {"settings": {"max_pinned_chats": 11}}, Privilege.MANAGE_SETTINGS),
    ("GET", "/privileges", None, None),
    ("GET", "/users", None, Privilege.MANAGE_ROLES),
    ("PUT", "/users/{target}/role", {"role": "user", "reason": "tidy"}, Privilege.MANAGE_ROLES),
    ("GET", "/invites", None, Privilege.MANAGE_SETTINGS),
    ("POST", "/invites", {"max_uses": 1}, Privilege.MANAGE_SETTINGS),
    ("DELETE", "/invites/999999", None, Privilege.MANAGE_SETTINGS),
    ("GET", "/ip-blocks", None, Privilege.BLOCK_IPS),
    ("POST", "/ip-blocks", {"network": "198.51.100.0/24"}, Privilege.BLOCK_IPS),
    ("DELETE", "/ip-blocks/999999", None, Privilege.BLOCK_IPS),
    ("GET", "/audit", None, Privilege.VIEW_AUDIT),
    ("GET", "/activity", None, Privilege.VIEW_AUDIT),
]


async def caller(client, make_user, role: str):
    if role == "owner":
        return owner(client.app)
    return await person(client.app, make_user, role)


@pytest.mark.parametrize("role", ["owner", "admin", "moderator", "user"])
@pytest.mark.parametrize("method, path, body, privilege", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
async def test_role_privilege_matrix(client, make_user, role, method, path, body, privilege):
    who = await caller(client, make_user, role)
    target = await make_user()  # a plain user, for the role route
    resp = await client.request(method, SYSTEM + path.format(target=target.id), json=body, headers=who.headers)
    allowed = privilege is None or privilege in privileges_of(role)
    if allowed:
        assert resp.status != 403 and resp.status < 500, (resp.status, await resp.text())
    else:
        assert resp.status == 403, await resp.text()
        assert privilege.value in (await resp.json())["detail"]


async def test_administration_routes_need_a_token(client):
    for method, path, body, _ in ROUTES:
        resp = await client.request(method, SYSTEM + path.format(target=2), json=body)
        assert resp.status == 401, (method, path)


async def test_privileges_name_the_caller_role_and_the_table(client, make_user):
    mod = await person(client.app, make_user, "moderator")
    body = await (await client.get(f"{SYSTEM}/privileges", headers=mod.headers)).json()
    assert body["role"] == "moderator"
    assert body["privileges"] == ["ban", "delete_content", "resolve_reports"]
    assert body["roles"]["user"] == [] and len(body["roles"]["owner"]) == len(Privilege)


# who may give which role --------------------------------------------------------------------
async def put_role(client, who, target_id: int, role: str, reason: str | None = None):
    return await client.put(f"{SYSTEM}/users/{target_id}/role", json={"role": role, "reason": reason},
                            headers=who.headers)


async def test_owner_makes_a_moderator_and_it_is_audited_with_reason_and_ip(client, make_user):
    bob = await make_user("bob")
    resp = await put_role(client, owner(client.app), bob.id, "moderator", "helps in #general")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["user"]["role"] == "moderator" and body["previous_role"] == "user"
    assert body["previous_owner"] is None
    [entry] = await audit_rows(client.app, "role_changed")
    assert entry.user_id == bob.id and entry.actor == f"user:{OWNER_ID}" and entry.ip_address == "127.0.0.1"
    assert entry.detail == {"from": "user", "to": "moderator", "reason": "helps in #general"}


async def test_new_role_holds_from_the_next_request(client, make_user):
    bob = await make_user("bob")
    assert (await client.get(f"{SYSTEM}/audit", headers=bob.headers)).status == 403
    assert (await put_role(client, owner(client.app), bob.id, "admin")).status == 200
    assert (await client.get(f"{SYSTEM}/audit", headers=bob.headers)).status == 200
    assert (await put_role(client, owner(client.app), bob.id, "user")).status == 200
    assert (await client.get(f"{SYSTEM}/audit", headers=bob.headers)).status == 403


async def test_admin_gives_lower_roles_to_lower_people_only(client, make_user):
    admin = await person(client.app, make_user, "admin", "ada")
    bob = await make_user("bob")
    other_admin = await person(client.app, make_user, "admin", "alan")
    assert (await put_role(client, admin, bob.id, "moderator")).status == 200
    resp = await put_role(client, admin, bob.id, "admin")
    assert resp.status == 403 and "only lower roles" in (await resp.json())["detail"]
    resp = await put_role(client, admin, other_admin.id, "user")
    assert resp.status == 403 and "a admin cannot change the role of a admin" in (await resp.json())["detail"]
    resp = await put_role(client, admin, OWNER_ID, "user")
    assert resp.status == 403
    assert await role_of(client.app, other_admin.id) == "admin" and await role_of(client.app, OWNER_ID) == "owner"


async def test_only_the_owner_makes_an_owner(client, make_user):
    admin = await person(client.app, make_user, "admin", "ada")
    bob = await make_user("bob")
    resp = await put_role(client, admin, bob.id, "owner")
    assert resp.status == 403 and "only the owner" in (await resp.json())["detail"]


async def test_moderator_and_user_cannot_change_roles(client, make_user):
    mod = await person(client.app, make_user, "moderator", "mo")
    bob = await make_user("bob")
    for who in (mod, bob):
        resp = await put_role(client, who, bob.id if who is mod else mod.id, "user")
        assert resp.status == 403 and "manage_roles" in (await resp.json())["detail"]


async def test_nobody_changes_their_own_role(client, make_user):
    admin = await person(client.app, make_user, "admin", "ada")
    resp = await put_role(client, admin, admin.id, "moderator")
    assert resp.status == 403 and "your own role" in (await resp.json())["detail"]


async def test_the_last_owner_cannot_be_demoted(client):
    resp = await put_role(client, owner(client.app), OWNER_ID, "admin")
    assert resp.status == 403 and "own role" in (await resp.json())["detail"]
    assert await role_of(client.app, OWNER_ID) == "owner"


async def test_ownership_transfer_makes_the_old_owner_an_admin_in_one_step(client, make_user):
    bob = await make_user("bob")
    resp = await put_role(client, owner(client.app), bob.id, "owner", "handing over")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["user"]["role"] == "owner" and body["previous_owner"]["id"] == OWNER_ID
    assert body["previous_owner"]["role"] == "admin"
    assert await role_of(client.app, OWNER_ID) == "admin" and await role_of(client.app, bob.id) == "owner"
    entries = await audit_rows(client.app, "role_changed")
    assert sorted((e.user_id, e.detail["to"]) for e in entries) == sorted([(OWNER_ID, "admin"), (bob.id, "owner")])
    # the old owner is now an admin: the new owner outranks them
    resp = await put_role(client, owner(client.app), bob.id, "user")
    assert resp.status == 403


async def test_a_disabled_account_cannot_become_owner(client, make_user):
    bob = await make_user("bob")
    await client.app[CTX].db.write(lambda c: c.execute("UPDATE users SET is_disabled = 1 WHERE id = ?", (bob.id,)))
    resp = await put_role(client, owner(client.app), bob.id, "owner")
    assert resp.status == 409 and "disabled" in (await resp.json())["detail"]


async def test_unknown_role_or_user(client, make_user):
    bob = await make_user("bob")
    resp = await put_role(client, owner(client.app), bob.id, "superuser")
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["body", "role"]
    resp = await put_role(client, owner(client.app), 999999, "moderator")
    assert resp.status == 404


async def test_same_role_changes_nothing(client, make_user):
    bob = await make_user("bob")
    resp = await put_role(client, owner(client.app), bob.id, "user")
    assert resp.status == 200 and (await resp.json())["previous_role"] == "user"
    assert await audit_rows(client.app, "role_changed") == []


# the user list ------------------------------------------------------------------------------
async def test_user_list_pages_and_filters(client, make_user):
    made = [await make_user(f"member{i}", email=f"m{i}@club.example") for i in range(5)]
    await set_role(client.app, made[1], "moderator")
    await client.app[CTX].db.write(lambda c: c.execute("UPDATE users SET is_disabled = 1 WHERE id = ?",
                                                       (made[2].id,)))
    headers = owner(client.app).headers
    page1 = await (await client.get(f"{SYSTEM}/users?limit=3", headers=headers)).json()
    assert [u["id"] for u in page1["users"]] == [OWNER_ID, made[0].id, made[1].id]
    page2 = await (await client.get(f"{SYSTEM}/users?limit=3&cursor={page1['next_cursor']}", headers=headers)).json()
    assert [u["id"] for u in page2["users"]] == [m.id for m in made[2:]] and page2["next_cursor"] is None
    mods = await (await client.get(f"{SYSTEM}/users?role=moderator", headers=headers)).json()
    assert [u["username"] for u in mods["users"]] == ["member1"]
    off = await (await client.get(f"{SYSTEM}/users?state=disabled", headers=headers)).json()
    assert [(u["username"], u["state"]) for u in off["users"]] == [("member2", "disabled")]
    found = await (await client.get(f"{SYSTEM}/users?search=M3@CLUB", headers=headers)).json()
    assert [u["username"] for u in found["users"]] == ["member3"]
    assert "password_hash" not in found["users"][0] and "twofa_secret" not in found["users"][0]
    bad = await client.get(f"{SYSTEM}/users?role=king", headers=headers)
    assert bad.status == 422 and (await bad.json())["detail"][0]["loc"] == ["query", "role"]
