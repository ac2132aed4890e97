"""Registration, login, tokens and sessions over HTTP (API reference sections 3.1 and 5)."""
from __future__ import annotations

import time

import jwt
import pytest
from auth_support import NO_LIMITS, PASSWORD, account, login, outbox, register

from pufferd import tokens
from pufferd.app import make_app
from pufferd.clock import FakeClock
from pufferd.config import load_settings
from pufferd.db import audit_q, users_q
from pufferd.web.keys import CTX

ME = "/api/v1/auth/me"


@pytest.fixture
def settings_overrides():
    return dict(NO_LIMITS)


@pytest.fixture
def clock():
    return FakeClock(start=time.time())



def ctx_of(client):
    return client.server.app[CTX]


async def db_read(client, fn):
    return await ctx_of(client).db.read(fn)


# registration ---------------------------------------------------------------------------------
async def test_register_answers_201_with_message(client):
    resp = await client.post("/api/v1/auth/register", json={
        "email": "Dana@Example.com", "name": "Dana", "username": "dana", "password": PASSWORD})
    assert resp.status == 201
    assert (await resp.json())["message"].startswith("Registration successful")


async def test_register_stores_lowercased_email_and_hashed_password(client):
    await register(client, "dana", email_addr="Dana@Example.COM")
    user = await db_read(client, lambda c: users_q.get_by_username(c, "dana"))
    assert user.email == "dana@example.com"
    assert user.password_hash.startswith("$2b$") and PASSWORD not in user.password_hash
    assert not user.email_verified and not user.is_admin


async def test_register_takes_the_name_people_type_in_nfc(client):
    resp = await client.post("/api/v1/auth/register", json={
        "email": "dana@example.com", "name": " 👩🏽\u200d💻 Rene\u0301e ", "username": "dana", "password": PASSWORD})
    assert resp.status == 201, await resp.text()
    user = await db_read(client, lambda c: users_q.get_by_username(c, "dana"))
    assert user.name == "👩🏽\u200d💻 Ren\u00e9e"


@pytest.mark.parametrize("name", ["Dana\u202e", "\u200b\u200b", "Da\x00na"])
async def test_register_refuses_a_bidi_control_or_blank_name_naming_name(client, name):
    resp = await client.post("/api/v1/auth/register", json={
        "email": "dana@example.com", "name": name, "username": "dana", "password": PASSWORD})
    assert resp.status == 422
    assert [e["loc"] for e in (await resp.json())["detail"]] == [["body", "name"]]
    assert await db_read(client, lambda c: users_q.get_by_username(c, "dana")) is None


async def test_register_sends_a_verification_mail_with_token_link(client, data_dir):
    await register(client, "dana")
    [mail] = outbox(data_dir)
    assert mail["To"] == "dana@example.com"
    assert "/verify-email?token=" in mail.get_payload(decode=True).decode()


@pytest.mark.parametrize("email", ["dana@example.com", "DANA@example.com"])
async def test_register_taken_email_is_409_case_insensitive(client, data_dir, email):
    await register(client, "dana")
    resp = await client.post("/api/v1/auth/register", json={
        "email": email, "name": "Other", "username": "other", "password": PASSWORD})
    assert resp.status == 409
    assert await resp.json() == {"detail": "Email already registered"}
    assert await db_read(client, lambda c: users_q.get_by_username(c, "other")) is None
    assert len(outbox(data_dir)) == 1


@pytest.mark.parametrize("username", ["dana", "DaNa"])
async def test_register_taken_username_is_409_case_insensitive(client, username):
    await register(client, "dana")
    resp = await client.post("/api/v1/auth/register", json={
        "email": "other@example.com", "name": "Other", "username": username, "password": PASSWORD})
    assert resp.status == 409
    assert await resp.json() == {"detail": "Username already taken"}
    assert await db_read(client, lambda c: users_q.get_by_email(c, "other@example.com")) is None


def _loc(body):
    return [tuple(e["loc"]) for e in body["detail"]]


