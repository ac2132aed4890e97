"""Who may see or act on a chat, a message or a file: every such question is answered here, once.

Each function runs on a connection inside the caller's unit of work (`_txn` style: synchronous,
already inside a transaction) and either returns what the caller may use or raises the domain
error the API gives. The SQL behind the answers lives in pufferd/db (each `*_q` module owns its
tables); this module holds the rules.

Not found, not forbidden. A chat, message or file the caller may not see is 404, whatever the
reason (it does not exist, it is private, the caller left or was banned), with one text per kind
(CHAT_NOT_FOUND, MESSAGE_NOT_FOUND, FILE_NOT_FOUND), so that no answer tells whether it exists.
403 is for what the caller can see but may not do.

Who sees what
- A member of a chat sees the chat, its messages above their clear-history mark
  (`cleared_before_id`) that they have not deleted for themselves, and the files attached to those.
- Members see each other (the member list, read cursors, who reacted), except in a channel: there
  only the owner and admins see the subscribers; a subscriber sees only themself.
- A public group or channel can be seen from outside (its card: title, handle, description,
  counts; not its messages, last message or members) and joined, except by a user banned from
  it, for whom it does not exist (404).
- A server administrator has no access to chats they are not in: they manage accounts, not
  conversations. A moderator reviewing a report (RESOLVE_REPORTS, pufferd/reports.py) sees the
  reported message and the few messages around it, nothing else of the chat.

Who may act
- A user timed out by a moderator (pufferd/moderation.py) reads as before but, until the timeout
  ends, does not post, edit, react, upload, attach, create chats or invite (`check_not_timed_out`:
  403 naming the end). Every rule below that lets someone act takes the time (`now`) for it.
- Posting (send, forward) and editing follow one rule (`can_post`): a member; in a channel only
  the owner and admins; in a private chat neither side has blocked the other and the
  counterpart's privacy admits the sender. (Edits also count against the sending rate limit:
  pufferd/messages.py.)
- Reacting needs a visible message and, in a private chat, the same block and privacy rule.
- Managing a group or channel (members, bans, invite links, profile, pins) needs its owner or an
  admin (`require_manager`).

The batch forms of these rules (a page of history, search results, a chat's attachments, a chat
list's last message) are SQL predicates in pufferd/db that say which rule they apply;
tests/domain/test_access.py checks every answer for every kind of viewer.
"""
from __future__ import annotations

import apsw

from pufferd import privacy
from pufferd.clock import iso
from pufferd.db import chats_q, media_q, messages_q, users_q
from pufferd.db.chats_q import Audience, Chat, Member
from pufferd.db.media_q import MediaObject
from pufferd.db.messages_q import Message
from pufferd.db.users_q import User
from pufferd.errors import Forbidden, NotFound, RuleViolation

CHAT_NOT_FOUND = "Chat not found"
MESSAGE_NOT_FOUND = "Message not found"
FILE_NOT_FOUND = "File not found"
NOT_A_MEMBER = "You are not a member of this chat"
BANNED = "You are banned from this chat"
CHANNEL_POSTING = "Only the owner and admins can post in a channel"
YOU_BLOCKED = "You have blocked this user; unblock them to send messages"
NOT_ACCEPTED = "This user does not accept private messages from you (privacy_private_messages)"
ONLY_SENDER_EDITS = "Only the sender can edit a message"
ONLY_SENDER_OR_MANAGER_DELETES = ("Only the sender, or an owner or admin of a group or channel, can delete "
                                  "a message for everyone")

MANAGERS = ("owner", "admin")


# the person -------------------------------------------------------------------------------------

def timed_out_detail(user: User) -> str:
    """What a timed-out USER is told when they try to act: the end (ISO 8601 UTC) and the reason."""
    reason = f": {user.timeout_reason}" if user.timeout_reason else ""
    return (f"You are timed out by a moderator until {iso(user.timeout_until)} and cannot send, edit, react,"
            f" upload, create chats or invite until then{reason}")


