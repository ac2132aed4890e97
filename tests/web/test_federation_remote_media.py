"""The files of an incoming Note become attachments here: fetched from the remote server (a GET
signed by the instance actor), stored in the blob store as files of the sender's shadow user, and
downloaded through our own file URLs; a file that cannot be fetched (too large by Content-Length
or while streaming, a refused address, a 404, too slow, not an allowed type) stays a link in the
text, and leaves no row or blob behind."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp import web
from federation_helpers import LOOPBACK_FEDERATION

from pufferd import media
from pufferd.federation import actors, signatures
from pufferd.federation.content import RemoteAttachment
from pufferd.federation.http import Fetcher
from pufferd.federation.remote_media import file_name
from pufferd.web.keys import CTX

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CAP = 10_000
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20  # 5128 bytes
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {**LOOPBACK_FEDERATION, "federation_media_max_bytes": CAP,
            "federation_media_fetch_seconds": 2.0}


@pytest.fixture(scope="module")
def remote_key():
    return signatures.new_key_pair()


class Remote:
    """A stand-in for another server: its actor, and files, each GET of which it records."""

    def __init__(self) -> None:
        self.url = ""
        self.hits: dict[str, list[dict[str, str]]] = {}
        self.n = 0

    def file(self, name: str, other: str | None = None) -> str:
        return f"{other or self.url}/files/{name}"


def _app(remote: Remote, pem: str) -> web.Application:
    app = web.Application()

    async def actor(request: web.Request) -> web.Response:
        url = remote.url + "/actor"
        return web.json_response({"id": url, "type": "Person", "preferredUsername": "bob", "name": "Bob",
                                  "inbox": url + "/inbox",
                                  "publicKey": {"id": url + "#key", "owner": url, "publicKeyPem": pem}},
                                 content_type="application/activity+json")

    async def files(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        remote.hits.setdefault(name, []).append(dict(request.headers))
        if name == "cat.png":
            return web.Response(body=PNG, content_type="image/png")
        if name == "photo.jpg":  # a JPEG that claims to be a PNG in the Note
            return web.Response(body=JPEG, content_type="image/png")
        if name == "big.png":  # announced too large: refused before a byte is read
            return web.Response(body=b"\x89PNG\r\n\x1a\n" + bytes(CAP), content_type="image/png")
        if name == "endless.png":  # no Content-Length: too large only while streaming
            resp = web.StreamResponse(headers={"Content-Type": "image/png"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            await resp.write(b"\x89PNG\r\n\x1a\n")
            for _ in range(CAP // 1000 + 5):
                await resp.write(bytes(1000))
            await resp.write_eof()
            return resp
        if name == "slow.png":  # slower than federation_media_fetch_seconds
            resp = web.StreamResponse(headers={"Content-Type": "image/png"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            await resp.write(b"\x89PNG\r\n\x1a\n")
            await asyncio.sleep(4)
            await resp.write_eof()
            return resp
        if name == "page.png":  # HTML served as an image: no allowed type
            return web.Response(body=b"\x00<html>" + bytes(600), content_type="image/png")
        raise web.HTTPNotFound()
    app.router.add_get("/actor", actor)
    app.router.add_get("/files/{name}", files)
    return app


@pytest.fixture
async def remote(aiohttp_server, remote_key) -> Remote:
    _, pem = remote_key
    r = Remote()
    server = await aiohttp_server(_app(r, pem))
    r.url = f"http://127.0.0.1:{server.port}"
    return r


def _note(remote: Remote, to: list[int], files: list[tuple[str, str, str]], *, text: str = "",
          kind: str = "Create", n: int | None = None, updated: str | None = None) -> bytes:
    """An activity of the remote actor carrying a Note with FILES: (url, mediaType, name)."""
    if n is None:
        remote.n += 1
        n = remote.n
    actor = remote.url + "/actor"
    note: dict[str, Any] = {
        "id": f"{remote.url}/notes/{n}", "type": "Note", "attributedTo": actor,
        "to": [f"http://local.test/ap/users/{u}" for u in to], "content": f"<p>{text}</p>",
        "attachment": [{"type": "Document", "url": url, "mediaType": mt, "name": name} for url, mt, name in files]}
    if updated is not None:
        note["updated"] = updated
    return json.dumps({"id": f"{remote.url}/activities/{kind}/{n}/{time.monotonic_ns()}", "type": kind,
                       "actor": actor, "object": note}).encode()


async def _deliver(client, key, remote: Remote, body: bytes, expect: int = 202) -> None:
    headers = signatures.sign(key, remote.url + "/actor#key", "POST", "http://local.test/ap/inbox", body, time.time())
    headers["Content-Type"] = "application/activity+json"
    headers["Host"] = "local.test"
    resp = await client.post("/ap/inbox", data=body, headers=headers)
    assert resp.status == expect, await resp.text()


async def _only_message(client, user) -> dict:
    chats = await (await client.get("/api/v1/chats", headers=user.headers)).json()
    assert len(chats) == 1, chats
    msgs = await (await client.get(f"/api/v1/messages/{chats[0]['id']}", headers=user.headers)).json()
    assert len(msgs) == 1, msgs
    return msgs[0]  # type: ignore[no-any-return]


async def _attachments(client, user, chat_id: int) -> list[dict]:
    resp = await client.get(f"/api/v1/media/chats/{chat_id}/attachments", headers=user.headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def _stored(client) -> tuple[int, int, int, list[str]]:
    """(objects, attachments, blob rows, blob files) held here."""
    ctx = client.app[CTX]

    def count(conn) -> tuple[int, int, int]:
        return tuple(conn.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"]
                     for t in ("media_objects", "attachments", "media_blobs"))
    objects, attachments, blobs = await ctx.db.read(count)
    return objects, attachments, blobs, await ctx.blobs.digests()


async def _download(client, user, file_url: str) -> tuple[int, bytes, str]:
    path = file_url.removeprefix("http://local.test")
    resp = await client.get(path, headers=user.headers)
    return resp.status, await resp.read(), resp.headers.get("Content-Type", "")


async def test_a_notes_files_become_attachments_and_downloads(client, alice, remote, remote_key):
    key, _ = remote_key
    await _deliver(client, key, remote, _note(remote, [alice.id], [
        (remote.file("cat.png"), "image/png", "cat.png"),
        (remote.file("photo.jpg"), "image/png", "A description of a photo, not a file name")], text="look"))
    msg = await _only_message(client, alice)
    assert msg["type"] == "image" and msg["text"] == "look", msg
    files = await _attachments(client, alice, msg["chat_id"])
    assert sorted((f["message_id"], f["file_type"], f["file_size"]) for f in files) == sorted([
        (msg["id"], "image/png", len(PNG)), (msg["id"], "image/jpeg", len(JPEG))])
    by_type = {f["file_type"]: f for f in files}
    assert await _download(client, alice, by_type["image/png"]["file_url"]) == (200, PNG, "image/png")
    # the type served is what the bytes are (a JPEG), never what the Note claimed (image/png)
    assert await _download(client, alice, by_type["image/jpeg"]["file_url"]) == (200, JPEG, "image/jpeg")
    signed = await client.post("/api/v1/media/download-url", headers=alice.headers,
                               json={"file_url": by_type["image/png"]["file_url"]})
    url = (await signed.json())["download_url"]
    resp = await client.get(url.removeprefix("http://local.test"))
    assert resp.status == 200 and await resp.read() == PNG
    # fetched with a GET signed by our instance actor
    signature = remote.hits["cat.png"][0]["Signature"]
    assert 'keyId="http://local.test/ap/actor' in signature
    # files of the sender's shadow user: one object and blob each, nothing else
    objects, attachments, blobs, on_disk = await _stored(client)
    assert (objects, attachments, blobs, len(on_disk)) == (2, 2, 2, 2)
    ctx = client.app[CTX]
    owners = await ctx.db.read(lambda conn: {r["uploader_id"] for r in conn.execute(
        "SELECT uploader_id FROM media_objects")})
    assert owners == {msg["sender_id"]}

    # a delete for everyone by the sender releases the files; the janitor removes the blobs
    delete = json.dumps({"id": f"{remote.url}/activities/delete/1", "type": "Delete", "actor": remote.url + "/actor",
                         "object": {"id": f"{remote.url}/notes/{remote.n}", "type": "Tombstone"}}).encode()
    await _deliver(client, key, remote, delete)
    assert (await _download(client, alice, by_type["image/png"]["file_url"]))[0] == 404
    await media.collect_garbage(ctx)
    assert await _stored(client) == (0, 0, 0, [])


@pytest.mark.parametrize("case", ["big", "endless", "missing", "slow", "not_allowed_type", "private"])
async def test_a_file_that_cannot_be_fetched_stays_a_link(client, alice, remote, remote_key, aiohttp_server, case):
    key, pem = remote_key
    url = {"big": remote.file("big.png"), "endless": remote.file("endless.png"),
           "missing": remote.file("gone.png"), "slow": remote.file("slow.png"),
           "not_allowed_type": remote.file("page.png")}.get(case)
    if case == "private":
        # the file's server is at 127.0.0.2; the fetcher counts only 127.0.0.1 (the actor's
        # server) as public, as private addresses are refused on a real server
        other = Remote()
        server = await aiohttp_server(_app(other, pem), host="127.0.0.2")
        url = other.file("cat.png", f"http://127.0.0.2:{server.port}")
        settings = client.app[CTX].settings.model_copy(update={"federation_allow_private_addresses": False})
        actors.state(client.app[CTX]).http = Fetcher(settings, public=lambda address: address == "127.0.0.1")
    assert url is not None
    started = time.monotonic()
    await _deliver(client, key, remote, _note(remote, [alice.id], [
        (remote.file("cat.png"), "image/png", "cat.png"), (url, "image/png", "failed.png")], text="two files"))
    assert time.monotonic() - started < 3.5  # the fetch budget (2 s) bounds the answer, the slow file or not
    msg = await _only_message(client, alice)
    assert msg["type"] == "image" and msg["text"] == f"two files\n\nfailed.png ({url})", msg
    files = await _attachments(client, alice, msg["chat_id"])
    assert [(f["file_type"], f["file_size"]) for f in files] == [("image/png", len(PNG))]
    assert await _download(client, alice, files[0]["file_url"]) == (200, PNG, "image/png")
    objects, attachments, blobs, on_disk = await _stored(client)
    assert (objects, attachments, blobs, len(on_disk)) == (1, 1, 1, 1)
    if case == "private":
        assert other.hits == {}  # refused before any request


@pytest.mark.parametrize("limit", ["quota", "disk"])
async def test_the_senders_quota_and_the_free_disk_minimum_keep_files_out(client, alice, remote, remote_key, limit):
    """The files of a remote sender count against user_storage_quota_bytes like a local user's,
    and min_free_disk_bytes holds for them too: refused files stay links, nothing is stored."""
    key, _ = remote_key
    s = client.app[CTX].settings
    if limit == "quota":
        s.user_storage_quota_bytes = len(PNG) - 1  # a runtime setting: changed in place
    else:
        s.min_free_disk_bytes = 1 << 62
    await _deliver(client, key, remote, _note(remote, [alice.id], [(remote.file("cat.png"), "image/png", "cat.png")],
                                              text="over the limit"))
    msg = await _only_message(client, alice)
    assert msg["type"] == "text" and msg["text"] == f"over the limit\n\ncat.png ({remote.file('cat.png')})", msg
    assert await _stored(client) == (0, 0, 0, [])


async def test_nothing_fetchable_leaves_a_text_message_and_nothing_stored(client, alice, remote, remote_key):
    key, _ = remote_key
    await _deliver(client, key, remote, _note(remote, [alice.id], [(remote.file("gone.png"), "image/png", "")]))
    msg = await _only_message(client, alice)
    assert msg["type"] == "text" and msg["text"] == remote.file("gone.png")
    assert await _stored(client) == (0, 0, 0, [])


async def test_one_fetch_for_every_recipient_and_nothing_left_when_all_refuse(client, alice, bob, remote, remote_key):
    key, _ = remote_key
    await _deliver(client, key, remote, _note(remote, [alice.id, bob.id], [(remote.file("cat.png"), "image/png", "")]))
    assert len(remote.hits["cat.png"]) == 1
    for user in (alice, bob):
        msg = await _only_message(client, user)
        files = await _attachments(client, user, msg["chat_id"])
        assert [f["file_size"] for f in files] == [len(PNG)]
    objects, attachments, blobs, on_disk = await _stored(client)
    assert (objects, attachments, blobs, len(on_disk)) == (1, 2, 1, 1)

    # both block the sender: the Note is refused, and the file it fetched is not kept
    sender = (await _only_message(client, alice))["sender_id"]
    for user in (alice, bob):
        assert (await client.post(f"/api/v1/users/{sender}/block", headers=user.headers)).status in (200, 204)
    await _deliver(client, key, remote, _note(remote, [alice.id, bob.id], [(remote.file("cat.png"), "image/png", "")]),
                   expect=403)
    assert len(remote.hits["cat.png"]) == 2
    objects, attachments, blobs, on_disk = await _stored(client)
    assert (objects, attachments, blobs, len(on_disk)) == (1, 2, 1, 1)


async def test_an_update_brings_the_files_a_copy_lacks_and_keeps_those_it_has(client, alice, remote, remote_key):
    key, _ = remote_key
    await _deliver(client, key, remote, _note(remote, [alice.id], [], text="caption", n=50))
    msg = await _only_message(client, alice)
    assert msg["type"] == "text" and msg["text"] == "caption"
    # the files come with an Update (how a caption's file is sent: attached after the text)
    files = [(remote.file("cat.png"), "image/png", "cat.png"), (remote.file("gone.png"), "image/png", "gone.png")]
    await _deliver(client, key, remote, _note(remote, [alice.id], files, text="caption", kind="Update", n=50,
                                              updated="2026-01-01T00:00:01Z"))
    msg = await _only_message(client, alice)
    assert msg["type"] == "image" and msg["text"] == f"caption\n\ngone.png ({remote.file('gone.png')})", msg
    assert [f["file_size"] for f in await _attachments(client, alice, msg["chat_id"])] == [len(PNG)]
    # an edit keeps the files and the link of the one not fetched; nothing is fetched again
    await _deliver(client, key, remote, _note(remote, [alice.id], files, text="edited", kind="Update", n=50,
                                              updated="2026-01-01T00:00:02Z"))
    msg = await _only_message(client, alice)
    assert msg["type"] == "image" and msg["text"] == f"edited\n\ngone.png ({remote.file('gone.png')})", msg
    assert len(remote.hits["cat.png"]) == 1
    objects, attachments, blobs, on_disk = await _stored(client)
    assert (objects, attachments, blobs, len(on_disk)) == (1, 1, 1, 1)


@pytest.mark.parametrize(("claimed", "head", "stored"), [
    ("image/png", PNG[:512], "image/png"),
    ("image/jpeg", PNG[:512], "image/png"),  # the bytes win over the claim
    ("", JPEG[:512], "image/jpeg"),
    ("audio/webm", b"\x1a\x45\xdf\xa3" + b"webm" + bytes(100), "audio/webm"),  # a claim the bytes bear out
    ("text/plain", b"hello", "text/plain"),
    ("text/html", b"<p>hello</p>", "text/plain"),  # served as plain text, never as HTML
    ("image/png", b"<p>hello</p>", None),  # looks like text but claims an image: refused
    ("image/gif", b"GIF89a" + bytes(10), None),  # not on the allow-list
    ("image/png", b"", None),
])
def test_the_stored_type_is_what_the_bytes_are(claimed, head, stored):
    assert media.fetched_type(claimed, head) == stored


@pytest.mark.parametrize(("name", "url", "expected"), [
    ("cat.png", "https://x.test/m/abc.png", "cat.png"),
    ("A long description of the picture", "https://x.test/m/abc%20d.png?x=1", "abc d.png"),
    ("", "https://x.test/m/", "attachment"),
    ("../../etc/passwd.txt", "https://x.test/m/a", "attachment"),
])
def test_a_fetched_file_is_named_by_its_name_or_url(name, url, expected):
    assert file_name(RemoteAttachment(url=url, name=name, media_type="", line="")) == expected
