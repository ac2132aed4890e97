"""Registration modes and server invite codes over HTTP (issue 13, item 2): invite-only
registration with a code that gets used up, expiry with the fake clock, revocation, the account
limit, and codes never shown again."""
from __future__ import annotations

import time

import pytest
from admin_helpers import audit_rows, owner, person
from auth_support import NO_LIMITS, PASSWORD

from pufferd.clock import FakeClock
from pufferd.db import users_q
from pufferd.web.keys import CTX

INVITES = "/api/v1/system/invites"
REGISTER = "/api/v1/auth/register"


@pytest.fixture
def settings_overrides():
    return {**NO_LIMITS, "registration_mode": "invite_only"}


@pytest.fixture
def clock():
    return FakeClock(start=time.time())



async def create(client, **body):
    resp = await client.post(INVITES, json=body, headers=owner(client.app).headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def register(client, username: str, code: str | None = None):
    body = {"email": f"{username}@example.com", "name": username.title(), "username": username, "password": PASSWORD}
    if code is not None:
        body["invite_code"] = code
    return await client.post(REGISTER, json=body)


async def exists(client, username: str) -> bool:
    return await client.app[CTX].db.read(lambda c: users_q.get_by_username(c, username)) is not None


async def test_invite_only_registration_uses_up_the_code(client):
    invite = await create(client, max_uses=2, note="for the swim team")
    assert invite["uses"] == 0 and invite["usable"] and invite["code_hint"] == invite["code"][:4]
    assert (await register(client, "ann", invite["code"])).status == 201
    assert (await register(client, "ben", invite["code"])).status == 201
    resp = await register(client, "cat", invite["code"])
    assert resp.status == 403 and "invite_code is not valid" in (await resp.json())["detail"]
    assert await exists(client, "ben") and not await exists(client, "cat")
    [listed] = (await (await client.get(INVITES, headers=owner(client.app).headers)).json())["invites"]
    assert (listed["uses"], listed["usable"], listed["note"]) == (2, False, "for the swim team")
    assert "code" not in listed
    entries = await audit_rows(client.app, "register")
    assert sorted(e.detail["invite_id"] for e in entries) == [invite["id"], invite["id"]]


async def test_invite_only_needs_a_code(client):
    resp = await register(client, "ann")
    assert resp.status == 403 and "invite_code" in (await resp.json())["detail"]
    resp = await register(client, "ann", "not-a-code")
    assert resp.status == 403 and "not valid" in (await resp.json())["detail"]
    assert not await exists(client, "ann")


async def test_an_expired_code_stops_working(client, clock):
    invite = await create(client, expires_at="2099-01-01T00:00:00Z")
    soon = await create(client, expires_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.time() + 3600)))
    clock.advance(3601)
    assert (await register(client, "ann", soon["code"])).status == 403
    assert (await register(client, "ann", invite["code"])).status == 201


async def test_past_expiry_is_422(client):
    resp = await client.post(INVITES, json={"expires_at": "2001-01-01T00:00:00Z"}, headers=owner(client.app).headers)
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["body", "expires_at"]
    resp = await client.post(INVITES, json={"max_uses": 0}, headers=owner(client.app).headers)
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["body", "max_uses"]


async def test_a_revoked_code_stops_working_at_once(client):
    invite = await create(client)
    resp = await client.delete(f"{INVITES}/{invite['id']}?reason=leaked", headers=owner(client.app).headers)
    assert resp.status == 200 and (await resp.json())["usable"] is False
    assert (await register(client, "ann", invite["code"])).status == 403
    [entry] = await audit_rows(client.app, "invite_revoked")
    assert entry.target == f"invite:{invite['id']}" and entry.detail["reason"] == "leaked"
    assert (await client.delete(f"{INVITES}/999999", headers=owner(client.app).headers)).status == 404


async def test_a_registration_rolled_back_gives_the_use_back(client, monkeypatch):
    from pufferd import accounts
    from pufferd.errors import Unavailable

    invite = await create(client, max_uses=1)

    async def no_mail(*args, **kwargs):
        raise Unavailable("mail server down")

    monkeypatch.setattr(accounts, "_send_verification", no_mail)
    assert (await register(client, "ann", invite["code"])).status == 503
    monkeypatch.undo()
    assert (await register(client, "ann", invite["code"])).status == 201


async def test_open_mode_counts_a_valid_code_and_ignores_others(client):
    await client.put("/api/v1/system/settings", json={"settings": {"registration_mode": "open"}},
                     headers=owner(client.app).headers)
    invite = await create(client)
    assert (await register(client, "ann")).status == 201
    assert (await register(client, "ben", "whatever")).status == 201
    assert (await register(client, "cat", invite["code"])).status == 201
    [listed] = (await (await client.get(INVITES, headers=owner(client.app).headers)).json())["invites"]
    assert listed["uses"] == 1


async def test_max_users_caps_registration(client):
    await client.put("/api/v1/system/settings", headers=owner(client.app).headers,
                     json={"settings": {"registration_mode": "open", "max_users": 2}})
    assert (await register(client, "ann")).status == 201
    resp = await register(client, "ben")
    assert resp.status == 403 and "limit of 2 accounts" in (await resp.json())["detail"]


async def test_invites_page_newest_first(client, make_user):
    made = [await create(client) for _ in range(3)]
    admin = await person(client.app, make_user, "admin")
    page = await (await client.get(f"{INVITES}?limit=2", headers=admin.headers)).json()
    assert [i["id"] for i in page["invites"]] == [made[2]["id"], made[1]["id"]]
    rest = await (await client.get(f"{INVITES}?limit=2&cursor={page['next_cursor']}", headers=admin.headers)).json()
    assert [i["id"] for i in rest["invites"]] == [made[0]["id"]] and rest["next_cursor"] is None
