"""AuthCache: entries live for ttl seconds and die with their user's generation."""
from __future__ import annotations

import asyncio

import pytest

from pufferd.authcache import AuthCache
from pufferd.clock import FakeClock
from pufferd.db.users_q import User
from pufferd.errors import Unauthorized
from pufferd.tokens import Claims


def user(uid: int) -> User:
    return User(uid, f"u{uid}@example.com", f"user{uid}", "U", "hash", None, None, True, False, False, False,
                None, None, True, "everyone", "everyone", "everyone", "everyone", 0.0, None, 0.0, 0.0)


def claims(uid: int) -> Claims:
    return Claims(uid, f"jti{uid}", "access", 0.0, 10_000.0, "sid")


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def cache(clock):
    return AuthCache(1.0, clock)


def test_a_stored_token_is_returned_until_the_ttl_ends(cache, clock):
    cache.put("t1", user(1), claims(1), cache.generation(1))
    assert cache.get("t1") == (user(1), claims(1))
    clock.advance(0.99)
    assert cache.get("t1") is not None
    clock.advance(0.01)
    assert cache.get("t1") is None


def test_invalidate_refuses_every_token_of_that_user_only(cache):
    for token, uid in (("a", 1), ("b", 1), ("c", 2)):
        cache.put(token, user(uid), claims(uid), cache.generation(uid))
    cache.invalidate(1)
    assert cache.get("a") is None and cache.get("b") is None
    assert cache.get("c") is not None


def test_a_read_that_started_before_an_invalidation_does_not_fill(cache):
    generation = cache.generation(1)   # authenticate takes this, then reads the database...
    cache.invalidate(1)                # ...while a revoke-all commits
    cache.put("t1", user(1), claims(1), generation)
    assert cache.get("t1") is None


def test_ttl_zero_disables_the_cache(clock):
    cache = AuthCache(0.0, clock)
    cache.put("t1", user(1), claims(1), 0)
    assert cache.get("t1") is None


def test_size_is_bounded_oldest_first(clock):
    cache = AuthCache(10.0, clock, max_entries=3)
    for i in range(5):
        cache.put(f"t{i}", user(i), claims(i), 0)
    assert [cache.get(f"t{i}") is not None for i in range(5)] == [False, False, True, True, True]


# single-flight verification ------------------------------------------------------------------------------


class Verifier:
    """A verification that waits for a release, counting how often it ran."""

    def __init__(self, outcome=None) -> None:
        self.runs = 0
        self.release = asyncio.Event()
        self.outcome = outcome

    async def __call__(self):
        self.runs += 1
        await self.release.wait()
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return user(1), claims(1)


async def test_concurrent_requests_with_one_token_share_one_verification(cache):
    verify = Verifier()
    waiting = [asyncio.ensure_future(cache.verify_once("t1", verify)) for _ in range(50)]
    await asyncio.sleep(0)
    verify.release.set()
    assert await asyncio.gather(*waiting) == [(user(1), claims(1))] * 50
    assert verify.runs == 1
    other = Verifier()
    other.release.set()
    await cache.verify_once("t1", other)  # finished: the next miss verifies again
    assert other.runs == 1


async def test_a_refusal_is_everyones_and_nothing_is_left_unretrieved(cache):
    verify = Verifier(Unauthorized("Token revoked"))
    waiting = [asyncio.ensure_future(cache.verify_once("t1", verify)) for _ in range(3)]
    await asyncio.sleep(0)
    verify.release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert [str(r) for r in results] == ["Token revoked"] * 3 and verify.runs == 1


async def test_the_first_caller_going_away_does_not_cancel_the_others(cache):
    verify = Verifier()
    first = asyncio.ensure_future(cache.verify_once("t1", verify))
    second = asyncio.ensure_future(cache.verify_once("t1", verify))
    await asyncio.sleep(0)
    first.cancel()
    verify.release.set()
    assert await second == (user(1), claims(1))
    assert first.cancelled() and verify.runs == 1


async def test_a_request_after_an_invalidation_does_not_join_a_verification_from_before(cache):
    before = Verifier()
    early = asyncio.ensure_future(cache.verify_once("t1", before))
    await asyncio.sleep(0)
    cache.invalidate(1)  # e.g. all sessions revoked while the early read runs
    after = Verifier(Unauthorized("Token revoked"))
    late = asyncio.ensure_future(cache.verify_once("t1", after))
    await asyncio.sleep(0)
    before.release.set()
    after.release.set()
    assert await early == (user(1), claims(1))
    with pytest.raises(Unauthorized):
        await late
    assert before.runs == 1 and after.runs == 1