@pytest.mark.parametrize("password, message", [
    ("short1!", "at least 8 characters"),
    ("é" * 37, "at most 72 bytes"),          # 37 characters, 74 bytes: the limit is in bytes
    ("aaaaaaaaaaaa", "at least 4 different characters"),
    ("abcd\x00efgh", "control characters"),
])
async def test_register_password_policy_is_422_naming_password(client, password, message):
    resp = await client.post("/api/v1/auth/register", json={
        "email": "dana@example.com", "name": "Dana", "username": "dana", "password": password})
    assert resp.status == 422
    body = await resp.json()
    assert _loc(body) == [("body", "password")]
    assert message in body["detail"][0]["msg"]
    assert await db_read(client, lambda c: users_q.get_by_username(c, "dana")) is None


async def test_register_accepts_a_password_of_exactly_72_bytes(client):
    password = "é" * 30 + "abcd" * 3  # 60 + 12 bytes
    assert len(password.encode()) == 72
    await register(client, "dana", password=password)
    assert (await login(client, "dana@example.com", password)).status == 200


@pytest.mark.parametrize("username", ["ab", "1abc", "has space", "a" * 33, "ünïcode", "dash-ed", ""])
async def test_register_bad_username_is_422(client, username):
    resp = await client.post("/api/v1/auth/register", json={
        "email": "dana@example.com", "name": "Dana", "username": username, "password": PASSWORD})
    assert resp.status == 422
    assert _loc(await resp.json()) == [("body", "username")]


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@b.c", "a b@c.d", "a@b..c", "x" * 250 + "@e.com"])
async def test_register_bad_email_is_422(client, email):
    resp = await client.post("/api/v1/auth/register", json={
        "email": email, "name": "Dana", "username": "dana", "password": PASSWORD})
    assert resp.status == 422
    assert _loc(await resp.json()) == [("body", "email")]


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "two\nlines", "bell\x07"])
async def test_register_bad_name_is_422(client, name):
    resp = await client.post("/api/v1/auth/register", json={
        "email": "dana@example.com", "name": name, "username": "dana", "password": PASSWORD})
    assert resp.status == 422
    assert _loc(await resp.json()) == [("body", "name")]


async def test_register_missing_and_unknown_fields_are_422_named(client):
    resp = await client.post("/api/v1/auth/register", json={
        "email": "dana@example.com", "username": "dana", "password": PASSWORD, "is_admin": True})
    assert resp.status == 422
    assert sorted(_loc(await resp.json())) == [("body", "is_admin"), ("body", "name")]


async def test_register_malformed_json_is_400(client):
    resp = await client.post("/api/v1/auth/register", data=b"{not json",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400


# login ----------------------------------------------------------------------------------------
async def test_login_returns_bearer_token_pair(client):
    await register(client, "dana")
    resp = await login(client, "dana@example.com")
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"access_token", "refresh_token", "token_type"}
    assert body["token_type"] == "bearer"
    me = await client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status == 200
    assert (await me.json())["username"] == "dana"


async def test_login_email_is_case_insensitive(client):
    await register(client, "dana")
    assert (await login(client, "  DANA@example.com ")).status == 200


async def test_wrong_password_and_unknown_email_give_the_same_401(client):
    await register(client, "dana")
    wrong = await login(client, "dana@example.com", "wrong password!")
    unknown = await login(client, "nobody@example.com", "wrong password!")
    assert wrong.status == unknown.status == 401
    assert await wrong.json() == await unknown.json() == {"detail": "Incorrect email or password"}
    assert wrong.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"] == "Bearer"


async def test_unknown_email_still_runs_a_bcrypt_check(client, monkeypatch):
    hasher = ctx_of(client).hasher
    seen = []
    original = hasher.verify

    async def spy(password, hashed):
        seen.append(hashed)
        return await original(password, hashed)

    monkeypatch.setattr(hasher, "verify", spy)
    assert (await login(client, "nobody@example.com", "whatever-pass")).status == 401
    assert seen == [None]  # PasswordHasher.verify(password, None) hashes a dummy: same time


