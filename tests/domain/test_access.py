"""Who may see or act on what (pufferd/access.py), as a matrix: every kind of viewer against every
kind of chat, each question answered through a real Database on tmp_path.

A viewer's kind is their relation to the chat they are asked about: in each group, public group
and channel there is one viewer of each kind; a private chat exists per kind (a private chat has
room for two). The message asked about is the owner's, with a file attached; "edit" asks about
the viewer's own message, sent before they were blocked, banned, left or cleared the chat.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import apsw
import pytest

from pufferd import access
from pufferd.datadir import open_database
from pufferd.db import chats_q, contacts_q, media_q, messages_q, users_q
from pufferd.errors import DomainError

NOW = time.time()
QUESTIONS = ("card", "act", "read", "message", "file", "post", "react", "edit", "members", "cursors", "history")

# What each kind of viewer gets, per kind of chat; columns are QUESTIONS:
#   card     access.visible_chat       (GET /chats/{id})
#   act      access.joined_chat        (per-user state, leaving, managing)
#   read     access.member_or_404      (history, read status, a chat's files, search in the chat)
#   message  access.visible_message    (the owner's message: thread, reactions, forward)
#   file     access.visible_file       (the file attached to that message)
#   post     access.can_post           (send, forward into)
#   react    access.can_react
#   edit     access.can_edit           (the viewer's own earlier message)
#   members  access.visible_members    (all | self | none)
#   cursors  in access.cursor_audience of another member's read cursor
#   history  access.sees_history on the card (last message, pinned message)
# "ok" is allowed; a number is the error's status.
EXPECTED: dict[str, dict[str, str]] = {
    "member": {
        "private": "ok  ok  ok  ok  ok  ok  ok  ok  all  yes yes",
        "group":   "ok  ok  ok  ok  ok  ok  ok  ok  all  yes yes",
        "public":  "ok  ok  ok  ok  ok  ok  ok  ok  all  yes yes",
    },
    "outsider": {
        "private": "404 404 404 404 404 404 404 -   404  no  404",
        "group":   "404 404 404 404 404 404 404 -   404  no  404",
        "public":  "ok  403 404 404 404 404 404 -   none no  no",
        "channel": "ok  403 404 404 404 404 404 -   none no  no",
    },
    "banned": {
        "group":   "404 404 404 404 404 404 404 404 404  no  404",
        "public":  "404 404 404 404 404 404 404 404 404  no  404",
        "channel": "404 404 404 404 404 404 404 404 404  no  404",
    },
    "left": {
        "group":   "404 404 404 404 404 404 404 404 404  no  404",
        "public":  "ok  403 404 404 404 404 404 404 none no  no",
        "channel": "ok  403 404 404 404 404 404 404 none no  no",
    },
    "cleared": {
        "private": "ok  ok  ok  404 404 ok  404 404 all  yes yes",
        "group":   "ok  ok  ok  404 404 ok  404 404 all  yes yes",
        "public":  "ok  ok  ok  404 404 ok  404 404 all  yes yes",
    },
    "blocked": {
        "private": "ok  ok  ok  ok  ok  403 403 403 all  yes yes",
        "group":   "ok  ok  ok  ok  ok  ok  ok  ok  all  yes yes",
    },
    "subscriber": {
        "channel": "ok  ok  ok  ok  ok  403 ok  403 self no  yes",
    },
    "server admin": {
        "private": "404 404 404 404 404 404 404 -   404  no  404",
        "group":   "404 404 404 404 404 404 404 -   404  no  404",
        "public":  "ok  403 404 404 404 404 404 -   none no  no",
        "channel": "ok  403 404 404 404 404 404 -   none no  no",
    },
}


@dataclass(frozen=True)
class Target:
    """What a viewer is asked about in one chat."""

    viewer: int
    chat_id: int
    message_id: int          # the owner's message
    object_key: str          # the file attached to it
    own_message_id: int | None
    watched: int             # another member whose read cursor moves


class World:
    """Users, chats, messages and files, written straight through the query functions."""

    def __init__(self, conn: apsw.Connection) -> None:
        self.conn = conn
        self._n = itertools.count(1)
        self.owner = self.user("owner")
        self.targets: dict[tuple[str, str], Target] = {}

    def user(self, name: str, role: str = "user") -> int:
        n = next(self._n)
        return users_q.insert(self.conn, email=f"u{n}@example.com", username=f"u{n}", name=name,
                              password_hash="x", now=NOW, role=role).id

    def chat(self, kind: str, *members: tuple[int, str]) -> int:
        public = kind in ("public", "channel")
        n = next(self._n)
        if kind == "private":
            (other, _), = members
            chat = chats_q.insert(self.conn, public_id=f"P{n:023d}", type="private",
                                  pair_key=chats_q.private_key(self.owner, other), created_by=self.owner, now=NOW)
            roles = [(self.owner, "member"), (other, "member")]
        else:
            chat = chats_q.insert(self.conn, public_id=f"G{n:023d}", type="channel" if kind == "channel" else "group",
                                  title=kind, handle=f"h{n:05d}x" if public else None, is_public=public,
                                  created_by=self.owner, now=NOW)
            roles = [(self.owner, "owner"), *members]
        for user_id, role in roles:
            chats_q.add_member(self.conn, chat.id, user_id, role, NOW)
        return chat.id

    def message(self, chat_id: int, sender: int) -> int:
        message = messages_q.insert(self.conn, chat_id=chat_id, sender_id=sender, type_="text", text="hi", now=NOW)
        assert message is not None
        return message.id

    def attach(self, message_id: int, chat_id: int) -> str:
        key = f"uploads/{next(self._n):032d}.txt"
        media_q.insert_object(self.conn, object_key=key, uploader_id=self.owner, file_name="a.txt",
                              file_type="text/plain", file_size=1, upload_expires_at=int(NOW) + 900, now=NOW)
        media_q.set_state(self.conn, key, expect="pending", state="uploading")
        media_q.mark_stored(self.conn, key, sha256=f"{next(self._n):064x}", size=1, now=NOW)
        media_q.insert_attachment(self.conn, message_id=message_id, chat_id=chat_id, uploader_id=self.owner,
                                  object_key=key, file_type="text/plain", file_size=1, waveform=None, now=NOW)
        return key


def build(conn: apsw.Connection) -> World:
    w = World(conn)
    admin = w.user("server admin", role="admin")
    # private chats: one per kind of viewer that a private chat can have
    for kind in ("member", "blocked", "cleared", "outsider", "server admin"):
        counterpart = w.user(f"p-{kind}")
        chat_id = w.chat("private", (counterpart, "member"))
        viewer = {"outsider": w.user("outsider"), "server admin": admin}.get(kind, counterpart)
        own = w.message(chat_id, viewer) if viewer == counterpart else None
        message_id = w.message(chat_id, w.owner)
        w.targets[kind, "private"] = Target(viewer, chat_id, message_id, w.attach(message_id, chat_id), own,
                                            watched=w.owner)
        if kind == "blocked":
            contacts_q.block(conn, w.owner, viewer, NOW)
        if kind == "cleared":
            chats_q.set_member_state(conn, chat_id, viewer, cleared_before_id=message_id)
    # a group, a public group and a public channel, each with one viewer of every kind it can have
    for kind in ("group", "public", "channel"):
        watched = w.user(f"{kind}-watched")
        names = {"group": ("member", "banned", "left", "cleared", "blocked"),
                 "public": ("member", "banned", "left", "cleared"),
                 "channel": ("subscriber", "banned", "left")}[kind]
        viewers = {name: w.user(f"{kind}-{name}") for name in names}
        chat_id = w.chat(kind, (watched, "member"), *((v, "member") for v in viewers.values()))
        own = {name: w.message(chat_id, v) for name, v in viewers.items()}
        message_id = w.message(chat_id, w.owner)
        key = w.attach(message_id, chat_id)
        for name, v in viewers.items():
            if name in ("banned", "left"):
                chats_q.remove_member(conn, chat_id, v)
            if name == "banned":
                chats_q.ban(conn, chat_id, v, w.owner, NOW)
            if name == "cleared":
                chats_q.set_member_state(conn, chat_id, v, cleared_before_id=message_id)
            if name == "blocked":
                contacts_q.block(conn, w.owner, v, NOW)
            w.targets[name, kind] = Target(v, chat_id, message_id, key, own[name], watched)
        for name, v in (("outsider", w.user(f"{kind}-outsider")), ("server admin", admin)):
            w.targets[name, kind] = Target(v, chat_id, message_id, key, None, watched)
    return w


def _outcome(fn) -> str:
    try:
        fn()
    except DomainError as exc:
        return str(exc.status)
    return "ok"


def answers(conn: apsw.Connection, t: Target) -> str:
    """The answer to each of QUESTIONS, in the matrix's notation."""
    def members() -> str:
        try:
            chat, me = access.visible_chat(conn, t.chat_id, t.viewer)
        except DomainError as exc:
            return str(exc.status)
        listed = {m.user_id for m in access.visible_members(conn, chat, me)}
        return "all" if t.watched in listed else "self" if listed == {t.viewer} else "none"

    def history() -> str:
        try:
            _, me = access.visible_chat(conn, t.chat_id, t.viewer)
        except DomainError as exc:
            return str(exc.status)
        return "yes" if access.sees_history(me.role if me else None) else "no"

    watched = chats_q.membership_txn(conn, t.chat_id, t.watched)
    assert watched is not None
    got = [
        _outcome(lambda: access.visible_chat(conn, t.chat_id, t.viewer)),
        _outcome(lambda: access.joined_chat(conn, t.chat_id, t.viewer)),
        _outcome(lambda: access.member_or_404(conn, t.chat_id, t.viewer)),
        _outcome(lambda: access.visible_message(conn, t.message_id, t.viewer)),
        _outcome(lambda: access.visible_file(conn, t.object_key, t.viewer)),
        _outcome(lambda: access.can_post(conn, t.chat_id, t.viewer, NOW)),
        _outcome(lambda: access.can_react(conn, t.message_id, t.viewer, NOW)),
        "-" if t.own_message_id is None else _outcome(lambda: access.can_edit(conn, t.own_message_id, t.viewer, NOW)),
        members(),
        "yes" if t.viewer in access.cursor_audience(conn, watched) else "no",
        history(),
    ]
    return " ".join(got)


