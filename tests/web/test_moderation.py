"""Moderation over HTTP (issue 13, item 3; pufferd/moderation.py): server-wide bans, removing any
message or file, who may act on whom, the events the person concerned gets, and the audit log.
Timeouts, which need a fake clock: test_moderation_timeouts.py."""
from __future__ import annotations

import json
import time

from admin_helpers import owner, person
from media_helpers import local, png
from messages_helpers import make_chat, send
from moderation_helpers import (
    MOD,
    at,
    audit_of,
    ban,
    notifications_of,
    remove_message,
    timeout,
    unban,
    user_row,
)
from realtime_helpers import connect

PASSWORD = "password-123"  # make_user's


async def login(client, user) -> tuple[int, dict]:
    resp = await client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    return resp.status, await resp.json()


# who may act on whom ---------------------------------------------------------------------------

async def test_a_moderator_cannot_ban_an_admin_the_owner_another_moderator_or_themself(client, make_user):
    mod = await person(client.app, make_user, "moderator")
    admin = await person(client.app, make_user, "admin")
    other_mod = await person(client.app, make_user, "moderator")
    for target, text in ((admin, "A moderator cannot ban an admin"), (owner(client.app), "A moderator cannot ban the owner"),
                         (other_mod, "A moderator cannot ban a moderator"), (mod, "You cannot ban yourself")):
        body = await ban(client, mod, target, expect=403)
        assert body["detail"] == text
        assert (await user_row(client, target.id)).banned_at is None
    # and neither time them out nor remove their messages
    await timeout(client, mod, admin, time.time() + 60, expect=403)
    chat = await make_chat(client, admin, mod)
    message = await send(client, admin, chat, "mine")
    resp = await client.delete(f"{MOD}/messages/{message['id']}", json={"reason": "x"}, headers=mod.headers)
    assert resp.status == 403, await resp.text()
    assert (await resp.json())["detail"] == "A moderator cannot remove the content of an admin"


async def test_an_admin_bans_a_moderator_and_a_user_needs_the_ban_privilege(client, make_user, alice, bob):
    admin = await person(client.app, make_user, "admin")
    mod = await person(client.app, make_user, "moderator")
    body = await ban(client, admin, mod)
    assert body["state"] == "banned" and body["ban_reason"] == "spamming everyone"
    refused = await ban(client, alice, bob, expect=403)
    assert "ban privilege" in refused["detail"]


async def test_moderation_routes_refuse_people_without_the_privilege(client, make_user, alice, bob):
    for method, path, body in (("POST", f"{MOD}/users/{bob.id}/ban", {"reason": "x"}),
                               ("DELETE", f"{MOD}/users/{bob.id}/ban", None),
                               ("PUT", f"{MOD}/users/{bob.id}/timeout", {"until": at(time.time() + 60), "reason": "x"}),
                               ("DELETE", f"{MOD}/users/{bob.id}/timeout", None),
                               ("DELETE", f"{MOD}/messages/1", {"reason": "x"}),
                               ("DELETE", f"{MOD}/files/{'A' * 32}.png", {"reason": "x"})):
        resp = await client.request(method, path, json=body, headers=alice.headers)
        assert resp.status == 403, (method, path, await resp.text())
        resp = await client.request(method, path, json=body)
        assert resp.status == 401, (method, path)


# bans ------------------------------------------------------------------------------------------

async def test_a_banned_users_socket_gets_account_banned_then_closes_with_4001(client, make_user, alice):
    mod = await person(client.app, make_user, "moderator")
    sock = await connect(client, alice)
    await ban(client, mod, alice, reason="posting scams")
    event = await sock.next("account_banned")
    assert event["data"]["reason"] == "posting scams" and event["data"]["banned_at"]
    assert await sock.closed_with() == 4001


async def test_a_banned_users_token_and_login_are_refused_naming_the_ban(client, make_user, alice):
    mod = await person(client.app, make_user, "moderator")
    status, tokens = await login(client, alice)
    assert status == 200, tokens
    signed_in = {"Authorization": f"Bearer {tokens['access_token']}"}
    await ban(client, mod, alice, reason="posting scams")
    for headers in (alice.headers, signed_in):
        resp = await client.get("/api/v1/users/me", headers=headers)
        assert resp.status == 401
        assert (await resp.json())["detail"] == "Your account is banned from this server: posting scams"
    status, body = await login(client, alice)
    assert (status, body["detail"]) == (403, "Your account is banned from this server: posting scams")
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert resp.status == 401  # the ban signed every session out
    resp = await client.get("/api/v1/ws", params={"token": alice.token})
    assert resp.status == 401
    assert "banned" in (await resp.json())["detail"]


