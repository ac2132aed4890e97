"""What federated direct messages carry besides text: reactions as Like / EmojiReact / Undo both
ways, attachments as signed expiring Document links out and as links in the text in, the order
deliveries arrive in, and a block ending follows both ways."""
from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from aiohttp import web
from federation_helpers import LOOPBACK_FEDERATION
from media_helpers import attach, local, png, upload
from realtime_helpers import connect, make_chat

from pufferd.clock import FakeClock
from pufferd.federation import signatures
from pufferd.web.keys import CTX

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
HEART = "\u2764\ufe0f"
DAY = 24 * 3600


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {**LOOPBACK_FEDERATION, "access_token_ttl_seconds": 30 * DAY,
            "federation_queue_interval_seconds": 3600, "federation_attachment_url_ttl_seconds": 3 * DAY,
            # incoming files are not fetched here (they stay links): test_federation_remote_media.py fetches
            "federation_media_max_bytes": 0}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())



@pytest.fixture(scope="module")
def remote_key():
    return signatures.new_key_pair()


@pytest.fixture
async def remote(aiohttp_server, remote_key) -> str:
    """Another server: bob's actor document, and an inbox that takes anything."""
    _, pem = remote_key
    app = web.Application()
    base: dict[str, str] = {}

    async def actor(request: web.Request) -> web.Response:
        url = base["url"] + "/actor"
        return web.json_response({"id": url, "type": "Person", "preferredUsername": "bob", "name": "Bob",
                                  "inbox": url + "/inbox",
                                  "publicKey": {"id": url + "#key", "owner": url, "publicKeyPem": pem}},
                                 content_type="application/activity+json")

    async def inbox(request: web.Request) -> web.Response:
        return web.Response(status=202)
    app.router.add_get("/actor", actor)
    app.router.add_post("/actor/inbox", inbox)
    server = await aiohttp_server(app)
    base["url"] = f"http://127.0.0.1:{server.port}"
    return base["url"]


class Bob:
    """The remote user: resolved here, and a signer of activities from their server."""

    def __init__(self, client, remote: str, key, user: dict[str, Any]) -> None:
        self.client, self.remote, self.key, self.user = client, remote, key, user
        self.actor = remote + "/actor"
        self.n = 0

    @property
    def id(self) -> int:
        return int(self.user["id"])

    def next_id(self, kind: str) -> str:
        self.n += 1
        return f"{self.remote}/{kind}/{self.n}"

    async def post(self, activity: dict[str, Any], expect: int = 202) -> None:
        body = json.dumps({"actor": self.actor, **activity}).encode()
        clock = self.client.app[CTX].clock
        clock.advance(1)  # a new Date, so that no two requests carry the same signature (a replay)
        now = clock.time()
        headers = signatures.sign(self.key, self.actor + "#key", "POST", "http://local.test/ap/inbox", body, now)
        headers.pop("Host")
        resp = await self.client.post("/ap/inbox", data=body, headers={
            **headers, "Host": "local.test", "Content-Type": "application/activity+json"})
        assert resp.status == expect, await resp.text()

    def note(self, to_id: int, text: str, note_id: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"id": note_id or self.next_id("notes"), "type": "Note", "attributedTo": self.actor,
                "to": [f"http://local.test/ap/users/{to_id}"], "content": f"<p>{text}</p>", **extra}

    async def create(self, to_id: int, text: str, **extra: Any) -> str:
        note = self.note(to_id, text, **extra)
        await self.post({"id": self.next_id("activities"), "type": "Create", "object": note})
        return str(note["id"])


@pytest.fixture
async def bob(client, alice, remote, remote_key) -> Bob:
    key, _ = remote_key
    resp = await client.post("/api/v1/federation/resolve", headers=alice.headers, json={"handle": remote + "/actor"})
    assert resp.status == 200, await resp.text()
    return Bob(client, remote, key, await resp.json())


