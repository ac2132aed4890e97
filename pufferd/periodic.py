"""Periodic background work (the media janitor, notification pruning): one task per job, started
and stopped with the application, that survives a failing pass."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def running(name: str, interval: float, job: Callable[[], Awaitable[object]], *,
                  first_at_start: bool = False) -> AsyncIterator[None]:
    """Run JOB every INTERVAL seconds (and once right away with FIRST_AT_START) while inside.

    A pass that raises is logged and retried at the next interval; leaving cancels the task and
    waits for it, so no pass outlives the database it writes to.
    """
    async def loop() -> None:
        if not first_at_start:
            await asyncio.sleep(interval)
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; retrying in %g s", name, interval)
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop(), name=f"pufferd-{name}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
