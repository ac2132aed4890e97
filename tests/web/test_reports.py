"""Reports over HTTP (issue 13, item 3; pufferd/reports.py): reporting what one can see, the
reporter's view, the moderators' queue and a report's context, and resolving with each action in
the same transaction as the resolution."""
from __future__ import annotations

import json
import time

import pytest
from admin_helpers import person
from messages_helpers import make_chat, send
from moderation_helpers import REPORTS, at, audit_of, notifications_of, report, resolve, user_row
from realtime_helpers import connect


@pytest.fixture
async def mod(client, make_user):
    return await person(client.app, make_user, "moderator", "mod")


@pytest.fixture
async def spam(client, alice, bob, carol) -> dict:
    """A group of alice, bob and carol where alice posted five messages; the third is spam."""
    chat = await make_chat(client, alice, bob, carol)
    sent = [await send(client, alice, chat, f"message {i}") for i in range(1, 3)]
    bad = await send(client, alice, chat, "buy now at example.com")
    sent += [await send(client, alice, chat, f"message {i}") for i in range(4, 6)]
    return {"chat": chat, "bad": bad, "others": sent}


# reporting -------------------------------------------------------------------------------------

async def test_a_report_of_a_message_the_reporter_cannot_see_is_404(client, make_user, spam):
    outsider = await make_user("outsider")
    body = await report(client, outsider, message_id=spam["bad"]["id"], expect=404)
    assert body["detail"] == "Message not found"
    body = await report(client, outsider, message_id=10**9, expect=404)
    assert body["detail"] == "Message not found"


async def test_a_report_names_a_known_category_and_one_target(client, alice, bob, spam):
    await report(client, bob, message_id=spam["bad"]["id"], category="rude", expect=422)
    await report(client, bob, message_id=spam["bad"]["id"], user_id=alice.id, expect=422)
    await report(client, bob, expect=422)
    await report(client, alice, message_id=spam["bad"]["id"], expect=422)  # one's own message
    await report(client, alice, user_id=alice.id, expect=422)
    await report(client, alice, user_id=10**9, expect=404)
    body = await report(client, bob, message_id=spam["bad"]["id"], description="bad \u0000", expect=422)
    assert body["detail"][0]["loc"] == ["body", "description"]


async def test_a_second_open_report_of_the_same_target_is_409(client, alice, bob, spam):
    first = await report(client, bob, message_id=spam["bad"]["id"])
    body = await report(client, bob, message_id=spam["bad"]["id"], expect=409)
    assert body["detail"] == f"You already reported this message: report {first['id']} is open"
    await report(client, bob, user_id=alice.id)  # another target
    await report(client, bob, user_id=alice.id, expect=409)


async def test_the_reporter_sees_the_state_of_their_own_reports(client, mod, alice, bob, carol, spam):
    first = await report(client, bob, message_id=spam["bad"]["id"], category="spam", description="ads\r\nagain")
    assert (first["state"], first["description"], first["reported_user_id"]) == ("open", "ads\nagain", alice.id)
    second = await report(client, bob, user_id=alice.id, category="harassment")
    await report(client, carol, user_id=alice.id)
    await resolve(client, mod, first["id"], "dismiss")

    resp = await client.get("/api/v1/reports/mine", headers=bob.headers)
    mine = (await resp.json())["reports"]
    assert [(r["id"], r["state"]) for r in mine] == [(second["id"], "open"), (first["id"], "dismissed")]
    assert "action" not in mine[1] and "resolution_reason" not in mine[1]  # the reporter sees the state only
    resp = await client.get("/api/v1/reports/mine", params={"state": "open", "limit": 1}, headers=bob.headers)
    assert [r["id"] for r in (await resp.json())["reports"]] == [second["id"]]
    notes = [json.loads(n["payload"]) for n in await notifications_of(client, bob) if n["event_type"] == "report_resolved"]
    assert notes == [{"report_id": first["id"], "state": "dismissed"}]


# the queue -------------------------------------------------------------------------------------

