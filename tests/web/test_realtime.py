"""GET /api/v1/ws: authentication before the upgrade, frames, seq, devices, bad input, closing."""
from __future__ import annotations

import asyncio
import email
import io
import logging
import re
import time

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from pufferd.web.accesslog import AccessLogBuffer, access_logger_class
from pufferd.web.keys import CTX
from tests.web.realtime_helpers import WS, connect, db_write, eventually, hub, publish, short_token, token_for


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"presence_grace_seconds": 0.05}


# authentication ------------------------------------------------------------------------------

async def test_socket_without_token_is_refused_with_401_before_upgrade(client):
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect(WS)
    assert err.value.status == 401
    resp = await client.get(WS, headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                         "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert resp.status == 401
    assert await resp.json() == {"detail": "Not authenticated"}
    assert resp.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
async def test_socket_with_invalid_token_is_refused_with_401(client, token):
    resp = await client.get(WS, params={"token": token})
    assert resp.status == 401
    assert "detail" in await resp.json()


async def test_socket_with_expired_token_is_refused_with_401(client, alice):
    token = token_for(client, alice, ttl=60, now=time.time() - 120)
    resp = await client.get(WS, params={"token": token})
    assert resp.status == 401
    assert await resp.json() == {"detail": "Token expired"}


async def test_socket_with_revoked_token_is_refused_with_401(client, alice):
    await db_write(client, "UPDATE users SET tokens_valid_after = ? WHERE id = ?", time.time() + 1, alice.id)
    resp = await client.get(WS, params={"token": alice.token})
    assert resp.status == 401
    assert await resp.json() == {"detail": "Token revoked"}


async def test_refresh_token_is_not_accepted_for_the_socket(client, alice):
    ctx = client.app[CTX]
    from pufferd import tokens
    refresh, _ = tokens.issue(ctx.keys.jwt, user_id=alice.id, token_type="refresh", now=time.time(), ttl=600)
    resp = await client.get(WS, params={"token": refresh})
    assert resp.status == 401


async def test_token_in_query_or_authorization_header_both_authenticate(client, alice):
    by_query = await connect(client, alice)
    by_header = await connect(client, alice, header=True)
    assert by_query.ready["data"]["user_id"] == by_header.ready["data"]["user_id"] == alice.id


async def test_plain_get_with_a_valid_token_is_400_not_an_upgrade(client, alice):
    resp = await client.get(WS, headers=alice.headers)
    assert resp.status == 400
    assert await resp.json() == {"detail": "Expected a WebSocket upgrade request"}


async def test_bad_since_is_422_naming_the_field(client, alice):
    resp = await client.get(WS, params={"token": alice.token, "since": "-1"})
    assert resp.status == 422
    assert (await resp.json())["detail"][0]["loc"] == ["query", "since"]


async def test_websocket_route_is_in_openapi(client):
    doc = await (await client.get("/openapi.json")).json()
    op = doc["paths"]["/api/v1/ws"]["get"]
    assert {"101", "401"} <= set(op["responses"])
    assert {p["name"] for p in op["parameters"]} == {"token", "since"}


async def test_too_many_sockets_for_one_user_is_429(client, alice):
    client.app[CTX].settings.ws_max_sockets_per_user = 2
    await connect(client, alice)
    await connect(client, alice)
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.ws_connect(WS, params={"token": alice.token})
    assert err.value.status == 429


# events ---------------------------------------------------------------------------------------

async def test_ready_frame_comes_first_and_names_the_current_seq(client, alice):
    sock = await connect(client, alice)
    assert sock.ready["data"]["user_id"] == alice.id
    assert isinstance(sock.seq, int)
    assert sock.ready["data"]["heartbeat_seconds"] == 30
    assert "seq" not in sock.ready


async def test_every_event_has_an_increasing_seq_without_gaps(client, alice):
    sock = await connect(client, alice)
    for i in range(5):
        publish(client, "notification", {"n": i}, alice)
    frames = [await sock.recv() for _ in range(5)]
    assert [f["data"]["n"] for f in frames] == [0, 1, 2, 3, 4]
    assert [f["seq"] for f in frames] == [sock.seq + i for i in range(1, 6)]
    assert all(f["type"] == "notification" for f in frames)


async def test_events_reach_only_their_addressees(client, alice, bob):
    a = await connect(client, alice)
    b = await connect(client, bob)
    publish(client, "notification", {"to": "alice"}, alice)
    publish(client, "notification", {"to": "both"}, alice, bob)
    assert (await a.recv())["data"] == {"to": "alice"}
    assert (await a.recv())["data"] == {"to": "both"}
    assert (await b.recv())["data"] == {"to": "both"}
    await b.silent(wait=0.2)


async def test_every_device_of_a_user_receives_each_event_with_the_same_seq(client, alice):
    phone = await connect(client, alice)
    laptop = await connect(client, alice, header=True)
    assert phone.seq == laptop.seq
    publish(client, "chat_removed", {"chat_id": 7}, alice)
    on_phone, on_laptop = await phone.recv(), await laptop.recv()
    assert on_phone == on_laptop == {"type": "chat_removed", "data": {"chat_id": 7}, "seq": phone.seq + 1}


async def test_event_data_is_sent_as_published_including_non_ascii(client, alice):
    sock = await connect(client, alice)
    data = {"chat_id": 1, "text": "héllo 👋 \"quoted\"", "nested": {"a": [1, None, True]}}
    publish(client, "message_updated", data, alice)
    assert (await sock.recv())["data"] == data


async def test_ping_frame_is_answered_by_pong(client, alice):
    sock = await connect(client, alice)
    await sock.send({"type": "ping"})
    assert await sock.recv() == {"type": "pong"}


# bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("frame", "code"), [
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid_frame"),
    ('"text"', "invalid_frame"),
    ("{}", "invalid_frame"),
    ('{"type": "dance"}', "unknown_type"),
    ('{"type": "typing"}', "invalid_frame"),
    ('{"type": "typing", "data": {"chat_id": "7"}}', "invalid_frame"),
    ('{"type": "typing", "data": {"chat_id": 0}}', "invalid_frame"),
    ('{"type": "ack", "data": {"chat_id": 1}}', "invalid_frame"),
    ('{"type": "auth", "data": {"token": ""}}', "invalid_frame"),
])
async def test_bad_frame_is_answered_with_an_error_event_and_the_socket_stays_open(client, alice, frame, code):
    sock = await connect(client, alice)
    await sock.send(frame)
    answer = await sock.recv()
    assert answer["type"] == "error"
    assert answer["data"]["code"] == code
    assert "seq" not in answer
    await sock.send({"type": "ping"})
    assert await sock.recv() == {"type": "pong"}


