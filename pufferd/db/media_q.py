"""Query functions for media: uploaded objects, blobs, attachments, avatar references.

Synchronous; they run inside db.read/db.write units of work. Reference counting is done by the
triggers of migration 0040 (media_blobs.refs, attached_at, releasing detached objects).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import apsw

from pufferd.db import users_q
from pufferd.db.users_q import User


@dataclass(frozen=True, slots=True)
class MediaObject:
    object_key: str
    uploader_id: int | None
    file_name: str
    file_type: str
    file_size: int
    state: str  # pending | uploading | stored
    sha256: str | None
    upload_expires_at: int
    created_at: float
    stored_at: float | None
    attached_at: float | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> MediaObject:
        return cls(**row)


@dataclass(frozen=True, slots=True)
class Attachment:
    id: int
    message_id: int
    chat_id: int
    uploader_id: int | None
    object_key: str
    file_type: str
    file_size: int
    waveform: list[int] | None
    created_at: float

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Attachment:
        row = dict(row)
        row["waveform"] = json.loads(row["waveform"]) if row["waveform"] is not None else None
        return cls(**row)


@dataclass(frozen=True, slots=True)
class ChatAttachment:
    id: int
    message_id: int
    sender_id: int | None
    message_type: str
    message_created_at: float
    object_key: str
    file_type: str
    file_size: int


def _one(conn: apsw.Connection, sql: str, params: Any) -> dict[str, Any]:
    """The row of a statement that always returns one (an aggregate, INSERT ... RETURNING)."""
    return cast(dict[str, Any], conn.execute(sql, params).fetchone())


# objects -------------------------------------------------------------------------------------

def insert_object(conn: apsw.Connection, *, object_key: str, uploader_id: int, file_name: str,
                  file_type: str, file_size: int, upload_expires_at: int, now: float) -> MediaObject:
    return MediaObject.from_row(_one(
        conn,
        "INSERT INTO media_objects(object_key, uploader_id, file_name, file_type, file_size,"
        " upload_expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (object_key, uploader_id, file_name, file_type, file_size, upload_expires_at, now)))


def get_object(conn: apsw.Connection, object_key: str) -> MediaObject | None:
    row = conn.execute("SELECT * FROM media_objects WHERE object_key = ?", (object_key,)).fetchone()
    return MediaObject.from_row(row) if row else None


def set_state(conn: apsw.Connection, object_key: str, *, expect: str, state: str) -> bool:
    """Move an object from EXPECT to STATE; False when it was not in EXPECT (a lost race)."""
    return conn.execute("UPDATE media_objects SET state = ? WHERE object_key = ? AND state = ? RETURNING 1",
                        (state, object_key, expect)).fetchone() is not None


def reset_uploading(conn: apsw.Connection) -> int:
    """At start-up no PUT can be streaming: every 'uploading' object goes back to 'pending'."""
    return len(conn.execute("UPDATE media_objects SET state = 'pending' WHERE state = 'uploading'"
                            " RETURNING 1").fetchall())


def mark_stored(conn: apsw.Connection, object_key: str, *, sha256: str, size: int, now: float) -> MediaObject:
    """Record the blob (refs are counted by trigger) and move the object to 'stored'."""
    conn.execute("INSERT INTO media_blobs(sha256, size, refs, created_at) VALUES (?, ?, 0, ?)"
                 " ON CONFLICT(sha256) DO NOTHING", (sha256, size, now))
    row = conn.execute(
        "UPDATE media_objects SET state = 'stored', sha256 = ?, stored_at = ?"
        " WHERE object_key = ? AND state = 'uploading' RETURNING *", (sha256, now, object_key)).fetchone()
    if row is None:
        raise LookupError(f"{object_key} is not being uploaded")
    return MediaObject.from_row(row)


# attachments ---------------------------------------------------------------------------------

def attachment_exists(conn: apsw.Connection, message_id: int, object_key: str) -> bool:
    return conn.execute("SELECT 1 FROM attachments WHERE message_id = ? AND object_key = ?",
                        (message_id, object_key)).fetchone() is not None


def count_attachments(conn: apsw.Connection, message_id: int) -> int:
    return _one(conn, "SELECT count(*) AS n FROM attachments WHERE message_id = ?", (message_id,))["n"]


def insert_attachment(conn: apsw.Connection, *, message_id: int, chat_id: int, uploader_id: int,
                      object_key: str, file_type: str, file_size: int, waveform: list[int] | None,
                      now: float) -> Attachment:
    return Attachment.from_row(_one(
        conn,
        "INSERT INTO attachments(message_id, chat_id, uploader_id, object_key, file_type, file_size,"
        " waveform, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (message_id, chat_id, uploader_id, object_key, file_type, file_size,
         json.dumps(waveform, separators=(",", ":")) if waveform is not None else None, now)))


def chat_attachments(conn: apsw.Connection, *, chat_id: int, viewer_id: int, cleared_before_id: int,
                     before_id: int | None, limit: int) -> list[ChatAttachment]:
    """Newest first, by attachment id; skips messages the viewer cleared or hid for themself.

    Plan: attachments_by_chat (chat_id, id) range scan, messages by rowid, message_hidden by key.
    """
    rows = conn.execute(
        "SELECT a.id, a.message_id, m.sender_id, m.type AS message_type, m.created_at AS message_created_at,"
        "       a.object_key, a.file_type, a.file_size"
        "  FROM attachments a JOIN messages m ON m.id = a.message_id"
        " WHERE a.chat_id = ? AND a.id < ? AND a.message_id > ?"
        "   AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = ? AND h.message_id = a.message_id)"
        " ORDER BY a.id DESC LIMIT ?",
        (chat_id, before_id if before_id is not None else 2**63 - 1, cleared_before_id, viewer_id, limit))
    return [ChatAttachment(**r) for r in rows]


# download visibility -------------------------------------------------------------------------

def attached_to_visible_message(conn: apsw.Connection, object_key: str, user_id: int) -> bool:
    """True when the object is attached to a message USER_ID may see: a message of a chat they
    are in, above their clear-history mark and not deleted for them (the batch form of
    pufferd.access.visible_message). Plan: attachments_by_key, then chat_members and
    message_hidden by their primary keys."""
    return conn.execute(
        "SELECT 1 FROM attachments a JOIN chat_members cm ON cm.chat_id = a.chat_id AND cm.user_id = ?1"
        " WHERE a.object_key = ?2 AND a.message_id > cm.cleared_before_id"
        "   AND NOT EXISTS (SELECT 1 FROM message_hidden h WHERE h.user_id = ?1 AND h.message_id = a.message_id)"
        " LIMIT 1", (user_id, object_key)).fetchone() is not None


def avatar_owners(conn: apsw.Connection, object_key: str) -> list[User]:
    """The users whose avatar this object is (almost always zero or one)."""
    ids = [r["user_id"] for r in conn.execute(
        "SELECT user_id FROM media_avatar_refs WHERE object_key = ? AND user_id IS NOT NULL", (object_key,))]
    return [u for u in (users_q.get(conn, i) for i in ids) if u is not None]


def avatar_chat_ids(conn: apsw.Connection, object_key: str) -> list[int]:
    """The chats whose avatar this object is (almost always zero or one)."""
    return [r["chat_id"] for r in conn.execute(
        "SELECT chat_id FROM media_avatar_refs WHERE object_key = ? AND chat_id IS NOT NULL", (object_key,))]


def active_user(conn: apsw.Connection, user_id: int) -> User | None:
    user = users_q.get(conn, user_id)
    return user if user is not None and not user.is_disabled else None


# lifecycle -----------------------------------------------------------------------------------

def delete_expired_pending(conn: apsw.Connection, now: float, stale_before: float, limit: int) -> int:
    """Objects whose upload URL expired unused; an 'uploading' one is left to its PUT unless its
    URL expired before STALE_BEFORE."""
    return len(conn.execute(
        "DELETE FROM media_objects WHERE object_key IN (SELECT object_key FROM media_objects"
        " WHERE state <> 'stored' AND upload_expires_at < ?"
        "   AND (state = 'pending' OR upload_expires_at < ?) LIMIT ?) RETURNING 1",
        (now, stale_before, limit)).fetchall())


def delete_unattached(conn: apsw.Connection, stored_before: float, limit: int) -> int:
    """Stored objects never attached to anything since before STORED_BEFORE (blob refs drop by trigger)."""
    return len(conn.execute(
        "DELETE FROM media_objects WHERE object_key IN (SELECT object_key FROM media_objects"
        " WHERE state = 'stored' AND attached_at IS NULL AND stored_at < ? LIMIT ?) RETURNING 1",
        (stored_before, limit)).fetchall())


def take_unreferenced_blobs(conn: apsw.Connection, limit: int) -> list[str]:
    """Delete up to LIMIT blob rows no object uses; return their digests (the files go next)."""
    return [r["sha256"] for r in conn.execute(
        "DELETE FROM media_blobs WHERE sha256 IN (SELECT sha256 FROM media_blobs WHERE refs = 0 LIMIT ?)"
        " RETURNING sha256", (limit,))]


def delete_unattached_objects(conn: apsw.Connection, object_keys: list[str]) -> list[str]:
    """Delete the stored objects of OBJECT_KEYS nothing refers to (attached_at NULL), then the blob
    rows left without a reference; return those blobs' digests (their files go next)."""
    digests = set()
    for key in object_keys:
        row = conn.execute("DELETE FROM media_objects WHERE object_key = ? AND attached_at IS NULL"
                           " RETURNING sha256", (key,)).fetchone()
        if row is not None and row["sha256"] is not None:
            digests.add(row["sha256"])
    return [r["sha256"] for d in sorted(digests) for r in conn.execute(
        "DELETE FROM media_blobs WHERE sha256 = ? AND refs = 0 RETURNING sha256", (d,))]


def blob_exists(conn: apsw.Connection, sha256: str) -> bool:
    return conn.execute("SELECT 1 FROM media_blobs WHERE sha256 = ?", (sha256,)).fetchone() is not None


def known_blobs(conn: apsw.Connection, digests: list[str]) -> set[str]:
    """The DIGESTS that have a blob row."""
    if not digests:
        return set()
    marks = ",".join("?" * len(digests))
    return {r["sha256"] for r in conn.execute(f"SELECT sha256 FROM media_blobs WHERE sha256 IN ({marks})",
                                              digests)}


def unattached_bytes(conn: apsw.Connection, uploader_id: int) -> int:
    """Bytes of USER's objects that nothing refers to yet (pending, uploading or never attached)."""
    return _one(conn, "SELECT coalesce(sum(file_size), 0) AS n FROM media_objects"
                " WHERE uploader_id = ? AND attached_at IS NULL", (uploader_id,))["n"]


def blobs(conn: apsw.Connection) -> dict[str, int]:
    """Every recorded blob: digest -> size."""
    return {r["sha256"]: r["size"] for r in conn.execute("SELECT sha256, size FROM media_blobs")}
