"""The BlobStore port (DESIGN.md): a small interface a larger deployment could back with S3.

Blobs are addressed by the SHA-256 of their plaintext (64 lowercase hex digits), so identical
content is stored once; the database counts references. Every method that touches storage is
async and never blocks the event loop.
"""
from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


class BlobError(Exception):
    """Base of blob store errors."""


class BlobNotFound(BlobError):
    """No blob is stored under this digest."""


class BlobCorrupt(BlobError):
    """A stored blob fails authentication (tampered, truncated, or written with another key)."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    sha256: str
    size: int


def check_digest(digest: str) -> str:
    """DIGEST if it is a well-formed SHA-256 hex digest, else BlobNotFound (never a path)."""
    if not isinstance(digest, str) or not DIGEST_RE.match(digest):
        raise BlobNotFound("not a blob digest")
    return digest


class BlobWriter(Protocol):
    """One streamed write. Nothing is visible under a digest until `commit` returns."""

    @property
    def size(self) -> int: ...

    async def write(self, data: bytes) -> None: ...

    async def seal(self) -> BlobInfo:
        """Finish encrypting and make the bytes durable; nothing is visible under the digest yet."""

    async def place(self) -> BlobInfo:
        """Make a sealed blob visible at its content address (an identical blob there is kept)."""

    async def commit(self) -> BlobInfo:
        """seal() then place()."""

    async def abort(self) -> None:
        """Discard everything written; safe to call more than once and after a failure."""


class BlobReader(Protocol):
    """An opened blob whose authenticated size and digest are known."""

    size: int
    sha256: str

    def iter_range(self, start: int, end: int) -> AsyncGenerator[bytes, None]:
        """Plaintext bytes [START, END) in pieces; only the chunks they touch are decrypted
        (an async generator: aclose() it when stopping early)."""

    async def close(self) -> None: ...


class BlobStore(Protocol):
    async def start(self) -> int:
        """Prepare the store; remove temporary files a crash left behind; return how many."""

    async def close(self) -> None: ...

    def writer(self) -> BlobWriter: ...

    async def open(self, digest: str) -> BlobReader:
        """Raise BlobNotFound or BlobCorrupt."""

    async def exists(self, digest: str) -> bool: ...

    async def delete(self, digest: str) -> bool:
        """Remove a blob; False when it was not there."""

    async def digests(self) -> list[str]:
        """Every digest stored (for start-up and doctor sweeps)."""

    async def verify(self, digest: str) -> BlobInfo:
        """Decrypt the whole blob: every chunk authenticates and the digest matches; else BlobCorrupt."""

    def exclusive(self) -> AbstractAsyncContextManager[None]:
        """Serialises placing/deleting blobs with the reference rows that decide their life."""
