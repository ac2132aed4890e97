"""Notifications (API reference 3.6 and 10): who is told about what, stored and published.

A notification is one row per user to be told, with an event type and a JSON payload:

| event_type          | when                                                        | payload                              |
| ------------------- | ----------------------------------------------------------- | ------------------------------------ |
| `message_created`   | a message arrives in a chat the user is in and has not muted, |                                      |
|                     | of at most `notify_every_message_max_members` (200) members | `chat_id`, `message_id`, `sender_id` |
| `mention`           | the message mentions the user by @username (even when muted) | `chat_id`, `message_id`, `sender_id` |
| `added_to_chat`     | someone added the user to a chat (stored by pufferd.chats)    | `chat_id`, `by_user_id`              |
| `message_removed`   | a moderator removed the user's message (pufferd.moderation)   | `chat_id`, `message_id`, `reason`,   |
|                     |                                                             | `removed_by` ("moderation")          |
| `file_removed`      | a moderator deleted the user's file (pufferd.cdn)           | `file_name`, `file_type`, `reason`,  |
|                     |                                                             | `removed_by` ("moderation")          |
| `report_resolved`   | a report the user filed was closed (pufferd.reports)        | `report_id`, `state`                 |

In a larger group or channel only mentions are stored: a row and an event per member and
message would make every message cost the writer and the sockets twice what it costs to deliver
(members still receive `message_created` on their sockets and see unread counts in ChatRead), as
large communities' chat servers do by default. The sender of a message is never notified of it. A user mentioned in a message gets one `mention`
row instead of `message_created`. Deleting a message for everyone deletes its notifications.
Each row is also published on the bus as a `notification` event to its user, after commit.
Rows older than `notification_retention_days` are deleted by an hourly pass (`lifecycle`).
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

import apsw

from pufferd import periodic
from pufferd.clock import iso
from pufferd.context import Context
from pufferd.db import notifications_q
from pufferd.db.chats_q import Audience
from pufferd.db.messages_q import Message
from pufferd.db.notifications_q import Notification
from pufferd.db.users_q import User
from pufferd.realtime.bus import Event

log = logging.getLogger(__name__)

MESSAGE_CREATED = "message_created"
PRUNE_INTERVAL_S = 3600.0
PRUNE_BATCH = 2000  # rows per write job: the writer is never held long
MENTION = "mention"


def as_dict(n: Notification, created_at: str | None = None) -> dict[str, Any]:
    """NotificationRead: the shape of the HTTP list and of the `notification` event."""
    return {"id": n.id, "user_id": n.user_id, "event_type": n.event_type, "payload": n.payload,
            "created_at": created_at or iso(n.created_at)}


def for_message_txn(conn: apsw.Connection, message: Message, audience: Audience,
                    mentioned: set[int], now: float, *, every_message: bool = True) -> list[Notification]:
    """Store the notifications a new message causes (see the module table); return them.
    AUDIENCE is who may see the message (pufferd/access.py decided it: the chat's members, when
    the sender may post there). EVERY_MESSAGE false: the chat is over the size limit, only
    mentions are stored."""
    entries = []
    for user_id in audience.user_ids:
        if user_id == message.sender_id:
            continue
        if user_id in mentioned:
            entries.append((user_id, MENTION))
        elif every_message and user_id not in audience.muted:
            entries.append((user_id, MESSAGE_CREATED))
    return notifications_q.insert_many(conn, entries, _payload(message), now, chat_id=message.chat_id,
                                       message_id=message.id)


def _payload(message: Message) -> dict[str, Any]:
    return {"chat_id": message.chat_id, "message_id": message.id, "sender_id": message.sender_id}


def for_mentions_txn(conn: apsw.Connection, message: Message, audience: Audience, user_ids: Iterable[int],
                     now: float) -> list[Notification]:
    """Store `mention` notifications for users newly mentioned by an edit (only members of
    AUDIENCE, the chat the editor may post in: pufferd/access.py)."""
    members = set(audience.user_ids)
    entries = [(uid, MENTION) for uid in sorted(user_ids) if uid != message.sender_id and uid in members]
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


async def prune(ctx: Context) -> int:
    """Delete notifications past the retention period, in small write jobs; return how many."""
    days = ctx.settings.notification_retention_days
    if not days:
        return 0
    cutoff = ctx.clock.time() - days * 86400
    total = 0
    while True:
        n = await ctx.db.write(lambda conn: notifications_q.delete_older_than(conn, cutoff, PRUNE_BATCH))
        total += n
        if n < PRUNE_BATCH:
            return total


async def lifecycle(ctx: Context) -> AsyncIterator[None]:
    """For the app's cleanup_ctx: prune at start-up and then every PRUNE_INTERVAL_S."""
    async with periodic.running("notification pruning", PRUNE_INTERVAL_S, lambda: prune_and_log(ctx),
                                first_at_start=True, board=ctx.tasks):
        yield


async def prune_and_log(ctx: Context) -> dict[str, int]:
    if n := await prune(ctx):
        log.info("notifications: %d past the retention period deleted", n)
    return {"deleted": n}
