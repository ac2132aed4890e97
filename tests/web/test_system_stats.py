"""Analytics over HTTP (issue 13, item 6): statistics and chart series from the rollups, in time
zones, for VIEW_ANALYTICS only; usage monitoring."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from system_helpers import ANALYTICS_ROUTES, call, get_json, with_role

from pufferd.app import make_app
from pufferd.clock import FakeClock
from pufferd.db import chats_q
from pufferd.web.keys import CTX

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC).timestamp()
SERIES = "/api/v1/system/stats/series"


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.fixture
def app(settings):
    return make_app(settings, clock=FakeClock(start=NOW))


@pytest.fixture
async def admin(client, make_user):
    return await with_role(client, make_user, "admin", "root")


async def seed(client, sender_id: int, times: list[float], *, chat_type: str = "group") -> int:
    """A chat of CHAT_TYPE and one message from SENDER_ID at each of TIMES (UTC unix seconds)."""
    def seed_txn(conn) -> int:
        chat = chats_q.insert(conn, public_id=f"S{int(times[0]) if times else 0:023d}"[:24], type=chat_type,
                              title=None if chat_type == "private" else "Seeded", created_by=sender_id, now=NOW)
        chats_q.add_member(conn, chat.id, sender_id, "owner", NOW)
        conn.executemany("INSERT INTO messages(chat_id, sender_id, type, text, created_at, updated_at)"
                         " VALUES (?, ?, 'text', 'x', ?, ?)", [(chat.id, sender_id, t, t) for t in times])
        return chat.id
    return await client.app[CTX].db.write(seed_txn)


async def series(client, admin, expect: int = 200, **params: str):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return await get_json(client, admin, f"{SERIES}?{query}", expect)


async def test_every_analytics_route_is_refused_to_users_and_moderators(client, make_user, alice):
    moderator = await with_role(client, make_user, "moderator")
    for user in (alice, moderator):
        for method, path, body in ANALYTICS_ROUTES:
            resp = await call(client, user, method, path, body)
            assert resp.status == 403, (user.username, path, await resp.text())
            assert "view_analytics" in (await resp.json())["detail"]
    for method, path, body in ANALYTICS_ROUTES:
        assert (await call(client, None, method, path, body)).status == 401


async def test_stats_count_users_messages_chats_and_storage(client, admin, alice, bob):
    await seed(client, alice.id, [at("2026-03-10T12:20"), at("2026-03-10T11:50"), at("2026-03-10T11:10"),
                                  at("2026-03-10T10:00"), at("2026-03-01T10:00")])
    await seed(client, bob.id, [], chat_type="channel")
    stats = await get_json(client, admin, "/api/v1/system/stats")
    assert stats["users"]["total"] == 4  # the initial owner, root, alice, bob
    # the last hour (11:30-12:30) holds 12:20 and 11:50: the current hour in full, the 11:00 hour
    # pro-rated by the half of it inside the window; the last day holds the four of March 10
    assert stats["messages"] == {"last_hour": 2, "last_day": 4, "total": 5}
    assert stats["chats"] == {"private": 0, "group": 1, "channel": 1, "total": 2}
    assert stats["storage"] == {"files": 0, "bytes": 0, "by_type": {}, "blobs": 0, "blob_bytes": 0}
    assert stats["online_now"] == 0 and stats["sockets_open"] == 0
    assert stats["generated_at"] == "2026-03-10T12:30:00Z"


async def test_active_users_come_from_requests_flushed_by_the_activity_rollup(client, admin, alice, bob):
    assert (await client.get("/api/v1/chats", headers=alice.headers)).status == 200
    await get_json(client, admin, "/api/v1/system/tasks")  # admin is active too
    run = await client.post("/api/v1/system/tasks/activity_rollup/run", headers=admin.headers)
    assert run.status == 200 and (await run.json())["last_result"] == "ok"
    stats = await get_json(client, admin, "/api/v1/system/stats")
    assert stats["users"]["active_24h"] == stats["users"]["active_30d"] == 2  # bob made no request
    body = await series(client, admin, metric="active_users", period="day", start="2026-03-09", end="2026-03-11",
                        tz="UTC")
    assert [p["value"] for p in body["points"]] == [0, 2] and body["total"] is None


async def test_messages_per_day_follow_the_callers_time_zone(client, admin, alice):
    await seed(client, alice.id, [at("2026-03-01T22:30"),   # Berlin 23:30 on the 1st
                                  at("2026-03-01T23:30"),   # Berlin 00:30 on the 2nd
                                  at("2026-03-02T10:00"),
                                  at("2026-03-03T23:10")])  # Berlin 00:10 on the 4th
    berlin = await series(client, admin, metric="messages", period="day", start="2026-03-01", end="2026-03-05",
                          tz="Europe/Berlin")
    assert [(p["start"], p["value"]) for p in berlin["points"]] == [
        ("2026-03-01T00:00:00+01:00", 1), ("2026-03-02T00:00:00+01:00", 2),
        ("2026-03-03T00:00:00+01:00", 0), ("2026-03-04T00:00:00+01:00", 1)]
    assert berlin["total"] == 4 and berlin["tz"] == "Europe/Berlin"
    utc = await series(client, admin, metric="messages", period="day", start="2026-03-01", end="2026-03-05", tz="UTC")
    assert [p["value"] for p in utc["points"]] == [2, 1, 1, 0]


async def test_a_day_of_23_hours_at_the_daylight_saving_change_is_summed_in_full(client, admin, alice):
    # New York moves to daylight time on 2026-03-08: that local day runs 05:00Z .. 04:00Z next day
    await seed(client, alice.id, [at("2026-03-08T04:30"),   # 23:30 EST on the 7th
                                  at("2026-03-09T03:30"),   # 23:30 EDT on the 8th
                                  at("2026-03-09T04:30")])  # 00:30 EDT on the 9th
    body = await series(client, admin, metric="messages", period="day", start="2026-03-07", end="2026-03-10",
                        tz="America/New_York")
    assert [(p["start"], p["value"]) for p in body["points"]] == [
        ("2026-03-07T00:00:00-05:00", 1), ("2026-03-08T00:00:00-05:00", 1), ("2026-03-09T00:00:00-04:00", 1)]


async def test_half_hour_zones_move_boundaries_to_the_utc_hour_as_documented(client, admin, alice):
    # Kolkata is UTC+5:30: its 2nd of March starts at 18:30Z on the 1st, moved back to 18:00Z
    await seed(client, alice.id, [at("2026-03-01T18:10"),   # 23:40 local on the 1st, counted on the 2nd
                                  at("2026-03-01T18:45"),   # 00:15 local on the 2nd
                                  at("2026-03-01T17:50")])  # 23:20 local on the 1st
    body = await series(client, admin, metric="messages", period="day", start="2026-03-01", end="2026-03-03",
                        tz="Asia/Kolkata")
    assert [p["value"] for p in body["points"]] == [1, 2]
    hours = await series(client, admin, metric="messages", period="hour", start="2026-03-01T23:00",
                         end="2026-03-02T00:30", tz="Asia/Kolkata")
    # hour points are UTC hours, labelled in local time
    assert [(p["start"], p["value"]) for p in hours["points"]] == [
        ("2026-03-01T22:30:00+05:30", 1), ("2026-03-01T23:30:00+05:30", 2)]


async def test_weeks_start_on_monday_and_months_on_the_first(client, admin, alice):
    await seed(client, alice.id, [at("2026-03-01T12:00"), at("2026-03-02T12:00"), at("2026-03-08T12:00"),
                                  at("2026-03-09T12:00"), at("2026-01-15T12:00")])
    weeks = await series(client, admin, metric="messages", period="week", start="2026-02-25", end="2026-03-10",
                         tz="UTC")
    assert [(p["start"][:10], p["value"]) for p in weeks["points"]] == [
        ("2026-02-23", 1), ("2026-03-02", 2), ("2026-03-09", 1)]
    months = await series(client, admin, metric="messages", period="month", start="2026-01-20", end="2026-03-31",
                          tz="UTC")
    assert [(p["start"][:10], p["value"]) for p in months["points"]] == [
        ("2026-01-01", 1), ("2026-02-01", 0), ("2026-03-01", 4)]


async def test_registrations_and_chats_created_are_charted_too(client, admin, alice):
    await seed(client, alice.id, [], chat_type="group")
    chats = await series(client, admin, metric="chats_created", period="hour", tz="UTC")
    assert len(chats["points"]) == 24 and chats["points"][-1]["value"] == 1  # default: the last 24 hours
    assert chats["points"][-1]["start"] == "2026-03-10T12:00:00+00:00"
    regs = await series(client, admin, metric="registrations", period="month", start="2020-01-01",
                        end="2024-12-31", tz="UTC")
    assert regs["total"] == 0 and len(regs["points"]) == 60  # 2020-01 .. 2024-12, the most one request takes


@pytest.mark.parametrize("params, field", [
    ({"metric": "messages", "tz": "Mars/Olympus_Mons"}, "tz"),
    ({"metric": "messages", "tz": "../../etc/passwd"}, "tz"),
    ({"metric": "messages", "period": "fortnight"}, "period"),
    ({"metric": "sales"}, "metric"),
    ({"metric": "active_users", "period": "hour"}, "period"),
    ({"metric": "messages", "period": "hour", "start": "2026-01-01", "end": "2026-03-01"}, "end"),
    ({"metric": "messages", "period": "day", "start": "2020-01-01", "end": "2026-01-01"}, "end"),
    ({"metric": "messages", "period": "day", "start": "2026-03-05", "end": "2026-03-01"}, "start"),
    ({"metric": "messages", "start": "yesterday"}, "start"),
])
async def test_bad_series_parameters_are_422_naming_the_field(client, admin, params, field):
    body = await series(client, admin, expect=422, **params)
    assert body["detail"][0]["loc"] == ["query", field], body


async def test_usage_reports_the_process_database_disk_and_event_loop(client, admin):
    usage = await get_json(client, admin, "/api/v1/system/usage")
    assert usage["rss_bytes"] > 10_000_000 and usage["threads"] >= 2
    assert usage["db_bytes"] > 0 and usage["disk_free_bytes"] > 0 and usage["disk_total_bytes"] >= usage["disk_free_bytes"]
    assert usage["uptime_seconds"] >= 0 and usage["loop_lag_seconds"] >= 0
    assert usage["db_write_queue"] >= 0 and usage["db_write_batches"] >= 0
    assert usage["cpu_user_seconds"] > 0


async def test_active_users_per_week_and_month_count_each_user_once(client, admin, alice, bob):
    await seed(client, alice.id, [at("2026-03-02T10:00"), at("2026-03-03T10:00"), at("2026-02-10T10:00")])
    await seed(client, bob.id, [at("2026-03-09T10:00")])
    months = await series(client, admin, metric="active_users", period="month", start="2026-02-01",
                          end="2026-03-31", tz="Europe/Berlin")
    assert [p["value"] for p in months["points"]] == [1, 2]
    weeks = await series(client, admin, metric="active_users", period="week", start="2026-03-02",
                         end="2026-03-15", tz="UTC")
    assert [p["value"] for p in weeks["points"]] == [1, 1]
    # 14 hours ahead of UTC, local weeks do not fall on UTC weeks: counted from the days instead
    far = await series(client, admin, metric="active_users", period="week", start="2026-03-02",
                       end="2026-03-15", tz="Pacific/Kiritimati")
    assert [p["value"] for p in far["points"]] == [1, 1]
