"""Avatars (issue 6, item 6): user and chat avatar_url accept only images of this server uploaded by
the one setting them, and who may download an avatar follows privacy_avatar and chat visibility."""
from __future__ import annotations

import os

from media_helpers import download, make_group, png, rows, ticket, upload

PROFILE = "/api/v1/users/profile"


async def set_avatar(client, user, url, expect: int = 200):
    resp = await client.put(PROFILE, json={"avatar_url": url}, headers=user.headers)
    body = await resp.json()
    assert resp.status == expect, body
    return body


async def test_user_avatar_must_be_an_image_this_user_uploaded(client, alice, bob, settings):
    mine = await upload(client, alice, png(1000))
    pdf = await upload(client, alice, b"%PDF-1.4\n" + os.urandom(100), file_type="application/pdf", name="cv.pdf")
    theirs = await upload(client, bob, png(1000))
    pending = await ticket(client, alice, size=1000)
    name = mine["object_key"].split("/")[-1]
    refused = {
        "https://cdn.example.org/a.png": "this server's media bucket",
        f"{settings.base_url}/elsewhere/{name}": "this server's media bucket",
        f"{mine['file_url']}?size=big": "this server's media bucket",
        pdf["file_url"]: "must be an image",
        theirs["file_url"]: "a file you uploaded",
        pending["file_url"]: "a file you uploaded",
        f"{settings.base_url}/media/bucket/uploads/{'Z' * 32}.png": "a file you uploaded",
    }
    for url, why in refused.items():
        body = await set_avatar(client, alice, url, expect=422)
        assert body["detail"][0]["loc"] == ["body", "avatar_url"], url
        assert why in body["detail"][0]["msg"], (url, body)
    me = await (await client.get("/api/v1/users/me", headers=alice.headers)).json()
    assert me["avatar_url"] is None
    assert (await set_avatar(client, alice, mine["file_url"]))["avatar_url"] == mine["file_url"]
    assert (await set_avatar(client, alice, mine["file_url"]))["avatar_url"] == mine["file_url"]
    assert (await set_avatar(client, alice, None))["avatar_url"] is None


async def test_avatar_in_use_is_referenced_and_released_when_replaced(client, alice):
    first = await upload(client, alice, png(1000))
    second = await upload(client, alice, png(1000))
    await set_avatar(client, alice, first["file_url"])
    refs = await rows(client, "SELECT object_key, user_id FROM media_avatar_refs")
    assert refs == [{"object_key": first["object_key"], "user_id": alice.id}]
    attached = await rows(client, "SELECT attached_at FROM media_objects WHERE object_key = ?", first["object_key"])
    assert attached[0]["attached_at"] is not None
    await set_avatar(client, alice, second["file_url"])
    assert await rows(client, "SELECT object_key FROM media_avatar_refs") == [{"object_key": second["object_key"]}]
    # the replaced avatar was in use, so it goes at once (its blob is left to the janitor)
    assert await rows(client, "SELECT * FROM media_objects WHERE object_key = ?", first["object_key"]) == []
    assert (await download(client, alice, first)).status == 404


async def test_user_avatar_download_follows_privacy_avatar(client, alice, bob, carol):
    picture = await upload(client, bob, png(1000))
    await set_avatar(client, bob, picture["file_url"])
    assert (await download(client, alice, picture)).status == 200   # everyone, no shared chat needed
    resp = await client.put(PROFILE, json={"privacy_avatar": "contacts"}, headers=bob.headers)
    assert resp.status == 200
    assert (await download(client, alice, picture)).status == 404
    assert (await client.post(f"/api/v1/users/{alice.id}/contacts", headers=bob.headers)).status == 204
    assert (await download(client, alice, picture)).status == 200
    assert (await download(client, carol, picture)).status == 404
    await client.put(PROFILE, json={"privacy_avatar": "nobody"}, headers=bob.headers)
    assert (await download(client, alice, picture)).status == 404
    assert (await download(client, bob, picture)).status == 200


async def test_a_blocked_user_cannot_download_the_avatar(client, alice, bob):
    picture = await upload(client, bob, png(1000))
    await set_avatar(client, bob, picture["file_url"])
    assert (await client.post(f"/api/v1/users/{alice.id}/block", headers=bob.headers)).status == 204
    assert (await download(client, alice, picture)).status == 404


async def test_same_image_as_avatar_and_attachment_is_visible_to_both_audiences(client, alice, bob, carol):
    chat_id = await make_group(client, alice, bob)
    picture = await upload(client, alice, png(1000))
    await set_avatar(client, alice, picture["file_url"])
    await client.put(PROFILE, json={"privacy_avatar": "nobody"}, headers=alice.headers)
    assert (await download(client, bob, picture)).status == 404
    resp = await client.post("/api/v1/messages", json={"chat_id": chat_id, "type": "image"}, headers=alice.headers)
    message_id = (await resp.json())["id"]
    resp = await client.post("/api/v1/media/attachments", headers=alice.headers, json={
        "message_id": message_id, "file_url": picture["file_url"], "file_type": "image/png", "file_size": 1000})
    assert resp.status == 200, await resp.text()
    assert (await download(client, bob, picture)).status == 200
    assert (await download(client, carol, picture)).status == 404


async def set_chat_avatar(client, user, chat_id: int, url, expect: int = 200):
    resp = await client.patch(f"/api/v1/chats/{chat_id}/profile", json={"avatar_url": url}, headers=user.headers)
    body = await resp.json()
    assert resp.status == expect, body
    return body


async def test_chat_avatar_is_visible_to_members_only(client, alice, bob, carol):
    chat_id = await make_group(client, alice, bob)
    picture = await upload(client, alice, png(1000))
    assert (await set_chat_avatar(client, alice, chat_id, picture["file_url"]))["avatar_url"] == picture["file_url"]
    assert await rows(client, "SELECT object_key, chat_id FROM media_avatar_refs") == \
        [{"object_key": picture["object_key"], "chat_id": chat_id}]
    assert (await download(client, bob, picture)).status == 200
    assert (await download(client, carol, picture)).status == 404
    # bob is a member but did not upload it: he cannot set it elsewhere as his own avatar
    body = await client.put(PROFILE, json={"avatar_url": picture["file_url"]}, headers=bob.headers)
    assert body.status == 422


async def test_public_chat_avatar_is_visible_to_everyone(client, alice, bob, carol):
    resp = await client.post("/api/v1/chats", headers=alice.headers, json={
        "type": "channel", "title": "News", "handle": "newsroom", "is_public": True, "member_ids": []})
    assert resp.status in (200, 201), await resp.text()
    chat_id = (await resp.json())["id"]
    picture = await upload(client, alice, png(1000))
    await set_chat_avatar(client, alice, chat_id, picture["file_url"])
    assert (await download(client, carol, picture)).status == 200


async def test_replacing_a_chat_avatar_releases_the_old_one(client, alice, bob):
    chat_id = await make_group(client, alice, bob)
    first = await upload(client, alice, png(1000))
    second = await upload(client, alice, png(1000))
    await set_chat_avatar(client, alice, chat_id, first["file_url"])
    await set_chat_avatar(client, alice, chat_id, second["file_url"])
    assert (await download(client, bob, first)).status == 404
    assert (await download(client, bob, second)).status == 200
    await set_chat_avatar(client, alice, chat_id, None)
    assert await rows(client, "SELECT * FROM media_objects") == []
