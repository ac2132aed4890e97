"""File management over HTTP (issue 13, item 7): own files with where they are used, usage against
the quota, deleting (attachments go, message_updated to the chat, an avatar in use is refused),
and the admins' view (filters, totals, duplicates, delete with a reason, clean-up now)."""
from __future__ import annotations

import pytest
from media_helpers import attach, download, make_group, png, send, ticket, upload
from realtime_helpers import connect
from system_helpers import FILE_ADMIN_ROUTES, call, get_json, with_role

from pufferd.db import audit_q
from pufferd.web.keys import CTX

QUOTA = 20_000


@pytest.fixture
def settings_overrides():
    return {"user_storage_quota_bytes": QUOTA}


def name_of(t: dict) -> str:
    return t["object_key"].split("/", 1)[1]


async def test_a_user_lists_their_files_with_where_each_is_used(client, alice, bob):
    chat = await make_group(client, alice, bob)
    used, spare = await upload(client, alice, png(1000), name="cat.png"), await upload(client, alice, png(2000))
    await upload(client, bob, png(500))
    message = await send(client, alice, chat)
    await attach(client, alice, message, used)
    page = await get_json(client, alice, "/api/v1/cdn/files")
    assert [f["name"] for f in page["files"]] == [name_of(spare), name_of(used)]  # newest first, only alice's
    first = page["files"][1]
    assert (first["file_name"], first["file_type"], first["file_size"]) == ("cat.png", "image/png", 1000)
    assert first["in_use"] and first["messages"] == [{"chat_id": chat, "message_id": message}]
    assert page["files"][0]["in_use"] is False and page["next_cursor"] is None
    one = await get_json(client, alice, "/api/v1/cdn/files?limit=1")
    rest = await get_json(client, alice, f"/api/v1/cdn/files?limit=1&cursor={one['next_cursor']}")
    assert [f["name"] for f in one["files"] + rest["files"]] == [name_of(spare), name_of(used)]
    assert (await client.get("/api/v1/cdn/files?cursor=bogus", headers=alice.headers)).status == 400


async def test_usage_counts_every_file_and_the_quota_is_enforced_at_upload_url(client, alice):
    await upload(client, alice, png(8000))
    await ticket(client, alice, size=8000)  # a pending upload holds its size too
    usage = await get_json(client, alice, "/api/v1/cdn/usage")
    assert (usage["files"], usage["bytes"], usage["quota_bytes"], usage["remaining_bytes"]) == (2, 16000, QUOTA, 4000)
    assert usage["by_type"] == {"image/png": {"files": 1, "bytes": 8000}}
    refused = await ticket(client, alice, size=5000, expect=403)
    assert "Storage quota exceeded" in refused["detail"] and str(QUOTA) in refused["detail"]
    await ticket(client, alice, size=4000)


async def test_deleting_a_file_removes_its_attachments_with_message_updated(client, alice, bob):
    chat = await make_group(client, alice, bob)
    t = await upload(client, alice, png(3000))
    message = await send(client, alice, chat)
    await attach(client, alice, message, t)
    sock = await connect(client, bob)
    try:
        resp = await client.delete(f"/api/v1/cdn/files/{name_of(t)}", headers=alice.headers)
        body = await resp.json()
        assert resp.status == 200, body
        assert body == {"name": name_of(t), "messages_updated": 1, "avatars_cleared": 0}
        event = await sock.next("message_updated")
        assert event["data"]["id"] == message and event["data"]["chat_id"] == chat
    finally:
        await sock.close()
    listed = await get_json(client, bob, f"/api/v1/media/chats/{chat}/attachments")
    assert listed == []
    assert (await download(client, alice, t)).status == 404
    assert (await get_json(client, alice, "/api/v1/cdn/usage"))["bytes"] == 0
    # only one's own files: someone else's is 404, as is an unknown one
    other = await upload(client, bob, png(100))
    assert (await client.delete(f"/api/v1/cdn/files/{name_of(other)}", headers=alice.headers)).status == 404


async def test_an_avatar_in_use_is_refused_with_a_clear_detail(client, alice):
    t = await upload(client, alice, png(1500))
    resp = await client.put("/api/v1/users/profile", json={"avatar_url": t["file_url"]}, headers=alice.headers)
    assert resp.status == 200, await resp.text()
    resp = await client.delete(f"/api/v1/cdn/files/{name_of(t)}", headers=alice.headers)
    assert resp.status == 409
    assert "profile picture" in (await resp.json())["detail"]
    assert (await download(client, alice, t)).status == 200