async def private_chat(client, alice, bob: Bob) -> int:
    resp = await client.post("/api/v1/chats", json={"type": "private", "member_ids": [bob.id]}, headers=alice.headers)
    assert resp.status in (200, 201), await resp.text()
    return int((await resp.json())["id"])


async def queued(client) -> list[dict[str, Any]]:
    rows = await client.app[CTX].db.read(lambda c: c.execute("SELECT activity FROM federation_queue ORDER BY id").fetchall())
    return [json.loads(r["activity"]) for r in rows]


async def messages_of(client, user, chat_id: int) -> list[dict[str, Any]]:
    resp = await client.get(f"/api/v1/messages/{chat_id}", headers=user.headers)
    assert resp.status == 200, await resp.text()
    return list(reversed(await resp.json()))


async def send(client, user, chat_id: int, text: str | None, type_: str = "text") -> dict[str, Any]:
    resp = await client.post("/api/v1/messages", json={"chat_id": chat_id, "type": type_, "text": text},
                             headers=user.headers)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def toggle(client, user, message_id: int, emoji: str) -> list[dict[str, Any]]:
    resp = await client.post(f"/api/v1/messages/{message_id}/reactions/toggle", json={"emoji": emoji},
                             headers=user.headers)
    assert resp.status == 200, await resp.text()
    return list(await resp.json())


async def reactions(client, user, message_id: int) -> list[dict[str, Any]]:
    resp = await client.get(f"/api/v1/messages/{message_id}/reactions", headers=user.headers)
    assert resp.status == 200, await resp.text()
    return list(await resp.json())


def _direct_only(activity: dict[str, Any], bob: Bob) -> None:
    """Addressed to bob alone: no public, no followers collection."""
    assert activity["to"] == [bob.actor] and activity.get("cc", []) == []
    assert "Public" not in json.dumps(activity) and "followers" not in json.dumps(activity)


# reactions -------------------------------------------------------------------------------------

async def test_reactions_go_out_as_likes_and_their_undo(client, alice, bob):
    chat = await private_chat(client, alice, bob)
    note = await bob.create(alice.id, "hi alice")
    [theirs] = await messages_of(client, alice, chat)
    mine = await send(client, alice, chat, "hi bob")
    before = len(await queued(client))

    await toggle(client, alice, theirs["id"], HEART)
    await toggle(client, alice, mine["id"], "👍")
    await toggle(client, alice, theirs["id"], HEART)  # taken back
    like, thumbs, undo = (await queued(client))[before:]
    _direct_only(like, bob)
    assert like["type"] == "Like" and like["object"] == note and "content" not in like
    assert like["actor"] == f"http://local.test/ap/users/{alice.id}"
    _direct_only(thumbs, bob)
    assert thumbs["type"] == "Like" and thumbs["object"] == f"http://local.test/ap/notes/{mine['id']}"
    assert thumbs["content"] == thumbs["_misskey_reaction"] == "👍"
    _direct_only(undo, bob)
    assert undo["type"] == "Undo" and undo["object"]["id"] == like["id"] and undo["object"]["object"] == note
    assert undo["id"] != like["id"]


async def test_reactions_in_local_chats_stay_local(client, alice, bob, make_user):
    carol = await make_user("carol")
    chat = await make_chat(client, alice, carol, type="private")
    m = await send(client, alice, chat, "local only")
    before = len(await queued(client))
    await toggle(client, carol, m["id"], HEART)
    assert len(await queued(client)) == before


