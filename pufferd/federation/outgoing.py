"""Outgoing activities, queued in the transaction of what they announce (issue 15, items 5-6).

messages.py calls `message_txn` inside its write transaction: a message, edit or delete for
everyone by a local user in a private chat whose counterpart is remote becomes Create, Update or
Delete of a Note addressed only to that person (`to: [actor]`, a Mention tag, no public or
followers addressing: what fediverse servers show as a direct message). The worker
(pufferd/federation/delivery.py) delivers it after the commit.

Attachments travel as Document objects whose `url` is a signed GET URL of the file for the
recipient's shadow user (the media module's download signing), valid for
federation_attachment_url_ttl_seconds: the file is readable through that link and nothing else.
Files are attached after the message is sent (POST /media/attachments), so attaching queues the
Note again: a Create when the message had no text (nothing was sent for it yet), else an Update.
A reaction becomes a Like to the same person (content.reaction_fields), taking it back an Undo.
"""
from __future__ import annotations

import uuid
from typing import Any

import apsw

from pufferd.clock import iso
from pufferd.context import Context
from pufferd.db import chats_q, federation_content_q, federation_q, messages_q, users_q
from pufferd.db.federation_q import RemoteActor
from pufferd.db.messages_q import Message
from pufferd.db.users_q import User
from pufferd.federation import actors
from pufferd.federation.content import note_html, reaction_fields
from pufferd.text import is_blank


def activity_id(ctx: Context) -> str:
    return f"{ctx.settings.base_url}/ap/activities/{uuid.uuid4().hex}"


def note_id(ctx: Context, conn: apsw.Connection, message: Message) -> str:
    """The Note id of MESSAGE: our URL for our users' messages, the remote Note's id for a copy
    of one (federation_notes)."""
    remote_note = federation_content_q.note_of(conn, message.id)
    return remote_note if remote_note is not None else actors.note_url(ctx, message.id)


def enqueue_txn(ctx: Context, conn: apsw.Connection, sender_id: int, target: RemoteActor,
                activity: dict[str, Any], now: float) -> None:
    federation_q.enqueue(conn, sender_id=sender_id, inbox=target.inbox, host=target.host,
                         activity=activity, now=now)


def _remote_counterparts(ctx: Context, conn: apsw.Connection, sender_id: int | None, chat_id: int,
                         member_ids: list[int]) -> tuple[User, list[tuple[User, RemoteActor]]] | None:
    """The local SENDER_ID and the remote members of CHAT_ID when it is a private chat that
    federates (federation on, a local sender, a remote counterpart); None otherwise."""
    if not ctx.settings.federation_enabled or sender_id is None:
        return None
    remote = federation_q.remote_members(conn, [u for u in member_ids if u != sender_id])
    if not remote:
        return None
    sender = users_q.get(conn, sender_id)
    if sender is None or sender.is_remote:
        return None
    chat_type = conn.execute("SELECT type FROM chats WHERE id = ?", (chat_id,)).fetchone()
    if chat_type is None or chat_type["type"] != "private":
        return None
    return sender, remote


def message_txn(ctx: Context, conn: apsw.Connection, kind: str, message: Message, member_ids: list[int],
                now: float) -> bool:
    """Queue KIND (create | update | delete) of MESSAGE for the remote members of its private
    chat; True when something was queued (the caller wakes the worker after the commit). A message
    without text and attachments is not announced yet (its files come next: attachment_txn)."""
    found = _remote_counterparts(ctx, conn, message.sender_id, message.chat_id, member_ids)
    if found is None:
        return False
    sender, remote = found
    if kind == "create" and is_blank(message.text or "") and not federation_content_q.note_attachments(conn, message.id):
        return False
    for user, target in remote:
        activity = _activity(ctx, conn, kind, sender, user, target, message, now)
        enqueue_txn(ctx, conn, sender.id, target, activity, now)
    return True


def attachment_txn(ctx: Context, conn: apsw.Connection, message: Message, now: float) -> bool:
    """Announce MESSAGE again after a file was attached to it: a Create when this is its first
    attachment and it has no text (nothing was announced for it before), otherwise an Update."""
    first = is_blank(message.text or "") and len(federation_content_q.note_attachments(conn, message.id)) == 1
    members = chats_q.member_ids(conn, message.chat_id)
    return message_txn(ctx, conn, "create" if first else "update", message, members, now)


def _documents(ctx: Context, conn: apsw.Connection, message: Message, reader_id: int, now: float
               ) -> list[dict[str, Any]]:
    """MESSAGE's attachments as Documents whose urls are signed download URLs for READER_ID."""
    from pufferd import media  # imported here: media imports messages, which imports this module

    expires = int(now) + ctx.settings.federation_attachment_url_ttl_seconds
    return [{"type": "Document", "mediaType": a.file_type, "name": a.file_name,
             "url": media.signed_get_url(ctx, a.object_key, reader_id, session=None, expires=expires)}
            for a in federation_content_q.note_attachments(conn, message.id)]


