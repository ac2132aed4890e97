"""Authentication through the AuthCache: no database hop for a token verified moments ago, and
never a stale answer after a change this process made."""
from __future__ import annotations

import time

import pytest
from auth_support import NO_LIMITS, account

from pufferd.clock import FakeClock
from pufferd.web.keys import CTX

ME = "/api/v1/auth/me"


@pytest.fixture
def settings_overrides():
    return {**NO_LIMITS, "auth_cache_seconds": 1.0}


@pytest.fixture
def clock():
    return FakeClock(start=time.time())



@pytest.fixture
def reads(client, monkeypatch):
    """Counts database read hops."""
    db = client.server.app[CTX].db
    counter = {"n": 0}
    original = db.read

    async def counting(fn):
        counter["n"] += 1
        return await original(fn)

    monkeypatch.setattr(db, "read", counting)
    return counter


async def test_a_repeated_token_costs_no_database_hop(client, reads):
    a = await account(client, "dana")
    assert (await client.get(ME, headers=a.headers)).status == 200
    before = reads["n"]
    for _ in range(5):
        assert (await client.get(ME, headers=a.headers)).status == 200
    assert reads["n"] == before


async def test_an_outside_change_is_seen_after_the_ttl(client, clock):
    a = await account(client, "dana")
    assert (await client.get(ME, headers=a.headers)).status == 200
    # as `pufferd admin disable-user` does, from another process
    await client.server.app[CTX].db.write(lambda c: c.execute("UPDATE users SET is_disabled = 1"))
    clock.advance(1.0)
    assert (await client.get(ME, headers=a.headers)).status == 401


async def test_a_cached_token_still_expires(client, clock):
    a = await account(client, "dana")
    assert (await client.get(ME, headers=a.headers)).status == 200
    clock.advance(15 * 60)
    resp = await client.get(ME, headers=a.headers)
    assert resp.status == 401
    assert await resp.json() == {"detail": "Token expired"}


async def test_changes_made_here_are_seen_at_once(client, clock):
    a = await account(client, "dana")
    other = await account(client, "erin")
    assert (await client.get(ME, headers=a.headers)).status == 200
    await client.put("/api/v1/users/profile", headers=a.headers, json={"name": "Dana Two"})
    assert (await (await client.get(ME, headers=a.headers)).json())["name"] == "Dana Two"
    await client.post("/api/v1/auth/2fa/setup", headers=a.headers)
    sessions = await (await client.get("/api/v1/auth/sessions", headers=a.headers)).json()
    await client.delete(f"/api/v1/auth/sessions/{sessions[1]['jti']}", headers=a.headers)
    assert (await client.get(ME, headers=a.headers)).status == 401  # its session is gone
    assert (await client.get(ME, headers=other.headers)).status == 200


async def test_refresh_reuse_refuses_cached_access_tokens_of_that_session(client):
    a = await account(client, "dana")
    new = await (await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh_token})).json()
    headers = {"Authorization": f"Bearer {new['access_token']}"}
    assert (await client.get(ME, headers=headers)).status == 200
    await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh_token})  # reuse
    assert (await client.get(ME, headers=headers)).status == 401
