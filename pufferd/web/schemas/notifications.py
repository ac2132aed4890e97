"""Notification models (API reference 3.6 and 10)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from pufferd import notifications
from pufferd.db.notifications_q import Notification


class NotificationsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(50, ge=1, le=200)


class NotificationRead(BaseModel):
    """One notification; `payload` is a JSON object serialised as a string (see the notifications
    module for the event types and their payloads)."""

    id: int
    user_id: int
    event_type: str
    payload: str
    created_at: str

    @classmethod
    def of(cls, n: Notification) -> NotificationRead:
        return cls.model_validate(notifications.as_dict(n))
