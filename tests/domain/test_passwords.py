"""PasswordHasher: off the event loop, below its priority, the same time for unknown accounts."""
from __future__ import annotations

import os
import sys
import threading

import pytest

from pufferd.passwords import PasswordHasher


@pytest.fixture
async def hasher():
    h = PasswordHasher(4, 2, nice=10)
    yield h
    h.close()


async def test_hash_and_verify(hasher):
    hashed = await hasher.hash("a good password")
    assert await hasher.verify("a good password", hashed)
    assert not await hasher.verify("a bad password", hashed)
    assert not await hasher.verify("a good password", None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux behaviour")
async def test_bcrypt_threads_run_below_the_event_loop_priority(hasher):
    await hasher.hash("a good password")
    workers = [t for t in threading.enumerate() if t.name.startswith("pufferd-bcrypt")]
    assert workers
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    for t in workers:
        assert os.getpriority(os.PRIO_PROCESS, t.native_id) == min(19, base + 10)