async def test_file_admin_routes_are_refused_to_users_and_moderators(client, make_user, alice):
    moderator = await with_role(client, make_user, "moderator")
    for user in (alice, moderator):
        for method, path, body in FILE_ADMIN_ROUTES:
            resp = await call(client, user, method, path, body)
            assert resp.status == 403, (path, await resp.text())
            assert "manage_files" in (await resp.json())["detail"]


async def test_admins_filter_all_files_and_see_totals_and_duplicates(client, make_user, alice, bob):
    admin = await with_role(client, make_user, "admin", "root")
    same = png(4000)
    a1, a2 = await upload(client, alice, same), await upload(client, bob, same)  # one content, stored once
    big = await upload(client, bob, png(9000), name="big.png")
    chat = await make_group(client, bob, alice)
    await attach(client, bob, await send(client, bob, chat), big)
    everything = await get_json(client, admin, "/api/v1/cdn/admin/files")
    assert {f["name"] for f in everything["files"]} == {name_of(a1), name_of(a2), name_of(big)}
    by_bob = await get_json(client, admin, f"/api/v1/cdn/admin/files?uploader_id={bob.id}&unused=true")
    assert [f["name"] for f in by_bob["files"]] == [name_of(a2)]
    large = await get_json(client, admin, "/api/v1/cdn/admin/files?min_size=5000")
    assert [f["name"] for f in large["files"]] == [name_of(big)]
    bad = await client.get("/api/v1/cdn/admin/files?file_type=image/gif", headers=admin.headers)
    assert bad.status == 422 and (await bad.json())["detail"][0]["loc"] == ["query", "file_type"]
    summary = await get_json(client, admin, "/api/v1/cdn/admin/summary")
    assert summary["files"] == 3 and summary["bytes"] == 17000
    assert summary["by_type"] == {"image/png": {"files": 3, "bytes": 17000}}
    assert (summary["blobs"], summary["blob_bytes"]) == (2, 13000)
    assert summary["duplicates"] == {"contents": 1, "files": 2, "bytes_saved": 4000}


async def test_an_admin_deletes_any_file_with_a_reason_audited_and_clears_an_avatar(client, make_user, alice):
    admin = await with_role(client, make_user, "admin", "root")
    t = await upload(client, alice, png(1200))
    await client.put("/api/v1/users/profile", json={"avatar_url": t["file_url"]}, headers=alice.headers)
    path = f"/api/v1/cdn/admin/files/{name_of(t)}"
    missing = await client.request("DELETE", path, json={}, headers=admin.headers)
    assert missing.status == 422 and (await missing.json())["detail"][0]["loc"] == ["body", "reason"]
    resp = await client.request("DELETE", path, json={"reason": "not allowed here"}, headers=admin.headers)
    assert resp.status == 200 and (await resp.json())["avatars_cleared"] == 1
    me = await get_json(client, alice, f"/api/v1/users/{alice.id}")
    assert me["avatar_url"] is None
    entries = await client.app[CTX].db.read(lambda c: audit_q.latest(c, limit=5, event="file_deleted"))
    assert entries[0].actor == f"user:{admin.id}" and entries[0].user_id == alice.id
    assert entries[0].detail["reason"] == "not allowed here" and entries[0].ip_address == "127.0.0.1"


async def test_an_admin_runs_the_orphan_cleanup_now(client, make_user, alice):
    admin = await with_role(client, make_user, "admin", "root")
    t = await upload(client, alice, png(700))
    await client.delete(f"/api/v1/cdn/files/{name_of(t)}", headers=alice.headers)  # the blob is now unreferenced
    resp = await client.post("/api/v1/cdn/admin/cleanup", headers=admin.headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["blobs"] == 1
    entries = await client.app[CTX].db.read(lambda c: audit_q.latest(c, limit=5, event="media_cleanup"))
    assert entries and entries[0].actor == f"user:{admin.id}"
    tasks = {x["name"]: x for x in await get_json(client, admin, "/api/v1/system/tasks")}
    assert tasks["media_janitor"]["last_detail"]["blobs"] == 1