async def test_failed_login_opens_no_session_and_is_audited(client):
    await register(client, "dana")
    await login(client, "dana@example.com", "wrong password!")
    await login(client, "ghost@example.com", "wrong password!")
    sessions = await db_read(client, lambda c: c.execute("SELECT count(*) AS n FROM auth_sessions").fetchone())
    assert sessions["n"] == 0
    entries = await db_read(client, lambda c: audit_q.latest(c, limit=2, event="login_failed"))
    assert [e.detail["reason"] for e in entries] == ["unknown_email", "bad_password"]
    assert entries[0].detail["email"] == "ghost@example.com" and entries[0].user_id is None
    assert entries[1].ip_address == "127.0.0.1" and entries[1].user_agent


async def test_login_password_over_72_bytes_is_422(client):
    resp = await login(client, "dana@example.com", "é" * 40)
    assert resp.status == 422
    assert _loc(await resp.json()) == [("body", "password")]


async def test_login_malformed_otp_code_is_422(client):
    resp = await login(client, "dana@example.com", PASSWORD, otp_code="12ab56")
    assert resp.status == 422
    assert _loc(await resp.json()) == [("body", "otp_code")]


async def test_disabled_account_cannot_log_in(client):
    await register(client, "dana")
    await ctx_of(client).db.write(lambda c: c.execute("UPDATE users SET is_disabled = 1 WHERE username = 'dana'"))
    resp = await login(client, "dana@example.com")
    assert resp.status == 403
    assert await resp.json() == {"detail": "Account is disabled"}


async def test_disabled_account_tokens_are_refused(client):
    a = await account(client, "dana")
    await ctx_of(client).db.write(lambda c: c.execute("UPDATE users SET is_disabled = 1 WHERE username = 'dana'"))
    assert (await client.get(ME, headers=a.headers)).status == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh_token})).status == 401


async def test_login_requires_verified_email_only_when_configured(client, aiohttp_client, data_dir):
    await register(client, "dana")
    assert (await login(client, "dana@example.com")).status == 200
    strict = await aiohttp_client(make_app(load_settings(data_dir, require_verified_email=True, **NO_LIMITS)))
    resp = await login(strict, "dana@example.com")
    assert resp.status == 403
    assert "not verified" in (await resp.json())["detail"]


async def test_auth_me_has_the_spec_shape_and_no_secrets(client):
    a = await account(client, "dana")
    body = await (await client.get(ME, headers=a.headers)).json()
    assert set(body) == {"id", "email", "name", "username", "bio", "avatar_url", "email_verified",
                         "twofa_enabled", "allow_private_messages", "privacy_private_messages",
                         "privacy_last_seen", "privacy_avatar", "privacy_group_invites",
                         "created_at", "updated_at"}
    assert body["created_at"].endswith("Z")


# tokens ---------------------------------------------------------------------------------------
async def test_refresh_rotates_the_refresh_token(client):
    a = await account(client, "dana")
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh_token})
    assert resp.status == 200
    new = await resp.json()
    assert new["refresh_token"] != a.refresh_token and new["token_type"] == "bearer"
    assert (await client.get(ME, headers={"Authorization": f"Bearer {new['access_token']}"})).status == 200
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert again.status == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(client):
    a = await account(client, "dana")
    new = await (await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh_token})).json()
    stolen = await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh_token})
    assert stolen.status == 401
    assert "reuse detected" in (await stolen.json())["detail"]
    # the legitimate holder's newer tokens of that session die too
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})).status == 401
    assert (await client.get(ME, headers={"Authorization": f"Bearer {new['access_token']}"})).status == 401
    entries = await db_read(client, lambda c: audit_q.latest(c, limit=1, event="refresh_reuse_detected"))
    assert len(entries) == 1


async def test_reuse_in_one_session_leaves_other_sessions_alone(client):
    a = await account(client, "dana")
    other = await (await login(client, "dana@example.com")).json()
    await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh_token})
    await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh_token})
    assert (await client.get(ME, headers={"Authorization": f"Bearer {other['access_token']}"})).status == 200
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})).status == 200


