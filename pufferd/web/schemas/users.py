"""Users models (API reference section 3.2) and the field types accounts share."""
from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from pufferd import text
from pufferd.clock import iso
from pufferd.datadir import USERNAME_RE
from pufferd.db.users_q import User

PrivacyMode = Literal["everyone", "contacts", "nobody"]

_EMAIL_RE = re.compile(
    r"^[^@\s<>()\[\],;:\"\\]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def _email(value: str) -> str:
    if not _EMAIL_RE.match(value):
        raise ValueError("not a valid e-mail address (expected name@domain)")
    return value.lower()


def _lookup_email(value: str) -> str:
    if "@" not in value or any(ch.isspace() for ch in value):
        raise ValueError("not a valid e-mail address")
    return value.lower()


def _username(value: str) -> str:
    if not USERNAME_RE.match(value):
        raise ValueError("username must be 3-32 characters: letters, digits and _, starting with a letter")
    return value


def _avatar_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in value):
        raise ValueError("must be an absolute http(s) URL")
    return value


# a new address (registration): checked for shape, stored lower-case
EmailAddress = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email)]
# an address to look up: any stored address must be findable, so only the obvious is refused
LookupEmail = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254),
                        AfterValidator(_lookup_email)]
Username = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_username)]
# people's text (pufferd/text.py): a name is one line, NFC, showing something; a bio may have
# several lines. The length limit applies to the text as sent.
DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(text.one_line)]
Bio = Annotated[str, StringConstraints(max_length=500), AfterValidator(text.multi_line)]
AvatarUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
                      AfterValidator(_avatar_url)]


class UserRead(BaseModel):
    """A user profile; for another user the avatar is present only if their privacy allows it, and
    the e-mail address is null (only its owner and server administrators see it)."""

    id: int
    name: str
    username: str
    email: str | None
    avatar_url: str | None
    bio: str | None
    email_verified: bool
    allow_private_messages: bool
    privacy_private_messages: PrivacyMode
    privacy_last_seen: PrivacyMode
    privacy_avatar: PrivacyMode
    privacy_group_invites: PrivacyMode
    twofa_enabled: bool
    created_at: str
    updated_at: str
    is_remote: bool = False  # a user of another server (README "Federation"); never signs in here
    actor_url: str | None = None  # a remote user's ActivityPub actor
    federation_findable: bool = True  # other servers find the user by handle (WebFinger)

    @classmethod
    def of(cls, user: User, avatar_url: str | None, email: str | None) -> UserRead:
        return cls(id=user.id, name=user.name, username=user.username, email=email,
                   avatar_url=avatar_url, bio=user.bio, email_verified=user.email_verified,
                   allow_private_messages=user.allow_private_messages,
                   privacy_private_messages=user.privacy_private_messages,  # type: ignore[arg-type]
                   privacy_last_seen=user.privacy_last_seen,  # type: ignore[arg-type]
                   privacy_avatar=user.privacy_avatar,  # type: ignore[arg-type]
                   privacy_group_invites=user.privacy_group_invites,  # type: ignore[arg-type]
                   twofa_enabled=user.twofa_enabled, created_at=iso(user.created_at) or "",
                   updated_at=iso(user.updated_at) or "", is_remote=user.is_remote, actor_url=user.actor_url,
                   federation_findable=user.federation_findable)

    @classmethod
    def own(cls, user: User) -> UserRead:
        return cls.of(user, user.avatar_url, user.email)


class UserSearchRead(BaseModel):
    """Another user in a list; email is null (only its owner and server administrators see it)."""

    id: int
    name: str
    username: str
    email: str | None
    avatar_url: str | None

    @classmethod
    def of(cls, user: User, avatar_url: str | None, email: str | None) -> UserSearchRead:
        return cls(id=user.id, name=user.name, username=user.username, email=email, avatar_url=avatar_url)


_NOT_NULL = ("name", "username", "allow_private_messages", "privacy_private_messages",
             "privacy_last_seen", "privacy_avatar", "privacy_group_invites", "federation_findable")


class UserProfileUpdate(BaseModel):
    """All fields optional; a field left out stays as it is. bio and avatar_url accept null to
    clear them; the other fields may be left out but not set to null."""

    model_config = ConfigDict(extra="forbid")

    name: DisplayName | None = None
    username: Username | None = None
    bio: Bio | None = None
    avatar_url: AvatarUrl | None = None
    allow_private_messages: bool | None = None
    privacy_private_messages: PrivacyMode | None = None
    privacy_last_seen: PrivacyMode | None = None
    privacy_avatar: PrivacyMode | None = None
    privacy_group_invites: PrivacyMode | None = None
    federation_findable: bool | None = None

    @field_validator(*_NOT_NULL, mode="after")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be left out, but not null")
        return value

    @field_validator("bio", mode="after")
    @classmethod
    def _empty_bio_clears(cls, value: str | None) -> str | None:
        return None if value is None or text.is_blank(value) else value

    def changes(self) -> dict[str, object]:
        """Only the fields the client sent."""
        return self.model_dump(exclude_unset=True)


class UserSearchQuery(BaseModel):
    query: str = Field("", max_length=200, description="prefix of a username or name; a leading @ is ignored")
    limit: int = Field(20, ge=1, le=50)


class ContactByEmailRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: LookupEmail
