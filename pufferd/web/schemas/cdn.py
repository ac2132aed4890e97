"""File management models (`/api/v1/cdn`, issue 13 item 7)."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from pufferd import cdn, media
from pufferd.clock import iso
from pufferd.config import Settings
from pufferd.web.schemas.media import FileType

Cursor = Annotated[str, Field(min_length=1, max_length=200)]


class FileUse(BaseModel):
    chat_id: int
    message_id: int


class FileRead(BaseModel):
    """A stored upload and where it is used. `name` is the last segment of `file_url` (the key
    the DELETE routes take)."""

    name: str
    object_key: str
    file_url: str
    file_name: str
    file_type: str
    file_size: int
    uploader_id: int | None
    created_at: str
    in_use: bool
    messages: list[FileUse] = Field(description="the newest 20 messages it is attached to")
    message_count: int
    avatar_of_user_ids: list[int]
    avatar_of_chat_ids: list[int]

    @classmethod
    def of(cls, f: cdn.FileEntry, settings: Settings) -> FileRead:
        o, u = f.obj, f.uses
        return cls(name=o.object_key[len(media.KEY_PREFIX):], object_key=o.object_key,
                   file_url=media.object_url(settings, o.object_key), file_name=o.file_name, file_type=o.file_type,
                   file_size=o.file_size, uploader_id=o.uploader_id, created_at=iso(o.created_at) or "",
                   in_use=u.used, messages=[FileUse(chat_id=c, message_id=m) for c, m in u.messages],
                   message_count=u.message_count, avatar_of_user_ids=u.avatar_user_ids,
                   avatar_of_chat_ids=u.avatar_chat_ids)


class FilePage(BaseModel):
    """A page of files, newest first; pass `next_cursor` as `cursor` for the next (null: no more)."""

    files: list[FileRead]
    next_cursor: str | None

    @classmethod
    def of(cls, page: cdn.Page, settings: Settings) -> FilePage:
        return cls(files=[FileRead.of(f, settings) for f in page.files], next_cursor=page.next_cursor)


class MyFilesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Cursor | None = None


class AllFilesQuery(MyFilesQuery):
    """Filters: `uploader_id`, `file_type`, `unused` (true: stored but attached to nothing and no
    avatar), `min_size`/`max_size` in bytes."""

    uploader_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    file_type: FileType | None = None
    unused: bool | None = None
    min_size: Annotated[int, Field(ge=0, le=2**53)] | None = None
    max_size: Annotated[int, Field(ge=0, le=2**53)] | None = None


class TypeUsage(BaseModel):
    files: int
    bytes: int


class UsageRead(BaseModel):
    """The caller's files against `user_storage_quota_bytes`: every file they uploaded or are
    uploading counts, as uploaded. `quota_bytes` null: no quota."""

    files: int
    bytes: int
    quota_bytes: int | None
    remaining_bytes: int | None
    by_type: dict[str, TypeUsage]

    @classmethod
    def of(cls, u: cdn.Usage) -> UsageRead:
        return cls(files=u.files, bytes=u.bytes, quota_bytes=u.quota_bytes, remaining_bytes=u.remaining_bytes,
                   by_type={t: TypeUsage(files=f, bytes=b) for t, (f, b) in u.by_type.items()})


class DeletedRead(BaseModel):
    name: str
    messages_updated: int = Field(description="messages the file was removed from")
    avatars_cleared: int

    @classmethod
    def of(cls, d: cdn.Deleted) -> DeletedRead:
        return cls(name=d.obj.object_key[len(media.KEY_PREFIX):], messages_updated=d.messages_updated,
                   avatars_cleared=d.avatars_cleared)


class AdminDeleteRequest(BaseModel):
    """Why the file is removed (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=500)]


class DuplicatesRead(BaseModel):
    contents: int = Field(description="distinct contents stored once but used by several files")
    files: int = Field(description="files sharing their content with another")
    bytes_saved: int


class SummaryRead(BaseModel):
    """Every stored file by type, what content addressing saved, uploads still pending."""

    files: int
    bytes: int
    by_type: dict[str, TypeUsage]
    blobs: int
    blob_bytes: int
    duplicates: DuplicatesRead
    pending_uploads: int
    pending_bytes: int

    @classmethod
    def of(cls, s: cdn.Summary) -> SummaryRead:
        return cls(files=s.files, bytes=s.bytes, by_type={t: TypeUsage(files=f, bytes=b) for t, (f, b) in s.by_type.items()},
                   blobs=s.blobs, blob_bytes=s.blob_bytes,
                   duplicates=DuplicatesRead(contents=s.duplicates.contents, files=s.duplicates.objects,
                                             bytes_saved=s.duplicates.bytes_saved),
                   pending_uploads=s.pending_uploads, pending_bytes=s.pending_bytes)


class CleanupRead(BaseModel):
    """What the media janitor removed in this pass."""

    expired_uploads: int
    unattached: int
    blobs: int
