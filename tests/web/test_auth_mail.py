"""E-mail verification and password reset, through the outbox and through SMTP (API reference 5)."""
from __future__ import annotations

import socket
import stat
import time

import pytest
from auth_support import (
    NO_LIMITS,
    PASSWORD,
    account,
    last_token_to,
    login,
    mail_sent,
    mail_token,
    outbox,
    register,
)
from smtp_sink import SmtpSink

from pufferd.app import make_app
from pufferd.clock import FakeClock
from pufferd.config import load_settings
from pufferd.db import users_q
from pufferd.web.keys import CTX

NEW_PASSWORD = "a brand new secret"


@pytest.fixture
def settings_overrides():
    return dict(NO_LIMITS)


@pytest.fixture
def clock():
    return FakeClock(start=time.time())



async def user_row(client, username):
    return await client.server.app[CTX].db.read(lambda c: users_q.get_by_username(c, username))


async def verify(client, token):
    return await client.post("/api/v1/auth/verify-email", json={"token": token})


async def reset(client, token, password=NEW_PASSWORD):
    return await client.post("/api/v1/auth/reset-password", json={"token": token, "new_password": password})


# outbox ---------------------------------------------------------------------------------------
async def test_outbox_mail_is_a_private_eml_file_with_a_readable_token_link(client, data_dir):
    await register(client, "dana")
    [path] = (data_dir / "mail" / "outbox").glob("*.eml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_text()
    assert "To: dana@example.com" in raw
    assert "http://127.0.0.1:7575/verify-email?token=" in raw  # plain text, not quoted-printable
    assert not list((data_dir / "mail" / "outbox").glob(".*.tmp"))


# e-mail verification --------------------------------------------------------------------------
async def test_verification_link_verifies_the_address_once(client, data_dir):
    a = await account(client, "dana")
    token = last_token_to(data_dir, a.email, "Confirm")
    resp = await verify(client, token)
    assert resp.status == 200
    assert await resp.json() == {"message": "Email verified"}
    me = await (await client.get("/api/v1/auth/me", headers=a.headers)).json()
    assert me["email_verified"] is True
    again = await verify(client, token)
    assert again.status == 400
    assert await again.json() == {"detail": "Invalid or expired verification token"}


async def test_verification_token_expires_after_24_hours(client, data_dir, clock):
    await register(client, "dana")
    token = last_token_to(data_dir, "dana@example.com", "Confirm")
    clock.advance(24 * 3600)
    assert (await verify(client, token)).status == 400
    assert not (await user_row(client, "dana")).email_verified


async def test_unknown_verification_token_is_400_and_empty_is_422(client):
    assert (await verify(client, "made-up-token")).status == 400
    resp = await verify(client, "")
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["body", "token"]


async def test_verification_tokens_are_stored_hashed(client, data_dir):
    await register(client, "dana")
    token = last_token_to(data_dir, "dana@example.com", "Confirm")
    rows = await client.server.app[CTX].db.read(lambda c: c.execute("SELECT token_hash FROM account_tokens").fetchall())
    assert len(rows) == 1 and token not in rows[0]["token_hash"] and len(rows[0]["token_hash"]) == 64


async def test_resend_verification_replaces_the_old_link(client, data_dir):
    await register(client, "dana")
    first = last_token_to(data_dir, "dana@example.com", "Confirm")
    resp = await client.post("/api/v1/auth/resend-verification", json={"email": "dana@example.com"})
    await mail_sent(client)
    assert resp.status == 200
    second = last_token_to(data_dir, "dana@example.com", "Confirm")
    assert second != first
    assert (await verify(client, first)).status == 400
    assert (await verify(client, second)).status == 200


async def test_resend_verification_answers_the_same_for_unknown_and_verified_addresses(client, data_dir):
    await register(client, "dana")
    await verify(client, last_token_to(data_dir, "dana@example.com", "Confirm"))
    before = len(outbox(data_dir))
    answers = []
    for address in ("nobody@example.com", "dana@example.com"):
        resp = await client.post("/api/v1/auth/resend-verification", json={"email": address})
        await mail_sent(client)
        assert resp.status == 200
        answers.append(await resp.json())
    assert answers[0] == answers[1]
    assert len(outbox(data_dir)) == before


async def test_resend_verification_validates_the_body(client):
    resp = await client.post("/api/v1/auth/resend-verification", json={"email": "no spaces@x"})
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["body", "email"]


# password reset -------------------------------------------------------------------------------
async def test_password_reset_sets_the_new_password_and_verifies_the_address(client, data_dir):
    await register(client, "dana")
    resp = await client.post("/api/v1/auth/request-password-reset", json={"email": "DANA@example.com"})
    await mail_sent(client)
    assert resp.status == 200
    token = last_token_to(data_dir, "dana@example.com", "Reset")
    resp = await reset(client, token)
    assert resp.status == 200
    assert await resp.json() == {"message": "Password has been reset"}
    assert (await login(client, "dana@example.com", PASSWORD)).status == 401
    assert (await login(client, "dana@example.com", NEW_PASSWORD)).status == 200
    assert (await user_row(client, "dana")).email_verified


async def test_request_password_reset_answers_the_same_for_unknown_addresses(client, data_dir):
    await register(client, "dana")
    known = await client.post("/api/v1/auth/request-password-reset", json={"email": "dana@example.com"})
    await mail_sent(client)
    unknown = await client.post("/api/v1/auth/request-password-reset", json={"email": "ghost@example.com"})
    await mail_sent(client)
    assert known.status == unknown.status == 200
    assert await known.json() == await unknown.json()
    assert [m["To"] for m in outbox(data_dir) if "Reset" in m["Subject"]] == ["dana@example.com"]


async def test_reset_token_works_once(client, data_dir):
    await register(client, "dana")
    await client.post("/api/v1/auth/request-password-reset", json={"email": "dana@example.com"})
    await mail_sent(client)
    token = last_token_to(data_dir, "dana@example.com", "Reset")
    assert (await reset(client, token)).status == 200
    again = await reset(client, token, "yet another password")
    assert again.status == 400
    assert await again.json() == {"detail": "Invalid or expired reset token"}
    assert (await login(client, "dana@example.com", NEW_PASSWORD)).status == 200


async def test_reset_token_expires_after_one_hour(client, data_dir, clock):
    await register(client, "dana")
    await client.post("/api/v1/auth/request-password-reset", json={"email": "dana@example.com"})
    await mail_sent(client)
    token = last_token_to(data_dir, "dana@example.com", "Reset")
    clock.advance(3600)
    assert (await reset(client, token)).status == 400
    assert (await login(client, "dana@example.com", PASSWORD)).status == 200


async def test_a_newer_reset_request_voids_the_older_link(client, data_dir):
    await register(client, "dana")
    await client.post("/api/v1/auth/request-password-reset", json={"email": "dana@example.com"})
    await mail_sent(client)
    first = last_token_to(data_dir, "dana@example.com", "Reset")
    await client.post("/api/v1/auth/request-password-reset", json={"email": "dana@example.com"})
    await mail_sent(client)
    assert (await reset(client, first)).status == 400


async def test_reset_signs_out_every_session(client, data_dir, clock):
    closed = []
    client.server.app[CTX].hooks.sessions_revoked.append(lambda user_id, at, session: closed.append(user_id))
    a = await account(client, "dana")
    await client.post("/api/v1/auth/request-password-reset", json={"email": a.email})
    await mail_sent(client)
    clock.advance(1)
    assert (await reset(client, last_token_to(data_dir, a.email, "Reset"))).status == 200
    assert (await client.get("/api/v1/auth/me", headers=a.headers)).status == 401
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": a.refresh_token})).status == 401
    assert closed and set(closed) == {(await user_row(client, "dana")).id}


async def test_weak_new_password_is_422_and_keeps_the_token_usable(client, data_dir):
    await register(client, "dana")
    await client.post("/api/v1/auth/request-password-reset", json={"email": "dana@example.com"})
    await mail_sent(client)
    token = last_token_to(data_dir, "dana@example.com", "Reset")
    resp = await reset(client, token, "short")
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["body", "new_password"]
    assert (await reset(client, token)).status == 200


async def test_disabled_account_gets_no_reset_mail(client, data_dir):
    await register(client, "dana")
    await client.server.app[CTX].db.write(lambda c: c.execute("UPDATE users SET is_disabled = 1"))
    resp = await client.post("/api/v1/auth/request-password-reset", json={"email": "dana@example.com"})
    await mail_sent(client)
    assert resp.status == 200
    assert not [m for m in outbox(data_dir) if "Reset" in m["Subject"]]


# SMTP -----------------------------------------------------------------------------------------
@pytest.fixture
async def smtp():
    sink = SmtpSink()
    await sink.start()
    yield sink
    await sink.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_settings(data_dir, port):
    return load_settings(data_dir, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                         mail_from="Chat <chat@example.org>", smtp_timeout_seconds=5, **NO_LIMITS)


async def test_smtp_delivers_the_verification_mail(aiohttp_client, data_dir, smtp):
    client = await aiohttp_client(make_app(smtp_settings(data_dir, smtp.port)))
    await register(client, "dana")
    [msg] = smtp.messages
    assert msg["To"] == "dana@example.com" and msg["From"] == "Chat <chat@example.org>"
    assert smtp.envelopes[0][1] == ["<dana@example.com>"]
    assert (await verify(client, mail_token(msg))).status == 200
    assert outbox(data_dir) == []


async def test_smtp_reset_for_unknown_address_connects_too(aiohttp_client, data_dir, smtp):
    client = await aiohttp_client(make_app(smtp_settings(data_dir, smtp.port)))
    resp = await client.post("/api/v1/auth/request-password-reset", json={"email": "ghost@example.com"})
    await mail_sent(client)
    assert resp.status == 200
    assert smtp.sessions == 1 and smtp.messages == []


async def test_unreachable_smtp_is_503_and_registration_changes_nothing(aiohttp_client, data_dir):
    client = await aiohttp_client(make_app(smtp_settings(data_dir, free_port())))
    resp = await client.post("/api/v1/auth/register", json={
        "email": "dana@example.com", "name": "Dana", "username": "dana", "password": PASSWORD})
    assert resp.status == 503
    assert await resp.json() == {"detail": "Email service unavailable, try again later"}
    assert await user_row(client, "dana") is None
    assert (await login(client, "dana@example.com")).status == 401


@pytest.mark.parametrize("address", ["dana@example.com", "ghost@example.com"])
async def test_unreachable_smtp_is_503_for_reset_whether_or_not_the_address_exists(
        aiohttp_client, data_dir, address):
    ok = await aiohttp_client(make_app(load_settings(data_dir, **NO_LIMITS)))
    await register(ok, "dana")
    down = await aiohttp_client(make_app(smtp_settings(data_dir, free_port())))
    resp = await down.post("/api/v1/auth/request-password-reset", json={"email": address})
    assert resp.status == 503
    rows = await down.server.app[CTX].db.read(
        lambda c: c.execute("SELECT count(*) AS n FROM account_tokens WHERE purpose = 'reset_password'").fetchone())
    assert rows["n"] == 0