async def test_unban_restores_sign_in_and_the_data_was_kept(client, make_user, alice, bob):
    mod = await person(client.app, make_user, "moderator")
    chat = await make_chat(client, alice, bob)
    await send(client, alice, chat, "before the ban")
    await ban(client, mod, alice)
    await ban(client, mod, alice, expect=409)
    body = await unban(client, mod, alice)
    assert body["state"] == "active" and body["banned_at"] is None
    await unban(client, mod, alice, expect=409)
    status, tokens = await login(client, alice)
    assert status == 200, tokens
    resp = await client.get(f"/api/v1/messages/{chat}", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert resp.status == 200
    assert [m["text"] for m in await resp.json()] == ["before the ban"]


# content ---------------------------------------------------------------------------------------

async def test_a_removed_message_is_deleted_for_members_and_its_author_notified(client, make_user, alice, bob):
    mod = await person(client.app, make_user, "moderator")  # not a member of the chat
    chat = await make_chat(client, alice, bob)
    kept = await send(client, alice, chat, "fine")
    bad = await send(client, alice, chat, "buy my pills")
    sock = await connect(client, bob)
    await remove_message(client, mod, bad["id"], reason="spam links")
    event = await sock.next("message_deleted")
    assert event["data"] == {"chat_id": chat, "message_id": bad["id"]}
    resp = await client.get(f"/api/v1/messages/{chat}", headers=bob.headers)
    assert [m["id"] for m in await resp.json()] == [kept["id"]]
    notes = [n for n in await notifications_of(client, alice) if n["event_type"] == "message_removed"]
    assert len(notes) == 1
    assert json.loads(notes[0]["payload"]) == {"chat_id": chat, "message_id": bad["id"], "reason": "spam links",
                                               "removed_by": "moderation"}
    await remove_message(client, mod, bad["id"], expect=404)


async def test_a_moderator_deletes_any_file_and_the_uploader_is_notified(client, make_user, alice, bob):
    mod = await person(client.app, make_user, "moderator")
    chat = await make_chat(client, alice, bob)
    data = png(2048)
    resp = await client.post("/api/v1/media/upload-url", json={"file_name": "pic.png", "file_type": "image/png",
                                                               "file_size": len(data)}, headers=alice.headers)
    ticket = await resp.json()
    assert resp.status == 200, ticket
    put = await client.put(local(ticket["upload_url"]), data=data, headers=ticket["required_headers"])
    assert put.status in (200, 201), await put.text()
    message = await send(client, alice, chat, None, type="image")
    resp = await client.post("/api/v1/media/attachments", json={"message_id": message["id"],
                                                                "file_url": ticket["file_url"],
                                                                "file_type": "image/png", "file_size": len(data)},
                             headers=alice.headers)
    assert resp.status == 200, await resp.text()
    name = ticket["file_url"].rsplit("/", 1)[1]
    resp = await client.delete(f"{MOD}/files/{name}", json={"reason": "not allowed here"}, headers=mod.headers)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["messages_updated"] == 1
    notes = [json.loads(n["payload"]) for n in await notifications_of(client, alice) if n["event_type"] == "file_removed"]
    assert notes == [{"file_name": "pic.png", "file_type": "image/png", "reason": "not allowed here",
                      "removed_by": "moderation"}]
    resp = await client.get(local(ticket["file_url"]), headers=bob.headers)
    assert resp.status == 404


# the audit log ---------------------------------------------------------------

async def test_every_moderation_action_is_audited_with_actor_target_reason_and_ip(client, make_user, alice, bob):
    mod = await person(client.app, make_user, "moderator")
    chat = await make_chat(client, alice, bob)
    message = await send(client, alice, chat, "rude")
    await timeout(client, mod, alice, time.time() + 60, reason="r1")
    resp = await client.delete(f"{MOD}/users/{alice.id}/timeout", params={"reason": "r2"}, headers=mod.headers)
    assert resp.status == 200
    await remove_message(client, mod, message["id"], reason="r3")
    await ban(client, mod, alice, reason="r4")
    resp = await client.delete(f"{MOD}/users/{alice.id}/ban", params={"reason": "r5"}, headers=mod.headers)
    assert resp.status == 200
    for event, reason in (("user_timed_out", "r1"), ("timeout_lifted", "r2"), ("message_removed", "r3"),
                          ("user_banned", "r4"), ("user_unbanned", "r5")):
        rows = await audit_of(client, event)
        assert len(rows) == 1, event
        entry = rows[0]
        assert (entry.actor, entry.user_id, entry.detail["reason"]) == (f"user:{mod.id}", alice.id, reason), event
        assert entry.ip_address == "127.0.0.1", event
    assert (await audit_of(client, "message_removed"))[0].target == f"message:{message['id']}"
    resp = await client.get("/api/v1/system/activity", headers=owner(client.app).headers)
    texts = [a["text"] for a in (await resp.json())["activity"]]
    assert f"{mod.username} banned alice" in texts