async def test_people_without_resolve_reports_get_403_on_the_queue(client, alice, bob, spam):
    filed = await report(client, bob, message_id=spam["bad"]["id"])
    for method, path, body in (("GET", REPORTS, None), ("GET", f"{REPORTS}/{filed['id']}", None),
                               ("POST", f"{REPORTS}/{filed['id']}/resolve", {"action": "dismiss", "reason": "x"})):
        resp = await client.request(method, path, json=body, headers=alice.headers)
        assert resp.status == 403, (method, path)
        assert "resolve_reports" in (await resp.json())["detail"]


async def test_the_queue_is_newest_first_by_state_and_type_and_paged(client, mod, alice, bob, carol, spam):
    a = await report(client, bob, message_id=spam["bad"]["id"])
    b = await report(client, carol, user_id=alice.id)
    c = await report(client, carol, message_id=spam["others"][0]["id"])
    await resolve(client, mod, c["id"], "dismiss")

    async def ids(**params) -> tuple[list[int], int | None]:
        resp = await client.get(REPORTS, params=params, headers=mod.headers)
        body = await resp.json()
        assert resp.status == 200, body
        return [r["id"] for r in body["reports"]], body["next_cursor"]

    assert await ids() == ([b["id"], a["id"]], None)  # open by default
    assert await ids(state="all") == ([c["id"], b["id"], a["id"]], None)
    assert await ids(state="dismissed") == ([c["id"]], None)
    assert await ids(state="all", type="message") == ([c["id"], a["id"]], None)
    assert await ids(type="user") == ([b["id"]], None)
    page, cursor = await ids(state="all", limit=2)
    assert page == [c["id"], b["id"]] and cursor == b["id"]
    assert await ids(state="all", limit=2, cursor=cursor) == ([a["id"]], None)
    resp = await client.get(REPORTS, params={"state": "closed"}, headers=mod.headers)
    assert resp.status == 422


async def test_a_report_shows_the_message_its_context_and_the_reported_user(client, mod, alice, bob, spam):
    filed = await report(client, bob, message_id=spam["bad"]["id"], description="scam")
    await report(client, bob, user_id=alice.id)
    resp = await client.get(f"{REPORTS}/{filed['id']}", headers=mod.headers)
    body = await resp.json()
    assert resp.status == 200, body
    assert body["report"]["reporter"] == {"id": bob.id, "username": "bob"}
    assert body["report"]["reported_user"] == {"id": alice.id, "username": "alice"}
    assert body["report"]["message_text"] == "buy now at example.com"
    assert body["message"]["text"] == "buy now at example.com" and body["message"]["sender_username"] == "alice"
    assert [m["text"] for m in body["context"]] == ["message 1", "message 2", "message 4", "message 5"]
    assert body["chat"]["id"] == spam["chat"] and body["chat"]["members_count"] == 3
    card = body["reported_user"]
    assert (card["username"], card["state"], card["reports_total"], card["reports_open"]) == ("alice", "active", 2, 2)
    resp = await client.get(f"{REPORTS}/999999", headers=mod.headers)
    assert resp.status == 404


async def test_a_report_keeps_the_message_as_reported_after_its_author_deletes_it(client, mod, alice, bob, spam):
    filed = await report(client, bob, message_id=spam["bad"]["id"])
    resp = await client.delete(f"/api/v1/messages/{spam['bad']['id']}", params={"for_all": "true"},
                               headers=alice.headers)
    assert resp.status == 204
    body = await (await client.get(f"{REPORTS}/{filed['id']}", headers=mod.headers)).json()
    assert body["message"] is None and body["report"]["message_text"] == "buy now at example.com"
    refused = await resolve(client, mod, filed["id"], "delete", expect=409)
    assert "gone already" in refused["detail"]


# resolving -------------------------------------------------------------------------------------

