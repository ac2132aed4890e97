"""Administration queries on a real database: the roles migration, one owner, audit pages that
use an index (EXPLAIN QUERY PLAN), the admin user search, batched attempt counts."""
from __future__ import annotations

import apsw
import pytest

from pufferd.datadir import open_database
from pufferd.db import audit_q, migrate, system_q, users_q
from pufferd.db.database import _row_as_dict


@pytest.fixture
def db(settings):
    database = open_database(settings)
    yield database
    database.close()


def test_roles_migration_makes_the_lowest_active_admin_the_owner():
    conn = apsw.Connection(":memory:")
    conn.row_trace = _row_as_dict
    with conn:
        migrate._ensure_table(conn)
        for m in migrate.available():
            if m.version < 50:
                conn.execute(m.sql)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (m.version, m.name))
        for n, (admin, disabled) in enumerate([(0, 0), (1, 1), (1, 0), (1, 0)], start=1):
            conn.execute("INSERT INTO users(email, username, name, password_hash, is_admin, is_disabled, created_at,"
                         " updated_at) VALUES (?, ?, 'N', 'x', ?, ?, 0, 0)", (f"u{n}@x.example", f"u{n}", admin, disabled))
    assert 50 in migrate.migrate(conn)
    assert {r["id"]: r["role"] for r in conn.execute("SELECT id, role FROM users")} == {
        1: "user", 2: "admin", 3: "owner", 4: "admin"}
    assert "is_admin" not in {r["name"] for r in conn.execute("PRAGMA table_info(users)")}
    assert users_q.get(conn, 3).is_admin and users_q.get(conn, 2).is_admin and not users_q.get(conn, 1).is_admin


def test_there_is_one_owner(db):
    def txn(c):
        u = users_q.insert(c, email="b@example.com", username="bob", name="Bob", password_hash="x", now=1.0)
        users_q.set_role(c, u.id, "owner", 2.0)
    with pytest.raises(apsw.ConstraintError):
        db.write_sync(txn)
    with pytest.raises(apsw.ConstraintError):
        db.write_sync(lambda c: users_q.set_role(c, 1, "king", 2.0))
    assert db.write_sync(lambda c: users_q.owner(c)).id == 1


def plans_of(db, fn) -> list[str]:
    """The query plan of every statement FN runs."""
    seen: list[tuple[str, object]] = []

    def run(conn):
        def trace(cursor, sql, bindings):
            seen.append((sql, bindings))
            return True
        conn.exec_trace = trace
        try:
            fn(conn)
        finally:
            conn.exec_trace = None
        return [" | ".join(r["detail"] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, b).fetchall())
                for sql, b in seen]
    return db.write_sync(run)


@pytest.mark.parametrize("filters, index", [
    ({}, "audit_log_by_time"),
    ({"actor": "user:1"}, "audit_log_by_actor_time"),
    ({"events": ("role_changed",)}, "audit_log_by_event_time"),
    ({"user_id": 5}, "audit_log_by_user_time"),
    ({"target": "settings"}, "audit_log_by_target_time"),
    ({"since": 1.0, "until": 2.0}, "audit_log_by_time"),
    ({"before_id": 10}, "audit_log_by_time"),
])
def test_audit_pages_read_by_index(db, filters, index):
    [plan] = plans_of(db, lambda c: audit_q.page(c, limit=50, **filters))
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # newest first comes from the index, no sort


def test_admin_user_search_treats_wildcards_literally(db):
    def txn(c):
        for i, name in enumerate(("under_score", "underXscore", "percent%")):
            users_q.insert(c, email=f"s{i}@example.com", username=f"s{i}", name=name, password_hash="x", now=1.0)
        return ([u.name for u in system_q.list_users(c, limit=10, search="r_s")],
                [u.name for u in system_q.list_users(c, limit=10, search="%")])
    underscores, percents = db.write_sync(txn)
    assert underscores == ["under_score"] and percents == ["percent%"]


def test_attempts_are_added_and_a_deleted_block_is_skipped(db):
    def txn(c):
        a = system_q.insert_ip_block(c, network="203.0.113.0/24", reason=None, expires_at=None, by=1, now=1.0)
        b = system_q.insert_ip_block(c, network="198.51.100.0/24", reason=None, expires_at=None, by=1, now=1.0)
        system_q.delete_ip_block(c, b.id)
        system_q.add_ip_block_attempts(c, {a.id: (3, 5.0), b.id: (2, 6.0)})
        system_q.add_ip_block_attempts(c, {a.id: (1, 4.0)})
        return system_q.ip_blocks(c)
    [block] = db.write_sync(txn)
    assert (block.attempts, block.last_attempt_at) == (4, 5.0)
