"""Rate limits of the auth endpoints, per client IP (API reference section 12)."""
from __future__ import annotations

import time

import pytest
from auth_support import PASSWORD, account, login, register

from pufferd.app import make_app
from pufferd.clock import FakeClock
from pufferd.config import SettingsError, load_settings
from pufferd.web.keys import CTX

LIMITS = {"login_rate_limit_per_minute": 3, "register_rate_limit_per_minute": 2,
          "refresh_rate_limit_per_minute": 2, "reset_rate_limit_per_minute": 2}


@pytest.fixture
def settings_overrides():
    return dict(LIMITS)


@pytest.fixture
def clock():
    return FakeClock(start=time.time())



def assert_limited(resp, body):
    assert resp.status == 429
    seconds = int(resp.headers["Retry-After"])
    assert 1 <= seconds <= 60
    assert body == {"detail": f"Rate limit exceeded. Retry in {seconds} seconds."}


async def test_login_limit_gives_429_with_retry_after(client, clock):
    await register(client, "dana")
    for _ in range(3):
        assert (await login(client, "dana@example.com", "wrong password!")).status == 401
    clock.advance(20)
    resp = await login(client, "dana@example.com")
    assert_limited(resp, await resp.json())
    assert resp.headers["Retry-After"] == "40"


async def test_login_limit_window_slides(client, clock):
    await register(client, "dana")
    for _ in range(3):
        await login(client, "dana@example.com", "wrong password!")
    clock.advance(60)
    assert (await login(client, "dana@example.com")).status == 200


async def test_a_limited_login_checks_no_password(client, clock):
    await register(client, "dana")
    for _ in range(3):
        await login(client, "dana@example.com", "wrong password!")
    db = client.server.app[CTX].db
    rows_before = await db.read(lambda c: c.execute("SELECT count(*) AS n FROM audit_log").fetchone())
    assert (await login(client, "dana@example.com")).status == 429
    rows_after = await db.read(lambda c: c.execute("SELECT count(*) AS n FROM audit_log").fetchone())
    assert rows_after == rows_before


async def test_register_limit(client):
    await register(client, "dana")
    await register(client, "erin")
    resp = await client.post("/api/v1/auth/register", json={
        "email": "fay@example.com", "name": "Fay", "username": "fay", "password": PASSWORD})
    assert_limited(resp, await resp.json())


async def test_refresh_limit(client):
    a = await account(client, "dana")
    token = a.refresh_token
    for _ in range(2):
        token = (await (await client.post("/api/v1/auth/refresh", json={"refresh_token": token})).json())["refresh_token"]
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
    assert_limited(resp, await resp.json())


async def test_reset_limit_covers_resend_request_and_reset(client):
    await client.post("/api/v1/auth/resend-verification", json={"email": "a@example.com"})
    await client.post("/api/v1/auth/request-password-reset", json={"email": "a@example.com"})
    resp = await client.post("/api/v1/auth/reset-password", json={"token": "x", "new_password": PASSWORD})
    assert_limited(resp, await resp.json())


async def test_limits_are_per_client_ip_and_ignore_forwarded_for_from_untrusted_peers(client):
    await register(client, "dana")
    for i in range(3):
        await client.post("/api/v1/auth/login", json={"email": "dana@example.com", "password": "wrong!!!!"},
                          headers={"X-Forwarded-For": f"203.0.113.{i}"})
    resp = await client.post("/api/v1/auth/login", json={"email": "dana@example.com", "password": PASSWORD},
                             headers={"X-Forwarded-For": "198.51.100.7"})
    assert resp.status == 429


async def test_forwarded_for_counts_when_the_peer_is_a_trusted_proxy(aiohttp_client, data_dir, clock):
    client = await aiohttp_client(make_app(load_settings(data_dir, trusted_proxies=["127.0.0.0/8"], **LIMITS),
                                           clock=clock))
    await register(client, "dana")
    for _ in range(3):
        await client.post("/api/v1/auth/login", json={"email": "dana@example.com", "password": "wrong!!!!"},
                          headers={"X-Forwarded-For": "203.0.113.1"})
    limited = await client.post("/api/v1/auth/login", json={"email": "dana@example.com", "password": PASSWORD},
                                headers={"X-Forwarded-For": "203.0.113.1"})
    assert limited.status == 429
    other = await client.post("/api/v1/auth/login", json={"email": "dana@example.com", "password": PASSWORD},
                              headers={"X-Forwarded-For": "203.0.113.2"})
    assert other.status == 200
    sessions = await (await client.get("/api/v1/auth/sessions", headers={
        "Authorization": f"Bearer {(await other.json())['access_token']}", "X-Forwarded-For": "203.0.113.2"})).json()
    assert {s["ip_address"] for s in sessions} == {"203.0.113.2"}


async def test_a_limit_of_zero_disables_it(aiohttp_client, data_dir):
    client = await aiohttp_client(make_app(load_settings(data_dir, login_rate_limit_per_minute=0)))
    await register(client, "dana")
    for _ in range(12):
        assert (await login(client, "dana@example.com", "wrong password!")).status == 401


async def test_2fa_codes_are_limited_per_user(client):
    a = await account(client, "dana")
    await client.post("/api/v1/auth/2fa/setup", headers=a.headers)
    for _ in range(3):
        assert (await client.post("/api/v1/auth/2fa/enable", headers=a.headers, json={"code": "000000"})).status == 400
    resp = await client.post("/api/v1/auth/2fa/enable", headers=a.headers, json={"code": "000000"})
    assert_limited(resp, await resp.json())


def test_the_api_reference_environment_names_set_the_limits(monkeypatch, data_dir):
    monkeypatch.setenv("LOGIN_RATE_LIMIT_PER_MINUTE", "7")
    monkeypatch.setenv("REGISTER_RATE_LIMIT_PER_MINUTE", "0")
    monkeypatch.setenv("REFRESH_RATE_LIMIT_PER_MINUTE", "9")
    monkeypatch.setenv("RESET_RATE_LIMIT_PER_MINUTE", "4")
    s = load_settings(data_dir)
    assert (s.login_rate_limit_per_minute, s.register_rate_limit_per_minute,
            s.refresh_rate_limit_per_minute, s.reset_rate_limit_per_minute) == (7, 0, 9, 4)


def test_a_bad_trusted_proxy_entry_is_a_settings_error(data_dir):
    with pytest.raises(SettingsError, match="trusted_proxies"):
        load_settings(data_dir, trusted_proxies=["not-an-address"])
