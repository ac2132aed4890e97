"""Maintenance over HTTP (issue 13, item 8): background tasks listed and run now, scheduled backups
made, listed and rotated, failures visible; MANAGE_SETTINGS only."""
from __future__ import annotations

import os

import pytest
from system_helpers import MAINTENANCE_ROUTES, call, get_json, with_role

from pufferd.app import make_app
from pufferd.clock import FakeClock
from pufferd.db import audit_q
from pufferd.web.keys import CTX

TASKS = "/api/v1/system/tasks"


@pytest.fixture
def backup_dir(tmp_path):
    return tmp_path / "backups"


@pytest.fixture
def settings_overrides(backup_dir):
    return {"backup_dir": backup_dir, "backup_keep": 2}


@pytest.fixture
def app(settings):
    return make_app(settings, clock=FakeClock(start=1_790_000_000.0))


@pytest.fixture
async def admin(client, make_user):
    return await with_role(client, make_user, "admin", "root")


async def run(client, user, name: str) -> dict:
    resp = await client.post(f"{TASKS}/{name}/run", headers=user.headers)
    body = await resp.json()
    assert resp.status == 200, body
    return body


async def test_maintenance_routes_are_refused_to_users_and_moderators(client, make_user, alice):
    moderator = await with_role(client, make_user, "moderator")
    for user in (alice, moderator):
        for method, path, body in MAINTENANCE_ROUTES:
            resp = await call(client, user, method, path, body)
            assert resp.status == 403, (path, await resp.text())


async def test_tasks_are_listed_with_their_schedule(client, admin):
    tasks = {t["name"]: t for t in await get_json(client, admin, TASKS)}
    assert {"media_janitor", "notification_pruning", "activity_rollup", "scheduled_backup"} <= set(tasks)
    janitor = tasks["media_janitor"]
    assert janitor["interval_seconds"] == 60 and janitor["next_run_at"] is not None
    assert tasks["scheduled_backup"]["interval_seconds"] is None  # backup_interval_hours is 0: not scheduled
    assert tasks["notification_pruning"]["runs"] >= 0


async def test_a_task_runs_now_and_the_run_is_recorded_and_audited(client, admin):
    body = await run(client, admin, "media_janitor")
    assert body["last_result"] == "ok" and body["runs"] >= 1 and body["running"] is False
    assert body["last_detail"] == {"expired_uploads": 0, "unattached": 0, "blobs": 0}
    assert body["last_duration_seconds"] >= 0 and body["last_finished_at"] == "2026-09-21T14:13:20Z"
    listed = {t["name"]: t for t in await get_json(client, admin, TASKS)}
    assert listed["media_janitor"]["last_result"] == "ok"
    entries = await client.app[CTX].db.read(lambda c: audit_q.latest(c, limit=5, event="task_run"))
    assert entries and entries[0].actor == f"user:{admin.id}"
    assert entries[0].detail["target"] == "task:media_janitor" and entries[0].ip_address == "127.0.0.1"


async def test_an_unknown_task_is_404(client, admin):
    resp = await client.post(f"{TASKS}/no_such_task/run", headers=admin.headers)
    assert resp.status == 404 and "media_janitor" in (await resp.json())["detail"]


async def test_a_scheduled_backup_is_made_listed_and_rotated(client, admin, backup_dir):
    clock = client.app[CTX].clock
    names = []
    for _ in range(3):
        body = await run(client, admin, "scheduled_backup")
        assert body["last_result"] == "ok", body
        names.append(body["last_detail"]["name"])
        clock.advance(3600)
    assert names[0] == "pufferd-backup-20260921T141320Z"
    on_disk = sorted(p.name for p in backup_dir.iterdir())
    assert on_disk == names[1:]  # backup_keep = 2: the oldest went
    listed = await get_json(client, admin, "/api/v1/system/backups")
    assert listed["keep"] == 2 and listed["backup_dir"] == str(backup_dir)
    assert [b["name"] for b in listed["backups"]] == names[:0:-1]  # newest first
    newest = listed["backups"][0]
    assert newest["size_bytes"] > 10_000 and newest["age_seconds"] >= 0
    assert (backup_dir / names[-1] / "pufferd.db").is_file() and (backup_dir / names[-1] / "keys").is_dir()
    assert oct(os.stat(backup_dir / names[-1]).st_mode & 0o777) == "0o700"


async def test_a_failing_backup_shows_on_the_task_list_and_in_the_log(client, admin, data_dir, caplog):
    client.app[CTX].settings = client.app[CTX].settings.model_copy(update={"backup_dir": data_dir / "inside"})
    body = await run(client, admin, "scheduled_backup")
    assert body["last_result"] == "error" and body["failures"] == 1
    assert "inside the data directory" in body["last_detail"]["error"]
    assert "scheduled backup failed" in caplog.text
    listed = {t["name"]: t for t in await get_json(client, admin, TASKS)}
    assert listed["scheduled_backup"]["last_result"] == "error"
