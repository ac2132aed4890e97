"""chats_q on a real (encrypted) database file: query plans, a fixed statement count per list page,
the batch privacy rules, and ids that are never reused."""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import apsw
import pytest

from pufferd import chat_reads, privacy
from pufferd.datadir import database_key, open_database
from pufferd.db import chats_q, media_q, users_q
from pufferd.db.database import open_connection
from pufferd.realtime.presence import Presence

NOW = 1_790_000_000.0


@pytest.fixture
def conn(settings) -> Iterator[apsw.Connection]:
    open_database(settings).close()  # applies the migrations
    key, _ = database_key(settings)
    c = open_connection(settings.db_path, key)
    yield c
    c.close()


_names = itertools.count(1)


def user(conn: apsw.Connection, **cols: Any) -> users_q.User:
    n = next(_names)
    u = users_q.insert(conn, email=f"u{n}@example.com", username=f"u{n}", name=f"User {n}",
                       password_hash="x", now=NOW)
    if cols:
        conn.execute(f"UPDATE users SET {', '.join(f'{k} = ?' for k in cols)} WHERE id = ?", (*cols.values(), u.id))
    return users_q.get(conn, u.id)  # type: ignore[return-value]


def chat(conn: apsw.Connection, owner: users_q.User, *others: users_q.User, type: str = "group",
         messages: int = 0) -> int:
    if type == "private":
        c = chats_q.insert(conn, public_id=f"P{next(_names):023d}", type="private",
                           pair_key=chats_q.private_key(owner.id, others[0].id), created_by=owner.id, now=NOW)
        roles = ["member"] * (1 + len(others))
    else:
        c = chats_q.insert(conn, public_id=f"G{next(_names):023d}", type=type, title="T", created_by=owner.id, now=NOW)
        roles = ["owner"] + ["member"] * len(others)
    for u, role in zip((owner, *others), roles, strict=True):
        chats_q.add_member(conn, c.id, u.id, role, NOW)
    for i in range(messages):
        sender = (owner, *others)[i % (1 + len(others))]
        mid = conn.execute("INSERT INTO messages(chat_id, sender_id, type, text, created_at, updated_at)"
                           " VALUES (?, ?, 'text', 'm', ?, ?) RETURNING id", (c.id, sender.id, NOW + i, NOW + i)
                           ).fetchone()["id"]
        conn.execute("UPDATE chats SET last_message_id = ?, last_activity_at = ? WHERE id = ?", (mid, NOW + i, c.id))
        if i % 3 == 0:
            conn.execute("INSERT INTO message_mentions(message_id, user_id, chat_id) VALUES (?, ?, ?)",
                         (mid, owner.id, c.id))
    return c.id