def check_not_timed_out(conn: apsw.Connection, user_id: int, now: float) -> None:
    """USER_ID may act at NOW: no moderator's timeout holds (403 naming its end). A timeout ends by
    itself: one whose end is past is no timeout."""
    user = users_q.get(conn, user_id)
    if user is not None and user.timed_out(now):
        raise Forbidden(timed_out_detail(user))


# chats ------------------------------------------------------------------------------------------

def chat_or_404(conn: apsw.Connection, chat_id: int) -> Chat:
    """The chat, which exists (any rule about seeing it is the caller's to apply)."""
    chat = chats_q.get(conn, chat_id)
    if chat is None:
        raise NotFound(CHAT_NOT_FOUND)
    return chat


def visible_chat(conn: apsw.Connection, chat_id: int, user_id: int) -> tuple[Chat, Member | None]:
    """The chat and USER_ID's membership (None: an outsider of a public chat), if they may see it:
    a member, or anyone not banned from a public chat (an outsider sees its card only: no
    messages, no last message, no member list)."""
    chat = chat_or_404(conn, chat_id)
    member = chats_q.membership_txn(conn, chat_id, user_id)
    if member is None and (not chat.is_public or chats_q.is_banned(conn, chat_id, user_id)):
        raise NotFound(CHAT_NOT_FOUND)
    return chat, member


def joined_chat(conn: apsw.Connection, chat_id: int, user_id: int) -> tuple[Chat, Member]:
    """The chat and USER_ID's membership, for what only members do (per-user state, managing,
    leaving): 404 when they cannot see the chat, 403 when it is public and they have not joined."""
    chat, member = visible_chat(conn, chat_id, user_id)
    if member is None:
        raise Forbidden(NOT_A_MEMBER)
    return chat, member


def member_or_404(conn: apsw.Connection, chat_id: int, user_id: int) -> Member:
    """USER_ID's membership, for reading the chat's messages, files and read state: anyone else,
    an outsider of a public chat too, gets 404."""
    member = chats_q.membership_txn(conn, chat_id, user_id)
    if member is None:
        raise NotFound(CHAT_NOT_FOUND)
    return member


def check_not_banned(conn: apsw.Connection, chat_id: int, user_id: int) -> None:
    """Joining (publicly or by invite link) is refused to a user banned from the chat."""
    if chats_q.is_banned(conn, chat_id, user_id):
        raise Forbidden(BANNED)


def is_manager(member: Member) -> bool:
    """The owner or an admin of a group or channel."""
    return member.chat_type != "private" and member.role in MANAGERS


def require_manager(member: Member, action: str) -> None:
    """Managing a group or channel (ACTION, e.g. "ban users") needs its owner or an admin."""
    if member.chat_type == "private":
        raise RuleViolation(f"Only groups and channels allow you to {action}")
    if member.role not in MANAGERS:
        raise Forbidden(f"Only the owner or an admin can {action}")


def sees_history(role: str | None) -> bool:
    """Whether a viewer of a chat they may see (`visible_chat`), with ROLE in it (None: not a
    member), sees its messages, last message and pinned message: members do; an outsider of a
    public chat sees its card only (pufferd has no history open to non-members)."""
    return role is not None


def sees_members(member: Member) -> bool:
    """Whether MEMBER sees the other members of their chat: who they are, their read cursors and
    who reacted. In a channel only the owner and admins do; subscribers do not see each other."""
    return member.chat_type != "channel" or member.role in MANAGERS


def visible_members(conn: apsw.Connection, chat: Chat, member: Member | None) -> list[Member]:
    """The members of CHAT whom a viewer with MEMBER (None: an outsider) may list, oldest first:
    none for an outsider of a public chat (its card gives the count); a channel's subscriber
    sees only themself."""
    if member is None:
        return []
    if not sees_members(member):
        return [member]
    return chats_q.members(conn, chat.id)


# messages ---------------------------------------------------------------------------------------

