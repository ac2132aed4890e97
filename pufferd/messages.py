"""Messages (API reference 3.4, 8 and the message limits of 12): the rules, one db hop per call.

Who may see, post, edit, react to or delete a message is decided by pufferd/access.py: a message
is visible to a member of its chat when its id is above the member's clear-history mark
(`cleared_before_id`) and the member has not deleted it for themself; anything not visible is
404, like a chat the caller is not in, so that neither reveals that it exists. Editing follows
the posting rule.

delivery_status (MessageRead), computed for the viewer:
- the viewer's own message: `read` once any other member's read cursor reached it, else
  `delivered` once any other member's delivered cursor reached it, else `sent`; in the personal
  saved-messages chat always `read`;
- someone else's message: `read` once the viewer's own read cursor reached it, else `delivered`
  (the viewer has it in hand).

client_message_id is shown only to the sender. Each transaction returns what it has to publish
(MessageEvent and the like); it is published after the commit (see `publish`).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import apsw

from pufferd import access, federation, notifications
from pufferd.clock import iso
from pufferd.context import Context
from pufferd.db import chats_q, messages_q, notifications_q
from pufferd.db.chats_q import Audience
from pufferd.db.messages_q import Cursors, Message, ReactionCount, Receipts
from pufferd.db.notifications_q import Notification
from pufferd.db.users_q import User
from pufferd.errors import Conflict, NotFound, RateLimited, field_error
from pufferd.realtime.bus import Event
from pufferd.text import is_blank

TYPES = ("text", "image", "video", "audio", "voice", "file", "circle_video")
STATUS_DELIVERED = "message_delivered"
STATUS_READ = "message_read"
MAX_MENTIONS = 50             # distinct @usernames looked up per message
MAX_REACTIONS_PER_USER = 10   # distinct emoji one user may put on one message
MAX_EMOJI_CHARS = 32          # code points of one reaction (longest real ZWJ sequences: ~10)
THREAD_HIDDEN_CAP = 10_000    # extra thread nodes walked past replies hidden for the viewer

# @username: the account username charset (a letter, then letters, digits, _; 3-32 in all),
# not preceded by a word character or a dot, so "mail@example.com" is no mention.
_MENTION = re.compile(r"(?<![A-Za-z0-9_.@])@([A-Za-z][A-Za-z0-9_]{2,31})(?![A-Za-z0-9_])")

@functools.cache
def _emoji_patterns() -> tuple[Any, Any]:
    """(one emoji, one grapheme cluster), compiled by the first reaction: `regex` costs ≈ 1.4 MB
    of RSS, not worth holding in a server nobody has reacted on yet (issue 17)."""
    import regex  # type: ignore[import-untyped]

    # One emoji: a keycap, a flag (two regional indicators), a tag sequence (subdivision flags),
    # or pictographs with optional presentation selector / skin tone, joined by ZWJ (UTS #51).
    emoji = regex.compile(r"""
