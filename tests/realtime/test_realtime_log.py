"""The per-user resume log and presence bookkeeping, without sockets (synchronous)."""
from __future__ import annotations

from pufferd.realtime.log import UserLog
from pufferd.realtime.presence import Presence

BASE = 1_000_000


def filled(n: int, *, size: int = 5, max_age: float = 60.0, start: float = 100.0) -> UserLog:
    log = UserLog(BASE, size, max_age)
    for i in range(n):
        log.append((start + i, b"e%d" % i))
    return log


def test_seqs_follow_the_base_without_gaps():
    log = UserLog(BASE, 5, 60.0)
    assert log.last_seq == BASE and log.first_seq == BASE + 1 and len(log) == 0
    assert [log.append((1.0, b"x")) for _ in range(3)] == [BASE + 1, BASE + 2, BASE + 3]


def test_replay_after_since_is_complete_and_in_order():
    log = filled(4)
    assert log.covers(BASE + 1)
    assert list(log.after(BASE + 1)) == [(BASE + 2, b"e1"), (BASE + 3, b"e2"), (BASE + 4, b"e3")]
    assert list(log.after(BASE + 4)) == []
    assert log.covers(BASE)  # everything since the log began
    assert [seq for seq, _ in log.after(BASE)] == [BASE + 1, BASE + 2, BASE + 3, BASE + 4]


def test_the_size_bound_drops_the_oldest_and_uncovers_their_gap():
    log = filled(8, size=5)  # holds seqs BASE+4 .. BASE+8
    assert log.first_seq == BASE + 4
    assert log.covers(BASE + 3)  # the next one, BASE+4, is still held
    assert not log.covers(BASE + 2)
    assert [seq for seq, _ in log.after(BASE + 3)] == [BASE + 4, BASE + 5, BASE + 6, BASE + 7, BASE + 8]


def test_the_age_bound_drops_old_entries_on_prune():
    log = filled(3, max_age=10.0, start=100.0)  # times 100, 101, 102
    log.prune(111.5)  # 100 and 101 are older than 10 s
    assert len(log) == 1 and log.first_seq == BASE + 3
    assert not log.covers(BASE + 1) and log.covers(BASE + 2)


def test_a_since_outside_the_log_is_not_covered():
    log = filled(2)
    assert not log.covers(BASE - 1)  # from an earlier log (another process, or a dropped log)
    assert not log.covers(BASE + 3)  # never issued


def test_presence_is_online_through_the_grace_period_until_settled():
    p = Presence()
    assert p.connected(7) is True
    assert p.connected(7) is False  # second device
    assert p.disconnected(7) is False
    assert p.disconnected(7) is True
    p.linger(7, 50.0)
    assert p.is_online(7) and p.online_among([7, 8]) == {7}
    assert p.everyone() == {7: 50.0}
    assert p.settle(7) == 50.0
    assert not p.is_online(7) and p.settle(7) is None


def test_presence_reconnect_inside_the_grace_period_is_no_transition():
    p = Presence()
    p.connected(7)
    p.disconnected(7)
    p.linger(7, 50.0)
    assert p.connected(7) is False
    assert p.settle(7) is None and p.is_online(7)
    assert p.everyone() == {7: None}
