"""Copies of remote Notes (migration 0088): a data directory of before keeps its federated
messages findable by Note id, with their versions and reactions, and a Note's copies in several
chats are told apart."""
from __future__ import annotations

import apsw
from migrations_support import apply

from pufferd.db import chats_q, federation_content_q

T0 = 1_790_000_000.0
NOTE = "https://other.example/notes/1"


def user(conn: apsw.Connection, name: str, remote: bool = False) -> int:
    return int(conn.execute(
        "INSERT INTO users(email, username, name, password_hash, is_remote, actor_url, created_at, updated_at)"
        " VALUES (?, ?, ?, 'x', ?, ?, ?, ?) RETURNING id",
        (f"{name}@example.com", name, name, int(remote), f"https://other.example/{name}" if remote else None,
         T0, T0)).fetchone()["id"])


def private(conn: apsw.Connection, a: int, b: int) -> int:
    chat = chats_q.insert(conn, public_id=f"p{a:011d}{b:012d}", type="private", title=None, created_by=a, now=T0)
    chats_q.add_member(conn, chat.id, a, "owner", T0)
    chats_q.add_member(conn, chat.id, b, "member", T0)
    return chat.id


def message(conn: apsw.Connection, chat: int, sender: int, client_id: str | None) -> int:
    return int(conn.execute("INSERT INTO messages(chat_id, sender_id, type, text, client_message_id, created_at,"
                            " updated_at) VALUES (?, ?, 'text', 'hi', ?, ?, ?) RETURNING id",
                            (chat, sender, client_id, T0, T0)).fetchone()["id"])


def test_the_migration_keeps_federated_messages_their_versions_and_reactions(conn):
    apply(conn, below=88)
    with conn:
        bob, alice = user(conn, "bob@other.example", remote=True), user(conn, "alice")
        chat = private(conn, bob, alice)
        theirs = message(conn, chat, bob, NOTE)
        mine = message(conn, chat, alice, "client-1")  # a local message keeps its client id
        edited = message(conn, chat, bob, NOTE + "/2")
        conn.execute("INSERT INTO federation_notes(note_id, message_id, version) VALUES (?, ?, ?)",
                     (NOTE + "/2", edited, T0))
        conn.execute("INSERT INTO federation_reactions(activity_id, message_id, user_id, emoji, created_at)"
                     " VALUES ('https://other.example/likes/1', ?, ?, 'x', ?)", (mine, bob, T0))
    apply(conn)
    assert federation_content_q.note_copies(conn, NOTE) == [federation_content_q.NoteCopy(theirs, chat, None)]
    assert federation_content_q.note_copies(conn, NOTE + "/2") == [federation_content_q.NoteCopy(edited, chat, T0)]
    assert federation_content_q.note_of(conn, mine) is None
    ids = {r["id"]: r["client_message_id"] for r in conn.execute("SELECT id, client_message_id FROM messages")}
    assert ids == {theirs: f"{NOTE} chat:{chat}", mine: "client-1", edited: f"{NOTE}/2 chat:{chat}"}
    [like] = federation_content_q.reactions(conn, "https://other.example/likes/1")
    assert (like.message_id, like.user_id) == (mine, bob)


def test_copies_of_one_note_in_two_chats(conn):
    apply(conn)
    with conn:
        bob, alice, carol = user(conn, "bob@other.example", remote=True), user(conn, "alice"), user(conn, "carol")
        a_chat, c_chat = private(conn, bob, alice), private(conn, bob, carol)
        a_msg = message(conn, a_chat, bob, f"{NOTE} chat:{a_chat}")
        c_msg = message(conn, c_chat, bob, f"{NOTE} chat:{c_chat}")
        for m in (a_msg, c_msg, a_msg):  # adding a copy twice keeps one row
            federation_content_q.add_note_copy(conn, NOTE, m)
        federation_content_q.set_note_version(conn, c_msg, T0 + 2)
        federation_content_q.set_note_version(conn, c_msg, T0 + 1)  # never moves back
    assert [c.message_id for c in federation_content_q.note_copies(conn, NOTE)] == [a_msg, c_msg]
    assert federation_content_q.note_copy_in(conn, NOTE, c_chat) == federation_content_q.NoteCopy(c_msg, c_chat, T0 + 2)
    copy = federation_content_q.note_copy_for(conn, NOTE, alice)
    assert copy is not None and copy.message_id == a_msg
    assert federation_content_q.note_copy_for(conn, NOTE, user(conn, "dave")) is None
    with conn:
        conn.execute("DELETE FROM messages WHERE id = ?", (a_msg,))  # a delete for everyone takes its row
    assert [c.message_id for c in federation_content_q.note_copies(conn, NOTE)] == [c_msg]
