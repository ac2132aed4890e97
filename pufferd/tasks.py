"""Maintenance (issue 13, item 8): the background tasks of this server, listed with their last run,
result, duration and next run, and run now on an admin's request (MANAGE_SETTINGS, audited).

The tasks are whatever runs through `periodic.running(..., board=ctx.tasks)`: the media janitor,
notification pruning, the activity rollup of analytics and the scheduled backup.
"""
from __future__ import annotations

from pufferd import audit
from pufferd.audit import ClientInfo
from pufferd.context import Context
from pufferd.db.users_q import User
from pufferd.errors import NotFound
from pufferd.periodic import TaskState
from pufferd.privileges import Privilege, require


def list_tasks(ctx: Context, viewer: User) -> list[TaskState]:
    """Every background task, by name."""
    require(viewer, Privilege.MANAGE_SETTINGS)
    return ctx.tasks.states()


async def run_task(ctx: Context, actor: User, name: str, client: ClientInfo) -> TaskState:
    """Run task NAME now (after a pass already running); its outcome is on the returned state,
    an error included (also logged). The run is audited with its result."""
    require(actor, Privilege.MANAGE_SETTINGS)
    state = ctx.tasks.get(name)
    if state is None:
        raise NotFound(f"No task {name!r}; the tasks are: {', '.join(s.name for s in ctx.tasks.states())}")
    await ctx.tasks.run(state)
    now = ctx.clock.time()
    await ctx.db.write(lambda conn: audit.record(
        conn, "task_run", client=client, now=now, user_id=actor.id,
        detail={"target": f"task:{name}", "result": state.last_result or "", **{
            k: v for k, v in state.last_detail.items() if k != "error"}}))
    return state