async def test_incoming_likes_and_undos_are_reactions_once(client, alice, bob, make_user):
    chat = await private_chat(client, alice, bob)
    mine = await send(client, alice, chat, "react to this")
    note = f"http://local.test/ap/notes/{mine['id']}"
    sock = await connect(client, alice)

    like = {"id": bob.next_id("likes"), "type": "Like", "object": note}
    await bob.post(like)
    frame = await sock.next("reactions_updated")
    assert frame["data"]["user_id"] == bob.id and frame["data"]["emoji"] == HEART and frame["data"]["reacted"] is True
    await bob.post(like)  # a redelivery: nothing changes, no event
    await bob.post({**like, "id": bob.next_id("likes")})  # the same reaction under another id
    await sock.silent("reactions_updated")
    react = {"id": bob.next_id("reacts"), "type": "EmojiReact", "object": note, "content": "🎉"}
    await bob.post(react)
    await bob.post({"id": bob.next_id("likes"), "type": "Like", "object": note, "content": ":blobcat:"})  # ignored
    assert await reactions(client, alice, mine["id"]) == [
        {"emoji": HEART, "count": 1, "reacted": False}, {"emoji": "🎉", "count": 1, "reacted": False}]

    assert (await sock.next("reactions_updated"))["data"]["emoji"] == "🎉"
    await bob.post({"id": bob.next_id("undos"), "type": "Undo", "object": like["id"]})  # named by id only
    frame = await sock.next("reactions_updated")
    assert frame["data"]["emoji"] == HEART and frame["data"]["reacted"] is False
    await bob.post({"id": bob.next_id("undos"), "type": "Undo", "object": react})  # embedded
    assert await reactions(client, alice, mine["id"]) == []
    # an Undo that overtook its Like: the Like, arriving after, changes nothing
    late = {"id": bob.next_id("likes"), "type": "Like", "object": note, "content": "👀"}
    await bob.post({"id": bob.next_id("undos"), "type": "Undo", "object": late})
    await bob.post(late)
    assert await reactions(client, alice, mine["id"]) == []
    await sock.close()

    # a message of a chat bob is not in: 404, nothing changes
    carol = await make_user("carol")
    other = await send(client, alice, await make_chat(client, alice, carol, type="private"), "not for bob")
    await bob.post({"id": bob.next_id("likes"), "type": "Like",
                    "object": f"http://local.test/ap/notes/{other['id']}"}, expect=404)
    await bob.post({"id": bob.next_id("likes"), "type": "Like", "object": "http://local.test/ap/notes/999999"},
                   expect=404)
    assert await reactions(client, alice, other["id"]) == []


# attachments -----------------------------------------------------------------------------------

