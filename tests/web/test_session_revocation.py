"""Ending one sign-in session (DELETE /auth/sessions/{jti}, or refresh-token reuse detection) ends
everything that session holds: its WebSockets close with 4001 within a second and its signed
download URLs stop working, while the user's other sessions carry on."""
from __future__ import annotations

import time

import pytest
from auth_support import NO_LIMITS, Account, account, login
from media_helpers import local, png, upload
from realtime_helpers import connect, hub
from yarl import URL

from pufferd import tokens
from pufferd.web.keys import CTX

SESSIONS = "/api/v1/auth/sessions"


@pytest.fixture
def settings_overrides():
    return dict(NO_LIMITS)


async def second_login(client, first: Account) -> Account:
    resp = await login(client, first.email)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    return Account(first.email, first.username, first.password, body["access_token"], body["refresh_token"])


def session_of(client, who: Account) -> str:
    claims = tokens.decode(client.app[CTX].keys.jwt, who.access_token, expected_type="access", now=time.time())
    assert claims.session_jti
    return claims.session_jti


async def assert_open(sock) -> None:
    await sock.send({"type": "ping"})
    assert await sock.next("pong") == {"type": "pong"}


async def test_signing_out_one_session_closes_its_sockets_at_once_and_no_other(client):
    phone = await account(client, "dana")
    laptop = await second_login(client, phone)
    phone_sock = await connect(client, None, token=phone.access_token)
    phone_sock2 = await connect(client, None, token=phone.access_token)
    laptop_sock = await connect(client, None, token=laptop.access_token)
    started = time.monotonic()
    resp = await client.delete(f"{SESSIONS}/{session_of(client, phone)}", headers=laptop.headers)
    assert resp.status == 204, await resp.text()
    assert await phone_sock.closed_with(timeout=1.0) == 4001
    assert await phone_sock2.closed_with(timeout=1.0) == 4001
    assert time.monotonic() - started < 1.0
    await assert_open(laptop_sock)


async def test_signing_out_the_access_token_in_use_closes_its_socket(client):
    dana = await account(client, "dana")
    sock = await connect(client, None, token=dana.access_token)
    current = (await (await client.get(SESSIONS, headers=dana.headers)).json())[0]
    assert current["token_type"] == "access"
    resp = await client.delete(f"{SESSIONS}/{current['jti']}", headers=dana.headers)
    assert resp.status == 204, await resp.text()
    assert await sock.closed_with(timeout=1.0) == 4001


async def test_refresh_token_reuse_closes_the_sockets_of_the_stolen_session(client):
    dana = await account(client, "dana")
    other = await second_login(client, dana)
    sock = await connect(client, None, token=dana.access_token)
    other_sock = await connect(client, None, token=other.access_token)
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": dana.refresh_token})).status == 200
    stolen = await client.post("/api/v1/auth/refresh", json={"refresh_token": dana.refresh_token})
    assert stolen.status == 401
    assert await sock.closed_with(timeout=1.0) == 4001
    await assert_open(other_sock)


async def test_a_socket_of_a_session_revoked_while_it_was_being_opened_is_closed_with_4001(client):
    dana = await account(client, "dana")
    # the token was checked just before the revocation; the socket attaches after it
    claims = tokens.decode(client.app[CTX].keys.jwt, dana.access_token, expected_type="access", now=time.time())
    hub(client).revoke_user(claims.user_id, session=claims.session_jti)
    sock = await client.ws_connect("/api/v1/ws", params={"token": dana.access_token})
    msg = await sock.receive(timeout=2)
    assert msg.type.name == "CLOSE" and sock.close_code == 4001


async def download_url(client, who: Account, file_url: str) -> str:
    resp = await client.post("/api/v1/media/download-url", json={"file_url": file_url}, headers=who.headers)
    assert resp.status == 200, await resp.text()
    return local((await resp.json())["download_url"])


async def test_signed_download_urls_end_with_the_session_they_were_issued_to(client):
    phone = await account(client, "dana")
    laptop = await second_login(client, phone)
    data = png(2000)
    t = await upload(client, phone, data)
    phone_url = await download_url(client, phone, t["file_url"])
    laptop_url = await download_url(client, laptop, t["file_url"])
    assert (await client.get(phone_url)).status == 200
    assert (await client.delete(f"{SESSIONS}/{session_of(client, phone)}", headers=laptop.headers)).status == 204
    gone = await client.get(phone_url)
    assert gone.status == 403
    assert await gone.json() == {"detail": "Download URL is no longer valid"}
    still = await client.get(laptop_url)
    assert still.status == 200 and await still.read() == data


async def test_signed_download_urls_end_when_refresh_token_reuse_revokes_the_session(client):
    dana = await account(client, "dana")
    t = await upload(client, dana, png(1000))
    url = await download_url(client, dana, t["file_url"])
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": dana.refresh_token})).status == 200
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": dana.refresh_token})).status == 401
    assert (await client.get(url)).status == 403


async def test_the_session_of_a_signed_download_url_cannot_be_removed_or_swapped(client):
    phone = await account(client, "dana")
    laptop = await second_login(client, phone)
    t = await upload(client, phone, png(1000))
    url = URL(await download_url(client, phone, t["file_url"]))
    q = dict(url.query)
    assert q["sid"] == session_of(client, phone)
    without = {k: v for k, v in q.items() if k != "sid"}
    for bad in (without, {**q, "sid": session_of(client, laptop)}):
        resp = await client.get(url.with_query(bad))
        assert resp.status == 403, bad
        assert await resp.json() == {"detail": "Download URL signature is invalid"}
