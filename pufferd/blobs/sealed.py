"""The on-disk format of one encrypted blob (synchronous; callers run it on a worker thread).

    header   "PFDBLOB1" | chunk size (u32, big endian) | salt (32 random bytes)      44 bytes
    chunk i  AES-256-GCM(file key, nonce = 0x00 || i (11 bytes), chunk, aad = header)  <= C + 16
    trailer  AES-256-GCM(file key, nonce = 0x01 || 0 (11 bytes),
                         sha256(plaintext) || size (u64), aad = header || "trailer")    56 bytes

The file key is HKDF-SHA256(store key, salt, "pufferd blob v1"): a fresh random salt per file
gives every file its own key, so the counter nonces never repeat under one key. Chunk indexes in
the nonce stop reordering; the authenticated trailer fixes the size and the digest, so truncating,
extending or swapping files is detected (the file length must equal what the trailer implies,
and the trailer's digest must be the name asked for). Any byte range is served by decrypting
only the chunks it touches.
"""
from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from pufferd.blobs.outfile import OutFile
from pufferd.blobs.port import BlobCorrupt

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"PFDBLOB1"
CHUNK = 64 * 1024
TAG = 16
_HEADER = struct.Struct("!8sI32s")
HEADER_LEN = _HEADER.size
TRAILER_LEN = 32 + 8 + TAG
_TRAILER_NONCE = b"\x01" + bytes(11)
MAX_CHUNK = 16 * 1024 * 1024


def _chunk_nonce(index: int) -> bytes:
    return b"\x00" + index.to_bytes(11, "big")


def _file_aead(store_key: bytes, salt: bytes) -> AESGCM:
    # cryptography is imported by the first blob, not at start-up (issue 17, "Lean start")
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"pufferd blob v1").derive(store_key)
    return AESGCM(key)


