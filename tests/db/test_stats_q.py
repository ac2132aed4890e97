"""The analytics counters of migration 0060: kept by triggers in the event's transaction, backfilled
from existing rows, and read without scanning messages."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime

import apsw
from migrations_support import apply

from pufferd.db import chats_q, stats_q

T0 = 1_790_000_000.0  # 2026-09-21 ... UTC; an hour boundary is T0 - T0 % 3600
_n = itertools.count(1)


def user(conn: apsw.Connection, at: float = T0) -> int:
    """A user row by plain SQL: it also works on the older schema the backfill test starts from."""
    n = next(_n)
    return conn.execute("INSERT INTO users(email, username, name, password_hash, created_at, updated_at)"
                        " VALUES (?, ?, ?, 'x', ?, ?) RETURNING id",
                        (f"u{n}@example.com", f"u{n}", f"U {n}", at, at)).fetchone()["id"]


def group(conn: apsw.Connection, owner: int, at: float = T0, type_: str = "group") -> int:
    chat = chats_q.insert(conn, public_id=f"p{next(_n):023d}", type=type_, title="G", created_by=owner, now=at)
    chats_q.add_member(conn, chat.id, owner, "owner", at)
    return chat.id


def message(conn: apsw.Connection, chat_id: int, sender: int, at: float) -> int:
    return conn.execute("INSERT INTO messages(chat_id, sender_id, type, text, created_at, updated_at)"
                        " VALUES (?, ?, 'text', 'hi', ?, ?) RETURNING id", (chat_id, sender, at, at)).fetchone()["id"]


def test_triggers_count_messages_per_utc_hour_and_keep_totals(conn):
    apply(conn)
    with conn:
        a = user(conn)
        chat = group(conn, a)
        hour = int(T0 // 3600)
        ids = [message(conn, chat, a, hour * 3600 + s) for s in (0, 1800, 3599, 3600, 7300)]
    assert stats_q.hourly(conn, "messages", hour, hour + 3) == {hour: 3, hour + 1: 1, hour + 2: 1}
    assert stats_q.total(conn, "messages") == 5
    with conn:
        conn.execute("DELETE FROM messages WHERE id = ?", (ids[0],))
    # a deleted message still counts as sent in its hour; the total of stored messages drops
    assert stats_q.hourly(conn, "messages", hour, hour + 1) == {hour: 3}
    assert stats_q.total(conn, "messages") == 4
    assert stats_q.total(conn, "messages_sent") == 5
    assert stats_q.hourly_sums(conn, "messages", [hour, hour + 1, hour + 3]) == [3, 2]


def test_triggers_count_users_chats_by_type_and_registrations(conn):
    apply(conn)
    with conn:
        a, b = user(conn), user(conn, T0 + 3600)
        group(conn, a)
        group(conn, a, type_="channel")
        gone = group(conn, b)
    totals = stats_q.totals(conn)
    assert (totals["users"], totals["chats:group"], totals["chats:channel"], totals["chats:private"]) == (2, 2, 1, 0)
    hour = int(T0 // 3600)
    assert stats_q.hourly(conn, "registrations", hour, hour + 2) == {hour: 1, hour + 1: 1}
    assert stats_q.hourly(conn, "chats_created", hour, hour + 1) == {hour: 3}
    with conn:
        chats_q.delete(conn, gone)
        conn.execute("DELETE FROM users WHERE id = ?", (b,))
    totals = stats_q.totals(conn)
    assert (totals["users"], totals["chats:group"]) == (1, 1)


def test_stored_files_and_blobs_are_counted_by_type_once_stored(conn):
    apply(conn)
    with conn:
        a = user(conn)
        for key, digest in (("uploads/a.png", "a" * 64), ("uploads/b.png", "a" * 64), ("uploads/c.pdf", "c" * 64)):
            conn.execute("INSERT INTO media_objects(object_key, uploader_id, file_name, file_type, file_size,"
                         " upload_expires_at, created_at) VALUES (?, ?, 'f', ?, 100, 0, ?)",
                         (key, a, "image/png" if key.endswith("png") else "application/pdf", T0))
            conn.execute("INSERT INTO media_blobs(sha256, size, created_at) VALUES (?, 100, ?)"
                         " ON CONFLICT DO NOTHING", (digest, T0))
            conn.execute("UPDATE media_objects SET state = 'stored', sha256 = ?, stored_at = ? WHERE object_key = ?",
                         (digest, T0, key))
        conn.execute("INSERT INTO media_objects(object_key, uploader_id, file_name, file_type, file_size,"
                     " upload_expires_at, created_at) VALUES ('uploads/p.png', ?, 'f', 'image/png', 5, 0, ?)", (a, T0))
    totals = stats_q.totals(conn)
    assert (totals["files:image/png"], totals["bytes:image/png"]) == (2, 200)  # the pending one is not a file yet
    assert (totals["files:application/pdf"], totals["blobs"], totals["blob_bytes"]) == (1, 2, 200)
    with conn:
        conn.execute("DELETE FROM media_objects WHERE object_key = 'uploads/b.png'")
    assert (stats_q.total(conn, "files:image/png"), stats_q.total(conn, "bytes:image/png")) == (1, 100)


def test_the_migration_backfills_from_existing_rows(conn):
    apply(conn, below=60)
    with conn:
        a, b = user(conn), user(conn, T0 + 86400)
        chat = group(conn, a)
        for k in range(10):
            message(conn, chat, a if k % 2 else b, T0 + 86400 + k * 600)
        conn.execute("UPDATE users SET last_seen_at = ? WHERE id = ?", (T0 + 5 * 86400, a))
    apply(conn)
    hour = int((T0 + 86400) // 3600)
    assert sum(stats_q.hourly(conn, "messages", hour, hour + 3).values()) == 10
    assert stats_q.total(conn, "messages") == 10 and stats_q.total(conn, "users") == 2
    assert stats_q.total(conn, "chats:group") == 1
    day = int((T0 + 86400) // 86400)
    assert stats_q.distinct_active(conn, [day, day + 1]) == [2]
    assert stats_q.active_since(conn, T0 + 4 * 86400) == 1  # a, by last_seen_at
    assert stats_q.active_since(conn, T0) == 2


def test_recorded_activity_keeps_the_newest_time_and_one_row_per_day(conn):
    apply(conn)
    with conn:
        a, b = user(conn), user(conn)
        stats_q.record_activity(conn, [(a, T0), (b, T0 + 10), (999_999, T0)])  # an unknown user: day row only
        stats_q.record_activity(conn, [(a, T0 + 86400), (b, T0 - 100)])
    day = int(T0 // 86400)
    assert stats_q.distinct_active(conn, [day, day + 1, day + 2]) == [3, 1]
    assert stats_q.active_since(conn, T0 + 1) == 2  # b keeps T0 + 10, a moved on
    assert stats_q.active_since(conn, T0 + 11) == 1


def test_the_counters_are_read_through_indexes_not_scans(conn):
    apply(conn)
    plans = [" ".join(str(r["detail"]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))
             for sql, args in (
                 ("SELECT coalesce(sum(n), 0) FROM stats_hourly WHERE metric = ? AND hour >= ? AND hour < ?",
                  ("messages", 0, 10)),
                 ("SELECT count(*) FROM activity_last WHERE at >= ?", (0,)),
                 ("SELECT count(DISTINCT user_id) FROM activity_days WHERE day >= ? AND day < ?", (0, 10)))]
    assert all("SEARCH" in p and "SCAN" not in p for p in plans), plans


def test_weekly_and_monthly_active_users_match_the_days_they_roll_up(conn):
    apply(conn)
    with conn:
        users = [user(conn) for _ in range(3)]
        # 2026-02-23 is a Monday; activity on Sun 03-01, Mon 03-02 and in February
        for uid, day in ((users[0], "2026-02-23"), (users[0], "2026-03-01"), (users[1], "2026-03-02"),
                         (users[2], "2026-03-02"), (users[2], "2026-03-31")):
            stats_q.record_activity(conn, [(uid, datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())])
    d = int(datetime(2026, 2, 23, tzinfo=UTC).timestamp() // 86400)
    assert (d + 3) % 7 == 0
    assert stats_q.active_in_weeks(conn, [stats_q.week_of(d), stats_q.week_of(d + 7)]) == \
        stats_q.distinct_active(conn, [d, d + 7, d + 14]) == [1, 2]
    feb, mar = stats_q.month_of(2026, 2), stats_q.month_of(2026, 3)
    march_first = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() // 86400)
    assert stats_q.active_in_months(conn, [feb, mar]) == \
        stats_q.distinct_active(conn, [march_first - 28, march_first, march_first + 31]) == [1, 3]
