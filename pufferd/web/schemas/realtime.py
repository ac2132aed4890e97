"""The realtime contract: the query of `GET /api/v1/ws` and the frames a client may send."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from pufferd.web.schemas.voice import VoiceFrame

Id = Annotated[int, Field(ge=1, lt=2**63, strict=True)]


class WsQuery(BaseModel):
    token: str | None = Field(None, max_length=4096,
                              description="Access token; alternatively send `Authorization: Bearer`.")
    since: int | None = Field(None, ge=0, lt=2**63,
                              description="The last `seq` this client received: replay what came after "
                                          "it, or answer `resync_required`.")


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ChatRef(_Frame):
    chat_id: Id


class MessageRef(_Frame):
    chat_id: Id
    message_id: Id


class TokenRef(_Frame):
    token: str = Field(min_length=1, max_length=4096)


class PingFrame(_Frame):
    """Answered by `{"type": "pong"}`."""

    type: Literal["ping"]


class TypingFrame(_Frame):
    """The sender is typing in `chat_id`: relayed to the chat's other members."""

    type: Literal["typing"]
    data: ChatRef


class AckFrame(_Frame):
    """A `message_created` event reached this device: advances the delivered cursor."""

    type: Literal["ack"]
    data: MessageRef


class AuthFrame(_Frame):
    """A fresh access token of the same user, sent before the current one expires."""

    type: Literal["auth"]
    data: TokenRef


ClientFrame = Annotated[PingFrame | TypingFrame | AckFrame | AuthFrame | VoiceFrame, Field(discriminator="type")]
CLIENT_FRAME = TypeAdapter(ClientFrame)
