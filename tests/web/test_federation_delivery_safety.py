"""Federation delivery and safety: the replay guard survives a restart, the shared inbox routes one
activity to every local user it addresses, a host failing for long is marked down and retried
slowly, and up again on a success or a signed request from it."""
from __future__ import annotations

import asyncio
import json
import time

import pytest
from admin_helpers import owner
from aiohttp import web
from federation_helpers import LOOPBACK_FEDERATION

from pufferd.app import make_app
from pufferd.clock import FakeClock
from pufferd.db import federation_q
from pufferd.federation import delivery, signatures
from pufferd.web.keys import CTX

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {**LOOPBACK_FEDERATION, "federation_host_down_after_hours": 1.0,
            "federation_queue_interval_seconds": 3600.0}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=time.time())



@pytest.fixture(scope="module")
def remote_key():
    return signatures.new_key_pair()


@pytest.fixture
async def remote(aiohttp_server, remote_key):
    """Another server: one actor document with its public key, and an inbox counting posts."""
    _, pem = remote_key
    received.clear()
    up[:] = []
    app = web.Application()
    base: dict[str, str] = {}

    async def actor(request: web.Request) -> web.Response:
        url = base["url"] + request.path
        return web.json_response({"id": url, "type": "Person", "preferredUsername": request.path[1:],
                                  "name": "Bob", "inbox": url + "/inbox",
                                  "endpoints": {"sharedInbox": base["url"] + "/inbox"},
                                  "publicKey": {"id": url + "#key", "owner": url, "publicKeyPem": pem}},
                                 content_type="application/activity+json")
    async def inbox(request: web.Request) -> web.Response:
        await request.read()
        received.append(request.path)
        return web.Response(status=202 if up else 503)

    for name in ("/actor", "/actor2", "/actor3"):
        app.router.add_get(name, actor)
        app.router.add_post(name + "/inbox", inbox)
    app.router.add_post("/inbox", inbox)
    server = await aiohttp_server(app)
    base["url"] = f"http://127.0.0.1:{server.port}"
    return base["url"]


received: list[str] = []  # the paths the remote inbox was posted to
up: list[bool] = []  # empty: the remote inbox answers 503


def _create(remote: str, to: list[int], n: int) -> bytes:
    actor = remote + "/actor"
    return json.dumps({"id": f"{remote}/activities/{n}", "type": "Create", "actor": actor,
                       "object": {"id": f"{remote}/notes/{n}", "type": "Note", "attributedTo": actor,
                                  "to": [f"http://local.test/ap/users/{i}" for i in to],
                                  "content": f"<p>note {n}</p>"}}).encode()


