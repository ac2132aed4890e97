"""Voice rooms and private calls: who may join (pufferd/access.py), who is told, signalling relay,
and the ICE servers a client uses (README "Voice").

Every group and channel has a voice room, implicitly (no setting, nothing stored): members join
and leave it over their WebSocket. A private chat has a call instead: one side rings, the other
accepts (both are then in the chat's room) or declines; an unanswered ring ends after
`voice_ring_seconds`. Media flows peer to peer (a full mesh, hence `voice_max_participants`);
pufferd relays only the signalling (SDP and ICE candidates), and only between participants of
the same room.

Roster changes (join, leave, mute, deafen, camera) are published on the bus as `voice_state`
events to the room's audience (numbered, resumable); speaking changes, many a second, go only to
the room's participants as unnumbered `voice_state` frames. Relayed signals are unnumbered
`voice_signal` frames to the one socket the peer joined with.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from typing import Any

from pufferd import access
from pufferd.clock import iso
from pufferd.context import Context
from pufferd.db.chats_q import Audience
from pufferd.errors import Conflict, Forbidden, NotFound, RuleViolation
from pufferd.realtime import protocol
from pufferd.realtime.bus import Event
from pufferd.realtime.connection import Connection
from pufferd.realtime.hub import Hub
from pufferd.realtime.voice import Call, Room, VoiceRooms

NOT_IN_ROOM = "You are not in this voice room"
PEER_NOT_IN_ROOM = "That user is not in this voice room"
NO_CALL = "No call is ringing in this chat"
CALLS_ARE_PRIVATE = "Calls are for private chats; in a group or channel join its voice room"
RING_FIRST = "In a private chat, start a call with call_ring"


def room_full_detail(cap: int) -> str:
    return f"The voice room is full: it holds at most {cap} participants (voice_max_participants)"


def _told(audience: Audience) -> frozenset[int]:
    """Who sees the room: every member; in a channel its owner and admins."""
    if audience.chat_type == "channel":
        return audience.managers
    return frozenset(audience.user_ids)


def roster_data(rooms: VoiceRooms, chat_id: int, cap: int) -> dict[str, Any]:
    call = rooms.calls.get(chat_id)
    return {"chat_id": chat_id, "participants": rooms.roster(chat_id), "max_participants": cap,
            "call": None if call is None else call_data(call)}


def call_data(call: Call) -> dict[str, Any]:
    return {"chat_id": call.chat_id, "caller_id": call.caller_id, "callee_id": call.callee_id,
            "state": "active" if call.accepted else "ringing", "expires_at": iso(call.expires_at)}


async def roster(ctx: Context, rooms: VoiceRooms, user_id: int, chat_id: int) -> dict[str, Any]:
    """Who is in CHAT_ID's voice room, muted, deafened, speaking: for whoever may read the chat."""
    now = ctx.clock.time()
    await ctx.db.read(lambda conn: access.voice_audience(conn, chat_id, user_id, now, act=False))
    return roster_data(rooms, chat_id, ctx.settings.voice_max_participants)


def _publish_roster(ctx: Context, rooms: VoiceRooms, room: Room) -> None:
    ctx.bus.publish(Event.to("voice_state", roster_data(rooms, room.chat_id, ctx.settings.voice_max_participants),
                             room.audience))


def _dropped(hub: Hub, conn: Connection, chat_id: int, reason: str) -> None:
    """Tell CONN it is no longer in CHAT_ID's room: `voice_left` with REASON (`other_device`:
    the same user joined from another socket, which took over; `removed`: they lost the right)."""
    hub.send_to(conn, protocol.control("voice_left", {"chat_id": chat_id, "reason": reason}))


def _enter(ctx: Context, hub: Hub, conn: Connection, user_id: int, chat_id: int, told: frozenset[int]) -> None:
    rooms = hub.voice
    previous = rooms.room_of(user_id)
    if previous is not None and previous != chat_id:
        _leave(ctx, hub, user_id)
    present = rooms.participant(chat_id, user_id)
    if present is not None and present.conn is not conn:
        _dropped(hub, present.conn, chat_id, "other_device")  # the new socket takes over
    cap = ctx.settings.voice_max_participants
    if rooms.join(chat_id, user_id, conn, told, cap=cap, now=ctx.clock.time()) is None:
        raise Conflict(room_full_detail(cap))
    room = rooms.room(chat_id)
    assert room is not None
    _publish_roster(ctx, rooms, room)


