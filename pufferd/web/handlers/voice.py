"""`/api/v1/voice`: a chat's voice room roster and the ICE servers (README "Voice").

Joining, leaving, signalling and calls go over the WebSocket (handlers/realtime.py dispatches
the voice frames to pufferd/voice.py).
"""
from __future__ import annotations

from aiohttp import web

from pufferd import voice
from pufferd.context import Context
from pufferd.realtime.connection import Connection
from pufferd.realtime.hub import Hub
from pufferd.web.keys import CTX, HUB, USER
from pufferd.web.route import Router
from pufferd.web.schemas.voice import (
    CallAcceptFrame,
    CallDeclineFrame,
    CallHangupFrame,
    CallRingFrame,
    IceServersRead,
    VoiceFrame,
    VoiceJoinFrame,
    VoiceLeaveFrame,
    VoiceRoomRead,
    VoiceSignalFrame,
    VoiceStateFrame,
)

routes = Router("voice")


# registered before /voice/{chat_id} so that "ice-servers" is not taken for a chat id
@routes.get("/api/v1/voice/ice-servers", response=IceServersRead)
async def ice_servers(request: web.Request) -> IceServersRead:
    """The STUN and TURN servers for WebRTC, with TURN credentials derived for the caller."""
    return IceServersRead.model_validate(voice.ice_servers(request.app[CTX], request[USER].id))


@routes.get("/api/v1/voice/{chat_id}", response=VoiceRoomRead)
async def voice_room(request: web.Request, chat_id: int) -> VoiceRoomRead:
    """Who is in the chat's voice room: muted, deafened, speaking, camera; a private chat's call."""
    data = await voice.roster(request.app[CTX], request.app[HUB].voice, request[USER].id, chat_id)
    return VoiceRoomRead.model_validate(data)


async def dispatch_voice(ctx: Context, hub: Hub, conn: Connection, user_id: int, frame: VoiceFrame) -> None:
    """Answer one voice or call client frame of CONN's socket (errors become `error` frames)."""
    chat_id = frame.data.chat_id
    if isinstance(frame, VoiceJoinFrame):
        await voice.join(ctx, hub, conn, user_id, chat_id)
    elif isinstance(frame, VoiceLeaveFrame):
        voice.leave(ctx, hub, user_id, chat_id)
    elif isinstance(frame, VoiceSignalFrame):
        voice.signal(hub, conn, chat_id, frame.data.to_user_id,
                     frame.data.signal.model_dump(exclude_none=True))
    elif isinstance(frame, VoiceStateFrame):
        changes = frame.data.model_dump(include={"muted", "deafened", "speaking", "video"}, exclude_none=True)
        voice.set_state(ctx, hub, conn, chat_id, changes)
    elif isinstance(frame, CallRingFrame):
        await voice.ring(ctx, hub, conn, user_id, chat_id)
    elif isinstance(frame, CallAcceptFrame):
        await voice.accept(ctx, hub, conn, user_id, chat_id)
    elif isinstance(frame, CallDeclineFrame):
        voice.decline(ctx, hub, user_id, chat_id)
    elif isinstance(frame, CallHangupFrame):
        voice.hangup(ctx, hub, user_id, chat_id)