@pytest.fixture
def world(settings):
    database = open_database(settings)
    built = database.write_sync(build)
    yield database, built
    database.close()


@pytest.mark.parametrize("viewer", list(EXPECTED))
def test_each_kind_of_viewer_gets_the_answers_of_the_matrix(world, viewer):
    database, built = world
    expected = {kind: " ".join(row.split()) for kind, row in EXPECTED[viewer].items()}
    got = database.write_sync(lambda conn: {kind: answers(conn, built.targets[viewer, kind]) for kind in expected})
    assert got == expected


def test_the_matrix_covers_every_viewer_and_chat_the_world_has(world):
    _, built = world
    assert set(built.targets) == {(viewer, kind) for viewer, row in EXPECTED.items() for kind in row}


def test_answers_do_not_depend_on_whether_the_chat_exists(world):
    database, built = world
    t = built.targets["outsider", "group"]

    def unknown(conn: apsw.Connection) -> list[str]:
        return [_outcome(lambda: access.visible_chat(conn, 10**9, t.viewer)),
                _outcome(lambda: access.member_or_404(conn, 10**9, t.viewer)),
                _outcome(lambda: access.visible_message(conn, 10**9, t.viewer)),
                _outcome(lambda: access.visible_file(conn, "uploads/none.txt", t.viewer)),
                _outcome(lambda: access.can_post(conn, 10**9, t.viewer, NOW))]

    def known(conn: apsw.Connection) -> list[str]:
        return [_outcome(lambda: access.visible_chat(conn, t.chat_id, t.viewer)),
                _outcome(lambda: access.member_or_404(conn, t.chat_id, t.viewer)),
                _outcome(lambda: access.visible_message(conn, t.message_id, t.viewer)),
                _outcome(lambda: access.visible_file(conn, t.object_key, t.viewer)),
                _outcome(lambda: access.can_post(conn, t.chat_id, t.viewer, NOW))]

    assert database.write_sync(unknown) == database.write_sync(known) == ["404"] * 5
    # and with the same text, so the body does not tell either
    def details(conn: apsw.Connection, chat_id: int) -> str:
        try:
            access.visible_chat(conn, chat_id, t.viewer)
        except DomainError as exc:
            return exc.detail
        return "visible"
    assert database.write_sync(lambda c: details(c, 10**9)) == database.write_sync(
        lambda c: details(c, t.chat_id)) == access.CHAT_NOT_FOUND
