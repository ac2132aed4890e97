"""IP blocks over HTTP (issue 13, item 4): refused before authentication with the limiter's
client-IP rule (X-Forwarded-For from a trusted proxy), self-lockout refused without force, bad
networks 422, expiry with the fake clock, attempts counted in batches, health stays reachable."""
from __future__ import annotations

import time

import pytest
from admin_helpers import audit_rows, owner
from aiohttp.test_utils import TestClient, TestServer

from pufferd import ipblocks
from pufferd.app import make_app
from pufferd.clock import FakeClock
from pufferd.config import load_settings
from pufferd.web.keys import CTX

BLOCKS = "/api/v1/system/ip-blocks"
INFO = "/api/v1/system/server-info"


@pytest.fixture
def settings_overrides():
    return {"trusted_proxies": ["127.0.0.1"]}  # the test client is the proxy


@pytest.fixture
def clock():
    return FakeClock(start=time.time())



def via(ip: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"X-Forwarded-For": ip, **(headers or {})}


async def block(client, network: str, *, expect: int = 201, from_ip: str = "192.0.2.1", **extra):
    resp = await client.post(BLOCKS, json={"network": network, **extra}, headers=via(from_ip, owner(client.app).headers))
    body = await resp.json()
    assert resp.status == expect, body
    return body


async def test_block_through_a_trusted_proxy(client):
    made = await block(client, "203.0.113.0/24", reason="credential stuffing")
    assert made["network"] == "203.0.113.0/24" and made["active"] and made["attempts"] == 0
    resp = await client.get(INFO, headers=via("203.0.113.9"))
    assert resp.status == 403
    assert (await resp.json())["detail"] == "Requests from your address (203.0.113.9) are blocked on this server"
    # before authentication: a valid token does not help, a bad one does not get a 401
    assert (await client.get("/api/v1/auth/me", headers=via("203.0.113.9", owner(client.app).headers))).status == 403
    assert (await client.get("/api/v1/auth/me", headers=via("203.0.113.9"))).status == 403
    assert (await client.get(INFO, headers=via("198.51.100.1"))).status == 200
    [entry] = await audit_rows(client.app, "ip_blocked")
    assert entry.target == "ip:203.0.113.0/24" and entry.ip_address == "192.0.2.1"
    assert entry.detail["reason"] == "credential stuffing"


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(client, data_dir):
    await block(client, "203.0.113.0/24")
    plain = make_app(load_settings(data_dir))  # no trusted proxies: X-Forwarded-For is the client's word
    try:
        async with TestClient(TestServer(plain)) as other:
            assert (await other.get(INFO, headers=via("203.0.113.9"))).status == 200
    finally:
        plain[CTX].db.close()


async def test_health_stays_reachable_from_a_blocked_address(client):
    await block(client, "203.0.113.9")
    for path in ("/health", "/health/live", "/health/ready"):
        assert (await client.get(path, headers=via("203.0.113.9"))).status == 200, path


async def test_ipv6_ranges_and_single_addresses(client):
    await block(client, "2001:db8::/32")
    single = await block(client, "198.51.100.7")
    assert single["network"] == "198.51.100.7/32"
    assert (await client.get(INFO, headers=via("2001:db8:1::5"))).status == 403
    assert (await client.get(INFO, headers=via("2001:db9::5"))).status == 200
    assert (await client.get(INFO, headers=via("198.51.100.7"))).status == 403
    assert (await client.get(INFO, headers=via("198.51.100.8"))).status == 200


async def test_self_lockout_needs_force(client):
    resp = await block(client, "203.0.113.0/24", expect=409, from_ip="203.0.113.50")
    assert "203.0.113.50" in resp["detail"] and "force" in resp["detail"]
    assert (await client.get(f"{BLOCKS}", headers=via("203.0.113.50", owner(client.app).headers))).status == 200
    await block(client, "203.0.113.0/24", from_ip="203.0.113.50", force=True)
    assert (await client.get(BLOCKS, headers=via("203.0.113.50", owner(client.app).headers))).status == 403
    [entry] = await audit_rows(client.app, "ip_blocked")
    assert entry.detail["forced"] is True


@pytest.mark.parametrize("network", ["10.0.0.0/33", "300.1.2.3", "nonsense", "", "2001:db8::/129", "10.0.0.0/8/8"])
async def test_bad_network_is_422_naming_the_field(client, network):
    resp = await client.post(BLOCKS, json={"network": network}, headers=owner(client.app).headers)
    assert resp.status == 422, await resp.text()
    assert [d["loc"] for d in (await resp.json())["detail"]] == [["body", "network"]]
    assert len(client.app[CTX].ip_blocks) == 0


async def test_host_bits_are_normalised_and_a_duplicate_is_409(client):
    made = await block(client, "203.0.113.77/24")
    assert made["network"] == "203.0.113.0/24"
    again = await block(client, "203.0.113.0/24", expect=409)
    assert f"block {made['id']}" in again["detail"]


async def test_a_block_expires_by_itself(client, clock):
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.time() + 60))
    made = await block(client, "203.0.113.0/24", expires_at=until)
    resp = await client.get(INFO, headers=via("203.0.113.9"))
    assert resp.status == 403 and "until" in (await resp.json())["detail"]
    clock.advance(61)
    assert (await client.get(INFO, headers=via("203.0.113.9"))).status == 200
    [listed] = (await (await client.get(BLOCKS, headers=owner(client.app).headers)).json())["blocks"]
    assert listed["id"] == made["id"] and listed["active"] is False
    # an expired block of the same network may be replaced
    await block(client, "203.0.113.0/24")


async def test_unblock_allows_at_once(client):
    made = await block(client, "203.0.113.0/24")
    assert (await client.get(INFO, headers=via("203.0.113.9"))).status == 403
    resp = await client.delete(f"{BLOCKS}/{made['id']}?reason=false%20alarm", headers=owner(client.app).headers)
    assert resp.status == 204
    assert (await client.get(INFO, headers=via("203.0.113.9"))).status == 200
    [entry] = await audit_rows(client.app, "ip_unblocked")
    assert entry.detail["reason"] == "false alarm" and entry.detail["network"] == "203.0.113.0/24"
    assert (await client.delete(f"{BLOCKS}/{made['id']}", headers=owner(client.app).headers)).status == 404


async def test_attempts_are_counted_in_one_batch_write(client):
    made = await block(client, "203.0.113.0/24")
    for _ in range(5):
        await client.get(INFO, headers=via("203.0.113.9"))
    ctx = client.app[CTX]
    committed = ctx.db.jobs_committed
    assert await ipblocks.flush_attempts(ctx) == 5
    assert ctx.db.jobs_committed == committed + 1
    [listed] = (await (await client.get(BLOCKS, headers=owner(client.app).headers)).json())["blocks"]
    assert listed["id"] == made["id"] and listed["attempts"] == 5 and listed["last_attempt_at"] is not None
    assert await ipblocks.flush_attempts(ctx) == 0


async def test_blocks_are_loaded_at_start_up(client, data_dir):
    await block(client, "203.0.113.0/24")
    again = make_app(load_settings(data_dir, trusted_proxies=["127.0.0.1"]))
    try:
        assert again[CTX].ip_blocks.match("203.0.113.200", time.time()) is not None
    finally:
        again[CTX].db.close()
