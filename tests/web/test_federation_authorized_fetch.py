"""Authorized fetch (federation_authorized_fetch): a user's actor document and collections are
served only to GETs signed by a remote actor whose server the domain list allows; the instance
actor, WebFinger and NodeInfo stay open (other servers need them to verify us), and with the
setting off anyone may read them."""
from __future__ import annotations

from typing import Any

import pytest
from admin_helpers import owner
from aiohttp import web
from test_federation_profiles import SETTINGS, keys, remote  # noqa: F401 (fixtures)

from pufferd.federation import signatures
from pufferd.web.keys import CTX

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
BASE = SETTINGS


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {**BASE, "federation_authorized_fetch": True}


def _paths(user_id: int) -> list[str]:
    return [f"/ap/users/{user_id}", f"/ap/users/{user_id}/outbox", f"/ap/users/{user_id}/followers",
            f"/ap/users/{user_id}/following"]


async def signed_get(client, path: str, key: Any, key_id: str):
    clock = client.app[CTX].clock
    headers = signatures.sign(key, key_id, "GET", "http://local.test" + path, None, clock.time())
    headers.pop("Host")
    return await client.get(path, headers={**headers, "Host": "local.test", "Accept": "application/activity+json"})


async def test_unsigned_gets_of_a_users_documents_are_refused(client, alice):
    for path in _paths(alice.id):
        resp = await client.get(path)
        assert resp.status == 401, path
        assert resp.headers["WWW-Authenticate"] == 'Signature realm="pufferd"'
        assert (await resp.json())["detail"].startswith("Signature refused: ")
    # what other servers need to verify this one stays open
    assert (await client.get("/ap/actor")).status == 200
    assert (await client.get("/.well-known/webfinger", params={"resource": f"acct:{alice.username}@local.test"})
            ).status == 200
    assert (await client.get("/nodeinfo/2.1")).status == 200


async def test_a_get_signed_by_a_remote_actor_is_answered(client, alice, remote, keys):  # noqa: F811
    key, _ = keys["actor"]
    for path in _paths(alice.id):
        resp = await signed_get(client, path, key, f"{remote.url}/actor#key")
        assert resp.status == 200, (path, await resp.text())
    doc = await (await signed_get(client, f"/ap/users/{alice.id}", key, f"{remote.url}/actor#key")).json()
    assert doc["id"] == f"http://local.test/ap/users/{alice.id}"


async def test_bad_signatures_are_refused(client, alice, remote, keys):  # noqa: F811
    path = f"/ap/users/{alice.id}"
    wrong_key, _ = keys["actor2"]
    resp = await signed_get(client, path, wrong_key, f"{remote.url}/actor#key")  # not actor's key
    assert resp.status == 401, await resp.text()
    key, _ = keys["actor"]
    resp = await signed_get(client, path, key, f"{remote.url}/actor")  # a key id naming no key
    assert resp.status == 401 and "owner" in (await resp.json())["detail"]
    resp = await signed_get(client, path, key, f"{remote.url}/nobody#key")  # no such actor there
    assert resp.status == 401, await resp.text()
    # a Date 10 minutes old
    stale = signatures.sign(key, f"{remote.url}/actor#key", "GET", "http://local.test" + path, None,
                            client.app[CTX].clock.time() - 600)
    stale.pop("Host")
    resp = await client.get(path, headers={**stale, "Host": "local.test"})
    assert resp.status == 401 and "Date" in (await resp.json())["detail"]


async def test_a_blocked_domain_gets_403(client, app, alice, remote, keys):  # noqa: F811
    resp = await client.post("/api/v1/federation/domains", headers=owner(app).headers, json={"domain": "127.0.0.1"})
    assert resp.status == 200, await resp.text()
    key, _ = keys["actor"]
    resp = await signed_get(client, f"/ap/users/{alice.id}", key, f"{remote.url}/actor#key")
    assert resp.status == 403, await resp.text()


@pytest.mark.parametrize("settings_overrides", [BASE])
async def test_with_the_setting_off_anyone_may_read_them(client, alice):
    for path in _paths(alice.id):
        assert (await client.get(path)).status == 200, path


async def test_a_key_id_naming_a_key_document_finds_its_owner(client, alice, aiohttp_server, keys):  # noqa: F811
    """GoToSocial signs with `.../users/x/main-key`, no fragment; that URL serves the key and its owner."""
    key, pem = keys["actor3"]
    app = web.Application()
    base = ""

    async def actor(request: web.Request) -> web.Response:
        url = f"{base}/users/gts"
        return web.json_response({"id": url, "type": "Person", "preferredUsername": "gts", "inbox": url + "/inbox",
                                  "publicKey": {"id": url + "/main-key", "owner": url, "publicKeyPem": pem}},
                                 content_type="application/activity+json")

    async def main_key(request: web.Request) -> web.Response:
        url = f"{base}/users/gts"
        return web.json_response({"id": url + "/main-key", "owner": url, "publicKeyPem": pem},
                                 content_type="application/activity+json")

    app.router.add_get("/users/gts", actor)
    app.router.add_get("/users/gts/main-key", main_key)
    server = await aiohttp_server(app)
    base = f"http://127.0.0.1:{server.port}"
    resp = await signed_get(client, f"/ap/users/{alice.id}", key, f"{base}/users/gts/main-key")
    assert resp.status == 200, await resp.text()
    # the same key id signed with another key: refused
    other, _ = keys["actor"]
    resp = await signed_get(client, f"/ap/users/{alice.id}", other, f"{base}/users/gts/main-key")
    assert resp.status == 401, await resp.text()
