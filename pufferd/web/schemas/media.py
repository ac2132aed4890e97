"""Media models (API reference 3.5 and 9)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pufferd import media, text
from pufferd.clock import iso
from pufferd.config import Settings
from pufferd.db.media_q import Attachment, ChatAttachment, MediaObject

# API reference 9, "Allowed MIME"
FileType = Literal["image/jpeg", "image/png", "image/webp", "video/mp4", "video/webm", "audio/mpeg",
                   "audio/ogg", "audio/webm", "audio/wav", "application/pdf", "application/zip", "text/plain"]
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
FileUrl = Annotated[str, Field(min_length=1, max_length=2048)]
MAX_WAVEFORM_POINTS = 256
WaveformPoint = Annotated[int, Field(ge=0, le=255)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UploadUrlRequest(_In):
    """UploadUrlRequest. `file_size` in bytes, at most MAX_UPLOAD_SIZE_BYTES (422 beyond).
    `file_name` is kept for the download's Content-Disposition; a path is reduced to its last part,
    which follows the rule for one-line text people type (pufferd/text.py)."""

    file_name: Annotated[str, Field(min_length=1, max_length=255)]
    file_type: FileType
    file_size: Annotated[int, Field(ge=1, le=2**53)]

    @field_validator("file_name")
    @classmethod
    def _file_name(cls, value: str) -> str:
        name = text.one_line(value.replace("\\", "/").rsplit("/", 1)[-1])
        if name in (".", ".."):
            raise ValueError("must name a file")
        return name


class UploadUrlResponse(BaseModel):
    """UploadUrlResponse. PUT the bytes to `upload_url` with `required_headers` before it expires
    (`expires_in` seconds); the URL works once. `file_url` is where the file is then served."""

    upload_url: str
    file_url: str
    object_key: str
    expires_in: int
    required_headers: dict[str, str]

    @classmethod
    def of(cls, t: media.UploadTicket) -> UploadUrlResponse:
        return cls(upload_url=t.upload_url, file_url=t.file_url, object_key=t.object_key,
                   expires_in=t.expires_in, required_headers=t.required_headers)


class UploadRead(BaseModel):
    """The stored object, answered to a successful PUT of an upload URL."""

    object_key: str
    file_url: str
    file_type: str
    file_size: int

    @classmethod
    def of(cls, obj: MediaObject, settings: Settings) -> UploadRead:
        return cls(object_key=obj.object_key, file_url=media.object_url(settings, obj.object_key),
                   file_type=obj.file_type, file_size=obj.file_size)


class AttachmentCreateRequest(_In):
    """AttachmentCreateRequest. `file_url` must be a file_url of this server uploaded by the caller;
    `file_type` and `file_size` must match the upload. `waveform_points`: at most 256 integers 0-255
    (shown as `attachment_waveform` on the message)."""

    message_id: Id
    file_url: FileUrl
    file_type: FileType
    file_size: Annotated[int, Field(ge=0, le=2**53)]
    waveform_points: Annotated[list[WaveformPoint], Field(max_length=MAX_WAVEFORM_POINTS)] | None = None


class AttachmentRead(BaseModel):
    id: int
    message_id: int
    file_url: str
    file_type: str
    file_size: int
    waveform_points: list[int] | None

    @classmethod
    def of(cls, a: Attachment, settings: Settings) -> AttachmentRead:
        return cls(id=a.id, message_id=a.message_id, file_url=media.object_url(settings, a.object_key),
                   file_type=a.file_type, file_size=a.file_size, waveform_points=a.waveform)


class ChatAttachmentRead(BaseModel):
    id: int
    message_id: int
    sender_id: int | None
    message_type: str
    message_created_at: str
    file_url: str
    file_type: str
    file_size: int

    @classmethod
    def of(cls, a: ChatAttachment, settings: Settings) -> ChatAttachmentRead:
        return cls(id=a.id, message_id=a.message_id, sender_id=a.sender_id, message_type=a.message_type,
                   message_created_at=iso(a.message_created_at) or "",
                   file_url=media.object_url(settings, a.object_key), file_type=a.file_type,
                   file_size=a.file_size)


class ChatAttachmentsQuery(BaseModel):
    """`limit` 1-200 (default 100); `before_id`: only attachments with a smaller id (paging)."""

    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, Field(ge=1, le=200)] = 100
    before_id: Id | None = None


class DownloadUrlRequest(_In):
    file_url: FileUrl


class DownloadUrlResponse(BaseModel):
    """A signed GET URL for `file_url` that needs no Authorization header, valid `expires_in`
    seconds (for <img>, <video> and <a download> in browsers)."""

    download_url: str
    expires_in: int
