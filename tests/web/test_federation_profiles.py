"""Profiles across servers: an incoming Update{Person} refreshes the shadow user (name, avatar,
bio, key) when the actor announces its own document, and is refused for anyone else's; a local
profile change goes to the remote actors that know the user as one Update{Person}, posted once
per host to its shared inbox."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from federation_helpers import LOOPBACK_FEDERATION
from media_helpers import local, png, upload

from pufferd.clock import FakeClock
from pufferd.federation import signatures
from pufferd.web.keys import CTX

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
NAMES = ("actor", "actor2", "actor3")


SETTINGS = {**LOOPBACK_FEDERATION, "federation_queue_interval_seconds": 3600.0}


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return dict(SETTINGS)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=time.time())



@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    """One key pair per remote actor, and a spare for a rotation."""
    return {name: signatures.new_key_pair() for name in (*NAMES, "rotated")}


class Remote:
    """Another server: actors with their own keys, a shared inbox; what it was asked and sent."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys
        self.url = ""
        self.served = dict.fromkeys(NAMES, "")  # name -> the PEM its actor document shows
        self.changes: dict[str, dict[str, Any]] = {}  # name -> fields its served document changes
        self.fetches: list[str] = []
        self.posts: list[tuple[str, dict[str, Any]]] = []  # (path, activity)
        self.icons: dict[str, tuple[bytes, str]] = {}  # name -> (bytes, Content-Type) at /icons/<name>
        self.icon_gets: list[str] = []

    def doc(self, actor: str, **change: Any) -> dict[str, Any]:
        """ACTOR's document as served, with CHANGE."""
        url = f"{self.url}/{actor}"
        return {"id": url, "type": "Person", "preferredUsername": actor, "name": actor.title(),
                "inbox": url + "/inbox", "endpoints": {"sharedInbox": self.url + "/inbox"},
                "publicKey": {"id": url + "#key", "owner": url, "publicKeyPem": self.served[actor]}, **change}

    async def actor(self, request: web.Request) -> web.Response:
        name = request.path[1:]
        self.fetches.append(name)
        return web.json_response(self.doc(name, **self.changes.get(name, {})), content_type="application/activity+json")

    async def icon(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.icon_gets.append(name)
        if name not in self.icons:
            raise web.HTTPNotFound()
        body, content_type = self.icons[name]
        return web.Response(body=body, content_type=content_type)

    def icon_url(self, name: str) -> str:
        return f"{self.url}/icons/{name}"

    async def inbox(self, request: web.Request) -> web.Response:
        self.posts.append((request.path, json.loads(await request.read())))
        return web.Response(status=202)


@pytest.fixture
async def remote(aiohttp_server, keys) -> Remote:
    r = Remote(keys)
    r.served = {name: keys[name][1] for name in NAMES}
    app = web.Application()
    for name in NAMES:
        app.router.add_get("/" + name, r.actor)
        app.router.add_post(f"/{name}/inbox", r.inbox)
    app.router.add_post("/inbox", r.inbox)
    app.router.add_get("/icons/{name}", r.icon)
    server = await aiohttp_server(app)
    r.url = f"http://127.0.0.1:{server.port}"
    return r


async def post(client, remote: Remote, activity: dict[str, Any], *, name: str = "actor",
               key_name: str | None = None, expect: int = 202) -> None:
    """ACTIVITY from the actor NAME, signed with KEY_NAME's key (NAME's own by default)."""
    actor = f"{remote.url}/{name}"
    body = json.dumps({"actor": actor, **activity}).encode()
    clock = client.app[CTX].clock
    clock.advance(1)  # a new Date: no two requests carry the same signature
    key, _ = remote.keys[key_name or name]
    headers = signatures.sign(key, actor + "#key", "POST", "http://local.test/ap/inbox", body, clock.time())
    headers.pop("Host")
    resp = await client.post("/ap/inbox", data=body, headers={
        **headers, "Host": "local.test", "Content-Type": "application/activity+json"})
    assert resp.status == expect, await resp.text()


async def resolve(client, user, remote: Remote, name: str) -> int:
    resp = await client.post("/api/v1/federation/resolve", headers=user.headers,
                             json={"handle": f"{remote.url}/{name}"})
    assert resp.status == 200, await resp.text()
    return int((await resp.json())["id"])


async def profile(client, viewer, user_id: int) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/users/{user_id}", headers=viewer.headers)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


_n = iter(range(1, 1000))


def update(doc: dict[str, Any], remote: Remote) -> dict[str, Any]:
    return {"id": f"{remote.url}/activities/u{next(_n)}", "type": "Update", "object": doc}


# incoming --------------------------------------------------------------------------------------

async def test_an_icon_naming_a_file_of_this_server_does_not_make_that_file_an_avatar(client, alice, bob, remote):
    """A remote actor's icon URL is only text here. One naming this server's bucket (the key of a
    file it was sent, say) must not make that file its shadow user's avatar: the file would be
    downloadable by everyone who sees that avatar, and its uploader could not delete it."""
    t = await upload(client, alice, png(3000))
    path = urlsplit(t["file_url"]).path  # /media/bucket/uploads/<name>
    remote_id = await resolve(client, alice, remote, "actor")
    icon = f"https://elsewhere.example{path}"
    await post(client, remote, update(remote.doc("actor", icon={"type": "Image", "url": icon}), remote))
    assert (await profile(client, bob, remote_id))["avatar_url"] is None  # nothing could be fetched there

    resp = await client.post("/api/v1/media/download-url", json={"file_url": t["file_url"]}, headers=bob.headers)
    assert resp.status == 404, await resp.text()
    name = path.rsplit("/", 1)[1]
    resp = await client.delete(f"/api/v1/cdn/files/{name}", headers=alice.headers)
    assert resp.status in (200, 204), await resp.text()



async def test_an_update_of_the_actor_refreshes_its_shadow_user_and_key(client, alice, remote, keys):
    bob = await resolve(client, alice, remote, "actor")
    before = await profile(client, alice, bob)
    assert (before["name"], before["bio"], before["avatar_url"]) == ("Actor", None, None)

    rotated = keys["rotated"][1]
    doc = remote.doc("actor", name="Bobby <b>B</b>", summary="<p>likes <i>fish</i></p>",
                     icon={"type": "Image", "url": remote.icon_url("bob.png")},
                     publicKey={"id": f"{remote.url}/actor#key", "owner": f"{remote.url}/actor",
                                "publicKeyPem": rotated})
    remote.icons["bob.png"] = (png(3000), "image/png")
    await post(client, remote, update(doc, remote))  # signed with the key it replaces
    after = await profile(client, alice, bob)
    assert (after["name"], after["bio"]) == ("Bobby B", "likes fish")
    assert after["avatar_url"].startswith("http://local.test/media/bucket/uploads/")  # this server's copy
    assert after["username"] == before["username"]

    # the new key is the one that verifies now, without fetching the actor again
    fetched = len(remote.fetches)
    remote.served["actor"] = rotated
    note = {"id": f"{remote.url}/notes/1", "type": "Note", "attributedTo": f"{remote.url}/actor",
            "to": [f"http://local.test/ap/users/{alice.id}"], "content": "<p>new key</p>"}
    await post(client, remote, {"id": f"{remote.url}/activities/c1", "type": "Create", "object": note},
               key_name="rotated")
    assert len(remote.fetches) == fetched


async def test_an_update_of_another_actor_is_refused(client, alice, remote):
    bob, other = await resolve(client, alice, remote, "actor"), await resolve(client, alice, remote, "actor2")
    # bob announcing actor2's document, on their common host
    await post(client, remote, update(remote.doc("actor2", name="Hijacked"), remote), expect=403)
    # bob's document, sent by actor2
    await post(client, remote, update(remote.doc("actor", name="Hijacked"), remote), name="actor2", expect=403)
    # a document of another host carrying bob's name
    elsewhere = {**remote.doc("actor", name="Hijacked"), "id": "http://elsewhere.example/actor"}
    await post(client, remote, update(elsewhere, remote), expect=403)
    # bob's own document whose inbox or key is on another host
    await post(client, remote, update(remote.doc("actor", name="Hijacked", inbox="http://elsewhere.example/inbox"),
                                      remote), expect=400)
    away = {"id": "http://elsewhere.example/key", "owner": f"{remote.url}/actor", "publicKeyPem": "x"}
    await post(client, remote, update(remote.doc("actor", name="Hijacked", publicKey=away), remote), expect=400)
    # signed with a key that is not bob's
    await post(client, remote, update(remote.doc("actor", name="Hijacked"), remote), key_name="actor2", expect=401)
    assert (await profile(client, alice, bob))["name"] == "Actor"
    assert (await profile(client, alice, other))["name"] == "Actor2"


async def test_a_new_preferred_username_renames_the_handle_here(client, alice, remote):
    bob = await resolve(client, alice, remote, "actor")
    host = remote.url.removeprefix("http://")
    assert (await profile(client, alice, bob))["username"] == f"actor@{host}"
    await post(client, remote, update(remote.doc("actor", preferredUsername="bobby"), remote))
    assert (await profile(client, alice, bob))["username"] == f"bobby@{host}"
    found = await client.get("/api/v1/users/search", headers=alice.headers, params={"query": "bobby"})
    assert found.status == 200, await found.text()
    assert [u["id"] for u in await found.json()] == [bob]


async def test_a_handle_taken_by_another_actor_of_the_host_moves_to_it(client, alice, remote):
    """An account made again under a new actor URL (or another actor renamed to a name that was in
    use) gets the handle; the actor that held it keeps its chats under a suffixed handle."""
    old = await resolve(client, alice, remote, "actor")
    host = remote.url.removeprefix("http://")
    remote.changes["actor2"] = {"preferredUsername": "actor"}
    new = await resolve(client, alice, remote, "actor2")
    assert new != old
    assert (await profile(client, alice, new))["username"] == f"actor@{host}"
    assert (await profile(client, alice, old))["username"] == f"actor@{host}~{old}"
    # the old actor's own document, fetched again, claims the handle back
    await post(client, remote, update(remote.doc("actor"), remote))
    assert (await profile(client, alice, old))["username"] == f"actor@{host}"
    assert (await profile(client, alice, new))["username"] == f"actor@{host}~{new}"


# outgoing --------------------------------------------------------------------------------------

async def delivered(client) -> None:
    """Wait for the worker (woken by the change) to have delivered every queued row."""
    for _ in range(200):
        states = await client.app[CTX].db.read(
            lambda c: [r["state"] for r in c.execute("SELECT state FROM federation_queue")])
        if all(s == "delivered" for s in states):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"deliveries not done: {states}")


