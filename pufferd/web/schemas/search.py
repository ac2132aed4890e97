"""Global search models (API reference 3.6 and 11)."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pufferd.search import GlobalResult
from pufferd.web.schemas.chats import ChatRead
from pufferd.web.schemas.messages import MessageRead
from pufferd.web.schemas.users import UserSearchRead


class GlobalSearchQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    users_limit: int = Field(10, ge=0, le=50)
    chats_limit: int = Field(10, ge=0, le=50)
    messages_limit: int = Field(10, ge=0, le=50)


class GlobalSearchRead(BaseModel):
    users: list[UserSearchRead]
    chats: list[ChatRead]
    messages: list[MessageRead]

    @classmethod
    def of(cls, result: GlobalResult) -> GlobalSearchRead:
        return cls(users=[UserSearchRead.of(p.user, p.avatar_url, p.email) for p in result.users],
                   chats=[ChatRead.of(c) for c in result.chats],
                   messages=[MessageRead.of(m) for m in result.messages])
