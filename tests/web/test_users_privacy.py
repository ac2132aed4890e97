"""Whose e-mail address a user sees, and what a block hides (API reference 3.2, 6): only its
owner and server administrators see an address; a user who blocked you is "not found"."""
from __future__ import annotations

import pytest
from conftest import ADMIN_PASSWORD

from pufferd.users import USER_NOT_FOUND


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"contact_by_email_rate_limit_per_minute": 3}


class Admin:
    def __init__(self, token: str) -> None:
        self.headers = {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def admin(client) -> Admin:
    """The server administrator `pufferd init` created, signed in over the API."""
    resp = await client.post("/api/v1/auth/login", json={"email": "admin@example.com", "password": ADMIN_PASSWORD})
    assert resp.status == 200, await resp.text()
    return Admin((await resp.json())["access_token"])


async def get(client, user, path: str, expect: int = 200):
    resp = await client.get(path, headers=user.headers)
    data = await resp.json()
    assert resp.status == expect, data
    return data


async def test_other_users_email_is_null_everywhere_one_user_reads_another(client, alice, bob, carol):
    assert (await get(client, bob, f"/api/v1/users/{alice.id}"))["email"] is None
    [found] = await get(client, bob, "/api/v1/users/search?query=alic")
    assert found["id"] == alice.id and found["email"] is None
    result = await get(client, bob, "/api/v1/search?query=alice")
    assert [(u["id"], u["email"]) for u in result["users"]] == [(alice.id, None)]
    resp = await client.post(f"/api/v1/users/{alice.id}/contacts", headers=bob.headers)
    assert resp.status == 204
    resp = await client.post(f"/api/v1/users/{carol.id}/block", headers=bob.headers)
    assert resp.status == 204
    assert [(u["id"], u["email"]) for u in await get(client, bob, "/api/v1/users/contacts")] == [(alice.id, None)]
    assert [(u["id"], u["email"]) for u in await get(client, bob, "/api/v1/users/blocked")] == [(carol.id, None)]
    # walking the sequential ids gives no address
    for uid in range(1, carol.id + 5):
        resp = await client.get(f"/api/v1/users/{uid}", headers=bob.headers)
        if resp.status == 200 and uid != bob.id:
            assert (await resp.json())["email"] is None, uid


async def test_a_user_sees_their_own_email(client, alice):
    assert (await get(client, alice, f"/api/v1/users/{alice.id}"))["email"] == "alice@example.com"
    assert (await get(client, alice, "/api/v1/users/me"))["email"] == "alice@example.com"


async def test_a_server_admin_sees_email_addresses(client, admin, alice):
    assert (await get(client, admin, f"/api/v1/users/{alice.id}"))["email"] == "alice@example.com"
    [found] = await get(client, admin, "/api/v1/users/search?query=alic")
    assert found["email"] == "alice@example.com"


async def test_a_user_who_blocked_you_is_not_found(client, admin, alice, bob):
    resp = await client.post(f"/api/v1/users/{bob.id}/block", headers=alice.headers)
    assert resp.status == 204
    assert await get(client, bob, f"/api/v1/users/{alice.id}", 404) == {"detail": USER_NOT_FOUND}
    resp = await client.post(f"/api/v1/users/{alice.id}/contacts", headers=bob.headers)
    assert resp.status == 404 and await resp.json() == {"detail": USER_NOT_FOUND}
    resp = await client.post("/api/v1/users/contacts/by-email", json={"email": alice.email}, headers=bob.headers)
    assert resp.status == 404 and await resp.json() == {"detail": USER_NOT_FOUND}
    # the blocker still sees the blocked user, and a server administrator sees both
    assert (await get(client, alice, f"/api/v1/users/{bob.id}"))["username"] == "bob"
    assert (await get(client, admin, f"/api/v1/users/{alice.id}"))["username"] == "alice"
    # blocking back stays possible
    resp = await client.post(f"/api/v1/users/{alice.id}/block", headers=bob.headers)
    assert resp.status == 204


async def test_contact_lookups_by_email_are_rate_limited_per_user(client, alice, bob, carol):
    for n in range(3):
        resp = await client.post("/api/v1/users/contacts/by-email", json={"email": f"nobody{n}@example.com"},
                                 headers=alice.headers)
        assert resp.status == 404
    resp = await client.post("/api/v1/users/contacts/by-email", json={"email": bob.email}, headers=alice.headers)
    assert resp.status == 429 and "Retry-After" in resp.headers
    assert (await resp.json())["detail"].startswith("Rate limit exceeded.")
    # another user has their own allowance
    resp = await client.post("/api/v1/users/contacts/by-email", json={"email": bob.email}, headers=carol.headers)
    assert resp.status == 204