async def join(ctx: Context, hub: Hub, conn: Connection, user_id: int, chat_id: int) -> None:
    """USER_ID joins CHAT_ID's voice room with CONN (leaving any other room): 404/403 as
    access.voice_audience, 409 when the room is full, 422 in a private chat (ring instead)."""
    now = ctx.clock.time()
    audience = await ctx.db.read(lambda conn_: access.voice_audience(conn_, chat_id, user_id, now, act=True))
    if audience.chat_type == "private":
        call = hub.voice.calls.get(chat_id)
        if call is None or not call.accepted or user_id not in call.users:
            raise RuleViolation(RING_FIRST)
    _enter(ctx, hub, conn, user_id, chat_id, _told(audience))


def _leave(ctx: Context, hub: Hub, user_id: int) -> None:
    room = hub.voice.leave(user_id)
    if room is None:
        return
    call = hub.voice.calls.get(room.chat_id)
    if call is not None and user_id in call.users:
        _end_call(ctx, hub, call, "hangup", by=user_id)
        return
    _publish_roster(ctx, hub.voice, room)


def leave(ctx: Context, hub: Hub, user_id: int, chat_id: int) -> None:
    """USER_ID leaves CHAT_ID's voice room (in a private chat: hangs up)."""
    if hub.voice.room_of(user_id) != chat_id:
        raise NotFound(NOT_IN_ROOM)
    _leave(ctx, hub, user_id)


def socket_opened(hub: Hub, conn: Connection) -> None:
    """CONN just opened: if a call rings for its user, it gets that call's `call_ring` (the same
    frame without seq, to this socket only), so that a device opened during the ring rings too;
    the other sockets heard it when the ring started."""
    for call in hub.voice.calls.values():
        if call.callee_id == conn.user_id and not call.accepted:
            hub.send_to(conn, protocol.control("call_ring", call_data(call)))


def socket_closed(ctx: Context, hub: Hub, conn: Connection) -> None:
    """CONN ended: its user leaves the room they joined with it (their other sockets stay)."""
    chat_id = hub.voice.room_of(conn.user_id)
    if chat_id is None:
        return
    p = hub.voice.participant(chat_id, conn.user_id)
    if p is not None and p.conn is conn:
        _leave(ctx, hub, conn.user_id)


def _participant_of(hub: Hub, conn: Connection, chat_id: int):
    p = hub.voice.participant(chat_id, conn.user_id)
    if p is None or p.conn is not conn:
        raise NotFound(NOT_IN_ROOM)
    return p


def signal(hub: Hub, conn: Connection, chat_id: int, to: int, payload: dict[str, Any]) -> None:
    """Relay an SDP description or ICE candidate from CONN's user to participant TO of the same
    room, on the socket TO joined with; anyone else is 404 and gets nothing."""
    _participant_of(hub, conn, chat_id)
    peer = hub.voice.participant(chat_id, to)
    if peer is None or to == conn.user_id:
        raise NotFound(PEER_NOT_IN_ROOM)
    hub.send_to(peer.conn, protocol.control("voice_signal", {"chat_id": chat_id, "from_user_id": conn.user_id,
                                                             "signal": payload}))


def set_state(ctx: Context, hub: Hub, conn: Connection, chat_id: int, changes: dict[str, bool]) -> None:
    """Change CONN's user's muted / deafened / speaking / video state in CHAT_ID's room."""
    p = _participant_of(hub, conn, chat_id)
    changed = {k: v for k, v in changes.items() if getattr(p, k) != v}
    if not changed:
        return
    for k, v in changed.items():
        setattr(p, k, v)
    if p.deafened and not p.muted and "deafened" in changed:
        p.muted = True  # a deafened user does not talk either (as every voice chat does)
    room = hub.voice.room(chat_id)
    assert room is not None
    if set(changed) == {"speaking"}:
        frame = protocol.control("voice_state", roster_data(hub.voice, chat_id, ctx.settings.voice_max_participants))
        for other in room.participants.values():
            hub.send_to(other.conn, frame)
        return
    _publish_roster(ctx, hub.voice, room)


# losing the right to be in a room ----------------------------------------------------------------

