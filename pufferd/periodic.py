"""Periodic background work (the media janitor, notification pruning, scheduled backups, ...): one
task per job, started and stopped with the application, that survives a failing pass.

Jobs started with a `Board` are listed on it with their last run, result, duration and next run,
and can be run at once (`Board.run`), never two passes of one job at a time.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

DETAIL_MAX = 500  # characters of an error message kept on the board


def slug(name: str) -> str:
    """The task's name on the board and in URLs: 'media janitor' -> 'media_janitor'."""
    return name.replace(" ", "_")


@dataclass
class TaskState:
    """One job on the board. Times are wall-clock unix seconds."""

    name: str
    title: str
    interval: float | None  # None: not scheduled (runs only when asked)
    job: Callable[[], Awaitable[object]] = field(repr=False)
    running: bool = False
    runs: int = 0
    failures: int = 0
    last_started_at: float | None = None
    last_finished_at: float | None = None
    last_duration: float | None = None
    last_result: str | None = None  # "ok" | "error"
    last_detail: dict[str, Any] = field(default_factory=dict)  # what the pass did, or {"error": ...}
    next_run_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)


def _detail(result: object) -> dict[str, Any]:
    if result is None:
        return {}
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return {k: v for k, v in dataclasses.asdict(result).items() if isinstance(v, (int, float, str, bool))}
    if isinstance(result, dict):
        return {str(k): v for k, v in result.items() if isinstance(v, (int, float, str, bool))}
    if isinstance(result, (int, float, str, bool)):
        return {"result": result}
    return {}


class Board:
    """The background jobs of one application, by name."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._tasks: dict[str, TaskState] = {}

    def register(self, title: str, interval: float | None, job: Callable[[], Awaitable[object]]) -> TaskState:
        state = TaskState(slug(title), title, interval, job)
        self._tasks[state.name] = state
        return state

    def unregister(self, state: TaskState) -> None:
        if self._tasks.get(state.name) is state:
            del self._tasks[state.name]

    def states(self) -> list[TaskState]:
        return sorted(self._tasks.values(), key=lambda s: s.name)

    def get(self, name: str) -> TaskState | None:
        return self._tasks.get(name)

    async def run(self, state: TaskState) -> TaskState:
        """Run one pass now (after a pass already running, never beside it); record and return it.

        A failing pass is logged and recorded; it does not raise.
        """
        async with state.lock:
            state.running = True
            state.last_started_at = self._now()
            t0 = time.perf_counter()
            try:
                result = await state.job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                state.failures += 1
                state.last_result = "error"
                state.last_detail = {"error": (str(exc) or type(exc).__name__)[:DETAIL_MAX]}
                log.exception("%s failed", state.title)
            else:
                state.last_result = "ok"
                state.last_detail = _detail(result)
            finally:
                state.running = False
                state.runs += 1
                state.last_duration = time.perf_counter() - t0
                state.last_finished_at = self._now()
                if state.interval is not None:
                    state.next_run_at = state.last_finished_at + state.interval
        return state


@contextlib.asynccontextmanager
async def running(name: str, interval: float | None, job: Callable[[], Awaitable[object]], *,
                  first_at_start: bool = False, board: Board | None = None) -> AsyncIterator[None]:
    """Run JOB every INTERVAL seconds (and once right away with FIRST_AT_START) while inside.

    A pass that raises is logged and retried at the next interval; leaving cancels the task and
    waits for it, so no pass outlives the database it writes to. With BOARD the job is listed
    there (and can be run now); INTERVAL None lists it without scheduling it.
    """
    board = board or Board()
    state = board.register(name, interval, job)

    async def loop(every: float) -> None:
        if not first_at_start:
            state.next_run_at = board._now() + every
            await asyncio.sleep(every)
        while True:
            await board.run(state)
            await asyncio.sleep(every)

    task = asyncio.create_task(loop(interval), name=f"pufferd-{name}") if interval is not None else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        board.unregister(state)
