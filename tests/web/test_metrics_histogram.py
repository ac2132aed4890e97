"""The metrics' own histograms (pufferd/web/metrics.py keeps prometheus_client out of start-up,
issue 17): buckets as Prometheus defines them (`le`, cumulative, +Inf) and the sum."""
from __future__ import annotations

from pufferd.web.metrics import Histogram


def test_a_value_on_a_bound_counts_in_that_bucket_and_the_counts_are_cumulative() -> None:
    h = Histogram((1, 2.5, 10))
    for value in (0.5, 1, 1.0001, 2.5, 11, 1000):
        h.observe(value)
    buckets, total = h.buckets()
    assert buckets == [("1.0", 2.0), ("2.5", 4.0), ("10.0", 4.0), ("+Inf", 6.0)]
    assert total == 0.5 + 1 + 1.0001 + 2.5 + 11 + 1000


def test_an_empty_histogram_has_every_bucket_at_zero() -> None:
    assert Histogram((0.001, 0.0025)).buckets() == ([("0.001", 0.0), ("0.0025", 0.0), ("+Inf", 0.0)], 0.0)