async def test_attachments_go_out_as_signed_expiring_documents(client, alice, bob, clock):
    chat = await private_chat(client, alice, bob)
    data = png(5000)
    before = len(await queued(client))
    m = await send(client, alice, chat, None, type_="image")
    assert len(await queued(client)) == before  # nothing to show yet: no empty Note goes out
    await attach(client, alice, m["id"], await upload(client, alice, data, name="cat.png"))
    [create] = (await queued(client))[before:]
    _direct_only(create, bob)
    assert create["type"] == "Create"
    [doc] = create["object"]["attachment"]
    assert doc["type"] == "Document" and doc["mediaType"] == "image/png" and doc["name"] == "cat.png"

    # the link downloads the bytes without any other credential
    got = await client.get(local(doc["url"]))
    assert got.status == 200 and await got.read() == data
    # altered: another signature, another reader, another expiry
    parts = urlsplit(doc["url"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert set(query) == {"uid", "exp", "sig"} and int(query["uid"]) == bob.id
    for change in ({"sig": query["sig"][:-2] + ("AA" if query["sig"][-2:] != "AA" else "BB")},
                   {"uid": str(alice.id)}, {"exp": str(int(query["exp"]) + 1)}):
        resp = await client.get(parts.path + "?" + urlencode({**query, **change}))
        assert resp.status == 403, await resp.text()
    assert (await client.get(parts.path)).status == 401  # the bare file URL is not public
    # expired
    clock.advance(3 * DAY + 1)
    resp = await client.get(local(doc["url"]))
    assert resp.status == 403 and "expired" in (await resp.json())["detail"]


async def test_attaching_to_a_message_with_text_sends_an_update(client, alice, bob):
    chat = await private_chat(client, alice, bob)
    before = len(await queued(client))
    m = await send(client, alice, chat, "two files", type_="file")
    await attach(client, alice, m["id"], await upload(client, alice, png(), name="a.png"))
    await attach(client, alice, m["id"], await upload(client, alice, b"plain text", file_type="text/plain",
                                                      name="b.txt"))
    create, first, second = (await queued(client))[before:]
    assert create["type"] == "Create" and "attachment" not in create["object"]
    assert first["type"] == second["type"] == "Update"
    assert [d["name"] for d in first["object"]["attachment"]] == ["a.png"]
    assert [d["name"] for d in second["object"]["attachment"]] == ["a.png", "b.txt"]
    assert second["object"]["source"]["content"] == "two files"
    # an edit carries the attachments too
    resp = await client.put(f"/api/v1/messages/{m['id']}", json={"text": "two files!"}, headers=alice.headers)
    assert resp.status == 200, await resp.text()
    edit = (await queued(client))[-1]
    assert edit["type"] == "Update" and len(edit["object"]["attachment"]) == 2


async def test_a_forward_into_the_remote_chat_carries_its_files(client, alice, bob, make_user):
    carol = await make_user("carol")
    source_chat = await make_chat(client, alice, carol, type="private")
    source = await send(client, alice, source_chat, None, type_="image")
    await attach(client, alice, source["id"], await upload(client, alice, png(), name="dog.png"))
    chat = await private_chat(client, alice, bob)
    before = len(await queued(client))
    resp = await client.post(f"/api/v1/messages/{source['id']}/forward", json={"target_chat_id": chat},
                             headers=alice.headers)
    assert resp.status == 201, await resp.text()
    [create] = (await queued(client))[before:]
    _direct_only(create, bob)
    [doc] = create["object"]["attachment"]
    assert doc["name"] == "dog.png" and parse_qs(urlsplit(doc["url"]).query)["uid"] == [str(bob.id)]
    assert (await client.get(local(doc["url"]))).status == 200


async def test_incoming_attachments_become_links_in_the_text(client, alice, bob):
    url = "https://files.example/media/cat%20picture.png?sig=abc"
    await bob.create(alice.id, "look", attachment=[
        {"type": "Document", "mediaType": "image/png", "name": "<b>my</b> cat", "url": url},
        {"type": "Image", "url": [{"type": "Link", "href": "https://files.example/2.jpg", "mediaType": "image/jpeg"}]},
        {"type": "Document", "url": "javascript:alert(1)", "name": "evil"},
        {"type": "Document", "url": "https://files.example/has space.png"},
        "not an object",
    ])
    chats = await (await client.get("/api/v1/chats", headers=alice.headers)).json()
    [msg] = await messages_of(client, alice, chats[0]["id"])
    assert msg["text"] == f"look\n\nmy cat ({url})\nhttps://files.example/2.jpg"
    # an attachment alone is a message too
    await bob.create(alice.id, "", attachment={"type": "Document", "url": "https://files.example/3.pdf"})
    assert (await messages_of(client, alice, chats[0]["id"]))[-1]["text"] == "https://files.example/3.pdf"


# deliveries out of order -----------------------------------------------------------------------

async def test_updates_and_deletes_that_arrive_out_of_order(client, alice, bob):
    note = bob.note(alice.id, "edited", note_id=bob.next_id("notes"))
    await bob.post({"id": bob.next_id("activities"), "type": "Update", "object": note})
    chats = await (await client.get("/api/v1/chats", headers=alice.headers)).json()
    chat = chats[0]["id"]
    assert [m["text"] for m in await messages_of(client, alice, chat)] == ["edited"]
    await bob.post({"id": bob.next_id("activities"), "type": "Create", "object": {**note, "content": "original"}})
    assert [m["text"] for m in await messages_of(client, alice, chat)] == ["edited"]

    # two edits that arrive in the wrong order: the newer (by `updated`) stays
    note["updated"] = "2030-01-01T00:00:02Z"
    await bob.post({"id": bob.next_id("activities"), "type": "Update", "object": {**note, "content": "second"}})
    note["updated"] = "2030-01-01T00:00:01Z"
    await bob.post({"id": bob.next_id("activities"), "type": "Update", "object": {**note, "content": "first"}})
    assert [m["text"] for m in await messages_of(client, alice, chat)] == ["second"]

    gone = bob.note(alice.id, "never shown", note_id=bob.next_id("notes"))
    await bob.post({"id": bob.next_id("activities"), "type": "Delete", "object": {"id": gone["id"], "type": "Tombstone"}})
    await bob.post({"id": bob.next_id("activities"), "type": "Create", "object": gone})
    await bob.post({"id": bob.next_id("activities"), "type": "Update", "object": gone})
    assert [m["text"] for m in await messages_of(client, alice, chat)] == ["second"]


# blocks ----------------------------------------------------------------------------------------

async def test_blocking_a_remote_user_ends_follows_both_ways(client, alice, bob):
    resp = await client.post("/api/v1/federation/follow", json={"handle": bob.actor}, headers=alice.headers)
    assert resp.status == 200 and (await resp.json())["state"] == "pending"
    follow_id = bob.next_id("follows")
    await bob.post({"id": follow_id, "type": "Follow", "object": f"http://local.test/ap/users/{alice.id}"})
    following = await (await client.get("/api/v1/federation/following", headers=alice.headers)).json()
    followers = await (await client.get("/api/v1/federation/followers", headers=alice.headers)).json()
    assert [f["user"]["id"] for f in following] == [bob.id] and [f["user"]["id"] for f in followers] == [bob.id]
    ours = next(a for a in await queued(client) if a["type"] == "Follow")
    before = len(await queued(client))

    resp = await client.post(f"/api/v1/users/{bob.id}/block", headers=alice.headers)
    assert resp.status in (200, 204), await resp.text()
    assert await (await client.get("/api/v1/federation/following", headers=alice.headers)).json() == []
    assert await (await client.get("/api/v1/federation/followers", headers=alice.headers)).json() == []
    undo, reject = (await queued(client))[before:]
    me = f"http://local.test/ap/users/{alice.id}"
    assert undo["type"] == "Undo" and undo["object"] == {"id": ours["id"], "type": "Follow", "actor": me,
                                                         "object": bob.actor}
    assert reject["type"] == "Reject" and reject["object"] == {"id": follow_id, "type": "Follow",
                                                               "actor": bob.actor, "object": me}
    _direct_only(undo, bob)
    # blocking again sends nothing more; a new Follow from bob is refused
    await client.post(f"/api/v1/users/{bob.id}/block", headers=alice.headers)
    assert len(await queued(client)) == before + 2
    await bob.post({"id": bob.next_id("follows"), "type": "Follow", "object": me})
    assert (await queued(client))[-1]["type"] == "Reject"
    assert await (await client.get("/api/v1/federation/followers", headers=alice.headers)).json() == []


async def test_an_undo_follow_that_overtook_its_follow_wins(client, alice, bob):
    me = f"http://local.test/ap/users/{alice.id}"
    follow = {"id": bob.next_id("follows"), "type": "Follow", "object": me}
    await bob.post({"id": bob.next_id("undos"), "type": "Undo", "object": {**follow, "actor": bob.actor}})
    await bob.post(follow)
    assert await (await client.get("/api/v1/federation/followers", headers=alice.headers)).json() == []
    # a Follow and then its Undo, in order
    follow = {"id": bob.next_id("follows"), "type": "Follow", "object": me}
    await bob.post(follow)
    assert len(await (await client.get("/api/v1/federation/followers", headers=alice.headers)).json()) == 1
    await bob.post({"id": bob.next_id("undos"), "type": "Undo", "object": {**follow, "actor": bob.actor}})
    assert await (await client.get("/api/v1/federation/followers", headers=alice.headers)).json() == []
    # an Undo naming the Follow by id only
    follow = {"id": bob.next_id("follows"), "type": "Follow", "object": me}
    await bob.post(follow)
    assert len(await (await client.get("/api/v1/federation/followers", headers=alice.headers)).json()) == 1
    await bob.post({"id": bob.next_id("undos"), "type": "Undo", "object": follow["id"]})
    assert await (await client.get("/api/v1/federation/followers", headers=alice.headers)).json() == []


# a Note addressed to several users here --------------------------------------------------------

def _to(*ids: int) -> list[str]:
    return [f"http://local.test/ap/users/{i}" for i in ids]


async def only_chat(client, user) -> int:
    [chat] = await (await client.get("/api/v1/chats", headers=user.headers)).json()
    return int(chat["id"])


async def note_to_two(client, alice, bob: Bob, carol, text: str) -> tuple[dict[str, Any], int, int]:
    """Bob's Note to alice and carol: the Note and the message id of each copy."""
    note = {**bob.note(alice.id, text), "to": _to(alice.id), "cc": _to(carol.id)}
    await bob.post({"id": bob.next_id("activities"), "type": "Create", "object": note})
    [mine] = await messages_of(client, alice, await only_chat(client, alice))
    [theirs] = await messages_of(client, carol, await only_chat(client, carol))
    assert mine["text"] == theirs["text"] == text and mine["id"] != theirs["id"]
    return note, int(mine["id"]), int(theirs["id"])


async def test_edits_and_deletes_of_a_note_to_two_users_reach_both_copies(client, alice, bob, make_user):
    carol = await make_user("carol")
    note, a_msg, c_msg = await note_to_two(client, alice, bob, carol, "for both")
    a_chat, c_chat = await only_chat(client, alice), await only_chat(client, carol)
    assert a_chat != c_chat
    a_sock, c_sock = await connect(client, alice), await connect(client, carol)

    edited = {**note, "content": "<p>edited</p>", "updated": "2030-01-01T00:00:02Z"}
    await bob.post({"id": bob.next_id("activities"), "type": "Update", "object": edited})
    for sock, mid in ((a_sock, a_msg), (c_sock, c_msg)):
        frame = await sock.next("message_updated")
        assert frame["data"]["id"] == mid and frame["data"]["text"] == "edited"
    # an older Update changes neither copy; a redelivered Create adds none
    stale = {**note, "content": "<p>stale</p>", "updated": "2030-01-01T00:00:01Z"}
    await bob.post({"id": bob.next_id("activities"), "type": "Update", "object": stale})
    await bob.post({"id": bob.next_id("activities"), "type": "Create", "object": note})
    assert [m["text"] for m in await messages_of(client, alice, a_chat)] == ["edited"]
    assert [m["text"] for m in await messages_of(client, carol, c_chat)] == ["edited"]

    await bob.post({"id": bob.next_id("activities"), "type": "Delete",
                    "object": {"id": note["id"], "type": "Tombstone"}})
    for sock, mid, chat in ((a_sock, a_msg, a_chat), (c_sock, c_msg, c_chat)):
        frame = await sock.next("message_deleted")
        assert frame["data"] == {"chat_id": chat, "message_id": mid}
        await sock.close()
    assert await messages_of(client, alice, a_chat) == [] and await messages_of(client, carol, c_chat) == []


async def test_an_update_first_makes_every_copy_and_replies_stay_in_their_chat(client, alice, bob, make_user):
    carol = await make_user("carol")
    note = {**bob.note(alice.id, "from an update"), "to": _to(alice.id, carol.id)}
    await bob.post({"id": bob.next_id("activities"), "type": "Update", "object": note})
    [a_first] = await messages_of(client, alice, await only_chat(client, alice))
    [c_first] = await messages_of(client, carol, await only_chat(client, carol))
    assert a_first["text"] == c_first["text"] == "from an update"

    reply = {**bob.note(alice.id, "a reply"), "to": _to(alice.id, carol.id), "inReplyTo": note["id"]}
    await bob.post({"id": bob.next_id("activities"), "type": "Create", "object": reply})
    a_reply = (await messages_of(client, alice, await only_chat(client, alice)))[-1]
    c_reply = (await messages_of(client, carol, await only_chat(client, carol)))[-1]
    assert (a_reply["text"], a_reply["reply_to_message_id"]) == ("a reply", a_first["id"])
    assert (c_reply["text"], c_reply["reply_to_message_id"]) == ("a reply", c_first["id"])


async def test_a_recipient_who_blocked_the_sender_does_not_keep_the_other_from_the_note(
        client, alice, bob, make_user):
    carol = await make_user("carol")
    resp = await client.post(f"/api/v1/users/{bob.id}/block", headers=carol.headers)
    assert resp.status in (200, 204), await resp.text()
    note = {**bob.note(alice.id, "only alice"), "to": _to(alice.id, carol.id)}
    await bob.post({"id": bob.next_id("activities"), "type": "Create", "object": note})
    assert [m["text"] for m in await messages_of(client, alice, await only_chat(client, alice))] == ["only alice"]
    assert await (await client.get("/api/v1/chats", headers=carol.headers)).json() == []
    # addressed to carol alone, it is refused as before
    await bob.post({"id": bob.next_id("activities"), "type": "Create",
                    "object": {**bob.note(carol.id, "refused")}}, expect=403)
    assert await (await client.get("/api/v1/chats", headers=carol.headers)).json() == []


async def test_a_reaction_lands_on_the_copy_of_the_user_it_addresses(client, alice, bob, make_user):
    carol = await make_user("carol")
    note, a_msg, c_msg = await note_to_two(client, alice, bob, carol, "react")

    like = {"id": bob.next_id("likes"), "type": "Like", "object": note["id"], "to": _to(alice.id)}
    await bob.post(like)
    assert await reactions(client, alice, a_msg) == [{"emoji": HEART, "count": 1, "reacted": False}]
    assert await reactions(client, carol, c_msg) == []
    # addressed to nobody here (Mastodon's Like has no `to`): every copy
    react = {"id": bob.next_id("reacts"), "type": "EmojiReact", "object": note["id"], "content": "🎉"}
    await bob.post(react)
    assert [r["emoji"] for r in await reactions(client, alice, a_msg)] == [HEART, "🎉"]
    assert [r["emoji"] for r in await reactions(client, carol, c_msg)] == ["🎉"]
    # an Undo by id takes back what its Like did, where it did it
    await bob.post({"id": bob.next_id("undos"), "type": "Undo", "object": like["id"]})
    assert [r["emoji"] for r in await reactions(client, alice, a_msg)] == ["🎉"]
    await bob.post({"id": bob.next_id("undos"), "type": "Undo", "object": react["id"]})
    assert await reactions(client, alice, a_msg) == [] and await reactions(client, carol, c_msg) == []

    # carol's reaction on her copy goes out as a Like of bob's Note, from her
    before = len(await queued(client))
    await toggle(client, carol, c_msg, "👍")
    [out] = (await queued(client))[before:]
    _direct_only(out, bob)
    assert out["type"] == "Like" and out["object"] == note["id"]
    assert out["actor"] == f"http://local.test/ap/users/{carol.id}"


async def test_a_copy_whose_note_row_is_missing_is_found_again_by_a_redelivery(client, alice, bob):
    """The row of a copy is written after its message (a second transaction): when it is missing,
    the next delivery of the Note finds the message by its client_message_id instead of adding one."""
    note = bob.note(alice.id, "once")
    await bob.post({"id": bob.next_id("activities"), "type": "Create", "object": note})
    db = client.app[CTX].db
    await db.write(lambda c: c.execute("DELETE FROM federation_notes"))
    await bob.post({"id": bob.next_id("activities"), "type": "Update",
                    "object": {**note, "content": "<p>once, edited</p>"}})
    chat = await only_chat(client, alice)
    [message] = await messages_of(client, alice, chat)
    assert message["text"] == "once, edited"
    rows = await db.read(lambda c: c.execute("SELECT note_id, message_id FROM federation_notes").fetchall())
    assert [(r["note_id"], r["message_id"]) for r in rows] == [(note["id"], message["id"])]