def traced(conn: apsw.Connection, fn: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The statements FN runs, with their bindings."""
    seen: list[tuple[str, Any]] = []

    def trace(cursor: apsw.Cursor, sql: str, bindings: Any) -> bool:
        seen.append((sql, bindings))
        return True

    conn.exec_trace = trace
    try:
        fn()
    finally:
        conn.exec_trace = None
    return seen


def plan(conn: apsw.Connection, sql: str, bindings: Any) -> list[str]:
    return [r["detail"] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, bindings)]


def list_page_views(conn: apsw.Connection, presence: Presence, viewer: users_q.User, **kw: Any) -> list:
    ids = chats_q.list_page(conn, viewer.id, archived=False, limit=50, **kw)
    return chat_reads.views_txn(conn, presence, [(i, viewer.id) for i in ids])


@pytest.fixture
def populated(conn):
    """A viewer in private chats (privacy in contacts mode, some online) and groups with messages."""
    viewer = user(conn)
    presence = Presence()
    for i in range(12):
        other = user(conn, privacy_last_seen="contacts", privacy_avatar="contacts")
        if i % 2:
            conn.execute("INSERT INTO contacts(owner_id, contact_id, created_at) VALUES (?, ?, ?)",
                         (other.id, viewer.id, NOW))
            presence.connected(other.id)
        chat(conn, viewer, other, type="private", messages=5)
        chat(conn, viewer, other, user(conn), messages=4)
    return viewer, presence


# query plans ----------------------------------------------------------------------------------

def _full_scans(details: list[str]) -> list[str]:
    """Plan lines that read a whole table (json_each is the id list passed in; it is small)."""
    return [d for d in details if d.startswith("SCAN") and "json_each" not in d
            and not d.startswith("SCAN p") and not d.startswith("SCAN b") and not d.startswith("SCAN v")]


def test_list_page_walks_the_viewers_memberships_only(conn, populated):
    viewer, _ = populated
    key = chats_q.sort_key(conn, viewer.id, chats_q.list_page(conn, viewer.id, archived=False, limit=1)[0])
    for kw in ({}, {"before": key}, {"query": "user"}):
        [(sql, bindings)] = traced(conn, lambda kw=kw: chats_q.list_page(conn, viewer.id, archived=False, limit=50,
                                                                         **kw))
        details = plan(conn, sql, bindings)
        assert any("chat_members_by_user" in d for d in details), details
        assert _full_scans(details) == [], details


def test_chat_read_statements_use_indexes(conn, populated):
    viewer, presence = populated
    statements = traced(conn, lambda: list_page_views(conn, presence, viewer))
    for sql, bindings in statements:
        details = plan(conn, sql, bindings)
        assert _full_scans(details) == [], (sql, details)
    reads_plan = plan(conn, *[s for s in statements if "WITH p(" in s[0]][0])
    assert any("messages_by_chat" in d for d in reads_plan), reads_plan
    assert any("message_mentions_by_user" in d for d in reads_plan), reads_plan


def test_access_queries_use_primary_keys_and_indexes(conn, populated):
    """The queries behind pufferd/access.py: a chat's audience, its managers, whether a file is
    attached to a message the viewer sees (statements run for one chat, never a table scan)."""
    viewer, _ = populated
    chat_id = chats_q.list_page(conn, viewer.id, archived=False, limit=1)[0]
    statements = traced(conn, lambda: (chats_q.audience(conn, chat_id), chats_q.manager_ids(conn, chat_id),
                                       media_q.attached_to_visible_message(conn, "uploads/x.txt", viewer.id)))
    assert len(statements) == 3
    for sql, bindings in statements:
        details = plan(conn, sql, bindings)
        assert _full_scans(details) == [], (sql, details)
    assert any("chat_members_managers" in d for d in plan(conn, *statements[1])), statements[1]
    assert any("attachments_by_key" in d for d in plan(conn, *statements[2])), statements[2]


def test_chat_list_runs_a_fixed_number_of_statements(conn):
    viewer = user(conn)
    presence = Presence()
    counts = []
    for n in (3, 40):
        for i in range(n):
            other = user(conn, privacy_last_seen="contacts")
            presence.connected(other.id)
            chat(conn, viewer, other, type="private" if i % 2 else "group", messages=3)
        statements = traced(conn, lambda: list_page_views(conn, presence, viewer))
        counts.append(len(statements))
    # list_page, reads, members_of, privacy_modes of online members, contacts, blocks
    assert counts[0] == counts[1] <= 6, counts


def test_chat_reads_for_many_viewers_run_a_fixed_number_of_statements(conn):
    owner = user(conn)
    presence = Presence()
    counts = []
    for n in (3, 60):
        members = [user(conn) for _ in range(n)]
        for m in members[::2]:
            presence.connected(m.id)
        cid = chat(conn, owner, *members, messages=10)
        views = {}
        viewer_ids = [owner.id] + [m.id for m in members]
        statements = traced(conn, lambda views=views, cid=cid, viewer_ids=viewer_ids: views.update(
            chat_reads.chat_reads_txn(conn, presence, cid, viewer_ids)))
        assert len(views) == n + 1 and views[owner.id].my_role == "owner"
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 6, counts


# batch privacy = single privacy ---------------------------------------------------------------

def test_batch_privacy_agrees_with_the_single_user_rules(conn):
    viewer = user(conn)
    cases = []
    for mode, contact, blocked in itertools.product(("everyone", "contacts", "nobody"), (False, True), (False, True)):
        target = user(conn, privacy_avatar=mode, privacy_last_seen=mode)
        if contact:
            conn.execute("INSERT INTO contacts(owner_id, contact_id, created_at) VALUES (?, ?, ?)",
                         (target.id, viewer.id, NOW))
        if blocked:
            conn.execute("INSERT INTO blocks(blocker_id, blocked_id, created_at) VALUES (?, ?, ?)",
                         (target.id, viewer.id, NOW))
        cases.append(target)
    rel = privacy.relations(conn, [viewer.id], [t.id for t in cases])
    for t in cases + [viewer]:
        assert privacy.sees_avatar(rel, viewer.id, t.id, t.privacy_avatar) == privacy.can_see_avatar(conn, viewer.id, t)
        assert privacy.sees_last_seen(rel, viewer.id, t.id, t.privacy_last_seen) == \
            privacy.can_see_last_seen(conn, viewer.id, t)


# ids and membership ---------------------------------------------------------------------------

def test_chat_and_member_ids_are_never_reused(conn):
    a, b = user(conn), user(conn)
    first = chat(conn, a, b)
    first_member = chats_q.membership_txn(conn, first, b.id).id
    chats_q.delete(conn, first)
    second = chat(conn, a, b)
    assert second > first
    assert chats_q.membership_txn(conn, second, a.id).id > first_member


def test_membership_txn_reports_chat_type_and_role(conn):
    a, b = user(conn), user(conn)
    cid = chat(conn, a, b, type="channel")
    owner = chats_q.membership_txn(conn, cid, a.id)
    member = chats_q.membership_txn(conn, cid, b.id)
    assert (owner.chat_type, owner.role, member.role) == ("channel", "owner", "member")
    assert chats_q.membership_txn(conn, cid, 999) is None


def test_list_page_orders_pinned_then_activity_then_id(conn):
    a, b = user(conn), user(conn)
    ids = [chat(conn, a, b) for _ in range(4)]
    conn.execute("UPDATE chats SET last_activity_at = ? WHERE id = ?", (NOW + 50, ids[0]))
    chats_q.set_member_state(conn, ids[3], a.id, pinned_at=time.time())
    assert chats_q.list_page(conn, a.id, archived=False, limit=10) == [ids[3], ids[0], ids[2], ids[1]]