def _signed(key, remote: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    headers = signatures.sign(key, remote + "/actor#key", "POST", "http://local.test/ap/inbox", body,
                              now or time.time())
    headers["Content-Type"] = "application/activity+json"
    headers["Host"] = "local.test"
    return headers


async def _texts(client, user) -> list[str]:
    chats = await (await client.get("/api/v1/chats", headers=user.headers)).json()
    out: list[str] = []
    for chat in chats:
        out += [m["text"] for m in await (await client.get(f"/api/v1/messages/{chat['id']}",
                                                            headers=user.headers)).json()]
    return out


async def test_replay_refused_after_a_restart(aiohttp_client, client, settings, alice, remote, remote_key):
    key, _ = remote_key
    body = _create(remote, [alice.id], 1)
    headers = _signed(key, remote, body)
    assert (await client.post("/ap/inbox", data=body, headers=headers)).status == 202
    await client.close()
    restarted = await aiohttp_client(make_app(settings))
    # the same signed request (still within its Date window) is a replay for the restarted server
    resp = await restarted.post("/ap/inbox", data=body, headers=headers)
    assert resp.status == 401, await resp.text()
    assert "replay" in (await resp.json())["detail"]
    assert await _texts(restarted, alice) == ["note 1"]


async def test_replay_rows_expire_and_are_pruned(client, app, alice, remote, remote_key):
    key, _ = remote_key
    for n in (1, 2):
        body = _create(remote, [alice.id], n)
        assert (await client.post("/ap/inbox", data=body, headers=_signed(key, remote, body))).status == 202
    ctx = app[CTX]
    count = await ctx.db.read(lambda c: c.execute("SELECT count(*) AS n FROM federation_signatures").fetchone()["n"])
    assert count == 2
    # rows past the window are pruned by the next insert
    await ctx.db.write(lambda c: c.execute("UPDATE federation_signatures SET expires_at = 0"))
    body = _create(remote, [alice.id], 3)
    assert (await client.post("/ap/inbox", data=body, headers=_signed(key, remote, body))).status == 202
    count = await ctx.db.read(lambda c: c.execute("SELECT count(*) AS n FROM federation_signatures").fetchone()["n"])
    assert count == 1


async def test_shared_inbox_routes_one_activity_to_each_local_user(client, alice, bob, carol, remote, remote_key):
    key, _ = remote_key
    body = _create(remote, [alice.id, bob.id], 5)
    assert (await client.post("/ap/inbox", data=body, headers=_signed(key, remote, body))).status == 202
    assert await _texts(client, alice) == ["note 5"]
    assert await _texts(client, bob) == ["note 5"]
    assert await _texts(client, carol) == []


async def _hosts(client, app) -> list[dict]:
    resp = await client.get("/api/v1/federation/hosts", headers=owner(app).headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _enqueue(app, sender_id: int, remote: str, n: int) -> None:
    ctx = app[CTX]
    now = ctx.clock.time()
    host = remote.split("//", 1)[1]
    activity = {"id": f"http://local.test/ap/activities/{n}", "type": "Create", "actor": "x"}
    await ctx.db.write(lambda c: federation_q.enqueue(c, sender_id=sender_id, inbox=remote + "/actor/inbox",
                                                      host=host, activity=activity, now=now))


async def test_a_host_failing_for_long_is_marked_down_retried_daily_and_up_on_success(
        client, app, clock, alice, remote):
    ctx = app[CTX]
    host = remote.split("//", 1)[1]
    await _enqueue(app, alice.id, remote, 1)
    await _enqueue(app, alice.id, remote, 2)
    assert await delivery.run_pass(ctx) == 2 and len(received) == 2
    [row] = await _hosts(client, app)
    assert row["host"] == host and row["down"] is False and row["last_error"] == "HTTP 503"
    clock.advance(3700)  # failing for more than federation_host_down_after_hours (1)
    assert await delivery.run_pass(ctx) == 2 and len(received) == 4
    [row] = await _hosts(client, app)
    assert row["down"] is True and row["down_since"] is not None
    clock.advance(6 * 3600)  # a normal backoff would retry by now; a down host waits a day
    assert await delivery.run_pass(ctx) == 0 and len(received) == 4
    clock.advance(24 * 3600)
    assert await delivery.run_pass(ctx) == 1 and len(received) == 5  # one probe, not both
    assert await delivery.run_pass(ctx) == 0
    up.append(True)
    clock.advance(24 * 3600 + 1)
    assert await delivery.run_pass(ctx) == 1  # the probe succeeds: the host is up again
    assert await _hosts(client, app) == []
    # the other delivery is due at once and the worker, woken, delivers it
    for _ in range(100):
        queue = await (await client.get("/api/v1/federation/queue", headers=owner(app).headers)).json()
        if [r["state"] for r in queue] == ["delivered", "delivered"]:
            break
        await asyncio.sleep(0.05)
    assert [r["state"] for r in queue] == ["delivered", "delivered"]
    assert len(received) == 7


async def test_a_signed_request_from_a_down_host_marks_it_up(client, app, alice, remote, remote_key):
    ctx = app[CTX]
    host = remote.split("//", 1)[1]
    now = ctx.clock.time()
    await ctx.db.write(lambda c: federation_q.host_failed(c, host, "HTTP 503", now - 7200, 3600))
    await ctx.db.write(lambda c: federation_q.host_failed(c, host, "HTTP 503", now, 3600))
    ctx.federation.down_hosts.add(host)
    assert [r["down"] for r in await _hosts(client, app)] == [True]
    key, _ = remote_key
    body = _create(remote, [alice.id], 8)
    assert (await client.post("/ap/inbox", data=body, headers=_signed(key, remote, body))).status == 202
    assert await _hosts(client, app) == []
    assert host not in ctx.federation.down_hosts


async def test_a_user_not_findable_is_unknown_to_webfinger(client, alice, bob):
    handle = f"/.well-known/webfinger?resource=acct:{alice.username}@local.test"
    by_actor = f"/.well-known/webfinger?resource=http://local.test/ap/users/{alice.id}"
    assert (await client.get(handle)).status == 200
    assert (await client.get(by_actor)).status == 200
    resp = await client.put("/api/v1/users/profile", headers=alice.headers, json={"federation_findable": False})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["federation_findable"] is False
    for url in (handle, by_actor):
        resp = await client.get(url)
        assert resp.status == 404
        assert (await resp.json())["detail"] == (await (await client.get(
            "/.well-known/webfinger?resource=acct:nobody@local.test")).json())["detail"]
    assert (await client.get(f"/.well-known/webfinger?resource=acct:{bob.username}@local.test")).status == 200
    bad = await client.put("/api/v1/users/profile", headers=alice.headers, json={"federation_findable": None})
    assert bad.status == 422 or bad.status == 400
    resp = await client.put("/api/v1/users/profile", headers=alice.headers, json={"federation_findable": True})
    assert (await resp.json())["federation_findable"] is True
    assert (await client.get(handle)).status == 200


async def test_a_blocked_domain_is_not_counted_as_a_failing_host(client, app, alice, remote):
    ctx = app[CTX]
    resp = await client.post("/api/v1/federation/domains", headers=owner(app).headers, json={"domain": "127.0.0.1"})
    assert resp.status == 200, await resp.text()
    await _enqueue(app, alice.id, remote, 1)
    assert await delivery.run_pass(ctx) == 1 and received == []
    queue = await (await client.get("/api/v1/federation/queue", headers=owner(app).headers)).json()
    assert [(r["state"], r["last_error"]) for r in queue] == [("failed", "the domain is blocked")]
    assert await _hosts(client, app) == []


async def test_one_activity_to_two_actors_of_a_host_goes_once_to_its_shared_inbox(client, app, alice, remote):
    ctx = app[CTX]
    host = remote.split("//", 1)[1]
    for name in ("actor", "actor2"):
        resp = await client.post("/api/v1/federation/resolve", headers=alice.headers,
                                 json={"handle": f"{remote}/{name}"})
        assert resp.status == 200, await resp.text()
    up.append(True)
    now = ctx.clock.time()
    activity = {"id": "http://local.test/ap/activities/shared-1", "type": "Create", "actor": "x"}

    def enqueue(conn):
        for name in ("actor", "actor2"):
            federation_q.enqueue(conn, sender_id=alice.id, inbox=f"{remote}/{name}/inbox", host=host,
                                 activity=activity, now=now)
        # another activity to one actor of the host goes to that actor's own inbox
        federation_q.enqueue(conn, sender_id=alice.id, inbox=f"{remote}/actor/inbox", host=host,
                             activity={**activity, "id": "http://local.test/ap/activities/one"}, now=now)
    await ctx.db.write(enqueue)
    assert await delivery.run_pass(ctx) == 3
    assert sorted(received) == ["/actor/inbox", "/inbox"]
    queue = await (await client.get("/api/v1/federation/queue", headers=owner(app).headers)).json()
    assert [r["state"] for r in queue] == ["delivered"] * 3
