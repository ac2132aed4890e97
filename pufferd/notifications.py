"""Notifications (API reference 3.6 and 10): who is told about what, stored and published.

A notification is one row per user to be told, with an event type and a JSON payload:

| event_type          | when                                                        | payload                              |
| ------------------- | ----------------------------------------------------------- | ------------------------------------ |
| `message_created`   | a message arrives in a chat the user is in and has not muted | `chat_id`, `message_id`, `sender_id` |
| `mention`           | the message mentions the user by @username (even when muted) | `chat_id`, `message_id`, `sender_id` |
| `added_to_chat`     | someone added the user to a chat (stored by pufferd.chats)    | `chat_id`, `by_user_id`              |

The sender of a message is never notified of it. A user mentioned in a message gets one `mention`
row instead of `message_created`. Deleting a message for everyone deletes its notifications.
Each row is also published on the bus as a `notification` event to its user, after commit.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import apsw

from pufferd.clock import iso
from pufferd.context import Context
from pufferd.db import notifications_q
from pufferd.db.messages_q import Message, Recipient
from pufferd.db.notifications_q import Notification
from pufferd.db.users_q import User
from pufferd.realtime.bus import Event

MESSAGE_CREATED = "message_created"
MENTION = "mention"


def as_dict(n: Notification, created_at: str | None = None) -> dict[str, Any]:
    """NotificationRead: the shape of the HTTP list and of the `notification` event."""
    return {"id": n.id, "user_id": n.user_id, "event_type": n.event_type, "payload": n.payload,
            "created_at": created_at or iso(n.created_at)}


def for_message_txn(conn: apsw.Connection, message: Message, recipients: Iterable[Recipient],
                    mentioned: set[int], now: float) -> list[Notification]:
    """Store the notifications a new message causes (see the module table); return them."""
    entries = []
    for r in recipients:
        if r.user_id == message.sender_id:
            continue
        if r.user_id in mentioned:
            entries.append((r.user_id, MENTION))
        elif not r.muted:
            entries.append((r.user_id, MESSAGE_CREATED))
    return notifications_q.insert_many(conn, entries, _payload(message), now, chat_id=message.chat_id,
                                       message_id=message.id)


def _payload(message: Message) -> dict[str, Any]:
    return {"chat_id": message.chat_id, "message_id": message.id, "sender_id": message.sender_id}


def for_mentions_txn(conn: apsw.Connection, message: Message, user_ids: Iterable[int],
                     now: float) -> list[Notification]:
    """Store `mention` notifications for users newly mentioned by an edit."""
    entries = [(uid, MENTION) for uid in sorted(user_ids) if uid != message.sender_id]
    return notifications_q.insert_many(conn, entries, _payload(message), now, chat_id=message.chat_id,
                                       message_id=message.id)


def publish(ctx: Context, notifications: Iterable[Notification]) -> None:
    """Publish each stored notification to its user; call only after the write has committed."""
    times: dict[float, str] = {}  # the notifications of one message share their time
    for n in notifications:
        if n.created_at not in times:
            times[n.created_at] = iso(n.created_at)  # type: ignore[assignment]
        ctx.bus.publish(Event.to("notification", as_dict(n, times[n.created_at]), (n.user_id,)))


async def latest(ctx: Context, user: User, limit: int) -> list[Notification]:
    """The caller's newest notifications first."""
    return await ctx.db.read(lambda conn: notifications_q.latest(conn, user.id, limit))
