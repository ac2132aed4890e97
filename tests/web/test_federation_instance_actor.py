"""The instance actor (README "Federation"): the server's own actor, served to anyone and found
through WebFinger, whose key signs every GET pufferd makes to other servers. A stand-in for a
server in "authorized fetch" mode answers its actor only to a GET whose signature apsig (an
independent implementation) verifies with the key its keyId resolves to, fetched from pufferd;
a remote instance actor posting to the inbox is verified and ignored, never made a user."""
from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from apsig.draft.verify import Verifier
from federation_helpers import LOOPBACK_FEDERATION

from pufferd.federation import signatures
from pufferd.web.keys import CTX

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ACTOR = "http://local.test/ap/actor"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(LOOPBACK_FEDERATION)


@pytest.fixture(scope="module")
def remote_key():
    return signatures.new_key_pair()


class Remote:
    """A stand-in for a server with authorized fetch: GETs of its documents must be signed by a key
    whose document it fetches from the signer's server (here pufferd, through the test client)."""

    def __init__(self, pufferd: Any, pem: str) -> None:
        self.pufferd, self.pem = pufferd, pem
        self.url = ""
        self.verified: list[dict[str, str]] = []  # the headers of each GET whose signature verified
        self.refused: list[str] = []

    def actor(self, name: str, type_: str) -> dict[str, Any]:
        url = f"{self.url}/{name}"
        return {"id": url, "type": type_, "preferredUsername": name if type_ == "Person" else urlsplit(url).hostname,
                "name": name.title(), "inbox": url + "/inbox",
                "publicKey": {"id": url + "#key", "owner": url, "publicKeyPem": self.pem}}

    async def check(self, request: web.Request) -> bool:
        """The request's signature verifies (apsig) with the key of the actor its keyId names."""
        header = request.headers.get("Signature", "")
        params = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        key_id = params.get("keyId", "").strip('"')
        if not key_id.startswith("http://local.test/"):
            self.refused.append(f"no signature of ours: {header!r}")
            return False
        resp = await self.pufferd.get(urlsplit(key_id).path)  # unsigned, as servers fetch keys
        signer = await resp.json()
        key = signer["publicKey"]
        assert resp.status == 200 and key["id"] == key_id and key["owner"] == signer["id"], signer
        try:
            Verifier(key["publicKeyPem"], request.method, str(request.url), dict(request.headers)).verify(
                raise_on_fail=True)
        except Exception as exc:  # apsig raises its own error types
            self.refused.append(f"{type(exc).__name__}: {exc}")
            return False
        self.verified.append({**dict(request.headers), "signer": json.dumps(signer)})
        return True


@pytest.fixture
async def remote(aiohttp_server, client, remote_key):
    _, pem = remote_key
    stand_in = Remote(client, pem)

    async def actor(request: web.Request) -> web.Response:
        if not await stand_in.check(request):
            return web.Response(status=401, text="signature required")
        name = request.match_info["name"]
        doc = stand_in.actor(name, "Application" if name == "actor" else "Person")
        return web.json_response(doc, content_type="application/activity+json")

    app = web.Application()
    app.router.add_get("/{name}", actor)
    server = await aiohttp_server(app)
    stand_in.url = f"http://127.0.0.1:{server.port}"
    return stand_in


