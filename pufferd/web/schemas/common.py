"""Models shared by every area."""
from __future__ import annotations

from pydantic import BaseModel


class MessageResponse(BaseModel):
    """A plain confirmation, e.g. {"message": "Email verified"}."""

    message: str


class HealthStatus(BaseModel):
    status: str


class ReadyStatus(BaseModel):
    status: str
    db: str
    blobs: str
    disk: str