def visible_message(conn: apsw.Connection, message_id: int, user_id: int) -> tuple[Message, Member]:
    """The message and USER_ID's membership of its chat, if they may see it."""
    message = messages_q.get(conn, message_id)
    member = chats_q.membership_txn(conn, message.chat_id, user_id) if message else None
    if (message is None or member is None or message.id <= member.cleared_before_id
            or messages_q.is_hidden(conn, user_id, message.id)):
        raise NotFound(MESSAGE_NOT_FOUND)
    return message, member


def check_private_counterpart(conn: apsw.Connection, sender_id: int, target_id: int) -> None:
    """SENDER may message TARGET one to one: SENDER has not blocked TARGET, and TARGET's
    allow_private_messages / privacy_private_messages (and blocks) admit SENDER."""
    if privacy.has_blocked(conn, sender_id, target_id):
        raise Forbidden(YOU_BLOCKED)
    target = users_q.get(conn, target_id)
    if target is not None and not privacy.can_message(conn, sender_id, target):
        raise Forbidden(NOT_ACCEPTED)


def _check_counterparts(conn: apsw.Connection, audience: Audience, user_id: int) -> None:
    if audience.chat_type == "private" and not audience.is_saved:
        for other in audience.user_ids:
            if other != user_id:
                check_private_counterpart(conn, user_id, other)


def can_post(conn: apsw.Connection, chat_id: int, user_id: int, now: float) -> Audience:
    """The chat's audience when USER_ID may post in it at NOW (API reference 3.3, 7, 13): not timed
    out (403); a member (else 404); in a channel the owner or an admin (403); in a private chat
    only when neither side has blocked the other and the counterpart's privacy admits them (403).
    One read of the member list serves as the check and as the audience of what is posted."""
    check_not_timed_out(conn, user_id, now)
    audience = chats_q.audience(conn, chat_id)
    if audience is None or user_id not in audience.user_ids:
        raise NotFound(CHAT_NOT_FOUND)
    if audience.chat_type == "channel" and user_id not in audience.managers:
        raise Forbidden(CHANNEL_POSTING)
    _check_counterparts(conn, audience, user_id)
    return audience


def can_edit(conn: apsw.Connection, message_id: int, user_id: int, now: float) -> tuple[Message, Audience]:
    """The message and its chat's audience when USER_ID may edit it at NOW: a message they see (404),
    that they sent (403), in a chat where they may post now (`can_post`: an edit reaches the
    chat like a new message, so a block, a ban, or losing a channel's posting right stops edits
    as it stops sends)."""
    message, _ = visible_message(conn, message_id, user_id)
    if message.sender_id != user_id:
        raise Forbidden(ONLY_SENDER_EDITS)
    return message, can_post(conn, message.chat_id, user_id, now)


def can_react(conn: apsw.Connection, message_id: int, user_id: int, now: float) -> tuple[Message, Audience]:
    """The message and its chat's audience when USER_ID may react to it at NOW: a message they see
    (404); not timed out (403); in a private chat the block and privacy rule of posting (403)."""
    message, _ = visible_message(conn, message_id, user_id)
    check_not_timed_out(conn, user_id, now)
    audience = chats_q.audience(conn, message.chat_id)
    assert audience is not None  # the viewer is a member (visible_message)
    _check_counterparts(conn, audience, user_id)
    return message, audience


def check_delete_for_all(message: Message, member: Member) -> None:
    """Deleting for everyone: the sender, or the owner or an admin of a group or channel (403)."""
    if message.sender_id != member.user_id and not is_manager(member):
        raise Forbidden(ONLY_SENDER_OR_MANAGER_DELETES)


def cursor_audience(conn: apsw.Connection, member: Member) -> list[int]:
    """Who is told that MEMBER's delivered/read cursor moved: the members who see the others
    (`sees_members`), and MEMBER. In a channel that is the owner, the admins and MEMBER (one
    indexed read, whatever the number of subscribers)."""
    if member.chat_type == "channel":
        return sorted(set(chats_q.manager_ids(conn, member.chat_id)) | {member.user_id})
    return chats_q.member_ids(conn, member.chat_id)


