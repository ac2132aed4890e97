"""A stolen access token cannot take 2FA over: turning 2FA on or off needs a recent login (the
token's auth_time, kept across refreshes) or the password; turning it on hands out one-time
recovery codes; the owner is mailed; a password reset keeps 2FA and a recovery code still works."""
from __future__ import annotations

import re
import time

import pytest
from auth_support import NO_LIMITS, PASSWORD, Account, account, code_at, login, mail_sent, outbox

from pufferd import tokens
from pufferd.clock import FakeClock
from pufferd.web.keys import CTX

SETUP, ENABLE, DISABLE = "/api/v1/auth/2fa/setup", "/api/v1/auth/2fa/enable", "/api/v1/auth/2fa/disable"
STALE = "Sign in again, or send your password, to change 2FA: the last sign-in was more than 10 minutes ago"
RECOVERY_RE = re.compile(r"^[a-z2-9]{5}-[a-z2-9]{5}$")


@pytest.fixture
def settings_overrides():
    return dict(NO_LIMITS)


@pytest.fixture
def clock():
    return FakeClock(start=(int(time.time()) // 30) * 30 + 15)  # mid-step: ±1 step is exact



@pytest.fixture
async def dana(client):
    return await account(client, "dana")


async def secret_of(client, who: Account) -> str:
    resp = await client.post(SETUP, headers=who.headers)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["secret"]


async def turn_on(client, who: Account, clock, **extra) -> tuple[str, list[str]]:
    secret = await secret_of(client, who)
    resp = await client.post(ENABLE, headers=who.headers, json={"code": code_at(secret, clock.time()), **extra})
    body = await resp.json()
    assert resp.status == 200, body
    clock.advance(30)  # that step is spent
    return secret, body["recovery_codes"]


def twofa_mails(data_dir) -> list[str]:
    return [m["Subject"] for m in outbox(data_dir) if "wo-factor" in m["Subject"] or "recovery" in m["Subject"]]


async def refreshed(client, who: Account) -> Account:
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": who.refresh_token})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    return Account(who.email, who.username, who.password, body["access_token"], body["refresh_token"])


# the recent-sign-in rule -------------------------------------------------------------------------
async def test_a_client_that_just_signed_in_enables_2fa_with_the_spec_body(client, dana, clock):
    _, codes = await turn_on(client, dana, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(RECOVERY_RE.match(c) for c in codes), codes


async def test_a_token_from_an_old_login_cannot_enable_2fa_without_the_password(client, dana, clock):
    secret = await secret_of(client, dana)
    clock.advance(11 * 60)  # the access token (15 minutes) still works; the login is 11 minutes old
    assert (await client.get("/api/v1/auth/me", headers=dana.headers)).status == 200
    resp = await client.post(ENABLE, headers=dana.headers, json={"code": code_at(secret, clock.time())})
    assert resp.status == 403
    assert await resp.json() == {"detail": STALE}
    wrong = await client.post(ENABLE, headers=dana.headers,
                              json={"code": code_at(secret, clock.time()), "password": "not the password"})
    assert wrong.status == 403
    assert await wrong.json() == {"detail": "Incorrect password"}
    me = await (await client.get("/api/v1/auth/me", headers=dana.headers)).json()
    assert me["twofa_enabled"] is False
    resp = await client.post(ENABLE, headers=dana.headers,
                             json={"code": code_at(secret, clock.time()), "password": PASSWORD})
    assert resp.status == 200, await resp.text()


async def test_a_refresh_does_not_count_as_a_sign_in(client, dana, clock):
    secret = await secret_of(client, dana)
    clock.advance(11 * 60)
    fresh = await refreshed(client, dana)
    claims = tokens.decode(client.app[CTX].keys.jwt, fresh.access_token, expected_type="access", now=clock.time())
    assert claims.auth_time == pytest.approx(clock.time() - 11 * 60)
    resp = await client.post(ENABLE, headers=fresh.headers, json={"code": code_at(secret, clock.time())})
    assert resp.status == 403
    assert await resp.json() == {"detail": STALE}


async def test_a_token_without_a_login_time_needs_the_password(client, make_user, clock):
    erin = await make_user("erin")  # a token signed without auth_time (as before this version)
    resp = await client.post(SETUP, headers=erin.headers)
    secret = (await resp.json())["secret"]
    body = {"code": code_at(secret, clock.time())}
    assert (await client.post(ENABLE, headers=erin.headers, json=body)).status == 403
    resp = await client.post(ENABLE, headers=erin.headers, json={**body, "password": erin.password})
    assert resp.status == 200, await resp.text()


async def test_disabling_needs_a_recent_sign_in_or_the_password(client, dana, clock):
    secret, _ = await turn_on(client, dana, clock)
    clock.advance(11 * 60)
    resp = await client.post(DISABLE, headers=dana.headers, json={"code": code_at(secret, clock.time())})
    assert resp.status == 403
    assert await resp.json() == {"detail": STALE}
    resp = await client.post(DISABLE, headers=dana.headers,
                             json={"code": code_at(secret, clock.time()), "password": PASSWORD})
    assert resp.status == 200, await resp.text()


# recovery codes ----------------------------------------------------------------------------------
async def test_a_recovery_code_signs_in_once_instead_of_a_totp_code(client, dana, clock, data_dir):
    _, codes = await turn_on(client, dana, clock)
    first = await login(client, dana.email, otp_code=codes[0].upper())  # case and dash do not matter
    assert first.status == 200, await first.text()
    again = await login(client, dana.email, otp_code=codes[0])
    assert again.status == 401
    assert await again.json() == {"detail": "Invalid 2FA code"}
    assert (await login(client, dana.email, otp_code=codes[1].replace("-", ""))).status == 200
    assert (await login(client, dana.email, otp_code="abcde-fghjk")).status == 401
    await mail_sent(client)
    used = [m for m in outbox(data_dir) if "recovery code was used" in m["Subject"]]
    assert len(used) == 2 and "8 of your recovery codes are left" in used[-1].get_payload(decode=True).decode()


async def test_recovery_codes_are_stored_only_as_keyed_hashes(client, dana, clock, data_dir):
    _, codes = await turn_on(client, dana, clock)
    rows = await client.app[CTX].db.read(lambda c: c.execute("SELECT code_hash FROM twofa_recovery_codes").fetchall())
    assert len(rows) == 10
    stored = " ".join(r["code_hash"] for r in rows)
    db = (data_dir / "pufferd.db").read_bytes()
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored
        assert code.encode() not in db


async def test_a_recovery_code_turns_2fa_off_and_off_voids_the_rest(client, dana, clock):
    _, codes = await turn_on(client, dana, clock)
    resp = await client.post(DISABLE, headers=dana.headers, json={"code": codes[3]})
    assert resp.status == 200, await resp.text()
    _, new_codes = await turn_on(client, dana, clock)
    assert set(new_codes).isdisjoint(codes)
    assert (await login(client, dana.email, otp_code=codes[4])).status == 401
    assert (await login(client, dana.email, otp_code=new_codes[0])).status == 200


async def test_malformed_recovery_codes_are_422(client, dana):
    for code in ("abcd-efgh", "abcde_fghjk", "abcde-fghjk-x"):
        resp = await login(client, dana.email, otp_code=code)
        assert resp.status == 422, code
        assert (await resp.json())["detail"][0]["loc"] == ["body", "otp_code"]


# mail and password reset -------------------------------------------------------------------------
async def test_the_owner_is_mailed_when_2fa_goes_on_and_off(client, dana, clock, data_dir):
    secret, _ = await turn_on(client, dana, clock)
    await mail_sent(client)
    [on] = [m for m in outbox(data_dir) if "is on" in m["Subject"]]
    assert on["To"] == dana.email and "pufferd admin reset-2fa" in on.get_payload(decode=True).decode()
    assert (await client.post(DISABLE, headers=dana.headers, json={"code": code_at(secret, clock.time())})).status == 200
    await mail_sent(client)
    assert twofa_mails(data_dir) == ["Two-factor authentication is on for your pufferd-test account",
                                     "Two-factor authentication is off for your pufferd-test account"]


async def test_a_password_reset_keeps_2fa_and_the_owner_gets_in_with_a_recovery_code(client, dana, clock, data_dir):
    _, codes = await turn_on(client, dana, clock)
    await client.post("/api/v1/auth/request-password-reset", json={"email": dana.email})
    await mail_sent(client)
    [msg] = [m for m in outbox(data_dir) if "Reset" in m["Subject"]]
    token = re.search(r"token=([\w\-%]+)", msg.get_payload(decode=True).decode()).group(1)
    resp = await client.post("/api/v1/auth/reset-password", json={"token": token, "new_password": "a new password 9"})
    assert resp.status == 200
    assert (await client.get("/api/v1/auth/me", headers=dana.headers)).status == 401  # every session ended
    assert (await login(client, dana.email, "a new password 9")).status == 401  # 2FA still asks for a code
    resp = await login(client, dana.email, "a new password 9", otp_code=codes[0])
    assert resp.status == 200, await resp.text()
