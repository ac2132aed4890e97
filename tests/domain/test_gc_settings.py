"""serve's garbage-collector settings (bench/BENCHMARKS.md, Realtime: full collections were the p99)."""
from __future__ import annotations

import gc
import time

import pytest

from pufferd.app import make_app
from pufferd.cli import GC_THRESHOLDS, settle_garbage_collector


@pytest.fixture
def restore_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_start_up_objects_are_frozen_out_of_full_collections(settings, restore_gc):
    app = make_app(settings)  # what start-up builds
    gc.collect()
    before = _timed_full_collection()
    settle_garbage_collector()
    assert gc.get_freeze_count() > 10_000  # modules, schemas, routes
    assert gc.get_threshold() == GC_THRESHOLDS
    after = _timed_full_collection()
    assert after < before / 2, (before, after)
    assert app is not None


def _timed_full_collection() -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        gc.collect()
        best = min(best, time.perf_counter() - start)
    return best