# bus events after which someone of a chat may have lost the right to its room: leaving, removal,
# a chat ban, a role change, the chat deleted (chat_updated / chat_removed), a server ban or a
# timeout (account_banned / account_restricted)
_CHAT_EVENTS = frozenset({"chat_updated", "chat_removed"})
_USER_EVENTS = frozenset({"account_banned", "account_restricted"})


def on_event(ctx: Context, hub: Hub, event: Event) -> None:
    """Bus subscriber: the rooms an event may concern are re-checked (recheck), off the publisher's
    path. Never blocks."""
    rooms = hub.voice
    chat_ids: set[int] = set()
    if event.type in _CHAT_EVENTS:
        chat_id = event.data.get("chat_id", event.data.get("id"))
        if isinstance(chat_id, int) and (rooms.room(chat_id) is not None or chat_id in rooms.calls):
            chat_ids.add(chat_id)
    elif event.type in _USER_EVENTS:
        for uid in event.user_ids:
            where = rooms.room_of(uid)
            if where is not None:
                chat_ids.add(where)
            chat_ids.update(c.chat_id for c in rooms.calls.values() if uid in c.users)
    for chat_id in chat_ids:
        hub.spawn(recheck(ctx, hub, chat_id))


def on_block(ctx: Context, hub: Hub, blocker_id: int, target_id: int) -> None:
    """A block between two users ends their private call (re-checked as after a bus event)."""
    pair = {blocker_id, target_id}
    for call in list(hub.voice.calls.values()):
        if set(call.users) == pair:
            hub.spawn(recheck(ctx, hub, call.chat_id))


async def recheck(ctx: Context, hub: Hub, chat_id: int) -> None:
    """Whoever in CHAT_ID's room (or call) may no longer join it (access.voice_audience) is taken
    out: their socket gets `voice_left` (reason `removed`), a call they are in ends (`call_ended`,
    reason `removed`), the others get `voice_state`; the room's audience is refreshed."""
    rooms = hub.voice
    call = rooms.calls.get(chat_id)
    room = rooms.room(chat_id)
    users = set(room.participants) if room else set()
    if call is not None:
        users.update(call.users)
    now = ctx.clock.time()

    def check(conn: Any) -> tuple[set[int], Audience | None]:
        lost: set[int] = set()
        audience = None
        for uid in users:
            try:
                audience = access.voice_audience(conn, chat_id, uid, now, act=True)
            except (NotFound, Forbidden, RuleViolation):
                lost.add(uid)
        return lost, audience

    lost, audience = await ctx.db.read(check)
    room = rooms.room(chat_id)
    if room is not None and audience is not None:
        room.audience = _told(audience) if rooms.calls.get(chat_id) is None else room.audience
    for uid in lost:
        p = rooms.participant(chat_id, uid)
        if p is not None:
            _dropped(hub, p.conn, chat_id, "removed")
    call = rooms.calls.get(chat_id)
    if call is not None and lost & set(call.users):
        _end_call(ctx, hub, call, "removed", by=None)
        return
    room = rooms.room(chat_id)
    gone = [uid for uid in lost if rooms.room_of(uid) == chat_id]
    for uid in gone:
        rooms.leave(uid)
    if room is not None and gone:
        _publish_roster(ctx, rooms, room)


# calls --------------------------------------------------------------------------------------------

def _publish_call(ctx: Context, type_: str, call: Call, **extra: Any) -> None:
    ctx.bus.publish(Event.to(type_, {**call_data(call), **extra}, call.users))


async def ring(ctx: Context, hub: Hub, conn: Connection, user_id: int, chat_id: int) -> None:
    """USER_ID calls the other member of private chat CHAT_ID: `call_ring` to both, or
    `call_busy` to the caller when the callee is in a room or another call."""
    now = ctx.clock.time()
    audience = await ctx.db.read(lambda conn_: access.voice_audience(conn_, chat_id, user_id, now, act=True))
    if audience.chat_type != "private":
        raise RuleViolation(CALLS_ARE_PRIVATE)
    callee = next(u for u in audience.user_ids if u != user_id)
    rooms = hub.voice
    existing = rooms.calls.get(chat_id)
    if existing is not None:
        raise Conflict("A call is already ringing or running in this chat")
    call = Call(chat_id, user_id, callee, now + ctx.settings.voice_ring_seconds)
    if rooms.busy(callee):
        ctx.bus.publish(Event.to("call_busy", {**call_data(call), "state": "busy"}, [user_id]))
        return
    rooms.calls[chat_id] = call
    try:
        _enter(ctx, hub, conn, user_id, chat_id, frozenset(call.users))
    except Exception:
        rooms.calls.pop(chat_id, None)
        raise
    call.timer = asyncio.get_running_loop().call_later(
        ctx.settings.voice_ring_seconds, _ring_timeout, ctx, hub, call)
    _publish_call(ctx, "call_ring", call)