def _signed_post(key, key_id: str, activity: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(activity).encode()
    headers = signatures.sign(key, key_id, "POST", "http://local.test/ap/inbox", body, time.time())
    headers.update({"Content-Type": "application/activity+json", "Host": "local.test"})
    return body, headers


async def _remote_users(client) -> int:
    return await client.app[CTX].db.read(  # type: ignore[no-any-return]
        lambda conn: conn.execute("SELECT count(*) AS n FROM users WHERE is_remote = 1").fetchone()["n"])


async def test_instance_actor_document_is_served_to_anyone(client):
    resp = await client.get("/ap/actor")
    assert resp.status == 200 and resp.content_type == "application/activity+json"
    doc = await resp.json()
    assert doc["id"] == ACTOR and doc["type"] == "Application" and doc["preferredUsername"] == "local.test"
    assert doc["inbox"] == "http://local.test/ap/inbox" and doc["endpoints"]["sharedInbox"] == doc["inbox"]
    assert doc["publicKey"]["id"] == ACTOR + "#main-key" and doc["publicKey"]["owner"] == ACTOR
    assert "BEGIN PUBLIC KEY" in doc["publicKey"]["publicKeyPem"]
    again = await (await client.get("/ap/actor")).json()
    assert again["publicKey"] == doc["publicKey"]  # made once, then stored
    outbox = await (await client.get(doc["outbox"].removeprefix("http://local.test"))).json()
    assert outbox["totalItems"] == 0 and outbox["orderedItems"] == []


async def test_webfinger_finds_the_instance_actor(client):
    for resource in ("acct:local.test@local.test", ACTOR):
        resp = await client.get("/.well-known/webfinger", params={"resource": resource})
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        assert answer["subject"] == "acct:local.test@local.test"
        assert {"rel": "self", "type": "application/activity+json", "href": ACTOR} in answer["links"]
    resp = await client.get("/.well-known/webfinger", params={"resource": "acct:other.test@other.test"})
    assert resp.status == 404


async def test_the_instance_actor_is_no_user(client, alice):
    before = await (await client.get("/nodeinfo/2.1")).json()
    await client.get("/ap/actor")
    after = await (await client.get("/nodeinfo/2.1")).json()
    assert after["usage"] == before["usage"]
    found = await (await client.get("/api/v1/users/search", headers=alice.headers,
                                    params={"query": "local"})).json()
    assert found == []


async def test_resolving_on_an_authorized_fetch_server_signs_the_get(client, alice, remote):
    async with client.session.get(remote.url + "/bob") as unsigned:  # the stand-in refuses unsigned GETs
        assert unsigned.status == 401
    resp = await client.post("/api/v1/federation/resolve", headers=alice.headers, json={"handle": remote.url + "/bob"})
    assert resp.status == 200, (await resp.text(), remote.refused)
    bob = await resp.json()
    assert bob["is_remote"] is True and bob["actor_url"] == remote.url + "/bob"
    headers = remote.verified[-1]
    assert 'keyId="http://local.test/ap/actor#main-key"' in headers["Signature"]
    assert 'headers="(request-target) host date"' in headers["Signature"]
    assert "Digest" not in headers and headers["Accept"].startswith("application/activity+json")
    assert json.loads(headers["signer"])["type"] == "Application"


async def test_a_key_fetch_for_an_incoming_activity_is_signed(client, alice, remote, remote_key):
    key, _ = remote_key
    actor = remote.url + "/bob"
    body, headers = _signed_post(key, actor + "#key", {
        "id": remote.url + "/activities/1", "type": "Create", "actor": actor,
        "object": {"id": remote.url + "/notes/1", "type": "Note", "attributedTo": actor,
                   "to": [f"http://local.test/ap/users/{alice.id}"], "content": "<p>hello</p>"}})
    resp = await client.post("/ap/inbox", data=body, headers=headers)
    assert resp.status == 202, (await resp.text(), remote.refused)
    assert len(remote.verified) == 1  # the actor (and its key) was fetched with a signed GET
    chats = await (await client.get("/api/v1/chats", headers=alice.headers)).json()
    texts = [m["text"] for c in chats
             for m in await (await client.get(f"/api/v1/messages/{c['id']}", headers=alice.headers)).json()]
    assert texts == ["hello"]


async def test_a_follow_of_the_instance_actor_is_accepted_and_ignored(client, alice, remote, remote_key):
    key, _ = remote_key
    actor = remote.url + "/bob"
    for n, target in enumerate((ACTOR, "http://local.test/ap/users/999999")):
        body, headers = _signed_post(key, actor + "#key", {"id": f"{remote.url}/follows/{n}", "type": "Follow",
                                                           "actor": actor, "object": target})
        resp = await client.post("/ap/inbox", data=body, headers=headers)
        assert resp.status == (202 if target == ACTOR else 404), await resp.text()
    queued = await client.app[CTX].db.read(
        lambda conn: conn.execute("SELECT count(*) AS n FROM federation_queue").fetchone()["n"])
    assert queued == 0  # no Accept or Reject is sent for it


async def test_a_remote_instance_actor_is_verified_but_becomes_no_user(client, alice, remote, remote_key):
    key, _ = remote_key
    other, _ = signatures.new_key_pair()
    actor = remote.url + "/actor"
    follow = {"id": remote.url + "/activities/f1", "type": "Follow", "actor": actor,
              "object": f"http://local.test/ap/users/{alice.id}"}
    body, headers = _signed_post(other, actor + "#key", follow)
    assert (await client.post("/ap/inbox", data=body, headers=headers)).status == 401
    body, headers = _signed_post(key, actor + "#key", follow)
    resp = await client.post("/ap/inbox", data=body, headers=headers)
    assert resp.status == 202, (await resp.text(), remote.refused)
    assert await _remote_users(client) == 0
    resp = await client.post("/api/v1/federation/resolve", headers=alice.headers, json={"handle": actor})
    assert resp.status == 404 and "not a user" in (await resp.json())["detail"]
    assert await _remote_users(client) == 0
    followers = await (await client.get("/api/v1/federation/followers", headers=alice.headers)).json()
    assert followers == []
