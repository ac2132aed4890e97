"""The in-process Limiter (sliding window), driven by a FakeClock."""
from __future__ import annotations

import pytest

from pufferd import limiter as limiter_mod
from pufferd.clock import FakeClock
from pufferd.errors import RateLimited
from pufferd.limiter import Limiter


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def limiter(clock):
    return Limiter(clock)


def test_allows_the_limit_then_refuses_with_retry_after(limiter, clock):
    for _ in range(3):
        limiter.hit("login", "1.2.3.4", 3)
    clock.advance(10)
    with pytest.raises(RateLimited) as err:
        limiter.hit("login", "1.2.3.4", 3)
    assert err.value.retry_after == 50
    assert err.value.detail == "Rate limit exceeded. Retry in 50 seconds."
    assert err.value.headers == {"Retry-After": "50"}
    assert err.value.status == 429


def test_the_window_slides(limiter, clock):
    limiter.hit("b", "k", 2)
    clock.advance(30)
    limiter.hit("b", "k", 2)
    clock.advance(30)
    limiter.hit("b", "k", 2)  # the first event left the window
    with pytest.raises(RateLimited):
        limiter.hit("b", "k", 2)


def test_a_refused_hit_is_not_counted(limiter, clock):
    limiter.hit("b", "k", 1)
    for _ in range(5):
        with pytest.raises(RateLimited):
            limiter.hit("b", "k", 1)
    clock.advance(60)
    limiter.hit("b", "k", 1)


def test_buckets_and_keys_are_independent(limiter):
    limiter.hit("login", "a", 1)
    limiter.hit("login", "b", 1)
    limiter.hit("register", "a", 1)
    with pytest.raises(RateLimited):
        limiter.hit("login", "a", 1)


def test_zero_disables(limiter):
    for _ in range(1000):
        limiter.hit("b", "k", 0)


def test_retry_after_is_at_least_one_second(limiter, clock):
    limiter.hit("b", "k", 1)
    clock.advance(59.9)
    with pytest.raises(RateLimited) as err:
        limiter.hit("b", "k", 1)
    assert err.value.retry_after == 1


def test_memory_is_bounded(limiter, clock, monkeypatch):
    monkeypatch.setattr(limiter_mod, "MAX_KEYS", 10)
    for i in range(50):
        limiter.hit("b", f"ip{i}", 5)
        clock.advance(1)
    assert len(limiter._events) <= 10
