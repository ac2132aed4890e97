"""Accounts queries on a real database: sessions, e-mail tokens, the audit log, query plans."""
from __future__ import annotations

import apsw
import pytest

from pufferd.datadir import open_database
from pufferd.db import accounts_q, audit_q, contacts_q, users_q


@pytest.fixture
def db(settings):
    database = open_database(settings)
    yield database
    database.close()


@pytest.fixture
def uid(db):
    return db.write_sync(lambda c: users_q.insert(c, email="u@example.com", username="user", name="U",
                                                  password_hash="x", now=100.0).id)


def plan(db, sql, args):
    return " | ".join(r["detail"] for r in db.write_sync(lambda c: c.execute("EXPLAIN QUERY PLAN " + sql, args)
                                                         .fetchall()))


def test_session_lifecycle(db, uid):
    def txn(c):
        accounts_q.insert_session(c, session_id="s1", user_id=uid, ip_address="1.2.3.4", user_agent="ua",
                                  now=100.0, expires_at=200.0)
        accounts_q.rotate(c, old_jti="s1", new_jti="r2", session_id="s1", now=110.0, expires_at=210.0,
                          ip_address="5.6.7.8", user_agent="ua2")
        return accounts_q.get_refresh_token(c, "s1"), accounts_q.get_refresh_token(c, "r2")

    old, new = db.write_sync(txn)
    assert old.rotated_at == 110.0 and new.rotated_at is None
    assert new.session.current_jti == "r2" and new.session.ip_address == "5.6.7.8"
    assert [s.id for s in db.write_sync(lambda c: accounts_q.active_sessions(c, uid, 150.0))] == ["s1"]
    assert db.write_sync(lambda c: accounts_q.revoke_session(c, "s1", 120.0, "logout"))
    assert not db.write_sync(lambda c: accounts_q.revoke_session(c, "s1", 121.0, "logout"))
    assert db.write_sync(lambda c: accounts_q.active_sessions(c, uid, 150.0)) == []
    assert db.write_sync(lambda c: accounts_q.access_token_refused(c, "any", "s1"))
    assert not db.write_sync(lambda c: accounts_q.access_token_refused(c, "any", None))


def test_pruning_forgets_expired_sessions_and_their_refresh_tokens(db, uid):
    def txn(c):
        accounts_q.insert_session(c, session_id="s1", user_id=uid, ip_address=None, user_agent=None,
                                  now=100.0, expires_at=200.0)
        accounts_q.revoke_access_token(c, "a1", uid, 150.0)
        accounts_q.prune_expired(c, uid, 200.0)
        return (accounts_q.get_refresh_token(c, "s1"),
                c.execute("SELECT count(*) AS n FROM revoked_access_tokens").fetchone()["n"])

    assert db.write_sync(txn) == (None, 0)


def test_account_tokens_are_single_use_and_replaced(db, uid):
    def txn(c):
        accounts_q.replace_account_token(c, token_hash="h1", user_id=uid, purpose="reset_password", now=1, expires_at=9)
        accounts_q.replace_account_token(c, token_hash="h2", user_id=uid, purpose="reset_password", now=2, expires_at=9)
        return (accounts_q.take_account_token(c, "h1", "reset_password"),
                accounts_q.take_account_token(c, "h2", "verify_email"),
                accounts_q.take_account_token(c, "h2", "reset_password"),
                accounts_q.take_account_token(c, "h2", "reset_password"))

    gone, wrong_purpose, taken, again = db.write_sync(txn)
    assert gone is None and wrong_purpose is None and again is None
    assert taken.user_id == uid


def test_the_audit_log_is_append_only(db, uid):
    db.write_sync(lambda c: audit_q.insert(c, event="login_failed", user_id=uid, actor="anonymous",
                                           ip_address="1.2.3.4", user_agent=None, detail={"reason": "x"}, now=1.0))
    with pytest.raises(apsw.ConstraintError, match="append-only"):
        db.write_sync(lambda c: c.execute("UPDATE audit_log SET event = 'x'"))
    with pytest.raises(apsw.ConstraintError, match="append-only"):
        db.write_sync(lambda c: c.execute("DELETE FROM audit_log"))
    [entry] = db.write_sync(lambda c: audit_q.latest(c, limit=5, user_id=uid, event="login_failed"))
    assert entry.detail == {"reason": "x"} and entry.ip_address == "1.2.3.4"


def test_contacts_and_blocks_lists(db, uid):
    other = db.write_sync(lambda c: users_q.insert(c, email="o@example.com", username="other", name="O",
                                                   password_hash="x", now=1.0).id)
    db.write_sync(lambda c: contacts_q.add_contact(c, uid, other, 1.0))
    db.write_sync(lambda c: contacts_q.add_contact(c, uid, other, 2.0))  # idempotent
    db.write_sync(lambda c: contacts_q.block(c, uid, other, 1.0))
    assert [u.id for u in db.write_sync(lambda c: contacts_q.contacts_of(c, uid))] == [other]
    assert [u.id for u in db.write_sync(lambda c: contacts_q.blocked_by(c, uid))] == [other]
    with pytest.raises(apsw.ConstraintError):
        db.write_sync(lambda c: contacts_q.add_contact(c, uid, uid, 1.0))


@pytest.mark.parametrize("sql, args, index", [
    ("SELECT * FROM auth_sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC",
     (1, 0), "auth_sessions_by_user"),
    ("SELECT u.* FROM contacts c JOIN users u ON u.id = c.contact_id WHERE c.owner_id = ?", (1,), "PRIMARY KEY"),
    ("SELECT u.* FROM blocks b JOIN users u ON u.id = b.blocked_id WHERE b.blocker_id = ?", (1,), "PRIMARY KEY"),
    ("SELECT * FROM audit_log WHERE user_id = ? ORDER BY id DESC LIMIT 5", (1,), "audit_log_by_user"),
    ("SELECT * FROM audit_log WHERE event = ? ORDER BY id DESC LIMIT 5", ("x",), "audit_log_by_event"),
    ("SELECT 1 FROM account_tokens WHERE user_id = ? AND purpose = ?", (1, "verify_email"), "account_tokens_by_user"),
])
def test_list_queries_use_an_index(db, sql, args, index):
    detail = plan(db, sql, args)
    assert index in detail and "SCAN" not in detail.replace("SCAN c", "").replace("SCAN b", ""), detail


def test_revocations_after_a_mark_are_an_index_seek_oldest_first(db, uid):
    assert "INDEX users_by_tokens_valid_after (tokens_valid_after>?)" in plan(
        db, "SELECT id, tokens_valid_after FROM users WHERE tokens_valid_after > ? ORDER BY tokens_valid_after", (0,))
    mark = db.write_sync(users_q.newest_revocation)
    assert db.write_sync(lambda c: users_q.revocations_after(c, mark)) == []
    db.write_sync(lambda c: users_q.revoke_tokens_before(c, uid, mark + 10))
    assert db.write_sync(lambda c: users_q.revocations_after(c, mark)) == [(uid, mark + 10)]
    assert db.write_sync(users_q.newest_revocation) == mark + 10