async def queued_updates(client) -> list[dict[str, Any]]:
    rows = await client.app[CTX].db.read(lambda c: c.execute(
        "SELECT inbox, activity FROM federation_queue WHERE activity ->> '$.type' = 'Update' ORDER BY id").fetchall())
    return [{"inbox": r["inbox"], **json.loads(r["activity"])} for r in rows]


async def test_a_profile_change_goes_once_per_shared_inbox_to_those_who_know_the_user(
        client, alice, bob, remote):
    me = f"http://local.test/ap/users/{alice.id}"
    resp = await client.get(f"/ap/users/{alice.id}", headers={"Accept": "application/activity+json"})
    assert resp.status == 200  # a remote server read alice's actor document (her key exists)
    # actor follows alice; alice talks with actor2 in a private chat; actor3 too, but she blocked them
    await post(client, remote, {"id": f"{remote.url}/follows/1", "type": "Follow", "object": me})
    for name in ("actor2", "actor3"):
        uid = await resolve(client, alice, remote, name)
        resp = await client.post("/api/v1/chats", json={"type": "private", "member_ids": [uid]},
                                 headers=alice.headers)
        assert resp.status in (200, 201), await resp.text()
    assert (await client.post(f"/api/v1/users/{uid}/block", headers=alice.headers)).status in (200, 204)
    # a local user with no remote contacts sends nothing
    assert (await client.put("/api/v1/users/profile", headers=bob.headers, json={"name": "Bob B"})).status == 200
    await delivered(client)
    sent = len(remote.posts)

    resp = await client.put("/api/v1/users/profile", headers=alice.headers,
                            json={"name": "Alice A", "bio": "hello"})
    assert resp.status == 200, await resp.text()
    rows = await queued_updates(client)
    assert sorted(r["inbox"] for r in rows) == [f"{remote.url}/actor/inbox", f"{remote.url}/actor2/inbox"]
    activity = {k: v for k, v in rows[0].items() if k != "inbox"}
    assert all({k: v for k, v in r.items() if k != "inbox"} == activity for r in rows)  # one activity
    assert activity["type"] == "Update" and activity["actor"] == me and activity["to"] == [me + "/followers"]
    person = activity["object"]
    assert (person["id"], person["type"], person["name"], person["summary"]) == (me, "Person", "Alice A", "hello")
    assert person == await (await client.get(f"/ap/users/{alice.id}",
                                             headers={"Accept": "application/activity+json"})).json()
    await delivered(client)
    assert remote.posts[sent:] == [("/inbox", activity)]  # once, to the shared inbox

    # a change the actor document does not show sends nothing
    resp = await client.put("/api/v1/users/profile", headers=alice.headers, json={"federation_findable": False})
    assert resp.status == 200, await resp.text()
    assert len(await queued_updates(client)) == 2


