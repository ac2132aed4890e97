"""Federation request and response models (README "Federation")."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from pufferd.clock import iso
from pufferd.db.federation_q import Delivery, Host
from pufferd.db.users_q import User
from pufferd.web.schemas.users import UserRead


class HandleRequest(BaseModel):
    """`@bob@other.example`, `bob@other.example` or an actor URL."""

    handle: str = Field(min_length=3, max_length=600)


class WebfingerQuery(BaseModel):
    resource: str = Field(min_length=1, max_length=600)


class FollowRead(BaseModel):
    """A follow between a local and a remote user; state is pending until the remote side accepts."""

    user: UserRead
    state: Literal["pending", "accepted"] | None

    @classmethod
    def of(cls, user: User, state: str | None) -> FollowRead:
        return cls(user=UserRead.of(user, user.avatar_url, None), state=state)  # type: ignore[arg-type]


class FederationQueueQuery(BaseModel):
    state: Literal["pending", "delivered", "failed"] | None = None
    limit: int = Field(50, ge=1, le=200)
    before_id: int | None = Field(None, ge=1)


class DeliveryRead(BaseModel):
    """One queued activity and the result of its latest attempt."""

    id: int
    sender_id: int
    inbox: str
    host: str
    activity_id: str
    activity_type: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: str | None
    last_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    created_at: str

    @classmethod
    def of(cls, d: Delivery) -> DeliveryRead:
        return cls(id=d.id, sender_id=d.sender_id, inbox=d.inbox, host=d.host,
                   activity_id=str(d.activity.get("id", "")), activity_type=str(d.activity.get("type", "")),
                   state=d.state,  # type: ignore[arg-type]
                   attempts=d.attempts, next_attempt_at=iso(d.next_attempt_at) if d.state == "pending" else None,
                   last_attempt_at=iso(d.last_attempt_at), last_status=d.last_status, last_error=d.last_error,
                   created_at=iso(d.created_at) or "")


class HostRead(BaseModel):
    """A remote host whose deliveries fail: since when, whether it is marked down (then retried
    once per federation_host_down_retry_seconds) and the last error."""

    host: str
    down: bool
    failing_since: str | None
    down_since: str | None
    last_error: str | None

    @classmethod
    def of(cls, h: Host) -> HostRead:
        return cls(host=h.host, down=h.down_at is not None, failing_since=iso(h.failing_since),
                   down_since=iso(h.down_at), last_error=h.last_error)


class DomainRequest(BaseModel):
    domain: str = Field(min_length=1, max_length=253)


class DomainList(BaseModel):
    """The admins' domain list; in `blocklist` mode listed domains are refused both ways, in
    `allowlist` mode only listed domains federate (federation_domain_mode)."""

    mode: Literal["blocklist", "allowlist"]
    domains: list[str]