def sealed_length(size: int, chunk: int = CHUNK) -> int:
    """The file length of a blob of SIZE plaintext bytes."""
    chunks = -(-size // chunk)
    return HEADER_LEN + size + chunks * TAG + TRAILER_LEN


class Sealer:
    """Encrypts a stream into a new, empty file descriptor, chunk by chunk, hashing the plaintext.

    Whole chunks are encrypted straight from the caller's buffers into the output buffer of an
    OutFile, reused from batch to batch (a fresh buffer per chunk cost page faults: about as much
    CPU as the cipher) and written with one write, with O_DIRECT where the file system allows it
    (DIRECT), on WRITER while the next batch is encrypted when given (see outfile.py); a piece is
    copied only where it straddles a chunk edge.
    """

    def __init__(self, fd: int, store_key: bytes, chunk: int = CHUNK, sha: hashlib._Hash | None = None,
                 *, direct: bool = True, writer: Executor | None = None) -> None:
        self._file = OutFile(fd, direct=direct, writer=writer)
        self._chunk = chunk
        self._header = _HEADER.pack(MAGIC, chunk, os.urandom(32))
        self._aead = _file_aead(store_key, self._header[-32:])
        self._encrypt_into = hasattr(self._aead, "encrypt_into")
        self._index = 0
        self._size = 0
        # SHA (when given) is the plaintext's running hash, updated by the caller when it hashes
        # on another thread (see feed)
        self._sha = sha if sha is not None else hashlib.sha256()
        self._rest = bytearray()
        self._file.append(self._header)

    @property
    def direct(self) -> bool:
        """Whether the chunks go to the device with O_DIRECT (not through the page cache)."""
        return self._file.direct

    @property
    def size(self) -> int:
        return self._size + len(self._rest)

    def drain(self) -> None:
        """Wait for a write still in flight (before closing the file of an abandoned blob)."""
        self._file.drain()

    def feed(self, pieces: Sequence[bytes | bytearray | memoryview], *, hashed: bool = False) -> None:
        """Encrypt and write every whole chunk now available; keep the remainder for later.

        HASHED: the caller has put PIECES into the running hash itself (on another thread, so
        hashing and encrypting run side by side: both release the GIL)."""
        chunk = self._chunk
        whole = (len(self._rest) + sum(len(p) for p in pieces)) // chunk
        out = self._file.space(whole * (chunk + TAG))
        pos = 0
        for data in pieces:
            if not hashed:
                self._sha.update(data)
            view = memoryview(data)
            start = 0
            if self._rest:
                start = min(len(view), chunk - len(self._rest))
                self._rest += view[:start]
                if len(self._rest) < chunk:
                    continue
                pos = self._seal_into(self._rest, out, pos)
                self._rest = bytearray()
            end = start + (len(view) - start) // chunk * chunk
            for i in range(start, end, chunk):
                pos = self._seal_into(view[i:i + chunk], out, pos)
            if end < len(view):
                self._rest += view[end:]
        out.release()
        self._file.commit(pos)

    def _seal_into(self, piece: bytes | bytearray | memoryview, out: memoryview, pos: int) -> int:
        """Encrypt PIECE into OUT at POS (no new buffer per chunk); return the position after it."""
        end = pos + len(piece) + TAG
        if self._encrypt_into:
            self._aead.encrypt_into(_chunk_nonce(self._index), piece, self._header, out[pos:end])
        else:  # cryptography releases before encrypt_into
            out[pos:end] = self._aead.encrypt(_chunk_nonce(self._index), piece, self._header)
        self._index += 1
        self._size += len(piece)
        return end

    def _seal(self, piece: bytes | bytearray | memoryview) -> bytes:
        sealed = self._aead.encrypt(_chunk_nonce(self._index), piece, self._header)
        self._index += 1
        self._size += len(piece)
        return sealed

    def finish(self) -> tuple[str, int]:
        """Seal the last partial chunk and the trailer, fsync; return (sha256 hex, size)."""
        tail = b""
        if self._rest:
            tail = self._seal(self._rest)
            self._rest = bytearray()
        digest = self._sha.digest()
        trailer = self._aead.encrypt(_TRAILER_NONCE, digest + self._size.to_bytes(8, "big"),
                                     self._header + b"trailer")
        self._file.append(tail + trailer)
        self._file.finish()
        return digest.hex(), self._size


class Opened:
    """A sealed blob opened for reading: the header parsed and the trailer authenticated."""

    def __init__(self, fd: int, store_key: bytes, expected_digest: str | None = None) -> None:
        self.fd = fd
        length = os.fstat(fd).st_size
        if length < HEADER_LEN + TRAILER_LEN:
            raise BlobCorrupt("blob shorter than its header and trailer")
        header = os.pread(fd, HEADER_LEN, 0)
        magic, chunk, salt = _HEADER.unpack(header)
        if magic != MAGIC or not 0 < chunk <= MAX_CHUNK:
            raise BlobCorrupt("not a pufferd blob (bad header)")
        self._header = header
        self.chunk = chunk
        self._aead = _file_aead(store_key, salt)
        from cryptography.exceptions import InvalidTag

        try:
            plain = self._aead.decrypt(_TRAILER_NONCE, os.pread(fd, TRAILER_LEN, length - TRAILER_LEN),
                                       header + b"trailer")
        except InvalidTag:
            raise BlobCorrupt("blob trailer does not authenticate") from None
        self.sha256 = plain[:32].hex()
        self.size = int.from_bytes(plain[32:], "big")
        if sealed_length(self.size, chunk) != length:
            raise BlobCorrupt("blob length does not match its authenticated size")
        if expected_digest is not None and self.sha256 != expected_digest:
            raise BlobCorrupt("blob content address does not match its authenticated digest")

    @property
    def chunks(self) -> int:
        return -(-self.size // self.chunk)

    def read_chunks(self, first: int, count: int) -> list[bytes]:
        """Decrypt chunks FIRST .. FIRST+COUNT-1 with one read."""
        last = min(first + count, self.chunks)
        if first >= last:
            return []
        step = self.chunk + TAG
        start = HEADER_LEN + first * step
        end = HEADER_LEN + self.size + last * TAG if last == self.chunks else HEADER_LEN + last * step
        raw = os.pread(self.fd, end - start, start)
        if len(raw) != end - start:
            raise BlobCorrupt("blob shorter than expected")
        view = memoryview(raw)
        out = []
        from cryptography.exceptions import InvalidTag

        for n, i in enumerate(range(first, last)):
            try:
                out.append(self._aead.decrypt(_chunk_nonce(i), view[n * step:(n + 1) * step], self._header))
            except InvalidTag:
                raise BlobCorrupt(f"blob chunk {i} does not authenticate") from None
        return out

    def read_range(self, start: int, end: int) -> bytes:
        """Plaintext [START, END) (END exclusive, clipped to the size)."""
        end = min(end, self.size)
        if start >= end:
            return b""
        first, last = start // self.chunk, (end - 1) // self.chunk
        data = b"".join(self.read_chunks(first, last - first + 1))
        offset = start - first * self.chunk
        return data[offset:offset + (end - start)]

    def verify(self, batch: int = 16) -> None:
        """Decrypt everything; every chunk must authenticate and the plaintext hash to the digest."""
        sha = hashlib.sha256()
        for first in range(0, self.chunks, batch):
            for piece in self.read_chunks(first, batch):
                sha.update(piece)
        if sha.hexdigest() != self.sha256:
            raise BlobCorrupt("blob plaintext does not hash to its digest")
