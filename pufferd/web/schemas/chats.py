"""Chats models (API reference 3.3 and 7)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from pufferd import chats, text
from pufferd.chat_reads import ChatDetail, ChatView, DiscoverView, InviteLink, MemberView, NotificationSettings

ChatType = Literal["private", "group", "channel"]
Role = Literal["owner", "admin", "member"]
# people's text (pufferd/text.py): a title is one line, NFC, showing something; a description
# may have several lines. The length limit applies to the text as sent.
Title = Annotated[str, StringConstraints(min_length=1, max_length=chats.TITLE_MAX), AfterValidator(text.one_line)]
Handle = Annotated[str, StringConstraints(pattern=chats.HANDLE_PATTERN)]
Description = Annotated[str, StringConstraints(max_length=chats.DESCRIPTION_MAX), AfterValidator(text.multi_line)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2048)]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatCreate(_In):
    """ChatCreateRequest. private: exactly one user in member_ids, never public, no title;
    group/channel: title required; a public chat needs a handle (5-32 of A-Z a-z 0-9 _,
    starting with a letter, unique regardless of case)."""

    type: ChatType
    title: Title | None = None
    handle: Handle | None = None
    description: Description | None = None
    is_public: bool = False
    member_ids: list[Id] = Field(default_factory=list, max_length=chats.MAX_INITIAL_MEMBERS)


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ChatListQuery(_Query):
    limit: int = Field(50, ge=1, le=100)
    before_id: Id | None = None
    query: Annotated[str, StringConstraints(max_length=100)] | None = None
    archived: bool = False


class DiscoverQuery(_Query):
    query: Annotated[str, StringConstraints(max_length=100)] | None = None
    limit: int = Field(30, ge=1, le=100)


class DeleteQuery(_Query):
    for_all: bool = False


class TitleUpdate(_In):
    title: Title


class ProfileUpdate(_In):
    """All fields optional; a field left out is unchanged, null clears description/avatar_url."""

    title: Title | None = None
    description: Description | None = None
    avatar_url: Url | None = None


class MemberAdd(_In):
    user_id: Id


class RoleUpdate(_In):
    role: Role


class PinMessage(_In):
    message_id: Id | None


class MuteUpdate(_In):
    muted: bool


class InviteJoin(_In):
    token: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ChatRead(BaseModel):
    """A chat as the caller sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    public_id: str
    type: ChatType
    title: str | None
    avatar_url: str | None
    display_title: str
    handle: str | None
    description: str | None
    is_public: bool
    is_saved: bool
    archived: bool
    pinned: bool
    unread_count: int
    unread_mentions_count: int
    pinned_message_id: int | None
    members_count: int
    online_count: int
    subscribers_count: int | None
    counterpart_user_id: int | None
    counterpart_name: str | None
    counterpart_username: str | None
    counterpart_avatar_url: str | None
    counterpart_is_online: bool | None
    counterpart_last_seen_at: str | None
    last_message_text: str | None
    last_message_type: str | None
    last_message_created_at: str | None
    my_role: Role | None
    created_at: str

    @classmethod
    def of(cls, view: ChatView) -> ChatRead:
        return cls.model_validate(view)


class ChatMemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    role: Role
    joined_at: str

    @classmethod
    def of(cls, m: MemberView) -> ChatMemberRead:
        return cls.model_validate(m)


class ChatDetailRead(ChatRead):
    """ChatRead plus the member list."""

    members: list[ChatMemberRead]

    @classmethod
    def of_detail(cls, d: ChatDetail) -> ChatDetailRead:
        return cls.model_validate({**d.chat.to_json(), "members": [ChatMemberRead.of(m) for m in d.members]})


class ChatDiscoverRead(BaseModel):
    """A public group or channel found by discovery."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    public_id: str
    type: ChatType
    title: str | None
    handle: str | None
    description: str | None
    avatar_url: str | None
    members_count: int
    subscribers_count: int | None
    is_member: bool
    created_at: str

    @classmethod
    def of(cls, v: DiscoverView) -> ChatDiscoverRead:
        return cls.model_validate(v)


class InviteLinkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chat_id: int
    token: str
    invite_url: str

    @classmethod
    def of(cls, v: InviteLink) -> InviteLinkRead:
        return cls.model_validate(v)


class ChatNotificationSettingsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chat_id: int
    user_id: int
    muted: bool

    @classmethod
    def of(cls, v: NotificationSettings) -> ChatNotificationSettingsRead:
        return cls.model_validate(v)
