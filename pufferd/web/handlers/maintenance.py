"""Maintenance (issue 13, item 8; README "Maintenance and backups"): background tasks and
scheduled backups, MANAGE_SETTINGS only."""
from __future__ import annotations

from aiohttp import web

from pufferd import backups, tasks
from pufferd.web.client import client_info
from pufferd.web.keys import CTX, USER
from pufferd.web.route import Router
from pufferd.web.schemas.system_stats import BackupRead, BackupsRead, TaskRead

routes = Router("system")


@routes.get("/api/v1/system/tasks", response=list[TaskRead])
async def list_tasks(request: web.Request) -> list[TaskRead]:
    """Background tasks with their last run, result, duration and next run."""
    return [TaskRead.of(t) for t in tasks.list_tasks(request.app[CTX], request[USER])]


@routes.post("/api/v1/system/tasks/{name}/run", response=TaskRead)
async def run_task(request: web.Request, name: str) -> TaskRead:
    """Run a background task now and answer when it finished (audited).

    The answer is the task's state: `last_result` is `error` (with `last_detail.error`) when the
    pass failed; the status is 200 either way. 404 for an unknown task.
    """
    state = await tasks.run_task(request.app[CTX], request[USER], name, client_info(request))
    return TaskRead.of(state)


@routes.get("/api/v1/system/backups", response=BackupsRead)
async def list_backups(request: web.Request) -> BackupsRead:
    """Scheduled backups kept in `backup_dir`, newest first, with size and age."""
    ctx = request.app[CTX]
    entries = await backups.list_backups(ctx, request[USER])
    now = ctx.clock.time()
    s = ctx.settings
    return BackupsRead(backup_dir=str(s.backup_dir) if s.backup_dir else None, interval_hours=s.backup_interval_hours,
                       keep=s.backup_keep, backups=[BackupRead.of(b, now) for b in entries])