async def test_access_token_is_refused_where_refresh_is_expected_and_vice_versa(client):
    a = await account(client, "dana")
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": a.access_token})
    assert resp.status == 401
    assert await resp.json() == {"detail": "Invalid token type: expected a refresh token"}
    resp = await client.get(ME, headers={"Authorization": f"Bearer {a.refresh_token}"})
    assert resp.status == 401
    assert await resp.json() == {"detail": "Invalid token type: expected an access token"}


async def test_token_with_a_bad_signature_is_401(client):
    a = await account(client, "dana")
    payload = jwt.decode(a.access_token, options={"verify_signature": False})
    forged = jwt.encode(payload, b"another key of thirty-two bytes!", algorithm="HS256")
    resp = await client.get(ME, headers={"Authorization": f"Bearer {forged}"})
    assert resp.status == 401
    assert await resp.json() == {"detail": "Invalid token"}
    tampered = a.access_token[:-4] + ("AAAA" if not a.access_token.endswith("AAAA") else "BBBB")
    assert (await client.get(ME, headers={"Authorization": f"Bearer {tampered}"})).status == 401


async def test_alg_none_token_is_401(client):
    a = await account(client, "dana")
    payload = jwt.decode(a.access_token, options={"verify_signature": False})
    unsigned = jwt.encode(payload, None, algorithm="none")
    assert (await client.get(ME, headers={"Authorization": f"Bearer {unsigned}"})).status == 401


async def test_refresh_token_with_unknown_jti_is_401(client, clock):
    a = await account(client, "dana")
    claims = tokens.decode(ctx_of(client).keys.jwt, a.refresh_token, expected_type="refresh", now=clock.time())
    unknown, _ = tokens.issue(ctx_of(client).keys.jwt, user_id=claims.user_id, token_type="refresh",
                              now=clock.time(), ttl=3600, session_jti=claims.session_jti, jti="not-a-known-jti")
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": unknown})
    assert resp.status == 401
    assert await resp.json() == {"detail": "Invalid token"}


async def test_access_token_of_an_unknown_session_is_401(client, clock):
    a = await account(client, "dana")
    claims = tokens.decode(ctx_of(client).keys.jwt, a.access_token, expected_type="access", now=clock.time())
    orphan, _ = tokens.issue(ctx_of(client).keys.jwt, user_id=claims.user_id, token_type="access",
                             now=clock.time(), ttl=600, session_jti="no-such-session")
    assert (await client.get(ME, headers={"Authorization": f"Bearer {orphan}"})).status == 401


async def test_access_token_expires_after_15_minutes(client, clock):
    a = await account(client, "dana")
    clock.advance(15 * 60 - 1)
    assert (await client.get(ME, headers=a.headers)).status == 200
    clock.advance(1)
    resp = await client.get(ME, headers=a.headers)
    assert resp.status == 401
    assert await resp.json() == {"detail": "Token expired"}


async def test_refresh_token_expires_after_30_days(client, clock):
    a = await account(client, "dana")
    clock.advance(30 * 24 * 3600)
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh_token})
    assert resp.status == 401
    assert await resp.json() == {"detail": "Token expired"}


async def test_rotation_extends_the_session(client, clock):
    a = await account(client, "dana")
    clock.advance(29 * 24 * 3600)
    new = await (await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh_token})).json()
    clock.advance(2 * 24 * 3600)
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]})).status == 200


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer not.a.jwt", "Token x"])
async def test_missing_or_malformed_authorization_is_401(client, header):
    headers = {} if header is None else {"Authorization": header}
    resp = await client.get(ME, headers=headers)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"


async def test_refresh_body_is_validated(client):
    resp = await client.post("/api/v1/auth/refresh", json={})
    assert resp.status == 422
    assert _loc(await resp.json()) == [("body", "refresh_token")]


