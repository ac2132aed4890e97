"""Messages models (API reference 3.4 and 8)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from pufferd import messages
from pufferd.db.messages_q import Cursors, ReactionCount
from pufferd.messages import MessageView

MessageType = Literal["text", "image", "video", "audio", "voice", "file", "circle_video"]
DeliveryStatus = Literal["sent", "delivered", "read"]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
# hard ceiling of the body field; the configured max_message_length (<= this) is checked in the domain
Text = Annotated[str, StringConstraints(max_length=65536)]
# visible ASCII, e.g. a UUID or "client-msg-0001"
ClientMessageId = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,64}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MessageCreate(_In):
    """MessageCreateRequest. `text` is required (and must show something) for type `text`, optional
    (a caption) for the others; at most max_message_length characters. `client_message_id`: 1-64
    visible ASCII characters, unique per sender; resending it returns the stored message."""

    chat_id: Id
    type: MessageType = "text"
    text: Text | None = None
    client_message_id: ClientMessageId | None = None
    reply_to_message_id: Id | None = None


class MessageRead(BaseModel):
    """MessageRead, for the viewer: see the messages module for delivery_status.
    `forwarded_from_sender_id` is the author shown on a forward (null when forwarded without the
    author, and for messages that are not forwards); `client_message_id` is shown to the sender only."""

    id: int
    chat_id: int
    sender_id: int | None
    reply_to_message_id: int | None
    forwarded_from_message_id: int | None
    forwarded_from_sender_id: int | None
    type: MessageType
    text: str | None
    delivery_status: DeliveryStatus
    attachment_waveform: list[int] | None
    client_message_id: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, view: MessageView) -> MessageRead:
        return cls.model_validate(view.as_dict())


class MessageEdit(_In):
    text: Text


class HistoryQuery(_Query):
    limit: int = Field(50, ge=1, le=100)
    before_id: Id | None = None


class ThreadQuery(_Query):
    limit: int = Field(100, ge=1, le=500)


class DeleteQuery(_Query):
    for_all: bool = False


class MessageStatusUpdate(_In):
    chat_id: Id
    message_id: Id
    status: Literal["message_delivered", "message_read"]


class MessageStatusRead(BaseModel):
    last_delivered_message_id: int
    last_read_message_id: int

    @classmethod
    def of(cls, c: Cursors) -> MessageStatusRead:
        return cls(last_delivered_message_id=c.last_delivered_message_id,
                   last_read_message_id=c.last_read_message_id)


class MessageForward(_In):
    target_chat_id: Id
    include_author: bool = True


class MessageForwardBulk(_In):
    target_chat_ids: list[Id] = Field(min_length=1, max_length=20)
    include_author: bool = True

    @field_validator("target_chat_ids")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("target_chat_ids must not repeat a chat")
        return value


class MessageReactionToggle(_In):
    """One emoji grapheme: a single emoji, with its skin tone, ZWJ sequence, flag or keycap."""

    emoji: Annotated[str, StringConstraints(min_length=1, max_length=messages.MAX_EMOJI_CHARS)]

    @field_validator("emoji")
    @classmethod
    def _one_emoji(cls, value: str) -> str:
        if not messages.is_single_emoji(value):
            raise ValueError("must be exactly one emoji")
        return value


class MessageReactionRead(BaseModel):
    emoji: str
    count: int
    reacted: bool

    @classmethod
    def of(cls, r: ReactionCount) -> MessageReactionRead:
        return cls(emoji=r.emoji, count=r.count, reacted=r.reacted)


class MessageSearchQuery(_Query):
    query: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    chat_id: Id | None = None
    limit: int = Field(50, ge=1, le=100)
