"""Query functions for analytics: the counters and rollups of migration 0060.

Every function reads a bounded number of index entries: running totals by key, hourly buckets by
(metric, hour) range, activity by time or day range. None scans messages.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any, cast

import apsw


def _value(conn: apsw.Connection, sql: str, params: Any) -> int:
    """The single value of an aggregate statement (it always returns one row)."""
    return cast(int, next(iter(cast(dict[str, Any], conn.execute(sql, params).fetchone()).values())))


def totals(conn: apsw.Connection) -> dict[str, int]:
    """Every running total (users, messages, chats:<type>, files:/bytes:<type>, blobs, blob_bytes)."""
    return {r["name"]: r["value"] for r in conn.execute("SELECT name, value FROM stats_totals")}


def total(conn: apsw.Connection, name: str) -> int:
    row = conn.execute("SELECT value FROM stats_totals WHERE name = ?", (name,)).fetchone()
    return row["value"] if row else 0


def hourly(conn: apsw.Connection, metric: str, first_hour: int, end_hour: int) -> dict[int, int]:
    """Counts of METRIC per hour in [FIRST_HOUR, END_HOUR) (hours with no event are absent)."""
    return {r["hour"]: r["n"] for r in conn.execute(
        "SELECT hour, n FROM stats_hourly WHERE metric = ? AND hour >= ? AND hour < ?",
        (metric, first_hour, end_hour))}


def _ranges(edges: Sequence[int]) -> str:
    return json.dumps([[a, b] for a, b in pairwise(edges)])


def hourly_sums(conn: apsw.Connection, metric: str, edges: Sequence[int]) -> list[int]:
    """The sum of METRIC over each hour range [EDGES[i], EDGES[i+1]): one statement, one index
    range per point (the ranges travel as one JSON array)."""
    rows = conn.execute(
        "SELECT (SELECT coalesce(sum(n), 0) FROM stats_hourly WHERE metric = ?1 AND hour >= r.value ->> 0"
        "        AND hour < r.value ->> 1) AS s FROM json_each(?2) AS r ORDER BY r.key", (metric, _ranges(edges)))
    return [r["s"] for r in rows]


def active_since(conn: apsw.Connection, since: float) -> int:
    """Users whose latest recorded activity is at or after SINCE (an index-only range count)."""
    return _value(conn, "SELECT count(*) FROM activity_last WHERE at >= ?", (since,))


def distinct_active(conn: apsw.Connection, day_edges: Sequence[int]) -> list[int]:
    """Distinct users active on the UTC days [DAY_EDGES[i], DAY_EDGES[i+1]) for each i (one statement)."""
    rows = conn.execute(
        "SELECT (SELECT count(DISTINCT user_id) FROM activity_days WHERE day >= r.value ->> 0"
        "        AND day < r.value ->> 1) AS n FROM json_each(?1) AS r ORDER BY r.key", (_ranges(day_edges),))
    return [r["n"] for r in rows]


def week_of(day: int) -> int:
    """The activity_weeks key of the ISO week (Monday to Sunday, UTC) holding DAY; (day + 3) % 7 == 0
    on Mondays."""
    return (day + 3) // 7


def month_of(year: int, month: int) -> int:
    """The activity_months key of a UTC month."""
    return year * 12 + month - 1


def active_in_weeks(conn: apsw.Connection, weeks: Sequence[int]) -> list[int]:
    """Distinct users active in each of WEEKS (activity_weeks keys): one range count each."""
    sql = "SELECT count(*) FROM activity_weeks WHERE week = ?"
    return [_value(conn, sql, (w,)) for w in weeks]


def active_in_months(conn: apsw.Connection, months: Sequence[int]) -> list[int]:
    """Distinct users active in each of MONTHS (activity_months keys): one range count each."""
    sql = "SELECT count(*) FROM activity_months WHERE month = ?"
    return [_value(conn, sql, (m,)) for m in months]


def record_activity(conn: apsw.Connection, entries: Iterable[tuple[int, float]]) -> None:
    """Note each (user id, time) as activity: the user's day row and their latest activity.

    Users deleted meanwhile are skipped (activity_last refers to users)."""
    rows = list(entries)
    conn.executemany("INSERT OR IGNORE INTO activity_days(day, user_id) VALUES (CAST(?2 / 86400 AS INTEGER), ?1)",
                     rows)
    conn.executemany(
        "INSERT INTO activity_last(user_id, at) SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?1)"
        " ON CONFLICT (user_id) DO UPDATE SET at = max(at, excluded.at)", rows)