(?: [0-9#*] \uFE0F? \u20E3
  | \p{Regional_Indicator}{2}
  | \U0001F3F4 [\U000E0020-\U000E007E]+ \U000E007F
  | \p{Extended_Pictographic} [\uFE0F\U0001F3FB-\U0001F3FF]? \uFE0F?
    (?: \u200D \p{Extended_Pictographic} [\uFE0F\U0001F3FB-\U0001F3FF]? \uFE0F? )*
)""", regex.VERBOSE)
    return emoji, regex.compile(r"\X")


# validation helpers (pure) ---------------------------------------------------------------------

def check_content(ctx: Context, type_: str, text: str | None) -> None:
    """Text rules: `text` messages need visible text; any text is at most max_message_length
    characters (code points)."""
    if type_ == "text" and (text is None or is_blank(text)):
        raise field_error("text", "text must not be empty or only whitespace for a text message")
    limit = ctx.settings.max_message_length
    if text is not None and len(text) > limit:
        raise field_error("text", f"text must be at most {limit} characters")


def mentioned_usernames(text: str | None) -> list[str]:
    """The distinct @usernames in TEXT (lower-cased), in order of appearance, at most MAX_MENTIONS."""
    if not text or "@" not in text:
        return []
    seen: dict[str, None] = {}
    for m in _MENTION.finditer(text):
        seen.setdefault(m.group(1).lower(), None)
        if len(seen) >= MAX_MENTIONS:
            break
    return list(seen)


def is_single_emoji(value: str) -> bool:
    """True when VALUE is exactly one emoji grapheme cluster (bounded in length)."""
    if not 0 < len(value) <= MAX_EMOJI_CHARS:
        return False
    emoji, grapheme = _emoji_patterns()
    return emoji.fullmatch(value) is not None and grapheme.fullmatch(value) is not None


# views -----------------------------------------------------------------------------------------

def delivery_status(message: Message, viewer_id: int, r: Receipts) -> str:
    if message.sender_id == viewer_id:
        if r.is_saved or r.others_read >= message.id:
            return "read"
        return "delivered" if r.others_delivered >= message.id else "sent"
    return "read" if r.my_read >= message.id else "delivered"


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message as one viewer sees it."""

    message: Message
    viewer_id: int
    delivery_status: str

    def as_dict(self) -> dict[str, Any]:
        """MessageRead: the HTTP shape and the data of message_created / message_updated events."""
        m = self.message
        created = iso(m.created_at)
        return {
            "id": m.id, "chat_id": m.chat_id, "sender_id": m.sender_id,
            "reply_to_message_id": m.reply_to_message_id,
            "forwarded_from_message_id": m.forwarded_from_message_id,
            "forwarded_from_sender_id": m.forward_sender_id,
            "type": m.type, "text": m.text, "delivery_status": self.delivery_status,
            "attachment_waveform": json.loads(m.waveform) if m.waveform is not None else None,
            "client_message_id": m.client_message_id if m.sender_id == self.viewer_id else None,
            "created_at": created, "updated_at": created if m.updated_at == m.created_at else iso(m.updated_at),
        }


def views(conn: apsw.Connection, viewer_id: int, messages: list[Message]) -> list[MessageView]:
    """Attach delivery_status for the viewer to MESSAGES (one query for all their chats)."""
    if not messages:
        return []
    rec = messages_q.receipts(conn, viewer_id, {m.chat_id for m in messages})
    none = Receipts(False, 0, 0, 0)
    return [MessageView(m, viewer_id, delivery_status(m, viewer_id, rec.get(m.chat_id, none)))
            for m in messages]


# publishing --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A message event that a transaction hands back, to be published after its commit: the
    event type, the actor's view of the message, the chat's members, the notifications stored."""

    type: str  # message_created | message_updated
    view: MessageView
    audience: tuple[int, ...]
    notes: tuple[Notification, ...] = ()


def publish(ctx: Context, events: Iterable[MessageEvent]) -> None:
    """Publish committed message events to the chat's members: the actor gets their own view
    (delivery_status, client_message_id); everyone else one shared view whose delivery_status
    is `delivered` and without client_message_id (each client keeps its own read state from the
    chat's read cursor). Then the notifications, each to its user."""
    for event in events:
        audience = set(event.audience)
        data = event.view.as_dict()
        sender = event.view.message.sender_id
        if sender in audience:
            ctx.bus.publish(Event.to(event.type, data, (sender,)))
            audience.discard(sender)
        if audience:
            others = {**data, "delivery_status": "delivered", "client_message_id": None}
            ctx.bus.publish(Event.to(event.type, others, audience))
        notifications.publish(ctx, event.notes)


def updated_txn(conn: apsw.Connection, viewer_id: int, message: Message) -> MessageEvent:
    """message_updated for what another area changed in MessageRead (media: an attachment's
    waveform becomes attachment_waveform), to the chat's members, as VIEWER_ID (the actor) sees it."""
    return MessageEvent("message_updated", views(conn, viewer_id, [message])[0],
                        tuple(chats_q.member_ids(conn, message.chat_id)))


def _post_txn(conn: apsw.Connection, audience: Audience, *, sender_id: int, type_: str, text: str | None,
              now: float, usernames: list[str], notify_max_members: int, **extra: Any) -> MessageEvent | None:
    """Insert one message and everything that goes with it: the chat's last message, mentions,
    notifications (settings.notify_every_message_max_members: larger chats store only `mention`
    notifications). None when the client_message_id already exists (see `send`)."""
    chat_id = audience.chat_id
    message = messages_q.insert(conn, chat_id=chat_id, sender_id=sender_id, type_=type_, text=text,
                                now=now, **extra)
    if message is None:
        return None
    messages_q.set_chat_last(conn, chat_id, message.id, now)
    if audience.hidden:  # a chat deleted "for me" comes back with a new message
        chats_q.unhide(conn, chat_id, sorted(audience.hidden))
    mentioned = set(messages_q.member_ids_by_username(conn, chat_id, usernames)) - {sender_id}
    if mentioned:
        messages_q.set_mentions(conn, message.id, chat_id, mentioned)
    notes = notifications.for_message_txn(conn, message, audience, mentioned, now,
                                          every_message=len(audience.user_ids) <= notify_max_members)
    status = "read" if audience.is_saved else "sent"
    return MessageEvent("message_created", MessageView(message, sender_id, status), audience.user_ids, tuple(notes))


# send ------------------------------------------------------------------------------------------

def _hit_limits(ctx: Context, user_id: int, chat_id: int, text: str | None) -> tuple[RateLimited | None, str | None]:
    """Count this send against MESSAGE_RATE_LIMIT_PER_MINUTE (per user) and
    DUPLICATE_MESSAGE_COOLDOWN_SECONDS (same text, same chat, same user). Return the limit hit, if
    any, rather than raising: an idempotent retry must still get its original message back. The
    second value is the duplicate-cooldown key this call recorded (to release it if the send fails).
    """
    s = ctx.settings
    try:
        ctx.limiter.hit("messages", str(user_id), s.message_rate_limit_per_minute)
    except RateLimited as exc:
        return exc, None
    if not text or s.duplicate_message_cooldown_seconds <= 0:
        return None, None
    digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    key = f"{user_id}:{chat_id}:{digest}"
    try:
        ctx.limiter.hit("messages-duplicate", key, 1, window=s.duplicate_message_cooldown_seconds)
    except RateLimited as exc:
        return exc, None
    return None, key


async def send(ctx: Context, author: User, *, chat_id: int, type_: str, text: str | None,
               client_message_id: str | None = None, reply_to_message_id: int | None = None,
               with_message: Callable[[apsw.Connection, Message], None] | None = None,
               ) -> tuple[MessageView, bool]:
    """Send a message; return it and whether it was created now (False: the same
    client_message_id from the same sender was already stored, and that message is returned).

    Idempotency is decided inside the write transaction: the lookup and the insert (whose
    ON CONFLICT clause rests on UNIQUE(sender_id, client_message_id)) run on the single writer, so
    concurrent retries store one message and all get it back. WITH_MESSAGE, when given, runs in
    that transaction with the message, new or stored before, so what it writes beside the message
    (a federated Note's copy row and files) is there exactly when the message is; it must be
    idempotent.
    """
    check_content(ctx, type_, text)
    usernames = mentioned_usernames(text)
    limited, dup_key = _hit_limits(ctx, author.id, chat_id, text)
    if limited is not None and client_message_id is None:
        raise limited
    notify_max = ctx.settings.notify_every_message_max_members

    def replay(conn: apsw.Connection, existing: Message | None) -> tuple[MessageView, MessageEvent | None]:
        assert existing is not None  # the UNIQUE index found it
        if existing.chat_id != chat_id:
            raise Conflict("client_message_id was already used for a message in another chat")
        if with_message is not None:
            with_message(conn, existing)
        return views(conn, author.id, [existing])[0], None

    def send_txn(conn: apsw.Connection) -> tuple[MessageView, MessageEvent | None]:
        """The message and its event; no event when it was stored before (a replay)."""
        if client_message_id is not None:
            existing = messages_q.by_client_id(conn, author.id, client_message_id)
            if existing is not None:
                return replay(conn, existing)
        if limited is not None:
            raise limited
        now = ctx.clock.time()
        audience = access.can_post(conn, chat_id, author.id, now)
        if reply_to_message_id is not None and messages_q.chat_of(conn, reply_to_message_id) != chat_id:
            raise field_error("reply_to_message_id", "reply_to_message_id must be a message of the same chat")
        event = _post_txn(conn, audience, sender_id=author.id, type_=type_, text=text, now=now,
                          usernames=usernames, notify_max_members=notify_max,
                          reply_to_message_id=reply_to_message_id, client_message_id=client_message_id)
        if event is None:  # lost a race on the UNIQUE index: the other insert won
            assert client_message_id is not None
            return replay(conn, messages_q.by_client_id(conn, author.id, client_message_id))
        if (federation_out := federation.outgoing_if_enabled(ctx)) is not None:
            federation_out.message_txn(ctx, conn, "create", event.view.message, list(audience.user_ids), now)
        if with_message is not None:
            with_message(conn, event.view.message)
        return event.view, event

    try:
        view, event = await ctx.db.write(send_txn)
    except BaseException:  # nothing was stored: the same text may be sent again at once
        if dup_key is not None:
            ctx.limiter.reset("messages-duplicate", dup_key)
        raise
    if event is not None:
        publish(ctx, [event])
        ctx.federation.poke()
    elif dup_key is not None:
        ctx.limiter.reset("messages-duplicate", dup_key)
    return view, event is not None


# reading ---------------------------------------------------------------------------------------

async def history(ctx: Context, viewer: User, chat_id: int, *, limit: int,
                  before_id: int | None = None) -> list[MessageView]:
    """A page of the chat's messages, newest first, strictly older than BEFORE_ID when given."""
    def history_txn(conn: apsw.Connection) -> list[MessageView]:
        member = access.member_or_404(conn, chat_id, viewer.id)
        page = messages_q.history(conn, chat_id=chat_id, viewer_id=viewer.id,
                                  after_id=member.cleared_before_id, before_id=before_id, limit=limit)
        return views(conn, viewer.id, page)
    return await ctx.db.read(history_txn)


async def thread(ctx: Context, viewer: User, message_id: int, *, limit: int) -> list[MessageView]:
    """The message and its replies, breadth-first by reply links, at most LIMIT messages."""
    def thread_txn(conn: apsw.Connection) -> list[MessageView]:
        root, _ = access.visible_message(conn, message_id, viewer.id)
        # replies always have larger ids than what they answer, so the clear-history mark cannot
        # hide a descendant of a visible root; only delete-for-me can, and those are walked past
        hidden = messages_q.hidden_count(conn, viewer.id, root.chat_id, THREAD_HIDDEN_CAP)
        found = messages_q.thread(conn, root_id=root.id, viewer_id=viewer.id, limit=limit, walk=limit + hidden)
        return views(conn, viewer.id, found)
    return await ctx.db.read(thread_txn)


# edit and delete -------------------------------------------------------------------------------

async def edit(ctx: Context, editor: User, message_id: int, text: str) -> MessageView:
    """Replace the text of the caller's own message; updated_at moves, search re-indexes (trigger),
    mentions are recomputed and newly mentioned members are notified.

    An edit reaches the chat like a new message, so it obeys the same rules: the posting rule
    (access.can_edit: blocks, bans, a channel's posting right) and MESSAGE_RATE_LIMIT_PER_MINUTE,
    which sends, forwards and edits share."""
    ctx.limiter.hit("messages", str(editor.id), ctx.settings.message_rate_limit_per_minute)
    usernames = mentioned_usernames(text)

    def edit_txn(conn: apsw.Connection) -> tuple[MessageView, MessageEvent | None]:
        """The edited message and its event; no event when the text did not change."""
        now = ctx.clock.time()
        message, audience = access.can_edit(conn, message_id, editor.id, now)
        if message.forwarded_from_message_id is not None:
            raise field_error("text", "a forwarded message cannot be edited")
        check_content(ctx, message.type, text)
        if text == message.text:
            return views(conn, editor.id, [message])[0], None
        messages_q.update_text(conn, message.id, text, now)
        before = messages_q.mention_ids(conn, message.id)
        mentioned = set(messages_q.member_ids_by_username(conn, message.chat_id, usernames)) - {editor.id}
        if mentioned != before:
            messages_q.set_mentions(conn, message.id, message.chat_id, mentioned)
        updated = dataclasses.replace(message, text=text, updated_at=now)
        notes = notifications.for_mentions_txn(conn, updated, audience, mentioned - before, now)
        view = views(conn, editor.id, [updated])[0]
        if (federation_out := federation.outgoing_if_enabled(ctx)) is not None:
            federation_out.message_txn(ctx, conn, "update", updated, list(audience.user_ids), now)
        return view, MessageEvent("message_updated", view, audience.user_ids, tuple(notes))

    view, event = await ctx.db.write(edit_txn)
    if event is not None:
        publish(ctx, [event])
        ctx.federation.poke()
    return view


async def delete(ctx: Context, user: User, message_id: int, *, for_all: bool) -> None:
    """for_all=false hides the message for the caller only; for_all=true removes it for everyone
    (the sender, or the owner/admins of a group or channel): its row, mentions, reactions,
    attachments, search entry and notifications go, and the chat's last message is recomputed."""
    def delete_txn(conn: apsw.Connection) -> tuple[int, list[int]]:
        message, member = access.visible_message(conn, message_id, user.id)
        if not for_all:
            messages_q.hide(conn, user.id, message.id, message.chat_id)
            return message.chat_id, [user.id]
        access.check_delete_for_all(message, member)
        if (federation_out := federation.outgoing_if_enabled(ctx)) is not None:
            federation_out.message_txn(ctx, conn, "delete", message, chats_q.member_ids(conn, message.chat_id),
                                       ctx.clock.time())
        return message.chat_id, remove_txn(conn, message)

    chat_id, audience = await ctx.db.write(delete_txn)
    publish_removed(ctx, chat_id, message_id, audience)
    ctx.federation.poke()


def remove_txn(conn: apsw.Connection, message: Message) -> list[int]:
    """Remove MESSAGE for everyone (a delete for all, or content moderation: pufferd/moderation.py):
    its row, mentions, reactions, attachments, search entry and notifications go, a pin on it is
    cleared and the chat's last message is recomputed. Returns the chat's members, to be told
    with `publish_removed` after the commit."""
    audience = chats_q.member_ids(conn, message.chat_id)
    notifications_q.delete_for_message(conn, message.id)
    messages_q.delete(conn, message.id)
    messages_q.refresh_chat_last(conn, message.chat_id, message.id)
    messages_q.clear_pin(conn, message.chat_id, message.id)
    return audience


def publish_removed(ctx: Context, chat_id: int, message_id: int, audience: Iterable[int]) -> None:
    """`message_deleted` to AUDIENCE (the chat's members), after the removal committed."""
    ctx.bus.publish(Event.to("message_deleted", {"chat_id": chat_id, "message_id": message_id}, audience))


# read status -----------------------------------------------------------------------------------

async def update_status(ctx: Context, user: User, *, chat_id: int, message_id: int, status: str) -> Cursors:
    """Move the caller's delivered (and, for message_read, read) cursor forward to MESSAGE_ID.

    Cursors never move backwards: an older id leaves them as they are, and both are returned.
    Reading implies delivery. MESSAGE_ID must be a position in this chat: a message of the chat,
    or the id of one that has since been deleted (any id up to the chat's newest message that
    belongs to no other chat). A change is published as `message_status` to those who may see
    the caller's cursors (access.cursor_audience).
    """
    def status_txn(conn: apsw.Connection) -> tuple[Cursors, list[int]]:
        member = access.member_or_404(conn, chat_id, user.id)
        owner = messages_q.chat_of(conn, message_id)
        if owner != chat_id and (owner is not None or message_id > chats_q.newest_message_id(conn, chat_id)):
            raise NotFound(access.MESSAGE_NOT_FOUND)
        read = message_id if status == STATUS_READ else 0
        cursors = messages_q.advance_cursors(conn, chat_id, user.id, delivered=message_id, read=read)
        unchanged = (cursors.last_delivered_message_id == member.last_delivered_message_id
                     and cursors.last_read_message_id == member.last_read_message_id)
        return cursors, [] if unchanged else access.cursor_audience(conn, member)

    cursors, audience = await ctx.db.write(status_txn)
    if audience:
        ctx.bus.publish(Event.to("message_status", {
            "chat_id": chat_id, "user_id": user.id,
            "last_delivered_message_id": cursors.last_delivered_message_id,
            "last_read_message_id": cursors.last_read_message_id}, audience))
    return cursors


async def mark_delivered(ctx: Context, user: User, chat_id: int, message_id: int) -> Cursors:
    """A delivery receipt (e.g. a WebSocket ack): POST /messages/status with message_delivered."""
    return await update_status(ctx, user, chat_id=chat_id, message_id=message_id, status=STATUS_DELIVERED)


# forward ---------------------------------------------------------------------------------------

async def forward(ctx: Context, user: User, message_id: int, target_chat_ids: list[int], *,
                  include_author: bool) -> list[MessageView]:
    """Copy a visible message (type, text, attachments) into each target chat where the caller may
    post, all or nothing. forwarded_from_message_id names the source. The shown author
    (forwarded_from_sender_id) is the source's author — for a forward that kept its author, that
    original author — or null with include_author=false, so the copy stands as the caller's own.
    One forward request counts once against MESSAGE_RATE_LIMIT_PER_MINUTE."""
    ctx.limiter.hit("messages", str(user.id), ctx.settings.message_rate_limit_per_minute)
    notify_max = ctx.settings.notify_every_message_max_members

    def forward_txn(conn: apsw.Connection) -> list[MessageEvent]:
        source, _ = access.visible_message(conn, message_id, user.id)
        author = source.forward_sender_id if source.forward_sender_id is not None else source.sender_id
        now = ctx.clock.time()
        events = []
        for chat_id in target_chat_ids:
            audience = access.can_post(conn, chat_id, user.id, now)
            event = _post_txn(conn, audience, sender_id=user.id, type_=source.type, text=source.text, now=now,
                              usernames=[], notify_max_members=notify_max, forwarded_from_message_id=source.id,
                              forward_sender_id=author if include_author else None)
            assert event is not None  # no client_message_id: no conflict
            messages_q.copy_attachments(conn, source.id, event.view.message.id, chat_id, user.id, now)
            if (federation_out := federation.outgoing_if_enabled(ctx)) is not None:
                federation_out.message_txn(ctx, conn, "create", event.view.message, list(audience.user_ids), now)
            if source.waveform is not None:  # the copy carries the same attachment
                copy = dataclasses.replace(event.view.message, waveform=source.waveform)
                event = dataclasses.replace(event, view=dataclasses.replace(event.view, message=copy))
            events.append(event)
        return events

    events = await ctx.db.write(forward_txn)
    publish(ctx, events)
    ctx.federation.poke()
    return [e.view for e in events]


# reactions -------------------------------------------------------------------------------------

async def reactions(ctx: Context, viewer: User, message_id: int) -> list[ReactionCount]:
    """Per emoji on a visible message: count, and whether the viewer reacted with it."""
    def reactions_txn(conn: apsw.Connection) -> list[ReactionCount]:
        access.visible_message(conn, message_id, viewer.id)
        return messages_q.reaction_counts(conn, message_id, viewer.id)
    return await ctx.db.read(reactions_txn)


async def toggle_reaction(ctx: Context, user: User, message_id: int, emoji: str, *,
                          present: bool | None = None) -> list[ReactionCount]:
    """Add the caller's EMOJI reaction (one emoji, see is_single_emoji) to a visible message, or
    remove it if present; with PRESENT, only make it present or absent (a remote Like or its Undo:
    a redelivery changes nothing). In a private chat a block between the two sides forbids
    reacting, as it forbids sending. `reactions_updated` names the reacting user to those who may
    see who reacts (access.actor_audiences); in a channel, subscribers get the counts only. In a
    private chat with a remote user the reaction goes to their server (federation/outgoing.py)."""
    def toggle_txn(conn: apsw.Connection) -> tuple[list[ReactionCount], bool | None, Audience, bool]:
        """The counts after the toggle, whether the reaction is now present (None: unchanged),
        the chat's audience, whether a Like or Undo was queued."""
        now = ctx.clock.time()
        message, audience = access.can_react(conn, message_id, user.id, now)
        if present is not None:
            counts = messages_q.reaction_counts(conn, message.id, user.id)
            if any(c.emoji == emoji and c.reacted for c in counts) == present:
                return counts, None, audience, False
        added = messages_q.toggle_reaction(conn, message.id, user.id, emoji, now)
        if added and messages_q.user_reaction_count(conn, message.id, user.id) > MAX_REACTIONS_PER_USER:
            raise field_error("emoji", f"at most {MAX_REACTIONS_PER_USER} different reactions per message")
        federation_out = federation.outgoing_if_enabled(ctx)
        queued = federation_out is not None and federation_out.reaction_txn(
            ctx, conn, message, user.id, emoji, added, list(audience.user_ids), now)
        return messages_q.reaction_counts(conn, message.id, user.id), added, audience, queued

    counts, added, audience, queued = await ctx.db.write(toggle_txn)
    if queued:
        ctx.federation.poke()
    if added is None:
        return counts
    data = {"chat_id": audience.chat_id, "message_id": message_id,
            "reactions": [{"emoji": c.emoji, "count": c.count} for c in counts],
            "user_id": user.id, "emoji": emoji, "reacted": added}
    told, others = access.actor_audiences(audience, user.id)
    ctx.bus.publish(Event.to("reactions_updated", data, told))
    # a channel's subscribers see the new counts, not which subscriber reacted
    ctx.bus.publish(Event.to("reactions_updated", {**data, "user_id": None, "emoji": None, "reacted": None}, others))
    return counts