@pytest.mark.parametrize("action", ["dismiss", "delete", "timeout", "ban"])
async def test_a_report_resolved_with_each_action_applies_it(client, mod, alice, bob, carol, spam, action):
    filed = await report(client, bob, message_id=spam["bad"]["id"])
    twin = await report(client, carol, message_id=spam["bad"]["id"])
    sock = await connect(client, bob)
    extra = {"until": at(time.time() + 3600)} if action == "timeout" else {}
    body = await resolve(client, mod, filed["id"], action, **extra)
    assert body["state"] == ("dismissed" if action == "dismiss" else "resolved")
    assert (body["action"], body["resolution_reason"], body["resolved_by"]["id"]) == (action, f"resolved: {action}",
                                                                                     mod.id)
    # the other open report of the same message closed with it
    twin_now = (await (await client.get(f"{REPORTS}/{twin['id']}", headers=mod.headers)).json())["report"]
    assert (twin_now["state"], twin_now["action"]) == (body["state"], action)

    resp = await client.get(f"/api/v1/messages/{spam['chat']}", headers=bob.headers)
    texts = [m["text"] for m in await resp.json()]
    alice_now = await user_row(client, alice.id)
    if action == "dismiss":
        assert "buy now at example.com" in texts and alice_now.banned_at is None and alice_now.timeout_until is None
    elif action == "delete":
        assert "buy now at example.com" not in texts
        assert (await sock.next("message_deleted"))["data"]["message_id"] == spam["bad"]["id"]
        notes = [n for n in await notifications_of(client, alice) if n["event_type"] == "message_removed"]
        assert json.loads(notes[0]["payload"])["reason"] == "resolved: delete"
    elif action == "timeout":
        assert alice_now.timed_out(time.time()) and body["timeout_until"] == extra["until"]
        resp = await client.post("/api/v1/messages", json={"chat_id": spam["chat"], "text": "again"},
                                 headers=alice.headers)
        assert resp.status == 403 and extra["until"] in (await resp.json())["detail"]
    else:
        assert alice_now.banned_at is not None and alice_now.ban_reason == "resolved: ban"
        resp = await client.get("/api/v1/users/me", headers=alice.headers)
        assert resp.status == 401
    await resolve(client, mod, filed["id"], "dismiss", expect=409)  # resolved once
    entries = await audit_of(client, "report_resolved")
    assert len(entries) == 1
    assert (entries[0].actor, entries[0].target, entries[0].detail["action"]) == (f"user:{mod.id}",
                                                                                  f"report:{filed['id']}", action)
    assert entries[0].detail["reports"] == [filed["id"], twin["id"]]
    if action != "dismiss":
        applied = {"delete": "message_removed", "timeout": "user_timed_out", "ban": "user_banned"}[action]
        assert (await audit_of(client, applied))[0].detail["report_id"] == filed["id"]


async def test_a_refused_action_leaves_the_report_open_and_nothing_applied(client, make_user, mod, bob):
    admin = await person(client.app, make_user, "admin")
    chat = await make_chat(client, admin, bob)
    message = await send(client, admin, chat, "an admin's words")
    filed = await report(client, bob, message_id=message["id"])
    for action in ("ban", "delete"):
        body = await resolve(client, mod, filed["id"], action, expect=403)
        assert "A moderator cannot" in body["detail"]
    body = await resolve(client, mod, filed["id"], "timeout", until=at(time.time() - 10), expect=422)
    after = (await (await client.get(f"{REPORTS}/{filed['id']}", headers=mod.headers)).json())
    assert after["report"]["state"] == "open" and after["message"] is not None
    assert (await user_row(client, admin.id)).banned_at is None
    assert await audit_of(client, "report_resolved") == []


async def test_resolve_checks_its_until_and_that_delete_is_for_messages(client, mod, alice, bob):
    filed = await report(client, bob, user_id=alice.id)
    await resolve(client, mod, filed["id"], "timeout", expect=422)  # no until
    await resolve(client, mod, filed["id"], "ban", until=at(time.time() + 60), expect=422)
    body = await resolve(client, mod, filed["id"], "delete", expect=422)
    assert "message reports" in str(body["detail"])
    await resolve(client, mod, filed["id"], "ban")
