"""Wrong 2FA codes are limited per account, not only per client IP: someone who knows the password
cannot guess the 6-digit code from many addresses. twofa_max_failures (5) wrong codes within
twofa_lockout_seconds (15 minutes) refuse every code for that long (429), the owner is mailed,
and the lock-out ends by itself (the clock here is fake)."""
from __future__ import annotations

import itertools
import time

import pytest
from auth_support import NO_LIMITS, PASSWORD, account, code_at, mail_sent, outbox

from pufferd.app import make_app
from pufferd.clock import FakeClock
from pufferd.config import load_settings
from pufferd.web.keys import CTX

SETUP, ENABLE, DISABLE = "/api/v1/auth/2fa/setup", "/api/v1/auth/2fa/enable", "/api/v1/auth/2fa/disable"
LOCKED = "Too many wrong 2FA codes: 2FA codes for this account are refused for 15 more minutes"
_addresses = (f"203.0.113.{i}" for i in itertools.count(1))


@pytest.fixture
def settings_overrides():
    # the per-IP login limit stays on; every attempt below comes from another address
    return {**NO_LIMITS, "login_rate_limit_per_minute": 3, "trusted_proxies": ["127.0.0.1"]}


@pytest.fixture
def clock():
    return FakeClock(start=(int(time.time()) // 30) * 30 + 15)



async def with_2fa(client, clock, username="dana"):
    who = await account(client, username, headers={"X-Forwarded-For": next(_addresses)})
    secret = (await (await client.post(SETUP, headers=who.headers)).json())["secret"]
    resp = await client.post(ENABLE, headers=who.headers, json={"code": code_at(secret, clock.time())})
    assert resp.status == 200, await resp.text()
    clock.advance(30)
    return who, secret


async def attempt(client, who, code, password=PASSWORD):
    return await client.post("/api/v1/auth/login", headers={"X-Forwarded-For": next(_addresses)},
                             json={"email": who.email, "password": password, "otp_code": code})


def wrong(secret, clock):
    return code_at(secret, clock.time() + 3600)


async def test_wrong_codes_from_many_addresses_lock_the_account(client, clock, data_dir):
    dana, secret = await with_2fa(client, clock)
    for _ in range(4):
        resp = await attempt(client, dana, wrong(secret, clock))
        assert resp.status == 401
        assert await resp.json() == {"detail": "Invalid 2FA code"}
    fifth = await attempt(client, dana, wrong(secret, clock))
    assert fifth.status == 429
    assert await fifth.json() == {"detail": LOCKED}
    assert fifth.headers["Retry-After"] == "900"
    clock.advance(60)
    right = await attempt(client, dana, code_at(secret, clock.time()))  # even the right code
    assert right.status == 429
    assert right.headers["Retry-After"] == "840"
    await mail_sent(client)
    [mail] = [m for m in outbox(data_dir) if "locked" in m["Subject"]]
    assert mail["To"] == dana.email
    assert "5 wrong two-factor codes" in mail.get_payload(decode=True).decode()
    rows = await client.app[CTX].db.read(lambda c: c.execute(
        "SELECT count(*) AS n FROM audit_log WHERE event = 'twofa_locked'").fetchone())
    assert rows["n"] == 1


async def test_the_lock_out_ends_by_itself(client, clock):
    dana, secret = await with_2fa(client, clock)
    for _ in range(5):
        await attempt(client, dana, wrong(secret, clock))
    clock.advance(14 * 60)
    assert (await attempt(client, dana, code_at(secret, clock.time()))).status == 429
    clock.advance(60)
    resp = await attempt(client, dana, code_at(secret, clock.time()))
    assert resp.status == 200, await resp.text()
    clock.advance(30)
    assert (await attempt(client, dana, wrong(secret, clock))).status == 401  # counting starts again


async def test_a_right_code_starts_the_count_again(client, clock):
    dana, secret = await with_2fa(client, clock)
    for _ in range(4):
        await attempt(client, dana, wrong(secret, clock))
    assert (await attempt(client, dana, code_at(secret, clock.time()))).status == 200
    clock.advance(30)
    for _ in range(4):
        assert (await attempt(client, dana, wrong(secret, clock))).status == 401


async def test_wrong_codes_further_apart_than_the_window_do_not_lock(client, clock):
    dana, secret = await with_2fa(client, clock)
    for _ in range(4):
        await attempt(client, dana, wrong(secret, clock))
    clock.advance(15 * 60)
    for _ in range(4):
        assert (await attempt(client, dana, wrong(secret, clock))).status == 401


async def test_without_the_password_nobody_can_lock_the_owner_out(client, clock):
    dana, secret = await with_2fa(client, clock)
    for _ in range(10):
        resp = await attempt(client, dana, wrong(secret, clock), password="not the password")
        assert resp.status == 401
        assert await resp.json() == {"detail": "Incorrect email or password"}
    assert (await attempt(client, dana, code_at(secret, clock.time()))).status == 200


async def test_the_lock_out_is_per_account(client, clock):
    dana, secret = await with_2fa(client, clock)
    erin, erin_secret = await with_2fa(client, clock, "erin")
    for _ in range(5):
        await attempt(client, dana, wrong(secret, clock))
    assert (await attempt(client, erin, code_at(erin_secret, clock.time()))).status == 200


async def test_wrong_codes_to_turn_2fa_off_count_too(client, clock):
    dana, secret = await with_2fa(client, clock)
    for _ in range(4):
        clock.advance(61)  # past the per-user rate limit of 2FA requests (3 a minute here)
        resp = await client.post(DISABLE, headers=dana.headers, json={"code": wrong(secret, clock)})
        assert resp.status == 400
    clock.advance(61)
    resp = await client.post(DISABLE, headers=dana.headers, json={"code": wrong(secret, clock)})
    assert resp.status == 429
    assert await resp.json() == {"detail": LOCKED}
    clock.advance(61)
    assert (await client.post(DISABLE, headers=dana.headers, json={"code": code_at(secret, clock.time())})).status == 429
    assert (await attempt(client, dana, code_at(secret, clock.time()))).status == 429


async def test_a_limit_of_0_turns_the_lock_out_off(aiohttp_client, data_dir, clock):
    settings = load_settings(data_dir, twofa_max_failures=0, **NO_LIMITS)
    client = await aiohttp_client(make_app(settings, clock=clock))
    dana, secret = await with_2fa(client, clock)
    for _ in range(8):
        assert (await attempt(client, dana, wrong(secret, clock))).status == 401
    assert (await attempt(client, dana, code_at(secret, clock.time()))).status == 200
