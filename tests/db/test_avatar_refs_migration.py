"""Avatars and migrations. 0091: a user's avatar refers to an object only when that user uploaded
it. A remote user whose icon URL named another user's file had made that file its avatar
(downloadable by whoever sees the avatar, kept from deletion); the migration drops those
references, keeps the users' own, and an avatar_url naming someone else's file links nothing
afterwards. 0092: a remote user's icon URL moves to its actor row, its avatar waits for a copy."""
from __future__ import annotations

import apsw
from migrations_support import apply
from test_federation_notes_q import T0, message, private, user

BASE = "https://elsewhere.example/media/bucket/uploads/"


def stored_object(conn: apsw.Connection, uploader: int, name: str) -> str:
    digest = f"{len(name):064x}"[:63] + name[-1]
    conn.execute("INSERT OR IGNORE INTO media_blobs(sha256, size, created_at) VALUES (?, 3, ?)", (digest, T0))
    key = f"uploads/{name}.png"
    conn.execute("INSERT INTO media_objects(object_key, uploader_id, file_name, file_type, file_size, state,"
                 " sha256, upload_expires_at, created_at, stored_at) VALUES (?, ?, 'a.png', 'image/png', 3,"
                 " 'stored', ?, 0, ?, ?)", (key, uploader, digest, T0, T0))
    return key


def refs(conn: apsw.Connection) -> set[tuple[str, int]]:
    return {(r["object_key"], r["user_id"]) for r in conn.execute(
        "SELECT object_key, user_id FROM media_avatar_refs WHERE user_id IS NOT NULL")}


def set_avatar(conn: apsw.Connection, user_id: int, url: str | None) -> None:
    conn.execute("UPDATE users SET avatar_url = ? WHERE id = ?", (url, user_id))


def test_references_to_files_of_others_go_and_are_not_made_again(conn):
    apply(conn, below=91)
    with conn:
        alice, mallory = user(conn, "alice"), user(conn, "mallory", remote=True)
        sent = stored_object(conn, alice, "sent1")   # a file alice sent mallory: attached to a message
        mine = stored_object(conn, alice, "mine1")   # alice's own avatar
        chat = private(conn, alice, mallory)
        msg = message(conn, chat, alice, "c-1")
        conn.execute("INSERT INTO attachments(message_id, chat_id, uploader_id, object_key, file_type, file_size,"
                     " created_at) VALUES (?, ?, ?, ?, 'image/png', 3, ?)", (msg, chat, alice, sent, T0))
        set_avatar(conn, alice, "http://local.test/media/bucket/" + mine)
        set_avatar(conn, mallory, BASE + sent.removeprefix("uploads/"))
    assert refs(conn) == {(mine, alice), (sent, mallory)}  # what the triggers before 0091 did

    apply(conn)
    assert refs(conn) == {(mine, alice)}
    assert {r["object_key"] for r in conn.execute("SELECT object_key FROM media_objects")} == {sent, mine}
    with conn:
        set_avatar(conn, mallory, None)
        set_avatar(conn, mallory, BASE + mine.removeprefix("uploads/"))  # someone else's file: no reference
        theirs = stored_object(conn, mallory, "theirs1")  # a file of mallory's own (fetched from its server)
        conn.execute(  # a remote user first seen with such an icon (the insert trigger)
            "INSERT INTO users(email, username, name, password_hash, avatar_url, is_remote, actor_url, created_at,"
            " updated_at) VALUES ('j@x', 'joined', 'j', 'x', ?, 1, 'https://other.example/joined', ?, ?)",
            (BASE + sent.removeprefix("uploads/"), T0, T0))
    assert refs(conn) == {(mine, alice)}
    with conn:
        set_avatar(conn, mallory, BASE + theirs.removeprefix("uploads/"))
    assert refs(conn) == {(mine, alice), (theirs, mallory)}


def test_0092_keeps_remote_icon_urls_on_the_actor_and_clears_remote_avatars(conn):
    apply(conn, below=92)
    with conn:
        alice, mallory = user(conn, "alice"), user(conn, "mallory", remote=True)
        mine = stored_object(conn, alice, "mine2")
        set_avatar(conn, alice, "http://local.test/media/bucket/" + mine)
        set_avatar(conn, mallory, "https://other.example/icons/m.png")
        conn.execute("INSERT INTO federation_actors(user_id, actor_url, host, inbox, key_id, public_key_pem,"
                     " fetched_at) VALUES (?, 'https://other.example/mallory', 'other.example',"
                     " 'https://other.example/inbox', 'k', 'pem', ?)", (mallory, T0))
    apply(conn)
    avatars = {r["id"]: r["avatar_url"] for r in conn.execute("SELECT id, avatar_url FROM users")}
    assert avatars == {alice: "http://local.test/media/bucket/" + mine, mallory: None}
    [icon] = [r["icon_url"] for r in conn.execute("SELECT icon_url FROM federation_actors")]
    assert icon == "https://other.example/icons/m.png"