# remote avatars ----------------------------------------------------------------------------------

async def download(client, viewer, file_url: str) -> tuple[int, bytes]:
    resp = await client.post("/api/v1/media/download-url", json={"file_url": file_url}, headers=viewer.headers)
    if resp.status != 200:
        return resp.status, b""
    got = await client.get(local(str((await resp.json())["download_url"])))
    return got.status, await got.read()


async def objects_of(client, user_id: int) -> list[str]:
    return await client.server.app[CTX].db.read(lambda conn: [r["object_key"] for r in conn.execute(
        "SELECT object_key FROM media_objects WHERE uploader_id = ?", (user_id,))])


async def test_a_remote_icon_becomes_an_avatar_copied_here_and_follows_the_actor(client, alice, bob, remote):
    first, second = png(3000), png(5000)
    remote.icons = {"a.png": (first, "image/png"), "b.png": (second, "image/png"),
                    "page.png": (b"<!doctype html><p>not an image</p>" * 20, "image/png")}
    remote.changes["actor"] = {"icon": {"type": "Image", "url": remote.icon_url("a.png")}}
    them = await resolve(client, alice, remote, "actor")
    avatar = (await profile(client, bob, them))["avatar_url"]
    assert avatar.startswith("http://local.test/media/bucket/uploads/")
    assert await download(client, bob, avatar) == (200, first)  # whoever sees them sees it, from here
    [key] = await objects_of(client, them)  # a file of the remote user's own
    assert avatar.endswith(key)

    # the same icon again (an Update of the name): not fetched again, the same copy
    gets = len(remote.icon_gets)
    await post(client, remote, update(remote.doc("actor", name="Renamed", icon={"type": "Image",
                                                                                "url": remote.icon_url("a.png")}), remote))
    assert (await profile(client, bob, them))["avatar_url"] == avatar and len(remote.icon_gets) == gets

    # a new icon: a new copy, and the old one is gone
    await post(client, remote, update(remote.doc("actor", icon={"type": "Image", "url": remote.icon_url("b.png")}), remote))
    newer = (await profile(client, bob, them))["avatar_url"]
    assert newer != avatar and await download(client, bob, newer) == (200, second)
    assert await objects_of(client, them) == [newer.rsplit("/", 2)[-2] + "/" + newer.rsplit("/", 1)[1]]

    # an icon whose bytes are no image, or one that is not there: no avatar, nothing kept
    for name in ("page.png", "missing.png"):
        await post(client, remote, update(remote.doc("actor", icon={"type": "Image", "url": remote.icon_url(name)}),
                                          remote))
        assert (await profile(client, bob, them))["avatar_url"] is None, name
        assert await objects_of(client, them) == []

    # a failed icon is tried again when the document comes again, and then works
    remote.icons["missing.png"] = (first, "image/png")
    await post(client, remote, update(remote.doc("actor", icon={"type": "Image", "url": remote.icon_url("missing.png")}),
                                      remote))
    again = (await profile(client, bob, them))["avatar_url"]
    assert again is not None and await download(client, bob, again) == (200, first)

    # no icon: no avatar
    await post(client, remote, update(remote.doc("actor"), remote))
    assert (await profile(client, bob, them))["avatar_url"] is None
    assert await objects_of(client, them) == []


