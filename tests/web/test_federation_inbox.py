"""The inbox refuses what is not signed by the activity's actor (401, nothing changes) and applies
a signed direct message once, as a message of the private chat with the remote user."""
from __future__ import annotations

import json
import time

import pytest
from aiohttp import web
from federation_helpers import LOOPBACK_FEDERATION

from pufferd.federation import signatures

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(LOOPBACK_FEDERATION)


@pytest.fixture(scope="module")
def remote_keys():
    return signatures.new_key_pair(), signatures.new_key_pair()


@pytest.fixture
async def remote(aiohttp_server, remote_keys):
    """A stand-in for another server: one actor document with its public key."""
    (_, pem), _ = remote_keys
    app = web.Application()
    base: dict[str, str] = {}

    async def actor(request: web.Request) -> web.Response:
        url = base["url"] + "/actor"
        return web.json_response({"id": url, "type": "Person", "preferredUsername": "bob", "name": "Bob",
                                  "inbox": url + "/inbox",
                                  "publicKey": {"id": url + "#key", "owner": url, "publicKeyPem": pem}},
                                 content_type="application/activity+json")
    app.router.add_get("/actor", actor)
    server = await aiohttp_server(app)
    base["url"] = f"http://127.0.0.1:{server.port}"
    return base["url"]


def _create(remote: str, alice_id: int, n: int = 1) -> bytes:
    actor = remote + "/actor"
    return json.dumps({"id": f"{remote}/activities/{n}", "type": "Create", "actor": actor,
                       "object": {"id": f"{remote}/notes/{n}", "type": "Note", "attributedTo": actor,
                                  "to": [f"http://local.test/ap/users/{alice_id}"],
                                  "tag": [{"type": "Mention", "name": "@alice@local.test",
                                           "href": f"http://local.test/ap/users/{alice_id}"}],
                                  "content": "<p><a href='x'>@alice</a> hello <b>there</b></p>"}}).encode()


def _signed(key, key_id: str, body: bytes, *, now: float | None = None, url: str = "http://local.test/ap/inbox"):
    headers = signatures.sign(key, key_id, "POST", url, body, now or time.time())
    headers["Content-Type"] = "application/activity+json"
    headers.pop("Host")
    return headers


async def _messages(client, alice) -> list[dict]:
    chats = await (await client.get("/api/v1/chats", headers=alice.headers)).json()
    out: list[dict] = []
    for chat in chats:
        out += await (await client.get(f"/api/v1/messages/{chat['id']}", headers=alice.headers)).json()
    return out


async def _post(client, body: bytes, headers: dict[str, str]):
    return await client.post("/ap/inbox", data=body, headers={**headers, "Host": "local.test"})


async def test_signed_direct_message_arrives_once(client, alice, remote, remote_keys):
    (key, _), _ = remote_keys
    body = _create(remote, alice.id)
    headers = _signed(key, remote + "/actor#key", body)
    resp = await _post(client, body, headers)
    assert resp.status == 202, await resp.text()
    msgs = await _messages(client, alice)
    assert [m["text"] for m in msgs] == ["hello there"]
    # the same signed request again is a replay
    resp = await _post(client, body, headers)
    assert resp.status == 401
    # a redelivery (a new signature: another Date, same activity id) changes nothing
    resp = await _post(client, body, _signed(key, remote + "/actor#key", body, now=time.time() + 2))
    assert resp.status == 202
    assert len(await _messages(client, alice)) == 1


@pytest.mark.parametrize("case", ["unsigned", "tampered", "wrong_key", "old_date", "key_of_other_host",
                                  "key_not_actors"])
async def test_bad_signatures_are_refused_and_change_nothing(client, alice, remote, remote_keys, case):
    (key, _), (other, _) = remote_keys
    body = _create(remote, alice.id, 7)
    key_id = remote + "/actor#key"
    headers = _signed(key, key_id, body)
    if case == "unsigned":
        headers.pop("Signature")
    elif case == "tampered":
        body = body.replace(b"hello", b"HELLO")
    elif case == "wrong_key":
        headers = _signed(other, key_id, body)
    elif case == "old_date":
        headers = _signed(key, key_id, body, now=time.time() - 600)
    elif case == "key_of_other_host":
        headers = _signed(key, "http://elsewhere.test/actor#key", body)
    elif case == "key_not_actors":
        headers = _signed(key, remote + "/actor#other-key", body)
    resp = await _post(client, body, headers)
    assert resp.status == 401, await resp.text()
    assert "Signature" in (await resp.json())["detail"]
    assert await _messages(client, alice) == []


async def test_blocked_sender_is_refused(client, alice, remote, remote_keys):
    (key, _), _ = remote_keys
    resolved = await client.post("/api/v1/federation/resolve", headers=alice.headers,
                                 json={"handle": remote + "/actor"})
    assert resolved.status == 200, await resolved.text()
    bob = await resolved.json()
    assert bob["is_remote"] is True and bob["username"].startswith("bob@127.0.0.1:")
    assert (await client.post(f"/api/v1/users/{bob['id']}/block", headers=alice.headers)).status in (200, 204)
    body = _create(remote, alice.id, 9)
    resp = await _post(client, body, _signed(key, remote + "/actor#key", body))
    assert resp.status == 403
    assert await _messages(client, alice) == []


async def test_actor_document_and_webfinger(client, alice):
    resp = await client.get(f"/.well-known/webfinger?resource=acct:{alice.username}@local.test")
    assert resp.status == 200
    doc = await (await client.get(f"/ap/users/{alice.id}")).json()
    assert doc["preferredUsername"] == alice.username and "BEGIN PUBLIC KEY" in doc["publicKey"]["publicKeyPem"]
    assert (await client.get("/.well-known/webfinger?resource=acct:nobody@local.test")).status == 404
    assert (await client.get(f"/.well-known/webfinger?resource=acct:{alice.username}@other.test")).status == 404
    outbox = await (await client.get(f"/ap/users/{alice.id}/outbox")).json()
    assert outbox["totalItems"] == 0 and outbox["orderedItems"] == []