def actor_audiences(audience: Audience, actor_id: int) -> tuple[list[int], list[int]]:
    """AUDIENCE split in two for an act by ACTOR_ID that the chat sees (a reaction): who may be
    told who did it, and who may only see its effect. In a channel the first is the owner, the
    admins and the actor (as `sees_members`); elsewhere every member."""
    if audience.chat_type != "channel":
        return list(audience.user_ids), []
    told = audience.managers | {actor_id}
    return sorted(told), [u for u in audience.user_ids if u not in told]


def typing_audience(conn: apsw.Connection, chat_id: int, user_id: int) -> list[int]:
    """Who is told that USER_ID is typing in CHAT_ID: the other members (404 unless USER_ID is
    one); nobody in a channel (subscribers see posts, not who writes them); not a private-chat
    counterpart who blocked USER_ID."""
    member = member_or_404(conn, chat_id, user_id)
    if member.chat_type == "channel":
        return []
    others = [u for u in chats_q.member_ids(conn, chat_id) if u != user_id]
    if member.chat_type == "private":
        others = [o for o in others if not privacy.has_blocked(conn, o, user_id)]
    return others


# voice ------------------------------------------------------------------------------------------

VOICE_CHANNEL = "Only the owner and admins of a channel use its voice room"
VOICE_SAVED = "Saved messages have no voice room"


def voice_audience(conn: apsw.Connection, chat_id: int, user_id: int, now: float, *, act: bool) -> Audience:
    """The chat's audience when USER_ID may see its voice room (ACT False: the roster) or join it or
    ring (ACT True): the same rights as reading the chat, a member (404 otherwise, so a ban or
    leaving ends it); in a channel only the owner and admins (403: subscribers do not see each
    other, `sees_members`); never the saved-messages chat (422). Acting also needs no timeout
    (403 naming its end) and, in a private chat, the block and privacy rule of posting (403).
    Who is told of the room is the audience's members (in a channel, its managers)."""
    audience = chats_q.audience(conn, chat_id)
    if audience is None or user_id not in audience.user_ids:
        raise NotFound(CHAT_NOT_FOUND)
    if audience.is_saved:
        raise RuleViolation(VOICE_SAVED)
    if audience.chat_type == "channel" and user_id not in audience.managers:
        raise Forbidden(VOICE_CHANNEL)
    if act:
        check_not_timed_out(conn, user_id, now)
        _check_counterparts(conn, audience, user_id)
    return audience


# files ------------------------------------------------------------------------------------------

def attachable_message(conn: apsw.Connection, message_id: int, user_id: int, now: float) -> Message:
    """A message USER_ID may attach files to at NOW: one they see (404) and sent (403), while not
    timed out (403)."""
    message, _ = visible_message(conn, message_id, user_id)
    if message.sender_id != user_id:
        raise Forbidden("Only message sender can attach files")
    check_not_timed_out(conn, user_id, now)
    return message


def _sees_chat(conn: apsw.Connection, chat_id: int, user_id: int) -> bool:
    try:
        visible_chat(conn, chat_id, user_id)
    except NotFound:
        return False
    return True


def visible_file(conn: apsw.Connection, object_key: str, viewer_id: int) -> MediaObject:
    """The stored object OBJECT_KEY if VIEWER_ID may download it: its uploader; a member who sees
    a message it is attached to; whoever may see the avatar of the user (privacy_avatar, blocks)
    or the chat (`visible_chat`) whose avatar it is. Anyone else: 404."""
    obj = media_q.get_object(conn, object_key)
    if obj is None or obj.state != "stored":
        raise NotFound(FILE_NOT_FOUND)
    if (obj.uploader_id == viewer_id
            or media_q.attached_to_visible_message(conn, object_key, viewer_id)
            or any(privacy.can_see_avatar(conn, viewer_id, u) for u in media_q.avatar_owners(conn, object_key))
            or any(_sees_chat(conn, c, viewer_id) for c in media_q.avatar_chat_ids(conn, object_key))):
        return obj
    raise NotFound(FILE_NOT_FOUND)
