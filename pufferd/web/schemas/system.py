"""Administration models (issue 13): roles, server info and settings, invites, IP blocks, audit."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from pufferd import audit, text
from pufferd.auditlog import Activity, Named
from pufferd.clock import iso
from pufferd.config import Settings
from pufferd.db.system_q import Invite, IpBlock
from pufferd.db.users_q import User
from pufferd.instance import ServerInfo, SettingView
from pufferd.livesettings import CHANGEABLE
from pufferd.moderation import state_of
from pufferd.netblocks import parse_network
from pufferd.privileges import ROLE_PRIVILEGES, Privilege, Role

RoleName = Literal["owner", "admin", "moderator", "user"]
UserState = Literal["active", "disabled", "banned", "timed_out"]  # pufferd/moderation.py state_of
Reason = Annotated[str, StringConstraints(max_length=500), AfterValidator(text.multi_line)]
Limit = Annotated[int, Field(ge=1, le=200)]
Cursor = Annotated[int, Field(ge=0, le=2**63 - 1)]
HttpUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2048,
                                           pattern=r"^(https?://\S+)?$")]


def _network(value: str) -> str:
    return str(parse_network(value))


Network = Annotated[str, StringConstraints(max_length=64), AfterValidator(_network)]


def epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PageQuery(_Query):
    limit: Limit = 50
    cursor: Cursor | None = None  # the next_cursor of the previous page


class ReasonQuery(_Query):
    reason: Reason | None = None


# roles ---------------------------------------------------------------------------------------
class PrivilegesRead(BaseModel):
    """The caller's role and privileges, and what every role may do."""

    role: RoleName
    privileges: list[str]
    roles: dict[str, list[str]]

    @classmethod
    def of(cls, user: User) -> PrivilegesRead:
        return cls(role=user.role,  # type: ignore[arg-type]
                   privileges=sorted(p.value for p in ROLE_PRIVILEGES[Role(user.role)]),
                   roles={r.value: [p.value for p in Privilege if p in ROLE_PRIVILEGES[r]] for r in Role})


class SystemUserRead(BaseModel):
    """An account as administrators see it."""

    id: int
    username: str
    name: str
    email: str
    role: RoleName
    state: UserState  # at the time of the answer: disabled, else banned, else timed_out, else active
    email_verified: bool
    twofa_enabled: bool
    avatar_url: str | None
    created_at: str
    last_seen_at: str | None
    banned_at: str | None
    ban_reason: str | None
    timeout_until: str | None  # set while a timeout holds
    timeout_reason: str | None

    @classmethod
    def of(cls, user: User, now: float) -> SystemUserRead:
        timed_out = user.timed_out(now)
        return cls(id=user.id, username=user.username, name=user.name, email=user.email,
                   role=user.role,  # type: ignore[arg-type]
                   state=state_of(user, now),  # type: ignore[arg-type]
                   email_verified=user.email_verified,
                   twofa_enabled=user.twofa_enabled, avatar_url=user.avatar_url,
                   created_at=iso(user.created_at) or "", last_seen_at=iso(user.last_seen_at),
                   banned_at=iso(user.banned_at), ban_reason=user.ban_reason,
                   timeout_until=iso(user.timeout_until) if timed_out else None,
                   timeout_reason=user.timeout_reason if timed_out else None)


class SystemUsersQuery(_Query):
    role: RoleName | None = None
    state: UserState | None = None
    search: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    limit: Limit = 50
    cursor: Cursor | None = None  # the next_cursor of the previous page: users after this id


class SystemUserPage(BaseModel):
    users: list[SystemUserRead]
    next_cursor: int | None  # null on the last page


class RoleUpdate(_Strict):
    role: RoleName
    reason: Reason | None = None


class RoleChangeRead(BaseModel):
    user: SystemUserRead
    previous_role: RoleName
    previous_owner: SystemUserRead | None = None  # set when ownership moved: now an admin


# server info and settings ---------------------------------------------------------------------
class ServerInfoRead(BaseModel):
    """What a client may know about this server before signing in."""

    name: str
    description: str
    version: str
    registration_mode: Literal["open", "invite_only", "closed"]
    avatar_url: str | None
    banner_url: str | None
    max_message_length: int
    max_upload_size_bytes: int
    allowed_upload_types: list[str]
    max_users: int | None
    members_count: int
    online_count: int

    @classmethod
    def of(cls, info: ServerInfo) -> ServerInfoRead:
        return cls.model_validate(info, from_attributes=True)


