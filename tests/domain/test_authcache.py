"""AuthCache: entries live for ttl seconds and die with their user's generation."""
from __future__ import annotations

import pytest

from pufferd.authcache import AuthCache
from pufferd.clock import FakeClock
from pufferd.db.users_q import User
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
