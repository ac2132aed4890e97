"""The voice contract: the room roster, the ICE servers, and the voice / call client frames."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Id = Annotated[int, Field(ge=1, lt=2**63, strict=True)]


class VoiceParticipant(BaseModel):
    user_id: int
    muted: bool
    deafened: bool
    speaking: bool
    video: bool = Field(description="The participant's camera is on.")


class CallRead(BaseModel):
    chat_id: int
    caller_id: int
    callee_id: int
    state: Literal["ringing", "active"]
    expires_at: str = Field(description="When an unanswered ring ends (ISO 8601 UTC).")


class VoiceRoomRead(BaseModel):
    chat_id: int
    participants: list[VoiceParticipant] = Field(description="In join order.")
    max_participants: int
    call: CallRead | None = Field(None, description="A private chat's call, ringing or running.")


class IceServer(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServersRead(BaseModel):
    ice_servers: list[IceServer] = Field(description="For RTCPeerConnection's `iceServers` (STUN, then TURN).")
    expires_at: str = Field(description="When the TURN credentials stop working (ISO 8601 UTC).")
    ttl_seconds: int


# client frames ----------------------------------------------------------------------------------

class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore")


class VoiceRoomRef(_Frame):
    chat_id: Id


class Signal(_Frame):
    """An SDP description (offer, answer) or an ICE candidate, relayed as it is."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["offer", "answer", "candidate"]
    sdp: str | None = Field(None, max_length=60_000)
    candidate: dict[str, Any] | None = None


class SignalData(_Frame):
    chat_id: Id
    to_user_id: Id
    signal: Signal


class VoiceStateData(_Frame):
    chat_id: Id
    muted: bool | None = None
    deafened: bool | None = None
    speaking: bool | None = None
    video: bool | None = None


class VoiceJoinFrame(_Frame):
    """Join the voice room of a group or channel (in a private chat: after call_accept / call_ring)."""

    type: Literal["voice_join"]
    data: VoiceRoomRef


class VoiceLeaveFrame(_Frame):
    type: Literal["voice_leave"]
    data: VoiceRoomRef


class VoiceSignalFrame(_Frame):
    """Relayed to `to_user_id`, who must be a participant of the same room."""

    type: Literal["voice_signal"]
    data: SignalData


class VoiceStateFrame(_Frame):
    type: Literal["voice_state"]
    data: VoiceStateData


class CallRingFrame(_Frame):
    type: Literal["call_ring"]
    data: VoiceRoomRef


class CallAcceptFrame(_Frame):
    type: Literal["call_accept"]
    data: VoiceRoomRef


class CallDeclineFrame(_Frame):
    type: Literal["call_decline"]
    data: VoiceRoomRef


class CallHangupFrame(_Frame):
    type: Literal["call_hangup"]
    data: VoiceRoomRef


VoiceFrame = (VoiceJoinFrame | VoiceLeaveFrame | VoiceSignalFrame | VoiceStateFrame | CallRingFrame
              | CallAcceptFrame | CallDeclineFrame | CallHangupFrame)
VOICE_FRAMES = (VoiceJoinFrame, VoiceLeaveFrame, VoiceSignalFrame, VoiceStateFrame, CallRingFrame,
                CallAcceptFrame, CallDeclineFrame, CallHangupFrame)
