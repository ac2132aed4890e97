"""TOTP two-factor authentication (API reference section 5, /auth/2fa/*)."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from auth_support import NO_LIMITS, PASSWORD, account, code_at, login, mail_sent

from pufferd.clock import FakeClock
from pufferd.db import users_q
from pufferd.web.keys import CTX

SETUP, ENABLE, DISABLE = "/api/v1/auth/2fa/setup", "/api/v1/auth/2fa/enable", "/api/v1/auth/2fa/disable"


@pytest.fixture
def settings_overrides():
    return dict(NO_LIMITS)


@pytest.fixture
def clock():
    # the middle of a 30-second step, so ±1 step is exact
    start = (int(time.time()) // 30) * 30 + 15
    return FakeClock(start=start)



@pytest.fixture
async def dana(client):
    return await account(client, "dana")


async def enable_2fa(client, who, clock) -> str:
    secret = (await (await client.post(SETUP, headers=who.headers)).json())["secret"]
    resp = await client.post(ENABLE, headers=who.headers, json={"code": code_at(secret, clock.time())})
    assert resp.status == 200, await resp.text()
    clock.advance(30)  # the step used to enable is spent
    return secret


async def stored_user(client, username):
    return await client.server.app[CTX].db.read(lambda c: users_q.get_by_username(c, username))


async def test_setup_returns_a_secret_and_an_otpauth_url_with_the_server_as_issuer(client, dana):
    resp = await client.post(SETUP, headers=dana.headers)
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"secret", "otpauth_url"}
    url = urlsplit(body["otpauth_url"])
    assert url.scheme == "otpauth" and url.netloc == "totp"
    query = parse_qs(url.query)
    assert query["secret"] == [body["secret"]] and query["issuer"] == ["pufferd-test"]
    assert "dana%40example.com" in url.path
    pyotp.TOTP(body["secret"]).now()  # a valid base32 secret


async def test_setup_alone_does_not_turn_2fa_on(client, dana):
    await client.post(SETUP, headers=dana.headers)
    assert (await login(client, dana.email)).status == 200
    me = await (await client.get("/api/v1/auth/me", headers=dana.headers)).json()
    assert me["twofa_enabled"] is False


async def test_enable_needs_setup_first(client, dana, clock):
    resp = await client.post(ENABLE, headers=dana.headers, json={"code": "123456"})
    assert resp.status == 400
    assert "setup" in (await resp.json())["detail"]


async def test_enable_with_a_wrong_code_is_400_and_changes_nothing(client, dana, clock):
    secret = (await (await client.post(SETUP, headers=dana.headers)).json())["secret"]
    wrong = code_at(secret, clock.time() + 300)
    resp = await client.post(ENABLE, headers=dana.headers, json={"code": wrong})
    assert resp.status == 400
    assert await resp.json() == {"detail": "Invalid 2FA code"}
    assert not (await stored_user(client, "dana")).twofa_enabled


async def test_enable_turns_2fa_on(client, dana, clock):
    await enable_2fa(client, dana, clock)
    me = await (await client.get("/api/v1/auth/me", headers=dana.headers)).json()
    assert me["twofa_enabled"] is True


async def test_setup_when_enabled_is_400(client, dana, clock):
    await enable_2fa(client, dana, clock)
    resp = await client.post(SETUP, headers=dana.headers)
    assert resp.status == 400
    assert await resp.json() == {"detail": "2FA is already enabled"}
    resp = await client.post(ENABLE, headers=dana.headers, json={"code": "123456"})
    assert resp.status == 400
    assert await resp.json() == {"detail": "2FA is already enabled"}


async def test_login_without_a_code_is_401_asking_for_one(client, dana, clock):
    await enable_2fa(client, dana, clock)
    resp = await login(client, dana.email)
    assert resp.status == 401
    assert (await resp.json())["detail"] == "2FA code required: repeat the login with otp_code"


async def test_login_with_a_wrong_code_is_401(client, dana, clock):
    secret = await enable_2fa(client, dana, clock)
    resp = await login(client, dana.email, otp_code=code_at(secret, clock.time() + 600))
    assert resp.status == 401
    assert await resp.json() == {"detail": "Invalid 2FA code"}


async def test_wrong_password_with_a_right_code_is_the_plain_credentials_error(client, dana, clock):
    secret = await enable_2fa(client, dana, clock)
    resp = await login(client, dana.email, "wrong password!", otp_code=code_at(secret, clock.time()))
    assert resp.status == 401
    assert await resp.json() == {"detail": "Incorrect email or password"}


async def test_login_with_the_current_code_works(client, dana, clock):
    secret = await enable_2fa(client, dana, clock)
    resp = await login(client, dana.email, otp_code=code_at(secret, clock.time()))
    assert resp.status == 200
    assert "access_token" in await resp.json()


async def test_a_code_cannot_be_used_twice(client, dana, clock):
    secret = await enable_2fa(client, dana, clock)
    code = code_at(secret, clock.time())
    assert (await login(client, dana.email, otp_code=code)).status == 200
    replay = await login(client, dana.email, otp_code=code)
    assert replay.status == 401
    assert await replay.json() == {"detail": "Invalid 2FA code"}


async def test_codes_of_one_step_either_side_are_accepted(client, dana, clock):
    secret = await enable_2fa(client, dana, clock)
    clock.advance(60)
    assert (await login(client, dana.email, otp_code=code_at(secret, clock.time() - 30))).status == 200
    clock.advance(60)
    assert (await login(client, dana.email, otp_code=code_at(secret, clock.time() + 30))).status == 200


async def test_codes_two_steps_away_are_refused(client, dana, clock):
    secret = await enable_2fa(client, dana, clock)
    clock.advance(120)
    assert (await login(client, dana.email, otp_code=code_at(secret, clock.time() - 60))).status == 401
    assert (await login(client, dana.email, otp_code=code_at(secret, clock.time() + 60))).status == 401


async def test_an_older_step_is_refused_after_a_newer_one_was_used(client, dana, clock):
    secret = await enable_2fa(client, dana, clock)
    clock.advance(60)
    assert (await login(client, dana.email, otp_code=code_at(secret, clock.time() + 30))).status == 200
    assert (await login(client, dana.email, otp_code=code_at(secret, clock.time()))).status == 401


async def test_disable_needs_a_valid_code(client, dana, clock):
    secret = await enable_2fa(client, dana, clock)
    resp = await client.post(DISABLE, headers=dana.headers, json={"code": code_at(secret, clock.time() + 900)})
    assert resp.status == 400
    assert (await stored_user(client, "dana")).twofa_enabled
    resp = await client.post(DISABLE, headers=dana.headers, json={"code": code_at(secret, clock.time())})
    assert resp.status == 200
    assert await resp.json() == {"message": "2FA disabled"}
    user = await stored_user(client, "dana")
    assert not user.twofa_enabled and user.twofa_secret is None
    assert (await login(client, dana.email)).status == 200


async def test_disable_when_not_enabled_is_400(client, dana):
    resp = await client.post(DISABLE, headers=dana.headers, json={"code": "123456"})
    assert resp.status == 400
    assert await resp.json() == {"detail": "2FA is not enabled"}


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", "", None])
async def test_malformed_code_is_422_naming_code(client, dana, code):
    resp = await client.post(ENABLE, headers=dana.headers, json={"code": code})
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["body", "code"]


async def test_2fa_endpoints_need_authentication(client):
    for path in (SETUP, ENABLE, DISABLE):
        assert (await client.post(path, json={"code": "123456"})).status == 401


async def test_the_secret_is_stored_encrypted(client, dana, clock, data_dir):
    secret = await enable_2fa(client, dana, clock)
    stored = (await stored_user(client, "dana")).twofa_secret
    assert stored.startswith("v1.") and secret not in stored
    assert secret.encode() not in (data_dir / "pufferd.db").read_bytes()


async def test_no_endpoint_returns_a_password_hash_token_hash_or_totp_secret(client, dana, clock, data_dir):
    secret = await enable_2fa(client, dana, clock)
    await client.post("/api/v1/auth/request-password-reset", json={"email": dana.email})
    await mail_sent(client)
    user = await stored_user(client, "dana")
    hashes = await client.server.app[CTX].db.read(
        lambda c: [r["token_hash"] for r in c.execute("SELECT token_hash FROM account_tokens")])
    assert hashes
    forbidden = [user.password_hash, user.twofa_secret, secret, *hashes]
    other = await account(client, "erin")
    bodies = []
    for who, path in [(dana, "/api/v1/auth/me"), (dana, "/api/v1/users/me"), (dana, "/api/v1/auth/sessions"),
                      (other, f"/api/v1/users/{user.id}"), (other, "/api/v1/users/search?query=da"),
                      (dana, "/openapi.json")]:
        resp = await client.get(path, headers=who.headers)
        assert resp.status == 200, path
        bodies.append(await resp.text())
    resp = await client.put("/api/v1/users/profile", headers=dana.headers, json={"bio": "hi"})
    bodies.append(await resp.text())
    for body in bodies:
        for value in forbidden:
            assert value not in body
        assert "password_hash" not in body and "twofa_secret" not in body and "twofa_last_step" not in body


async def test_enabling_and_disabling_are_audited(client, dana, clock):
    secret = await enable_2fa(client, dana, clock)
    await client.post(DISABLE, headers=dana.headers, json={"code": code_at(secret, clock.time())})
    rows = await client.server.app[CTX].db.read(lambda c: c.execute(
        "SELECT event FROM audit_log WHERE event LIKE 'twofa%' ORDER BY id").fetchall())
    assert [r["event"] for r in rows] == ["twofa_enabled", "twofa_disabled"]


async def test_a_password_still_matters_with_2fa(client, dana, clock):
    secret = await enable_2fa(client, dana, clock)
    resp = await login(client, dana.email, PASSWORD, otp_code=code_at(secret, clock.time()))
    assert resp.status == 200
