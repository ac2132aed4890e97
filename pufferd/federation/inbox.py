"""The inbox: every incoming activity is signed, verified and applied once (issue 15, items 2, 5-7).

Verification, in order (401 for any failure, and nothing changes): the request carries an HTTP
Signature (pufferd/federation/signatures.py) covering `(request-target) host date digest`, Date
within 5 minutes, Digest equal to the body; the activity's actor is on the key's host and the
actor's published key is the signing key (fetched once and cached; refetched once when it does
not match or does not verify, for key rotation); the same signature is never accepted twice.
Then the domain list (403) and the per-host rate limit (429). An activity id applied before is
answered 202 and changes nothing (a redelivery). An activity of a server's instance actor (an
Application or Service named after its host, or as Misskey names its own) is verified with the key
of its document, answered 202 and ignored: it is no user, so it gets no shadow user (user search
would show one).

Applying maps remote activity onto the domain functions local users go through: a Note becomes a
message of the private chat with the remote user (chats.create_chat, messages.send/edit/delete),
so blocks, privacy, realtime events, notifications, unread counts and search apply unchanged.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import apsw

from pufferd import chats, media, messages, privacy
from pufferd.context import Context
from pufferd.db import federation_content_q, federation_q, messages_q, users_q
from pufferd.db.federation_q import RemoteActor
from pufferd.db.media_q import MediaObject
from pufferd.db.messages_q import Message
from pufferd.db.users_q import User
from pufferd.errors import BadRequest, Forbidden, NotFound, Unauthorized
from pufferd.federation import actors, delivery, outgoing, reactions, remote_media, signatures
from pufferd.federation.content import attachment_items, attachment_lines, plain_text
from pufferd.federation.http import FetchError
from pufferd.text import is_blank

REPLAY_WINDOW = 2 * signatures.MAX_SKEW_SECONDS + 60


def _unauthorized(reason: str) -> Unauthorized:
    return Unauthorized(f"Signature refused: {reason}", headers={"WWW-Authenticate": 'Signature realm="pufferd"'})


def _id_of(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _verify_server_actor(ctx: Context, sig: signatures.SignatureHeader, doc: dict[str, Any], *, url: str,
                        headers: dict[str, str], body: bytes, method: str = "POST") -> None:
    """Raise 401 unless SIG is a signature of the remote instance actor DOC (fetched just now)."""
    key = actors.public_key_of(doc)
    try:
        if key is None or key[0] != sig.key_id:
            raise signatures.SignatureError("the key is not the actor's key")
        signatures.verify(sig, key[1], method=method, url=url, headers=headers, body=body, now=ctx.clock.time())
    except signatures.SignatureError as exc:
        raise _unauthorized(str(exc)) from None


async def _verified_actor(ctx: Context, sig: signatures.SignatureHeader, actor_url: str, *, path_qs: str,
                          headers: dict[str, str], body: bytes, method: str = "POST",
                          ) -> tuple[User, RemoteActor] | None:
    """The sender's shadow user and actor once its signature verifies; None for a remote instance
    actor (a server, not a user: verified with the key of its document, never stored)."""
    if not actor_url or actors.host_of(actor_url) != actors.host_of(sig.key_id):
        raise _unauthorized("the key is not on the actor's host")
    url = "http://local" + path_qs
    try:
        user, act = await actors.actor_for_url(ctx, actor_url)
    except actors.NotAUser as server:
        _verify_server_actor(ctx, sig, server.doc, url=url, headers=headers, body=body, method=method)
        return None
    except NotFound:
        raise _unauthorized("the actor could not be fetched") from None
    for attempt in (0, 1):
        try:
            if act.key_id != sig.key_id:
                raise signatures.SignatureError("the key is not the actor's key")
            signatures.verify(sig, act.public_key_pem, method=method, url=url, headers=headers, body=body,
                              now=ctx.clock.time())
            return user, act
        except signatures.SignatureError as exc:
            if attempt == 1 or "Date" in str(exc) or "Digest" in str(exc) or "cover" in str(exc):
                raise _unauthorized(str(exc)) from None
        try:  # the actor may have rotated its key: refetch once
            user, act = await actors.actor_for_url(ctx, actor_url, refresh=True)
        except NotFound:
            raise _unauthorized("the actor could not be refetched") from None
    raise _unauthorized("the signature does not verify")  # not reached


async def _check_replay(ctx: Context, sig: signatures.SignatureHeader) -> None:
    """Refuse a signature accepted before while its Date could still pass (kept in SQLite, so a
    restart does not forget it; expired rows are pruned)."""
    now = ctx.clock.time()
    digest = hashlib.sha256(sig.signature).digest()
    if not await ctx.db.write(lambda conn: federation_q.remember_signature(conn, digest, now, now + REPLAY_WINDOW)):
        raise _unauthorized("this signed request was received before (a replay)")


async def verify_fetch(ctx: Context, *, path_qs: str, headers: dict[str, str]) -> None:
    """With federation_authorized_fetch: a GET of a user's documents must carry an HTTP signature
    of a remote actor, a user or a server's instance actor (its key found by _key_owner), on a
    host the domain list does not refuse (403); 401 for a request unsigned, badly signed, or
    signed by an actor that cannot be fetched. Counted like inbox posts against
    federation_inbound_per_minute. Nothing is checked while the setting is off."""
    if not ctx.settings.federation_authorized_fetch:
        return
    actors.enabled_or_404(ctx)  # federation off: every route is a 404 first
    try:
        sig = signatures.parse(headers)
    except signatures.SignatureError as exc:
        raise _unauthorized(str(exc)) from None
    host = actors.host_of(sig.key_id)
    if not host:
        raise _unauthorized("the key id is not a URL")
    actors.check_domain(ctx, host)
    per_minute = ctx.settings.federation_inbound_per_minute
    if per_minute:
        ctx.limiter.hit("federation-inbound", host, per_minute)
    actor_url = await _key_owner(ctx, sig.key_id, host)
    await _verified_actor(ctx, sig, actor_url, path_qs=path_qs, headers=headers, body=b"", method="GET")


async def _key_owner(ctx: Context, key_id: str, host: str) -> str:
    """The actor whose key KEY_ID is: the URL before its fragment (`.../users/x#main-key`), or, for
    a key id without one (`.../users/x/main-key`, as GoToSocial signs), the `owner` of the key
    document it serves (or of the `publicKey` of the actor document it serves), on the same host."""
    if "#" in key_id:
        return key_id.split("#", 1)[0]
    try:
        doc = await actors.fetch_signed(ctx, key_id)
    except FetchError as exc:
        raise _unauthorized(f"the key could not be fetched: {exc}") from None
    owner = doc.get("owner") if isinstance(doc, dict) else None
    key = doc.get("publicKey") if isinstance(doc, dict) else None
    if owner is None and isinstance(key, dict) and key.get("id") == key_id:
        owner = key.get("owner")
    if not isinstance(owner, str) or actors.host_of(owner) != host:
        raise _unauthorized("the key's owner is not an actor of the key's host")
    return owner


async def receive(ctx: Context, *, path_qs: str, headers: dict[str, str], body: bytes) -> None:
    """Verify and apply one inbox POST (the shared inbox and every user's inbox)."""
    actors.enabled_or_404(ctx)
    try:
        sig = signatures.parse(headers)
    except signatures.SignatureError as exc:
        raise _unauthorized(str(exc)) from None
    try:
        activity = json.loads(body)
    except ValueError:
        raise BadRequest("The body is not JSON") from None
    if not isinstance(activity, dict):
        raise BadRequest("The body is not an activity")
    actor_url = _id_of(activity.get("actor"))
    host = actors.host_of(actor_url) if actor_url else actors.host_of(sig.key_id)
    actors.check_domain(ctx, host)
    per_minute = ctx.settings.federation_inbound_per_minute
    if per_minute:
        ctx.limiter.hit("federation-inbound", host, per_minute)
    verified = await _verified_actor(ctx, sig, actor_url, path_qs=path_qs, headers=headers, body=body)
    await _check_replay(ctx, sig)
    await delivery.host_seen(ctx, host)
    if verified is None:  # from a server's instance actor: nothing here is for a server (202, ignored)
        return
    remote = verified[0]
    aid = _id_of(activity)
    if not aid or actors.host_of(aid) != host:
        raise BadRequest("The activity needs an id on the actor's host")
    if await ctx.db.read(lambda conn: conn.execute(
            "SELECT 1 FROM federation_seen WHERE activity_id = ?", (aid,)).fetchone() is not None):
        return
    await _apply(ctx, remote, activity)
    now = ctx.clock.time()
    await ctx.db.write(lambda conn: federation_q.mark_seen(conn, aid, now))


async def _apply(ctx: Context, remote: User, activity: dict[str, Any]) -> None:
    kind = activity.get("type")
    obj = activity.get("object")
    obj_type = obj.get("type") if isinstance(obj, dict) else None
    if kind == "Create" and obj_type == "Note" and isinstance(obj, dict):
        async with _note_lock(ctx, _id_of(obj)):
            await _create_note(ctx, remote, obj)
    elif kind == "Update" and obj_type == "Note" and isinstance(obj, dict):
        async with _note_lock(ctx, _id_of(obj)):
            await _update_note(ctx, remote, obj)
    elif kind == "Delete":
        async with _note_lock(ctx, _id_of(obj)):
            await _delete_note(ctx, remote, _id_of(obj))
    elif kind == "Update" and obj_type in actors.ACTOR_TYPES and isinstance(obj, dict):
        await _update_actor(ctx, remote, obj)
    elif kind == "Follow":
        await _follow(ctx, remote, activity)
    elif kind in ("Accept", "Reject") and (obj_type == "Follow" or isinstance(obj, str)):
        await _follow_answer(ctx, remote, kind, obj)
    elif kind == "Undo" and obj_type == "Follow" and isinstance(obj, dict):
        await _unfollow(ctx, remote, obj)
    elif kind in ("Like", "EmojiReact"):
        await reactions.react(ctx, remote, activity)
    elif kind == "Undo" and obj_type in ("Like", "EmojiReact"):
        await reactions.undo(ctx, remote, obj, activity)
    elif kind == "Undo" and isinstance(obj, str):  # named by id only: a Follow or a Like of theirs
        await _unfollow(ctx, remote, {"id": obj})
        await reactions.undo(ctx, remote, obj, activity)
    # anything else (Announce, ...) is accepted and ignored


def _note_text(obj: dict[str, Any]) -> str:
    source = obj.get("source")
    if isinstance(source, dict) and source.get("mediaType") == "text/plain" and isinstance(source.get("content"), str):
        return str(source["content"]).strip()
    text = plain_text(obj["content"]) if isinstance(obj.get("content"), str) else ""
    names = {str(t.get("name", "")) for t in obj.get("tag") or [] if isinstance(t, dict) and t.get("type") == "Mention"}
    short = {n.split("@")[1] for n in names if n.count("@") >= 1 and len(n.split("@")) > 1}
    words = text.split(" ")
    while words and words[0].startswith("@") and (words[0] in names or words[0].lstrip("@") in short):
        words.pop(0)  # the leading mentions that address the note to us
    return " ".join(words).strip()


def _message_text(ctx: Context, obj: dict[str, Any], lines: list[str] | None = None) -> str:
    """What a Note becomes in a message: its text, then a line per attachment (`name (url)`; LINES:
    those of the attachments not fetched, all of them by default), the text shortened so that the
    links fit in max_message_length."""
    text = _note_text(obj)
    links = "\n".join(attachment_lines(obj) if lines is None else lines)
    if not links:
        return text
    room = ctx.settings.max_message_length - len(links) - 2
    if room <= 0:
        return links[:ctx.settings.max_message_length]
    text = text[:room].rstrip()
    return f"{text}\n\n{links}" if text else links


def _message_type(files: list[MediaObject]) -> str:
    """The message type of a copy carrying FILES: image, video or audio when every file is one,
    file for a mix; text without files."""
    kinds = {f.file_type.split("/", 1)[0] for f in files}
    if not kinds:
        return "text"
    kind = kinds.pop()
    return kind if not kinds and kind in ("image", "video", "audio") else "file"


def _check_author(remote: User, obj: dict[str, Any]) -> None:
    if _id_of(obj.get("attributedTo")) != remote.actor_url:
        raise Forbidden("The note is not attributed to the activity's actor")
    if actors.host_of(_id_of(obj)) != actors.host_of(remote.actor_url or ""):
        raise Forbidden("The note's id is not on the actor's host")


def _reply_target(ctx: Context, conn: apsw.Connection, chat_id: int, ref: Any) -> int | None:
    """The message of CHAT_ID a Note's `inReplyTo` names: one of ours, or the copy in this chat of
    a remote Note; None when it is not in this chat."""
    ref = _id_of(ref)
    if not ref:
        return None
    own = actors.local_id(ctx, ref, "notes")
    if own is not None:
        message = messages_q.get(conn, own)
        return message.id if message is not None and message.chat_id == chat_id else None
    copy = federation_content_q.note_copy_in(conn, ref, chat_id)
    return copy.message_id if copy is not None else None


def _replier(ctx: Context, chat_id: int, ref: Any) -> Callable[[apsw.Connection], int | None]:
    return lambda conn: _reply_target(ctx, conn, chat_id, ref)


def _getter(user_id: int) -> Callable[[apsw.Connection], User | None]:
    return lambda conn: users_q.get(conn, user_id)


def copy_client_id(note_id: str, chat_id: int) -> str:
    """The client_message_id of the copy of a remote Note in CHAT_ID: unique per sender (the
    messages_client_id index), and the same on every redelivery (migration 0088)."""
    return f"{note_id} chat:{chat_id}"


# A recipient's own rules refusing a copy (a block, their privacy, a gone account): the other
# recipients still get theirs. Anything else (a rate limit) refuses the activity, to be retried.
_REFUSALS = (Forbidden, NotFound)


def _first(refusals: list[Forbidden | NotFound]) -> Forbidden | NotFound:
    """The refusal to answer when every recipient (or copy) refused: the first one."""
    return refusals[0]


async def _create_note(ctx: Context, remote: User, obj: dict[str, Any]) -> remote_media.Fetched | None:
    """A message in the private chat of each user here the Note addresses (`to`, `cc`; the chat is
    created on first contact); a recipient who has a copy already gets nothing new. A refusal by
    one recipient's rules does not keep the others from theirs; the activity is refused (with the
    first refusal) only when no recipient took it.

    The Note's files are fetched first (remote_media: once for all recipients, within
    federation_media_fetch_seconds) and the copies carry them as attachments; a file not fetched
    stays a link in the text. Fetched files no copy took are deleted before this returns, which
    answers what was fetched (None: nothing, no recipient needed a copy)."""
    _check_author(remote, obj)
    note = _id_of(obj)
    if await ctx.db.read(lambda conn: conn.execute(
            "SELECT 1 FROM federation_seen WHERE activity_id = ?", (_tombstone(note),)).fetchone() is not None):
        return None  # deleted before its Create arrived (deliveries are not ordered)
    refusals: list[Forbidden | NotFound] = []
    taken = False
    pending: list[User] = []
    for user_id in actors.addressed_users(ctx, obj):
        local = await ctx.db.read(_getter(user_id))
        if local is None or local.is_remote or local.is_disabled:
            continue
        if await ctx.db.read(_copy_finder(note, local.id)) is not None:
            taken = True
        else:
            pending.append(local)
    if not pending:
        return None
    fetched = await remote_media.fetch(ctx, remote, attachment_items(obj))
    try:
        text = _message_text(ctx, obj, fetched.failed_lines)
        for local in pending:
            try:
                await _create_copy(ctx, remote, obj, note, text, local, fetched)
                taken = True
            except _REFUSALS as exc:
                refusals.append(exc)
    finally:
        await media.discard_unattached(ctx, fetched.object_keys)
    if refusals and not taken:
        raise _first(refusals)
    return fetched


def _copy_finder(note: str, user_id: int) -> Callable[[apsw.Connection], federation_content_q.NoteCopy | None]:
    return lambda conn: federation_content_q.note_copy_for(conn, note, user_id)


async def _create_copy(ctx: Context, remote: User, obj: dict[str, Any], note: str, text: str, local: User,
                       fetched: remote_media.Fetched) -> None:
    """LOCAL's copy of the Note, carrying the FETCHED files as attachments."""
    chat = await chats.create_chat(ctx, remote, type="private", member_ids=[local.id])
    reply = await ctx.db.read(_replier(ctx, chat.id, obj.get("inReplyTo")))
    files = fetched.stored
    kind = _message_type(files)
    now = ctx.clock.time()

    def copy_txn(conn: apsw.Connection, message: Message) -> None:
        """In the message's transaction: the copy's row and its files (both idempotent: a
        redelivery finds the message by its client_message_id and adds what is missing)."""
        federation_content_q.add_note_copy(conn, note, message.id)
        if media.attach_fetched_txn(conn, message.id, message.chat_id, remote.id, files, now):
            federation_content_q.set_media_links(conn, message.id, fetched.failed_lines)
    await messages.send(ctx, remote, chat_id=chat.id, type_=kind,
                        text=text if kind == "text" or not is_blank(text) else None,
                        client_message_id=copy_client_id(note, chat.id), reply_to_message_id=reply,
                        with_message=copy_txn)


async def _copies(ctx: Context, note_id: str) -> list[federation_content_q.NoteCopy]:
    return await ctx.db.read(lambda conn: federation_content_q.note_copies(conn, note_id))


@contextlib.asynccontextmanager
async def _note_lock(ctx: Context, note_id: str) -> AsyncIterator[None]:
    """Apply one activity at a time per Note (a Create, Update or Delete spans several
    transactions; two deliveries of the same Note may arrive at once)."""
    locks = ctx.federation.note_locks
    entry = locks.setdefault(note_id, [asyncio.Lock(), 0])
    entry[1] += 1
    try:
        async with entry[0]:
            yield
    finally:
        entry[1] -= 1
        if entry[1] == 0:
            del locks[note_id]


def _version(obj: dict[str, Any]) -> float | None:
    """The Note's `updated` time as unix seconds; None when absent or not a date."""
    value = obj.get("updated")
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo is not None else None


async def _update_note(ctx: Context, remote: User, obj: dict[str, Any]) -> None:
    """An edit, or new attachments, applied to every copy of the Note. Deliveries are not ordered,
    so an Update may come before the Create of its Note: it then makes the copies (with the newest
    content; the Create that follows finds them stored and changes nothing); and an Update older
    (by `updated`) than one applied to a copy before changes nothing there.

    Files: a copy that has none yet gets the Note's files now (fetched as for a Create: how a
    caption's files arrive when they were attached after it was sent); a copy that has its files
    keeps them as they are (nothing is fetched again or removed), and its text keeps the links of
    the files that could not be fetched then."""
    _check_author(remote, obj)
    note = _id_of(obj)
    made = await _create_note(ctx, remote, obj)  # the copies of recipients who have none yet
    version = _version(obj)
    items = attachment_items(obj)
    # files fetched once for every copy; those the new copies could not get are not fetched again
    fetched: list[remote_media.Fetched] = [made] if made is not None and not made.stored else []

    async def edit(copy: federation_content_q.NoteCopy) -> None:
        if version is not None and copy.version is not None and version <= copy.version:
            return
        lines: list[str] | None = copy.media_links.split("\n") if copy.media_links else []
        if copy.media_links is None and items:
            if not fetched:
                fetched.append(await remote_media.fetch(ctx, remote, items))
            lines = fetched[0].failed_lines if await _add_files(ctx, remote, copy, fetched[0]) else None
        text = _message_text(ctx, obj, lines)
        message = await ctx.db.read(lambda conn: messages_q.get(conn, copy.message_id))
        if message is not None and (text or message.type == "text" or not is_blank(message.text or "")):
            await messages.edit(ctx, remote, copy.message_id, text)
        if version is not None:
            await ctx.db.write(lambda conn: federation_content_q.set_note_version(conn, copy.message_id, version))
    try:
        await _each_copy(await _copies(ctx, note), edit)
    finally:
        if fetched and fetched[0] is not made:
            await media.discard_unattached(ctx, fetched[0].object_keys)


async def _add_files(ctx: Context, remote: User, copy: federation_content_q.NoteCopy,
                     fetched: remote_media.Fetched) -> bool:
    """Attach the FETCHED files to COPY, which had none: a text message becomes one of their type,
    and the chat hears message_updated. False when there was nothing to attach."""
    files = fetched.stored
    now = ctx.clock.time()

    def add_txn(conn: apsw.Connection) -> messages.MessageEvent | None:
        message = messages_q.get(conn, copy.message_id)
        if message is None or not media.attach_fetched_txn(conn, message.id, message.chat_id, remote.id, files, now):
            return None
        federation_content_q.set_media_links(conn, message.id, fetched.failed_lines)
        kind = _message_type(files)
        if message.type == kind:
            return None
        conn.execute("UPDATE messages SET type = ? WHERE id = ?", (kind, message.id))
        after = messages_q.get(conn, message.id)
        assert after is not None
        return messages.updated_txn(conn, remote.id, after)

    if not files:
        return False
    event = await ctx.db.write(add_txn)
    if event is not None:
        messages.publish(ctx, [event])
    return True


async def _each_copy(copies: list[federation_content_q.NoteCopy],
                     apply: Callable[[federation_content_q.NoteCopy], Awaitable[None]]) -> None:
    """APPLY to every copy; a refusal by one copy's chat (a block since) does not keep the others
    from the change, and is raised only when every copy refused."""
    refusals: list[Forbidden | NotFound] = []
    done = False
    for copy in copies:
        try:
            await apply(copy)
            done = True
        except _REFUSALS as exc:
            refusals.append(exc)
    if refusals and not done:
        raise _first(refusals)


def _tombstone(note_id: str) -> str:
    return "deleted " + note_id


async def _delete_note(ctx: Context, remote: User, note_id: str) -> None:
    """A delete for everyone, of every copy; the Note id is remembered so that a Create or Update
    of it arriving later (deliveries are not ordered) does not bring it back."""
    if not note_id or actors.host_of(note_id) != actors.host_of(remote.actor_url or ""):
        return
    now = ctx.clock.time()
    await ctx.db.write(lambda conn: federation_q.mark_seen(conn, _tombstone(note_id), now))

    async def delete(copy: federation_content_q.NoteCopy) -> None:
        await messages.delete(ctx, remote, copy.message_id, for_all=True)
    await _each_copy(await _copies(ctx, note_id), delete)


async def _update_actor(ctx: Context, remote: User, obj: dict[str, Any]) -> None:
    """Update{Person}: the actor's new profile (name, avatar, bio) and key, stored from the
    embedded actor document as from a fetched one (actors.store_actor: inbox and key on the
    actor's host). Only the actor itself, whose signature on this request was verified, may
    announce it: a document of another actor, on its host or another, is refused (403)."""
    if _id_of(obj) != remote.actor_url:
        raise Forbidden("An actor can only update its own actor document")
    try:
        await actors.store_actor(ctx, obj)
    except NotFound:
        raise BadRequest("The actor document is not valid") from None


async def _follow(ctx: Context, remote: User, activity: dict[str, Any]) -> None:
    if _id_of(activity.get("object")) == actors.instance_actor_url(ctx):
        return  # the server publishes nothing to follow: accepted (202) and ignored, never answered
    target = actors.local_id(ctx, _id_of(activity.get("object")), "users")
    if target is None:
        raise NotFound(actors.USER_NOT_FOUND)
    now = ctx.clock.time()

    def follow_txn(conn: apsw.Connection) -> None:
        local = users_q.get(conn, target)
        act = federation_q.actor(conn, remote.id)
        if local is None or local.is_remote or act is None:
            raise NotFound(actors.USER_NOT_FOUND)
        accepted = privacy.can_message(conn, remote.id, local)
        if accepted:
            federation_q.set_follow(conn, remote.id, local.id, "accepted", _id_of(activity), now)
        outgoing.follow_txn(ctx, conn, "Accept" if accepted else "Reject", local, act, activity, now)
    await ctx.db.write(follow_txn)
    ctx.federation.poke()


async def _unfollow(ctx: Context, remote: User, follow: dict[str, Any]) -> None:
    """An Undo{Follow}: the follow ends, and the Follow's id counts as received, so that the Follow
    arriving after its Undo (deliveries are not ordered) changes nothing."""
    target = actors.local_id(ctx, _id_of(follow.get("object")), "users")
    follow_id = _id_of(follow)
    now = ctx.clock.time()

    def unfollow_txn(conn: apsw.Connection) -> None:
        if follow_id and actors.host_of(follow_id) == actors.host_of(remote.actor_url or ""):
            federation_q.mark_seen(conn, follow_id, now)
        if target is not None:
            federation_q.delete_follow(conn, remote.id, target)
        elif follow_id:
            conn.execute("DELETE FROM federation_follows WHERE follower_id = ? AND activity_id = ?",
                         (remote.id, follow_id))
    await ctx.db.write(unfollow_txn)


async def _follow_answer(ctx: Context, remote: User, kind: str, obj: Any) -> None:
    follower = actors.local_id(ctx, _id_of(obj.get("actor")) if isinstance(obj, dict) else "", "users")

    def answer_txn(conn: apsw.Connection) -> None:
        rows = [follower] if follower is not None else [
            r["follower_id"] for r in conn.execute(
                "SELECT follower_id FROM federation_follows WHERE followee_id = ? AND activity_id = ?",
                (remote.id, _id_of(obj)))]
        for local_id in rows:
            if kind == "Accept":
                federation_q.accept_follow(conn, local_id, remote.id)
            else:
                federation_q.delete_follow(conn, local_id, remote.id)
    await ctx.db.write(answer_txn)


