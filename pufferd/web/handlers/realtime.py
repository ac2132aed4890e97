"""`GET /api/v1/ws`: the realtime event stream (CONTRACT.md "Realtime", README "Realtime").

The handler authenticates before the upgrade (401 JSON otherwise), hands the socket to the hub,
then reads client frames until the socket ends. Each client frame is parsed against the schemas
in web/schemas/realtime.py and answered by one domain call; a bad frame gets an `error` event and
the socket stays open.
"""
from __future__ import annotations

import asyncio
import logging
import struct
import time

from aiohttp import WSMsgType, web
from pydantic import ValidationError

from pufferd import activity, auth, messages, voice
from pufferd.clock import iso
from pufferd.context import Context
from pufferd.db.users_q import User
from pufferd.errors import BadRequest, DomainError, RateLimited
from pufferd.realtime import protocol
from pufferd.realtime.connection import Connection, Parts
from pufferd.realtime.hub import Hub
from pufferd.realtime.protocol import CloseCode
from pufferd.web.handlers.voice import dispatch_voice
from pufferd.web.keys import CTX, HUB
from pufferd.web.route import Router, bearer_token
from pufferd.web.schemas.realtime import CLIENT_FRAME, AckFrame, AuthFrame, PingFrame, TypingFrame, WsQuery
from pufferd.web.schemas.voice import VOICE_FRAMES

log = logging.getLogger("pufferd.realtime")
routes = Router("realtime")

# aiohttp closes the socket with 1009 above this; frames between ws_max_frame_bytes and this
# are answered with an `error` event instead, so a client learns what went wrong
TRANSPORT_MAX_FRAME = 64 * 1024
# client frames per socket: a sustained rate and a burst (token bucket); excess frames are dropped
FRAMES_PER_SECOND = 20.0
FRAME_BURST = 60.0
# seconds a closing handshake may wait for the peer's close frame
CLOSE_TIMEOUT = 5.0

_OPENAPI = {
    "description": (
        "Upgrades to a WebSocket. Authenticate with `?token=<access token>` or "
        "`Authorization: Bearer`; without a valid token the answer is 401 before any upgrade. "
        "Server frames are `{\"type\", \"data\", \"seq\"}` JSON objects (see README \"Realtime\" for "
        "every event, the client frames `ping`, `typing`, `ack` and `auth`, and the close codes 1001, "
        "4001, 4002, 4008). Reconnect with `?since=<last seq>` to receive what was missed."),
    "security": [{"bearerAuth": []}],
    "responses": {
        "101": {"description": "Switching Protocols: the event stream follows"},
        "400": {"description": "Not a WebSocket upgrade request",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}}},
        "401": {"description": "Missing, invalid, expired or revoked access token",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}}},
        "429": {"description": "Too many open sockets for this user",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}}},
    },
}


class WebSocketSink:
    """The hub's Sink over an aiohttp WebSocketResponse.

    Event frames are framed here (RFC 6455 section 5.2: FIN + text opcode, unmasked from a server)
    and handed to the request's transport in one writelines() call per loop turn, with the parts
    of each payload unjoined, so an event encoded once is shared by every recipient. aiohttp's own
    writes on this socket (pong, ping, close) are whole frames too and happen on the same thread,
    so frames never interleave; permessage-deflate is off (compress=False), so no frame depends
    on compressor state. After aiohttp starts closing, nothing more is written.
    """

    __slots__ = ("_ws", "_transport")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self._ws = ws
        self._transport = transport

    def write(self, frames: list[Parts]) -> None:
        out: list[bytes] = []
        for parts in frames:
            out.append(_text_header(sum(map(len, parts))))
            out.extend(parts)
        self._transport.writelines(out)

    def buffered(self) -> int:
        return self._transport.get_write_buffer_size()

    def writable(self) -> bool:
        return not self._ws.closed and not self._transport.is_closing()

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code=code, message=reason.encode())


def _text_header(length: int) -> bytes:
    if length < 126:
        return bytes((0x81, length))
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


@routes.get("/api/v1/ws", query=WsQuery, auth=False, status=101, openapi=_OPENAPI)
async def websocket(request: web.Request, query: WsQuery) -> web.WebSocketResponse:
    """Open the realtime event stream (WebSocket)."""
    ctx = request.app[CTX]
    hub = request.app[HUB]
    user, claims = await auth.authenticate(ctx, query.token or bearer_token(request))
    ws = web.WebSocketResponse(heartbeat=ctx.settings.ws_heartbeat_seconds, compress=False,
                               max_msg_size=TRANSPORT_MAX_FRAME, timeout=CLOSE_TIMEOUT)
    if not ws.can_prepare(request).ok:
        raise BadRequest("Expected a WebSocket upgrade request")
    if hub.sockets_of(user.id) >= ctx.settings.ws_max_sockets_per_user:
        raise RateLimited(5)
    await ws.prepare(request)
    transport = request.transport
    if transport is None:  # the client went away during the handshake
        return ws
    conn: Connection | None = None
    try:  # upgraded: from here on an error closes the socket, it cannot become an HTTP response
        conn = hub.attach(user.id, WebSocketSink(ws, transport), since=query.since,
                          token_issued_at=claims.issued_at, token_expires_at=claims.expires_at,
                          session=claims.session_jti or claims.jti)
        voice.socket_opened(hub, conn)  # a call ringing for this user rings here too
        session = Session(ctx, hub, conn, user)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await session.on_text(msg.data)
            elif msg.type is WSMsgType.BINARY:
                session.reply(protocol.error("unsupported_frame", "Binary frames are not supported"))
    except Exception:
        log.exception("the socket of user %s failed", user.id)
        await ws.close(code=CloseCode.INTERNAL, message=b"internal error")
    finally:
        if conn is not None:
            hub.detach(conn)
            voice.socket_closed(ctx, hub, conn)  # the others in its voice room are told at once
    return ws


