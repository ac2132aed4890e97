"""The audit log and the activity feed over HTTP (issue 13, item 5): filters by actor, action,
target and time, newest first with a cursor, and the feed in plain words."""
from __future__ import annotations

import time

import pytest
from admin_helpers import OWNER_ID, owner, person, token_for

from pufferd.clock import FakeClock
from pufferd.web.keys import CTX

AUDIT = "/api/v1/system/audit"
ACTIVITY = "/api/v1/system/activity"
START = 1_790_000_000.0  # 2026-09-21T...Z


@pytest.fixture
def clock():
    return FakeClock(start=START)



async def put_role(client, who, target, role, reason=None):
    resp = await client.put(f"/api/v1/system/users/{target.id}/role", json={"role": role, "reason": reason},
                            headers=who.headers)
    assert resp.status == 200, await resp.text()


async def audit(client, **params) -> dict:
    resp = await client.get(AUDIT, params={k: str(v) for k, v in params.items()}, headers=owner(client.app).headers)
    body = await resp.json()
    assert resp.status == 200, body
    return body


@pytest.fixture
async def story(client, make_user, clock):
    """The owner makes bob a moderator, then ada an admin; ada blocks a range; an hour apart."""
    bob, ada = await make_user("bob"), await make_user("ada")
    await put_role(client, owner(client.app), bob, "moderator", "helps out")
    clock.advance(3600)
    await put_role(client, owner(client.app), ada, "admin")
    clock.advance(3600)
    resp = await client.post("/api/v1/system/ip-blocks", json={"network": "203.0.113.0/24", "reason": "spam"},
                             headers={"Authorization": f"Bearer {token_for(client.app, ada.id)}"})
    assert resp.status == 201, await resp.text()
    return bob, ada


async def test_newest_first_with_names(client, story):
    bob, ada = story
    entries = (await audit(client))["entries"]
    assert [e["action"] for e in entries] == ["ip_blocked", "role_changed", "role_changed"]
    blocked, to_admin, to_mod = entries
    assert blocked["actor"] == f"user:{ada.id}" and blocked["actor_username"] == "ada"
    assert blocked["target"] == "ip:203.0.113.0/24" and blocked["ip_address"] == "127.0.0.1"
    assert to_mod["actor_username"] == "admin" and to_mod["username"] == "bob" and to_mod["user_id"] == bob.id
    assert to_mod["detail"] == {"from": "user", "to": "moderator", "reason": "helps out"}
    assert to_mod["created_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START))


async def test_filters(client, story):
    bob, ada = story
    assert [e["action"] for e in (await audit(client, actor=ada.id))["entries"]] == ["ip_blocked"]
    assert [e["action"] for e in (await audit(client, actor=f"user:{OWNER_ID}"))["entries"]] == ["role_changed"] * 2
    assert [e["username"] for e in (await audit(client, action="role_changed"))["entries"]] == ["ada", "bob"]
    assert [e["username"] for e in (await audit(client, target=bob.id))["entries"]] == ["bob"]
    assert [e["action"] for e in (await audit(client, target="ip:203.0.113.0/24"))["entries"]] == ["ip_blocked"]
    window = await audit(client, since="2026-09-21T00:00:00Z", until=time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(START + 3600)))
    assert [e["username"] for e in window["entries"]] == ["bob"]
    both = await audit(client, action="role_changed", since=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                          time.gmtime(START + 1)))
    assert [e["username"] for e in both["entries"]] == ["ada"]


async def test_cursor_pages_to_the_end(client, story):
    first = await audit(client, limit=2)
    assert len(first["entries"]) == 2 and first["next_cursor"] == first["entries"][-1]["id"]
    rest = await audit(client, limit=2, cursor=first["next_cursor"])
    assert [e["username"] for e in rest["entries"]] == ["bob"] and rest["next_cursor"] is None


@pytest.mark.parametrize("params, field", [
    ({"action": "dance"}, "action"),
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-01-01T00:00:00"}, "since"),  # no time zone
    ({"limit": 0}, "limit"),
    ({"cursor": -1}, "cursor"),
])
async def test_bad_filter_is_422_naming_it(client, params, field):
    resp = await client.get(AUDIT, params=params, headers=owner(client.app).headers)
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["detail"][0]["loc"] == ["query", field]


async def test_since_after_until_is_422(client):
    resp = await client.get(AUDIT, params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
                            headers=owner(client.app).headers)
    assert resp.status == 422 and (await resp.json())["detail"][0]["loc"] == ["query", "until"]


async def test_activity_in_plain_words(client, story, make_user):
    bob, ada = story
    await client.put("/api/v1/system/settings", json={"settings": {"registration_mode": "invite_only"}},
                     headers=owner(client.app).headers)
    await client.put("/api/v1/system/server-info", json={"name": "Puffer Club"}, headers=owner(client.app).headers)
    mod = await person(client.app, make_user, "moderator", "mo")
    assert (await client.get(ACTIVITY, headers=mod.headers)).status == 403
    body = await (await client.get(ACTIVITY, headers=owner(client.app).headers)).json()
    assert [a["text"] for a in body["activity"]] == [
        'admin changed the server\'s name to "Puffer Club"',
        'admin changed the settings: registration_mode to "invite_only"',
        "ada blocked 203.0.113.0/24",
        "admin changed ada's role to admin",
        "admin changed bob's role to moderator",
    ]
    assert body["activity"][2]["actor_user_id"] == ada.id and body["next_cursor"] is None


async def test_activity_tells_of_the_command_line_and_new_accounts(client):
    from pufferd import audit as audit_mod
    from pufferd.db import users_q

    def txn(conn):
        user = users_q.insert(conn, email="zoe@example.com", username="zoe", name="Zoe", password_hash="x",
                              now=START)
        audit_mod.record(conn, "register", client=audit_mod.CLI, user_id=user.id, now=START,
                         detail={"username": "zoe", "invite_id": 3})
        audit_mod.record(conn, "admin_disable_user", client=audit_mod.CLI, user_id=user.id, actor="cli:root",
                         now=START + 1, detail={"disabled": True})

    await client.app[CTX].db.write(txn)
    body = await (await client.get(ACTIVITY, headers=owner(client.app).headers)).json()
    assert [a["text"] for a in body["activity"]] == ["the command line (root) disabled zoe",
                                                     "zoe joined the server with invite 3"]