async def test_invalid_frame_error_names_the_field(client, alice):
    sock = await connect(client, alice)
    await sock.send({"type": "typing", "data": {"chat_id": "x"}})
    answer = await sock.recv()
    assert answer["data"]["detail"][0]["loc"] == ["frame", "data", "chat_id"]


async def test_frame_above_the_size_limit_is_answered_with_frame_too_large(client, alice):
    sock = await connect(client, alice)
    limit = sock.ready["data"]["max_frame_bytes"]
    await sock.send({"type": "ping", "pad": "x" * limit})
    answer = await sock.recv()
    assert answer["data"]["code"] == "frame_too_large"
    await sock.send({"type": "ping", "pad": "é" * (limit // 2)})  # fewer characters than bytes
    assert (await sock.recv())["data"]["code"] == "frame_too_large"
    await sock.send({"type": "ping"})
    assert await sock.recv() == {"type": "pong"}


async def test_frame_above_the_transport_limit_closes_with_1009(client, alice):
    sock = await connect(client, alice)
    await sock.send("x" * (65 * 1024))
    assert await sock.closed_with() == 1009


async def test_binary_frame_is_answered_with_an_error(client, alice):
    sock = await connect(client, alice)
    await sock.send(b"\x00\x01")
    assert (await sock.recv())["data"]["code"] == "unsupported_frame"


async def test_flood_of_frames_is_rate_limited_without_closing(client, alice):
    sock = await connect(client, alice)
    for _ in range(100):
        await sock.send({"type": "ping"})
    frames = [await sock.recv() for _ in range(100)]
    assert {"type": "pong"} in frames
    assert any(f["type"] == "error" and f["data"]["code"] == "rate_limited" for f in frames)


async def test_bad_frames_from_one_user_never_reach_another(client, alice, bob):
    a = await connect(client, alice)
    b = await connect(client, bob)
    await a.send("garbage")
    await a.recv()
    await b.silent(wait=0.2)


# closing --------------------------------------------------------------------------------------

async def test_revoking_all_sessions_closes_the_users_sockets_with_4001_within_a_second(client, alice, bob):
    phone = await connect(client, alice)
    laptop = await connect(client, alice)
    other = await connect(client, bob)
    started = time.monotonic()
    client.app[CTX].hooks.revoke_sessions(alice.id)
    assert await phone.closed_with(timeout=1.0) == 4001
    assert await laptop.closed_with(timeout=1.0) == 4001
    assert time.monotonic() - started < 1.0
    await other.send({"type": "ping"})
    assert await other.recv() == {"type": "pong"}


async def test_revoke_all_sessions_endpoint_closes_sockets_with_4001(client, alice):
    sock = await connect(client, alice)
    resp = await client.delete("/api/v1/auth/sessions", headers=alice.headers)
    assert resp.status == 204, await resp.text()
    assert await sock.closed_with(timeout=1.0) == 4001


async def test_password_reset_closes_the_users_sockets_with_4001(client, alice, data_dir):
    sock = await connect(client, alice)
    resp = await client.post("/api/v1/auth/request-password-reset", json={"email": alice.email})
    assert resp.status == 200, await resp.text()
    await client.app[CTX].mail_tasks.drain()
    message = email.message_from_bytes(sorted((data_dir / "mail" / "outbox").glob("*.eml"))[-1].read_bytes())
    mail = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    token = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", mail).group(1)  # type: ignore[union-attr]
    resp = await client.post("/api/v1/auth/reset-password", json={"token": token, "new_password": "a new password 1"})
    assert resp.status == 200, await resp.text()
    assert await sock.closed_with(timeout=1.0) == 4001


async def test_socket_attached_with_a_token_older_than_a_revocation_is_closed_with_4001(client, alice):
    # the token was checked just before the revocation committed; the socket attaches after it
    client.app[CTX].hooks.revoke_sessions(alice.id)
    ws = await client.ws_connect(WS, params={"token": alice.token})
    msg = await ws.receive(timeout=2)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4001


async def test_a_sign_out_written_by_another_process_closes_sockets_and_refuses_tokens(client, alice, bob):
    # what `pufferd admin reset-password` / `disable-user` do to the database, from outside the server
    phone = await connect(client, alice)
    other = await connect(client, bob)
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).status == 200  # token now cached
    started = time.monotonic()
    await db_write(client, "UPDATE users SET tokens_valid_after = ? WHERE id = ?", time.time(), alice.id)
    assert await phone.closed_with(timeout=3.0) == 4001
    assert time.monotonic() - started < 2.5  # one poll interval, and the close handshake
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).status == 401
    await other.send({"type": "ping"})
    assert await other.recv() == {"type": "pong"}


async def test_a_socket_opened_after_an_outside_sign_out_stays_open(client, alice):
    await db_write(client, "UPDATE users SET tokens_valid_after = ? WHERE id = ?", time.time() - 0.5, alice.id)
    fresh = token_for(client, alice, ttl=600)  # issued after the sign-out: a new login
    sock = await connect(client, alice, token=fresh)
    await asyncio.sleep(1.5)  # the watcher has seen the sign-out meanwhile
    await sock.send({"type": "ping"})
    assert await sock.recv() == {"type": "pong"}


async def test_expired_access_token_closes_the_socket_with_4002(client, alice):
    token, _ = short_token(client, alice)
    sock = await connect(client, alice, token=token)
    assert await sock.closed_with(timeout=3.0) == 4002


async def test_in_band_auth_frame_renews_the_token_and_keeps_the_socket_open(client, alice):
    token, expires_at = short_token(client, alice)
    sock = await connect(client, alice, token=token)
    await sock.send({"type": "auth", "data": {"token": token_for(client, alice, ttl=600)}})
    answer = await sock.recv()
    assert answer["type"] == "auth_ok"
    assert answer["data"]["expires_at"].endswith("Z")
    await asyncio.sleep(expires_at - time.time() + 0.3)
    await sock.send({"type": "ping"})
    assert await sock.recv() == {"type": "pong"}


async def test_in_band_auth_with_another_users_token_is_refused(client, alice, bob):
    token, _ = short_token(client, alice)
    sock = await connect(client, alice, token=token)
    await sock.send({"type": "auth", "data": {"token": bob.token}})
    answer = await sock.recv()
    assert answer["data"]["code"] == "bad_request"
    assert await sock.closed_with(timeout=3.0) == 4002


async def test_in_band_auth_with_an_invalid_token_is_an_unauthorized_error(client, alice):
    sock = await connect(client, alice)
    await sock.send({"type": "auth", "data": {"token": "nope"}})
    answer = await sock.recv()
    assert answer["data"] == {"code": "unauthorized", "detail": "Invalid token", "status": 401}


async def test_server_shutdown_closes_sockets_with_1001(client, alice, bob):
    a = await connect(client, alice)
    b = await connect(client, bob)
    shutdown = asyncio.create_task(client.app.shutdown())
    assert await a.closed_with() == 1001
    assert await b.closed_with() == 1001
    await shutdown
    rows = await client.app[CTX].db.read(
        lambda c: c.execute("SELECT id, last_seen_at FROM users WHERE id IN (?, ?)", (alice.id, bob.id)).fetchall())
    assert all(r["last_seen_at"] is not None for r in rows)


async def test_dead_peer_is_dropped_after_a_missed_heartbeat(client, alice):
    client.app[CTX].settings.ws_heartbeat_seconds = 0.2
    ws = await client.ws_connect(WS, params={"token": alice.token}, autoping=False)
    assert hub(client).sockets_of(alice.id) == 1
    # the client never answers the server's pings: dropped after heartbeat + heartbeat / 2
    await eventually(lambda: hub(client).sockets_of(alice.id) == 0, timeout=2.0)
    await ws.close()


async def test_client_close_forgets_the_socket(client, alice):
    sock = await connect(client, alice)
    assert hub(client).sockets_of(alice.id) == 1
    await sock.close()
    await eventually(lambda: hub(client).sockets_of(alice.id) == 0)


async def test_access_log_never_contains_the_sockets_token(aiohttp_client, app, make_user):
    stream = io.StringIO()
    buffer = AccessLogBuffer(stream, interval=60)
    server = TestServer(app)
    await server.start_server(access_log_class=access_logger_class(buffer),
                              access_log=logging.getLogger("aiohttp.access"))
    client = await aiohttp_client(server)
    user = await make_user("dora")
    sock = await connect(client, user, since=0)
    await sock.close()
    resp = await client.get(WS, params={"token": "not-a-token", "since": "5"})
    assert resp.status == 401
    await eventually(lambda: (buffer.flush(), stream.getvalue().count("/api/v1/ws") == 2)[1])
    log_text = stream.getvalue()
    assert '/api/v1/ws?token=[redacted]&since=0 HTTP/1.1" 101' in log_text
    assert user.token not in log_text and "not-a-token" not in log_text
    assert "/api/v1/ws?token=[redacted]&since=5 HTTP/1.1\" 401" in log_text
