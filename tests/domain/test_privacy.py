"""Privacy rules of API reference section 3.7 (pufferd/privacy.py), on a real database."""
from __future__ import annotations

import time

import pytest

from pufferd import privacy
from pufferd.datadir import open_database
from pufferd.db import contacts_q, users_q


@pytest.fixture
def db(settings):
    database = open_database(settings)
    yield database
    database.close()


@pytest.fixture
def people(db):
    def make(conn):
        now = time.time()
        return [users_q.insert(conn, email=f"{n}@example.com", username=n, name=n.title(), password_hash="x",
                               now=now).id for n in ("viewer", "target", "other")]
    return db.write_sync(make)


def target_with(db, target_id, **columns):
    def update(conn):
        users_q.update_profile(conn, target_id, columns, time.time())
        return users_q.get(conn, target_id)
    return db.write_sync(update)


def check(db, fn, *args):
    return db.write_sync(lambda conn: fn(conn, *args))


MODES = ["everyone", "contacts", "nobody"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("contact", [False, True])
def test_avatar_last_seen_and_invites_follow_their_mode(db, people, mode, contact):
    viewer, target_id, _ = people
    target = target_with(db, target_id, privacy_avatar=mode, privacy_last_seen=mode, privacy_group_invites=mode,
                         privacy_private_messages=mode, avatar_url="https://x/a.png")
    if contact:
        db.write_sync(lambda c: contacts_q.add_contact(c, target_id, viewer, time.time()))
    expected = mode == "everyone" or (mode == "contacts" and contact)
    assert check(db, privacy.can_see_avatar, viewer, target) is expected
    assert check(db, privacy.can_see_last_seen, viewer, target) is expected
    assert check(db, privacy.can_invite, viewer, target) is expected
    assert check(db, privacy.can_message, viewer, target) is expected
    assert check(db, privacy.visible_avatar, viewer, target) == ("https://x/a.png" if expected else None)


def test_contacts_mode_needs_the_viewer_in_the_targets_list_not_the_reverse(db, people):
    viewer, target_id, _ = people
    target = target_with(db, target_id, privacy_avatar="contacts")
    db.write_sync(lambda c: contacts_q.add_contact(c, viewer, target_id, time.time()))
    assert not check(db, privacy.can_see_avatar, viewer, target)


@pytest.mark.parametrize("mode", MODES)
def test_everyone_sees_themselves(db, people, mode):
    _, target_id, _ = people
    target = target_with(db, target_id, privacy_avatar=mode, privacy_last_seen=mode, allow_private_messages=False)
    for fn in (privacy.can_see_avatar, privacy.can_see_last_seen, privacy.can_message, privacy.can_invite):
        assert check(db, fn, target_id, target)


def test_a_blocked_user_cannot_message_invite_or_see_the_blocker(db, people):
    viewer, target_id, other = people
    db.write_sync(lambda c: contacts_q.add_contact(c, target_id, viewer, time.time()))
    db.write_sync(lambda c: contacts_q.block(c, target_id, viewer, time.time()))
    target = target_with(db, target_id, avatar_url="https://x/a.png")
    for fn in (privacy.can_see_avatar, privacy.can_see_last_seen, privacy.can_message, privacy.can_invite):
        assert not check(db, fn, viewer, target), fn.__name__
        assert check(db, fn, other, target), fn.__name__


def test_blocking_someone_does_not_stop_you_from_messaging_them(db, people):
    viewer, target_id, _ = people
    db.write_sync(lambda c: contacts_q.block(c, viewer, target_id, time.time()))
    target = db.write_sync(lambda c: users_q.get(c, target_id))
    assert check(db, privacy.can_message, viewer, target)


def test_allow_private_messages_off_refuses_everyone_else(db, people):
    viewer, target_id, _ = people
    db.write_sync(lambda c: contacts_q.add_contact(c, target_id, viewer, time.time()))
    target = target_with(db, target_id, allow_private_messages=False)
    assert not check(db, privacy.can_message, viewer, target)
    assert check(db, privacy.can_invite, viewer, target)


def test_batch_relations_agree_with_the_single_checks(db, people):
    viewer, target_id, other = people
    db.write_sync(lambda c: contacts_q.add_contact(c, target_id, viewer, time.time()))
    db.write_sync(lambda c: contacts_q.block(c, other, viewer, time.time()))
    rel = db.write_sync(lambda c: privacy.relations(c, [viewer], [target_id, other]))
    for t in (target_id, other):
        for mode in MODES:
            target = target_with(db, t, privacy_avatar=mode, privacy_last_seen=mode)
            assert privacy.sees_avatar(rel, viewer, t, mode) == check(db, privacy.can_see_avatar, viewer, target)
            assert privacy.sees_last_seen(rel, viewer, t, mode) == check(db, privacy.can_see_last_seen, viewer, target)