class ServerInfoUpdate(_Strict):
    """The fields sent change; "" clears the description, avatar or banner."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(text.one_line)] | None = None
    description: Annotated[str, StringConstraints(max_length=1000), AfterValidator(text.multi_line)] | None = None
    avatar_url: HttpUrl | None = None
    banner_url: HttpUrl | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _something(self) -> ServerInfoUpdate:
        sent = self.model_fields_set - {"reason"}
        if not sent:
            raise ValueError("send at least one of name, description, avatar_url, banner_url")
        for name in sent:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null (send \"\" to clear it)")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set - {"reason"}}


class SettingRead(BaseModel):
    name: str
    value: Any            # in effect now
    configured: Any       # from flags, environment, pufferd.toml or the default
    stored: Any           # the value stored over the API; null when none
    overridden: bool
    change: Literal["runtime", "restart", "file"]  # takes effect at once / at the next start / not over the API
    restart_required: bool  # the stored value (or its removal) waits for the next start

    @classmethod
    def of(cls, view: SettingView) -> SettingRead:
        return cls.model_validate(view, from_attributes=True)


class SettingsRead(BaseModel):
    settings: list[SettingRead]


def _changes_model() -> type[BaseModel]:
    """One optional field per setting that can be changed over the API, typed and constrained as
    in config.Settings (so /docs lists them); null drops the stored value. Other names reach the
    domain, which refuses them naming the setting."""
    fields: dict[str, Any] = {}
    for name in sorted(CHANGEABLE):
        info = Settings.model_fields[name]
        kind = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[name] = (kind | None, Field(None, description=info.description))  # type: ignore[operator]
    return create_model("SettingsChanges", __config__=ConfigDict(extra="allow"), **fields)


SettingsChanges = _changes_model()


class SettingsUpdate(_Strict):
    settings: SettingsChanges  # type: ignore[valid-type]
    reason: Reason | None = None

    @field_validator("settings")
    @classmethod
    def _not_empty(cls, value: BaseModel) -> BaseModel:
        if not value.model_fields_set and not value.model_extra:
            raise ValueError("name at least one setting")
        return value

    def changes(self) -> dict[str, Any]:
        s: BaseModel = self.settings
        return {**{name: getattr(s, name) for name in s.model_fields_set}, **(s.model_extra or {})}


class SettingsUpdateRead(BaseModel):
    settings: list[SettingRead]  # the settings the request named, as they are now
    restart_required: bool       # some of them take effect only when the server next starts


# invites -------------------------------------------------------------------------------------
class InviteCreate(_Strict):
    max_uses: Annotated[int, Field(ge=1, le=1_000_000)] | None = None  # null: no limit
    expires_at: AwareDatetime | None = None  # null: never
    note: Annotated[str, StringConstraints(max_length=200), AfterValidator(text.one_line)] | None = None


class InviteRead(BaseModel):
    id: int
    code_hint: str  # the first characters of the code
    note: str | None
    max_uses: int | None
    uses: int
    expires_at: str | None
    revoked_at: str | None
    usable: bool
    created_by: int | None
    created_at: str

    @classmethod
    def of(cls, invite: Invite, now: float) -> InviteRead:
        return cls(id=invite.id, code_hint=invite.code_hint, note=invite.note, max_uses=invite.max_uses,
                   uses=invite.uses, expires_at=iso(invite.expires_at), revoked_at=iso(invite.revoked_at),
                   usable=invite.usable(now), created_by=invite.created_by, created_at=iso(invite.created_at) or "")


class InviteCreated(InviteRead):
    code: str  # shown this once: only a hash is kept


class InvitePage(BaseModel):
    invites: list[InviteRead]
    next_cursor: int | None


# IP blocks -----------------------------------------------------------------------------------
class IpBlockCreate(_Strict):
    network: Network  # an address (203.0.113.7, 2001:db8::1) or a CIDR range (198.51.100.0/24)
    reason: Reason | None = None
    expires_at: AwareDatetime | None = None  # null: until unblocked
    force: bool = False  # block even when it covers the caller's own address


class IpBlockRead(BaseModel):
    id: int
    network: str
    reason: str | None
    expires_at: str | None
    active: bool
    attempts: int  # refused requests, written every few seconds
    last_attempt_at: str | None
    created_by: int | None
    created_at: str

    @classmethod
    def of(cls, block: IpBlock, now: float) -> IpBlockRead:
        return cls(id=block.id, network=block.network, reason=block.reason, expires_at=iso(block.expires_at),
                   active=block.expires_at is None or block.expires_at > now, attempts=block.attempts,
                   last_attempt_at=iso(block.last_attempt_at), created_by=block.created_by,
                   created_at=iso(block.created_at) or "")


class IpBlockPage(BaseModel):
    blocks: list[IpBlockRead]
    next_cursor: int | None


# audit ---------------------------------------------------------------------------------------
def _event(value: str) -> str:
    if value not in audit.EVENTS:
        raise ValueError(f"not an audit action; actions: {', '.join(audit.EVENTS)}")
    return value


class AuditQuery(_Query):
    actor: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None  # user id or 'cli:<name>'
    action: Annotated[str, AfterValidator(_event)] | None = None
    target: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None  # user id or 'ip:...'
    since: AwareDatetime | None = None  # inclusive
    until: AwareDatetime | None = None  # exclusive
    limit: Limit = 50
    cursor: Cursor | None = None

    @field_validator("until")
    @classmethod
    def _after_since(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if value is not None and since is not None and value <= since:
            raise ValueError("until must be later than since")
        return value


class AuditEntryRead(BaseModel):
    id: int
    created_at: str
    action: str
    actor: str                  # 'user:<id>', 'cli:<name>' or 'anonymous'
    actor_user_id: int | None
    actor_username: str | None
    user_id: int | None         # the user concerned
    username: str | None
    target: str | None          # what else was acted on: 'ip:<network>', 'invite:<id>', 'settings'
    ip_address: str | None
    user_agent: str | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, n: Named) -> AuditEntryRead:
        e = n.entry
        return cls(id=e.id, created_at=iso(e.created_at) or "", action=e.event, actor=e.actor,
                   actor_user_id=n.actor_user_id, actor_username=n.actor_username, user_id=e.user_id,
                   username=n.username, target=e.target, ip_address=e.ip_address, user_agent=e.user_agent,
                   detail=e.detail)


class AuditPage(BaseModel):
    entries: list[AuditEntryRead]
    next_cursor: int | None


class ActivityRead(BaseModel):
    id: int
    created_at: str
    action: str
    text: str  # e.g. "alice changed bob's role to moderator"
    actor_user_id: int | None
    user_id: int | None

    @classmethod
    def of(cls, a: Activity) -> ActivityRead:
        e = a.named.entry
        return cls(id=e.id, created_at=iso(e.created_at) or "", action=e.event, text=a.text,
                   actor_user_id=a.named.actor_user_id, user_id=e.user_id)


class ActivityPage(BaseModel):
    activity: list[ActivityRead]
    next_cursor: int | None