class Session:
    """The client-frame side of one socket: parse, call the domain, answer."""

    def __init__(self, ctx: Context, hub: Hub, conn: Connection, user: User) -> None:
        self._ctx = ctx
        self._hub = hub
        self._conn = conn
        self._user = user
        self._tokens = FRAME_BURST
        self._refilled = time.monotonic()
        self._acks: dict[int, int] = {}  # chat id -> newest acknowledged message id, not yet written
        self._ack_task: asyncio.Task[None] | None = None

    def reply(self, frame: bytes) -> None:
        self._hub.send_to(self._conn, frame)

    def _allow_frame(self) -> bool:
        now = time.monotonic()
        self._tokens = min(FRAME_BURST, self._tokens + (now - self._refilled) * FRAMES_PER_SECOND)
        self._refilled = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    async def on_text(self, text: str) -> None:
        if self._conn.closed:
            return
        if not self._allow_frame():
            self.reply(protocol.error("rate_limited", "Too many frames; this one was dropped"))
            return
        limit = self._ctx.settings.ws_max_frame_bytes
        if len(text) > limit and '"voice_signal"' in text:  # SDP descriptions run to several KB
            limit = max(limit, self._ctx.settings.voice_signal_max_bytes)
        if len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit):
            self.reply(protocol.error("frame_too_large", f"Frames are limited to {limit} bytes"))
            return
        try:
            frame = CLIENT_FRAME.validate_json(text)
        except ValidationError as exc:
            self.reply(_frame_error(exc))
            return
        try:
            if isinstance(frame, PingFrame):
                self.reply(protocol.PONG)
            elif isinstance(frame, TypingFrame):
                await activity.typing(self._ctx, self._user.id, frame.data.chat_id)
            elif isinstance(frame, AckFrame):
                self._ack(frame.data.chat_id, frame.data.message_id)
            elif isinstance(frame, AuthFrame):
                await self._reauthenticate(frame.data.token)
            elif isinstance(frame, VOICE_FRAMES):
                await dispatch_voice(self._ctx, self._hub, self._conn, self._user.id, frame)
        except DomainError as exc:
            self.reply(protocol.error(_CODES.get(exc.status, "bad_request"), exc.detail, exc.status))
        except Exception:  # a bug must not end the socket nor reach the error middleware
            log.exception("handling a %s frame of user %s failed", frame.type, self._user.id)
            self.reply(protocol.error("internal", "The frame could not be handled"))

    async def _reauthenticate(self, token: str) -> None:
        user, claims = await auth.authenticate(self._ctx, token)
        if user.id != self._user.id:
            raise BadRequest("The token belongs to another user")
        self._user = user
        self._hub.reauthenticated(self._conn, issued_at=claims.issued_at, expires_at=claims.expires_at,
                                  session=claims.session_jti or claims.jti)
        self.reply(protocol.control("auth_ok", {"expires_at": iso(claims.expires_at)}))

    def _ack(self, chat_id: int, message_id: int) -> None:
        # acks arriving while one is being written are coalesced: the cursor only moves forward,
        # so writing the newest message id per chat is the same as writing each in turn
        if message_id > self._acks.get(chat_id, 0):
            self._acks[chat_id] = message_id
        if self._ack_task is None or self._ack_task.done():
            self._ack_task = self._hub.spawn(self._write_acks())

    async def _write_acks(self) -> None:
        while self._acks:
            chat_id, message_id = self._acks.popitem()
            try:
                await messages.mark_delivered(self._ctx, self._user, chat_id, message_id)
            except DomainError as exc:
                self.reply(protocol.error(_CODES.get(exc.status, "bad_request"), exc.detail, exc.status))


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          409: "conflict", 422: "invalid_frame", 429: "rate_limited"}


def _frame_error(exc: ValidationError) -> bytes:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return protocol.error("invalid_json", "The frame is not valid JSON")
    if first["type"] == "union_tag_invalid":
        return protocol.error("unknown_type", "Unknown frame type; expected ping, typing, ack, auth, voice_* or call_*")
    if first["loc"] == ():
        return protocol.error("invalid_frame", 'A frame is a JSON object with a "type"')
    # loc starts with the frame type (the union's tag): ["frame", "data", "chat_id"] reads better
    return protocol.error("invalid_frame", [
        {"loc": ["frame", *e["loc"][1:]], "msg": e["msg"], "type": e["type"]} for e in errors])
