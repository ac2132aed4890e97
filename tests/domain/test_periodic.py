"""Periodic background work: runs on its interval, survives a failing pass, stops on leaving."""
from __future__ import annotations

import asyncio
import logging

from pufferd import periodic


async def test_a_failing_pass_is_logged_and_the_next_one_still_runs(caplog):
    calls: list[int] = []

    async def job() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("disk on fire")

    with caplog.at_level(logging.ERROR, logger="pufferd.periodic"):
        async with periodic.running("test job", 0.01, job, first_at_start=True):
            while len(calls) < 3:
                await asyncio.sleep(0.01)
    assert "test job failed" in caplog.text and "disk on fire" in caplog.text


async def test_without_first_at_start_the_first_pass_waits_one_interval():
    calls: list[float] = []

    async def job() -> None:
        calls.append(asyncio.get_running_loop().time())

    async with periodic.running("late job", 0.2, job):
        await asyncio.sleep(0.1)
        assert calls == []
        while not calls:
            await asyncio.sleep(0.02)


async def test_leaving_cancels_a_pass_in_progress_and_waits_for_it():
    state = {"started": False, "finished": False, "cancelled": False}

    async def job() -> None:
        state["started"] = True
        try:
            await asyncio.sleep(10)
            state["finished"] = True
        except asyncio.CancelledError:
            state["cancelled"] = True
            raise

    async with periodic.running("slow job", 0.01, job, first_at_start=True):
        while not state["started"]:
            await asyncio.sleep(0.01)
    assert state == {"started": True, "finished": False, "cancelled": True}
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "pufferd-slow job"]
