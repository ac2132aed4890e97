"""Moderation and reports models (issue 13, item 3): bans, timeouts, removing content, reports."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from pufferd import media, reports, text
from pufferd.clock import iso
from pufferd.config import Settings
from pufferd.db.chats_q import Chat
from pufferd.db.messages_q import Message
from pufferd.db.reports_q import Report
from pufferd.db.users_q import User
from pufferd.moderation import state_of
from pufferd.web.schemas.system import Cursor, Limit, UserState


def _shows_something(value: str) -> str:
    if text.is_blank(value):
        raise ValueError("must not be empty or only whitespace and invisible characters")
    return value


# why: shown to the person concerned (a ban, a timeout, a removed message) and kept in the audit log
Reason = Annotated[str, StringConstraints(max_length=500), AfterValidator(text.multi_line),
                   AfterValidator(_shows_something)]
Category = Literal["spam", "harassment", "hate", "violence", "sexual", "illegal", "impersonation", "other"]
ReportState = Literal["open", "resolved", "dismissed"]
TargetType = Literal["message", "user"]
Action = Literal["dismiss", "delete", "timeout", "ban"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


# moderation actions ----------------------------------------------------------------------------
class BanRequest(_Strict):
    reason: Reason


class TimeoutRequest(_Strict):
    until: AwareDatetime  # when it ends by itself: in the future, at most 366 days ahead
    reason: Reason


class RemoveRequest(_Strict):
    reason: Reason  # told to the author


# reports ---------------------------------------------------------------------------------------
assert set(Category.__args__) == set(reports.CATEGORIES)  # type: ignore[attr-defined]
assert set(Action.__args__) == set(reports.ACTIONS)  # type: ignore[attr-defined]


class ReportCreate(_Strict):
    """Report a message you can see (`message_id`) or a user (`user_id`): exactly one of them."""

    message_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    user_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    category: Category
    description: Annotated[str, StringConstraints(max_length=reports.DESCRIPTION_MAX),
                           AfterValidator(text.multi_line)] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ReportCreate:
        if (self.message_id is None) == (self.user_id is None):
            raise ValueError("give exactly one of message_id and user_id")
        return self


class MyReportRead(BaseModel):
    """A report as its reporter sees it: what they reported and its state."""

    id: int
    target_type: TargetType
    message_id: int | None
    chat_id: int | None
    reported_user_id: int | None  # the user reported, or the message's author
    category: Category
    description: str | None
    state: ReportState
    created_at: str
    resolved_at: str | None

    @classmethod
    def of(cls, r: Report) -> MyReportRead:
        return cls(id=r.id, target_type=r.target_type, message_id=r.message_id,  # type: ignore[arg-type]
                   chat_id=r.chat_id, reported_user_id=r.reported_user_id, category=r.category,  # type: ignore[arg-type]
                   description=r.description, state=r.state, created_at=iso(r.created_at) or "",  # type: ignore[arg-type]
                   resolved_at=iso(r.resolved_at))


class MyReportsQuery(_Query):
    state: ReportState | None = None
    limit: Limit = 50
    cursor: Cursor | None = None  # the next_cursor of the previous page: older reports


class MyReportPage(BaseModel):
    reports: list[MyReportRead]
    next_cursor: int | None


class PersonRef(BaseModel):
    id: int
    username: str | None  # null when the account no longer exists


class ReportRead(BaseModel):
    """A report as moderators see it in the queue."""

    id: int
    target_type: TargetType
    message_id: int | None
    chat_id: int | None
    reporter: PersonRef | None
    reported_user: PersonRef | None  # the user reported, or the message's author
    category: Category
    description: str | None
    message_type: str | None  # the message as it was reported
    message_text: str | None
    state: ReportState
    action: Action | None
    resolution_reason: str | None
    timeout_until: str | None
    resolved_by: PersonRef | None
    resolved_at: str | None
    created_at: str

    @classmethod
    def of(cls, x: reports.Listed) -> ReportRead:
        r = x.report

        def ref(user_id: int | None, name: str | None) -> PersonRef | None:
            return PersonRef(id=user_id, username=name) if user_id is not None else None

        return cls(id=r.id, target_type=r.target_type, message_id=r.message_id,  # type: ignore[arg-type]
                   chat_id=r.chat_id, reporter=ref(r.reporter_id, x.reporter_username),
                   reported_user=ref(r.reported_user_id, x.reported_username),
                   category=r.category, description=r.description,  # type: ignore[arg-type]
                   message_type=r.message_type, message_text=r.message_text, state=r.state,  # type: ignore[arg-type]
                   action=r.action, resolution_reason=r.resolution_reason,  # type: ignore[arg-type]
                   timeout_until=iso(r.timeout_until), resolved_by=ref(r.resolved_by, x.resolver_username),
                   resolved_at=iso(r.resolved_at), created_at=iso(r.created_at) or "")


class QueueQuery(_Query):
    state: ReportState | Literal["all"] = "open"
    type: TargetType | None = None
    limit: Limit = 50
    cursor: Cursor | None = None  # the next_cursor of the previous page: older reports


class ReportPage(BaseModel):
    reports: list[ReportRead]
    next_cursor: int | None


class FileRef(BaseModel):
    file_url: str
    name: str  # what DELETE /api/v1/system/moderation/files/{name} takes
    file_type: str
    file_size: int


class ShownMessage(BaseModel):
    """A message of the reported chat, as a moderator reviewing the report sees it."""

    id: int
    chat_id: int
    sender_id: int | None
    sender_username: str | None
    type: str
    text: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, m: Message, senders: dict[int, str]) -> ShownMessage:
        return cls(id=m.id, chat_id=m.chat_id, sender_id=m.sender_id,
                   sender_username=senders.get(m.sender_id) if m.sender_id is not None else None, type=m.type,
                   text=m.text, created_at=iso(m.created_at) or "", updated_at=iso(m.updated_at) or "")


class ChatCard(BaseModel):
    id: int
    type: str
    title: str | None
    handle: str | None
    is_public: bool
    members_count: int

    @classmethod
    def of(cls, chat: Chat, members_count: int) -> ChatCard:
        return cls(id=chat.id, type=chat.type, title=chat.title, handle=chat.handle, is_public=chat.is_public,
                   members_count=members_count)


class ReportedUserCard(BaseModel):
    id: int
    username: str
    name: str
    role: str
    state: UserState
    avatar_url: str | None
    created_at: str
    banned_at: str | None
    ban_reason: str | None
    timeout_until: str | None  # set while a timeout holds
    reports_total: int  # reports naming them, this one included
    reports_open: int

    @classmethod
    def of(cls, user: User, counts: tuple[int, int], now: float) -> ReportedUserCard:
        timed_out = user.timed_out(now)
        return cls(id=user.id, username=user.username, name=user.name, role=user.role,
                   state=state_of(user, now), avatar_url=user.avatar_url,  # type: ignore[arg-type]
                   created_at=iso(user.created_at) or "", banned_at=iso(user.banned_at), ban_reason=user.ban_reason,
                   timeout_until=iso(user.timeout_until) if timed_out else None,
                   reports_total=counts[0], reports_open=counts[1])


class ReportDetailRead(BaseModel):
    """A report with what a moderator needs to decide on it."""

    report: ReportRead
    message: ShownMessage | None  # the reported message as it is now; null: deleted since (or a user report)
    files: list[FileRef]          # files attached to it
    context: list[ShownMessage]   # up to 3 messages before and after it, oldest first
    chat: ChatCard | None
    reported_user: ReportedUserCard | None

    @classmethod
    def of(cls, d: reports.Detail, settings: Settings, now: float) -> ReportDetailRead:
        return cls(
            report=ReportRead.of(d.listed),
            message=ShownMessage.of(d.message, d.senders) if d.message else None,
            files=[FileRef(file_url=media.object_url(settings, f.object_key),
                           name=f.object_key[len(media.KEY_PREFIX):], file_type=f.file_type, file_size=f.file_size)
                   for f in d.files],
            context=[ShownMessage.of(m, d.senders) for m in d.context],
            chat=ChatCard.of(d.chat, d.members_count) if d.chat else None,
            reported_user=ReportedUserCard.of(d.reported_user, d.reports_against, now) if d.reported_user else None)


class ResolveRequest(_Strict):
    """How the report is resolved: `dismiss`, `delete` (the message), `timeout` (with `until`) or
    `ban` (the reported user or the message's author). The reason goes with the action."""

    action: Action
    reason: Reason
    until: AwareDatetime | None = None  # with timeout only

    @model_validator(mode="after")
    def _until_with_timeout(self) -> ResolveRequest:
        if (self.action == "timeout") != (self.until is not None):
            raise ValueError("until is required with the timeout action, and only with it")
        return self