@pytest.mark.parametrize("settings_overrides", [{**SETTINGS, "federation_avatar_max_bytes": 4000}])
async def test_a_remote_icon_larger_than_federation_avatar_max_bytes_is_not_kept(client, alice, remote):
    remote.icons["big.png"] = (png(8000), "image/png")
    remote.changes["actor"] = {"icon": {"type": "Image", "url": remote.icon_url("big.png")}}
    them = await resolve(client, alice, remote, "actor")
    assert (await profile(client, alice, them))["avatar_url"] is None
    assert await objects_of(client, them) == [] and remote.icon_gets == ["big.png"]


@pytest.mark.parametrize("settings_overrides", [{**SETTINGS, "federation_avatar_max_bytes": 0}])
async def test_no_remote_icon_is_fetched_with_federation_avatar_max_bytes_0(client, alice, remote):
    remote.icons["a.png"] = (png(2000), "image/png")
    remote.changes["actor"] = {"icon": {"type": "Image", "url": remote.icon_url("a.png")}}
    them = await resolve(client, alice, remote, "actor")
    assert (await profile(client, alice, them))["avatar_url"] is None and remote.icon_gets == []


# the avatar other servers fetch ------------------------------------------------------------------

async def actor_icon(client, user) -> str | None:
    resp = await client.get(f"/ap/users/{user.id}")
    assert resp.status == 200, await resp.text()
    icon = (await resp.json()).get("icon")
    return None if icon is None else str(icon["url"])


