"""Password hashing with bcrypt, off the event loop, with bounded concurrency."""
from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import bcrypt

BCRYPT_MAX_BYTES = 72


def hash_sync(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def verify_sync(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


def calibrate(target_seconds: float = 0.25, minimum: int = 10, maximum: int = 16) -> int:
    """The bcrypt cost whose hash takes about TARGET_SECONDS here (each +1 doubles the time)."""
    start = time.perf_counter()
    hash_sync("calibration-password", minimum)
    took = time.perf_counter() - start
    rounds = minimum
    while rounds < maximum and took * 2 <= target_seconds * 1.4:
        took *= 2
        rounds += 1
    return rounds


def _lower_priority(nice: int) -> None:
    """Run this bcrypt worker thread NICE steps below the process's CPU priority, so that during a
    login burst the event loop thread still gets a core at once (Linux: nice is per thread)."""
    if nice and sys.platform.startswith("linux"):
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
        except OSError:
            pass


class PasswordHasher:
    """Hashes and checks passwords on a small thread pool; at most CONCURRENCY run at once."""

    def __init__(self, rounds: int, concurrency: int, nice: int = 0) -> None:
        self.rounds = rounds
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="pufferd-bcrypt",
                                        initializer=_lower_priority, initargs=(nice,))
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, hash_sync, password, self.rounds)

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Check PASSWORD; with no hash, spend the same time and fail (no account enumeration)."""
        loop = asyncio.get_running_loop()
        if hashed is None:
            if self._dummy is None:
                self._dummy = await self.hash("pufferd-dummy-password")
            await loop.run_in_executor(self._pool, verify_sync, password, self._dummy)
            return False
        return await loop.run_in_executor(self._pool, verify_sync, password, hashed)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
