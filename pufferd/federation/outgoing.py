"""Outgoing activities, queued in the transaction of what they announce (issue 15, items 5-6).

messages.py calls `message_txn` inside its write transaction: a message, edit or delete for
everyone by a local user in a private chat whose counterpart is remote becomes Create, Update or
Delete of a Note addressed only to that person (`to: [actor]`, a Mention tag, no public or
followers addressing: what fediverse servers show as a direct message). The worker
(pufferd/federation/delivery.py) delivers it after the commit.
"""
from __future__ import annotations

import uuid
from typing import Any

import apsw

from pufferd.clock import iso
from pufferd.context import Context
from pufferd.db import federation_q, messages_q, users_q
from pufferd.db.federation_q import RemoteActor
from pufferd.db.messages_q import Message
from pufferd.db.users_q import User
from pufferd.federation import actors
from pufferd.federation.content import note_html


def activity_id(ctx: Context) -> str:
    return f"{ctx.settings.base_url}/ap/activities/{uuid.uuid4().hex}"


def note_id(ctx: Context, conn: apsw.Connection, message: Message) -> str:
    """The Note id of MESSAGE: our URL for our users' messages, the remote id for theirs
    (kept as the message's client_message_id, which makes incoming Creates idempotent)."""
    sender = users_q.get(conn, message.sender_id) if message.sender_id is not None else None
    if sender is not None and sender.is_remote and message.client_message_id:
        return message.client_message_id
    return actors.note_url(ctx, message.id)


def enqueue_txn(ctx: Context, conn: apsw.Connection, sender_id: int, target: RemoteActor,
                activity: dict[str, Any], now: float) -> None:
    federation_q.enqueue(conn, sender_id=sender_id, inbox=target.inbox, host=target.host,
                         activity=activity, now=now)


def message_txn(ctx: Context, conn: apsw.Connection, kind: str, message: Message, member_ids: list[int],
                now: float) -> bool:
    """Queue KIND (create | update | delete) of MESSAGE for the remote members of its private
    chat; True when something was queued (the caller wakes the worker after the commit)."""
    if not ctx.settings.federation_enabled or message.sender_id is None:
        return False
    remote = federation_q.remote_members(conn, [u for u in member_ids if u != message.sender_id])
    if not remote:
        return False
    sender = users_q.get(conn, message.sender_id)
    if sender is None or sender.is_remote:
        return False
    chat_type = conn.execute("SELECT type FROM chats WHERE id = ?", (message.chat_id,)).fetchone()
    if chat_type is None or chat_type["type"] != "private":
        return False
    for user, target in remote:
        activity = _activity(ctx, conn, kind, sender, user, target, message, now)
        enqueue_txn(ctx, conn, sender.id, target, activity, now)
    return True


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