# sessions -------------------------------------------------------------------------------------
async def test_sessions_list_refresh_sessions_and_the_synthetic_access_session(client):
    a = await account(client, "dana", headers={"User-Agent": "phone/1.0"})
    await login(client, "dana@example.com")  # a second device
    resp = await client.get("/api/v1/auth/sessions", headers={**a.headers, "User-Agent": "phone/1.0"})
    assert resp.status == 200
    sessions = await resp.json()
    assert len(sessions) == 3
    access, *refresh = sessions
    assert access["token_type"] == "access" and access["current"] is True
    assert access["user_agent"] == "phone/1.0" and access["ip_address"] == "127.0.0.1"
    assert {s["token_type"] for s in refresh} == {"refresh"}
    mine = [s for s in refresh if s["current"]]
    assert len(mine) == 1 and mine[0]["user_agent"] == "phone/1.0"
    assert set(access) == {"jti", "created_at", "ip_address", "user_agent", "current", "token_type"}


async def test_delete_one_session_stops_its_refresh_and_access_tokens(client):
    a = await account(client, "dana")
    other = await (await login(client, "dana@example.com")).json()
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    sessions = await (await client.get("/api/v1/auth/sessions", headers=a.headers)).json()
    [target] = [s for s in sessions if s["token_type"] == "refresh" and not s["current"]]
    resp = await client.delete(f"/api/v1/auth/sessions/{target['jti']}", headers=a.headers)
    assert resp.status == 204
    assert (await client.get(ME, headers=other_headers)).status == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})).status == 401
    # the caller's own session is untouched
    assert (await client.get(ME, headers=a.headers)).status == 200
    after = await (await client.get("/api/v1/auth/sessions", headers=a.headers)).json()
    assert target["jti"] not in {s["jti"] for s in after}


async def test_delete_the_current_access_session_revokes_that_token(client):
    a = await account(client, "dana")
    sessions = await (await client.get("/api/v1/auth/sessions", headers=a.headers)).json()
    assert (await client.delete(f"/api/v1/auth/sessions/{sessions[0]['jti']}", headers=a.headers)).status == 204
    assert (await client.get(ME, headers=a.headers)).status == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh_token})).status == 401


async def test_delete_unknown_or_foreign_session_is_404(client):
    a = await account(client, "dana")
    b = await account(client, "erin")
    sessions_b = await (await client.get("/api/v1/auth/sessions", headers=b.headers)).json()
    for jti in ("no-such-session", sessions_b[1]["jti"]):
        resp = await client.delete(f"/api/v1/auth/sessions/{jti}", headers=a.headers)
        assert resp.status == 404
        assert await resp.json() == {"detail": "Session not found"}
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": b.refresh_token})).status == 200


async def test_revoke_all_refuses_older_tokens_and_closes_sockets(client, clock):
    closed = []
    ctx_of(client).hooks.sessions_revoked.append(lambda user_id, at, session: closed.append(user_id))
    a = await account(client, "dana")
    other = await (await login(client, "dana@example.com")).json()
    clock.advance(1)
    resp = await client.delete("/api/v1/auth/sessions", headers=a.headers)
    assert resp.status == 204
    # told at once (the revocation watcher may tell it again later: closing twice changes nothing)
    assert closed and set(closed) == {(await db_read(client, lambda c: users_q.get_by_username(c, "dana"))).id}
    for token in (a.access_token, other["access_token"]):
        resp = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401
        assert await resp.json() == {"detail": "Token revoked"}
    for token in (a.refresh_token, other["refresh_token"]):
        assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": token})).status == 401


async def test_tokens_issued_after_revoke_all_work(client, clock):
    a = await account(client, "dana")
    clock.advance(1)
    await client.delete("/api/v1/auth/sessions", headers=a.headers)
    clock.advance(1)
    fresh = await (await login(client, "dana@example.com")).json()
    assert (await client.get(ME, headers={"Authorization": f"Bearer {fresh['access_token']}"})).status == 200
    sessions = await (await client.get("/api/v1/auth/sessions",
                                       headers={"Authorization": f"Bearer {fresh['access_token']}"})).json()
    assert [s["token_type"] for s in sessions] == ["access", "refresh"]


async def test_sessions_endpoints_need_authentication(client):
    assert (await client.get("/api/v1/auth/sessions")).status == 401
    assert (await client.delete("/api/v1/auth/sessions")).status == 401
    assert (await client.delete("/api/v1/auth/sessions/x")).status == 401