async def test_the_actor_icon_is_the_avatar_served_without_a_signature_while_anyone_may_see_it(client, alice, bob):
    first, second = png(2500), png(3500)
    for who, data in ((alice, first), (bob, second)):
        t = await upload(client, who, data)
        resp = await client.put("/api/v1/users/profile", headers=who.headers, json={"avatar_url": t["file_url"]})
        assert resp.status == 200, await resp.text()
    icon = await actor_icon(client, alice)
    assert icon is not None and icon.startswith(f"http://local.test/ap/users/{alice.id}/avatar/")
    path = urlsplit(icon).path
    got = await client.get(path)  # no token, no signed query: what another server can do
    assert got.status == 200 and await got.read() == first
    assert got.headers["Content-Type"] == "image/png" and "public" in got.headers["Cache-Control"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert (await client.get(path, headers={"If-None-Match": got.headers["ETag"]})).status == 304

    # another name, another user's avatar under alice's id, a user who is not there: 404
    bobs = urlsplit(await actor_icon(client, bob) or "").path.rsplit("/", 1)[1]
    for wrong in (path[:-5] + "x.png", f"/ap/users/{alice.id}/avatar/{bobs}", f"/ap/users/999999/avatar/{bobs}"):
        resp = await client.get(wrong)
        assert resp.status == 404, wrong
        assert (await resp.json())["detail"] in ("Avatar not found", "User not found")

    # a new avatar: a new URL, the old one is gone
    t = await upload(client, alice, png(4500))
    await client.put("/api/v1/users/profile", headers=alice.headers, json={"avatar_url": t["file_url"]})
    newer = await actor_icon(client, alice)
    assert newer is not None and newer != icon
    assert (await client.get(path)).status == 404
    assert (await client.get(urlsplit(newer).path)).status == 200

    # an avatar not everyone may see is neither named nor served
    resp = await client.put("/api/v1/users/profile", headers=alice.headers, json={"privacy_avatar": "contacts"})
    assert resp.status == 200, await resp.text()
    assert await actor_icon(client, alice) is None
    assert (await client.get(urlsplit(newer).path)).status == 404


@pytest.mark.parametrize("settings_overrides", [{"federation_enabled": False}])
async def test_no_avatar_is_served_while_federation_is_off(client, alice):
    t = await upload(client, alice, png(2500))
    await client.put("/api/v1/users/profile", headers=alice.headers, json={"avatar_url": t["file_url"]})
    name = t["file_url"].rsplit("/", 1)[1]
    assert (await client.get(f"/ap/users/{alice.id}/avatar/{name}")).status == 404