def _ring_timeout(ctx: Context, hub: Hub, call: Call) -> None:
    call.timer = None
    if hub.voice.calls.get(call.chat_id) is call and not call.accepted:
        _end_call(ctx, hub, call, "timeout", by=None)


def _ringing_for(hub: Hub, chat_id: int, user_id: int) -> Call:
    call = hub.voice.calls.get(chat_id)
    if call is None or call.accepted or call.callee_id != user_id:
        raise NotFound(NO_CALL)
    return call


async def accept(ctx: Context, hub: Hub, conn: Connection, user_id: int, chat_id: int) -> None:
    """The callee accepts on CONN: both are in the room; `call_accepted` to both (the callee's
    other devices stop ringing)."""
    now = ctx.clock.time()
    audience = await ctx.db.read(lambda conn_: access.voice_audience(conn_, chat_id, user_id, now, act=True))
    call = _ringing_for(hub, chat_id, user_id)
    call.accepted = True
    if call.timer is not None:
        call.timer.cancel()
        call.timer = None
    try:
        _enter(ctx, hub, conn, user_id, chat_id, _told(audience))
    except Exception:
        call.accepted = False
        raise
    _publish_call(ctx, "call_accepted", call)


def decline(ctx: Context, hub: Hub, user_id: int, chat_id: int) -> None:
    """The callee declines: `call_declined` to both; the caller leaves the room."""
    call = _ringing_for(hub, chat_id, user_id)
    _end_call(ctx, hub, call, "declined", by=user_id, type_="call_declined")


def hangup(ctx: Context, hub: Hub, user_id: int, chat_id: int) -> None:
    """Either side ends the call (the caller may cancel a ringing one): `call_ended` to both."""
    call = hub.voice.calls.get(chat_id)
    if call is None or user_id not in call.users:
        raise NotFound("No call is running in this chat")
    _end_call(ctx, hub, call, "hangup", by=user_id)


def _end_call(ctx: Context, hub: Hub, call: Call, reason: str, *, by: int | None,
              type_: str = "call_ended") -> None:
    rooms = hub.voice
    if rooms.calls.get(call.chat_id) is not call:
        return
    del rooms.calls[call.chat_id]
    if call.timer is not None:
        call.timer.cancel()
        call.timer = None
    room = rooms.room(call.chat_id)
    for uid in call.users:
        if rooms.room_of(uid) == call.chat_id:
            rooms.leave(uid)
    _publish_call(ctx, type_, call, state="ended", reason=reason, by_user_id=by)
    if room is not None:
        _publish_roster(ctx, rooms, room)


# ICE servers --------------------------------------------------------------------------------------

def turn_credentials(secret: str, user_id: int, expires_at: int) -> tuple[str, str]:
    """The TURN REST scheme (coturn `use-auth-secret`): username `<expiry>:<user id>`, password
    base64(HMAC-SHA1(secret, username)); the TURN server checks the expiry and the HMAC."""
    username = f"{expires_at}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(ctx: Context, user_id: int) -> dict[str, Any]:
    """The STUN and TURN servers for RTCPeerConnection's `iceServers`; TURN credentials are derived
    for USER_ID and expire after `voice_turn_ttl_seconds` (the secret itself is never sent)."""
    s = ctx.settings
    servers: list[dict[str, Any]] = []
    if s.voice_stun_urls:
        servers.append({"urls": list(s.voice_stun_urls)})
    expires_at = int(ctx.clock.time()) + s.voice_turn_ttl_seconds
    if s.voice_turn_urls and s.voice_turn_secret is not None:
        username, credential = turn_credentials(s.voice_turn_secret.get_secret_value(), user_id, expires_at)
        servers.append({"urls": list(s.voice_turn_urls), "username": username, "credential": credential})
    return {"ice_servers": servers, "expires_at": iso(expires_at), "ttl_seconds": s.voice_turn_ttl_seconds}