def _activity(ctx: Context, conn: apsw.Connection, kind: str, sender: User, user: User, target: RemoteActor,
              message: Message, now: float) -> dict[str, Any]:
    me = actors.actor_url(ctx, sender.id)
    nid = note_id(ctx, conn, message)
    base: dict[str, Any] = {"@context": actors.AS_CONTEXT[0], "id": activity_id(ctx), "actor": me,
                            "to": [target.actor_url], "cc": []}
    if kind == "delete":
        return {**base, "type": "Delete", "object": {"id": nid, "type": "Tombstone"}}
    text = message.text or ""
    note: dict[str, Any] = {
        "id": nid, "type": "Note", "attributedTo": me, "to": [target.actor_url], "cc": [],
        "content": note_html(text, target.actor_url, user.username),
        "source": {"content": text, "mediaType": "text/plain"},
        "tag": [{"type": "Mention", "href": target.actor_url, "name": "@" + user.username}],
        "published": iso(message.created_at), "sensitive": False,
        "inReplyTo": None,
    }
    if message.reply_to_message_id is not None:
        parent = messages_q.get(conn, message.reply_to_message_id)
        if parent is not None:
            note["inReplyTo"] = note_id(ctx, conn, parent)
    documents = _documents(ctx, conn, message, user.id, now)
    if documents:
        note["attachment"] = documents
    if kind == "update":
        note["updated"] = iso(now)
    return {**base, "type": "Create" if kind == "create" else "Update", "published": iso(now), "object": note}


def follow_txn(ctx: Context, conn: apsw.Connection, kind: str, local: User, target: RemoteActor,
               object_: Any, now: float) -> str:
    """Queue a Follow, Undo{Follow}, Accept{Follow} or Reject{Follow} from LOCAL to TARGET; its id."""
    aid = activity_id(ctx)
    activity = {"@context": actors.AS_CONTEXT[0], "id": aid, "type": kind,
                "actor": actors.actor_url(ctx, local.id), "object": object_, "to": [target.actor_url]}
    enqueue_txn(ctx, conn, local.id, target, activity, now)
    return aid


def reaction_txn(ctx: Context, conn: apsw.Connection, message: Message, user_id: int, emoji: str, added: bool,
                 member_ids: list[int], now: float) -> bool:
    """Queue a Like (ADDED) or the Undo of the Like of USER_ID's EMOJI reaction on MESSAGE for the
    remote members of its private chat; True when something was queued. The Like's id is kept
    (federation_reactions) so that the Undo names it."""
    found = _remote_counterparts(ctx, conn, user_id, message.chat_id, member_ids)
    if found is None:
        return False
    user, remote = found
    me = actors.actor_url(ctx, user.id)
    nid = note_id(ctx, conn, message)
    if added:
        aid = activity_id(ctx)
        federation_content_q.record_reaction(conn, aid, message.id, user.id, emoji, now)
        likes = [aid]
    else:
        likes = federation_content_q.take_reactions(conn, message.id, user.id, emoji)
        if not likes:  # reacted before the chat federated: there is no Like to take back
            return False
    for _, target in remote:
        for like_id in likes:
            like = {"id": like_id, "type": "Like", "actor": me, "object": nid, "to": [target.actor_url],
                    "cc": [], **reaction_fields(emoji)}
            activity = ({"@context": actors.AS_CONTEXT[0], **like} if added else
                        {"@context": actors.AS_CONTEXT[0], "id": activity_id(ctx), "type": "Undo", "actor": me,
                         "object": like, "to": [target.actor_url], "cc": []})
            enqueue_txn(ctx, conn, user.id, target, activity, now)
    return True


def profile_txn(ctx: Context, conn: apsw.Connection, before: User, after: User, now: float) -> bool:
    """Queue Update{Person} with AFTER's actor document to every remote actor that knows the
    local user (federation_q.profile_audience) when the document differs from BEFORE's; True
    when something was queued. One activity for all: the worker posts it once per host to a
    shared inbox its actors advertise. A user whose key was never made (no actor document
    served, nothing signed) is known to no server, and nothing is sent."""
    if not ctx.settings.federation_enabled or after.is_remote:
        return False
    keys = federation_q.keys(conn, after.id)
    if keys is None:
        return False
    document = actors.person(ctx, after, keys[0])
    if document == actors.person(ctx, before, keys[0]):
        return False
    targets = federation_q.profile_audience(conn, after.id)
    me = actors.actor_url(ctx, after.id)
    activity = {"@context": actors.AS_CONTEXT, "id": activity_id(ctx), "type": "Update", "actor": me,
                "to": [me + "/followers"], "object": document, "published": iso(now)}
    for target in targets:
        enqueue_txn(ctx, conn, after.id, target, activity, now)
    return bool(targets)
