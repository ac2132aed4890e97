"""LocalBlobStore: the BlobStore port on the data directory (DIR/blobs), encrypted at rest.

Layout: DIR/blobs/ab/cd/<sha256> for sealed blobs (see sealed.py), DIR/blobs/tmp/ for writes in
progress. A write streams into tmp/, is fsynced, then renamed to its content address (an atomic
step on one file system), so no partial blob is ever visible under a digest; a crash leaves only
a temp file, which `start()` removes. All disk and crypto work runs on the store's own worker
threads; memory per stream is a few batches of chunks, never the whole file.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from pufferd.blobs.port import DIGEST_RE, BlobInfo, BlobNotFound, check_digest
from pufferd.blobs.sealed import CHUNK, Opened, Sealer

T = TypeVar("T")
log = logging.getLogger("pufferd.blobs")

# plaintext bytes handed to a worker thread at a time (16 chunks): one batch in flight and one
# being filled bound the memory of a stream to ~2 MiB
BATCH = 16 * CHUNK
# plaintext decrypted per worker hop when reading: one batch prefetched, one being sent
READ_BATCH = 4 * CHUNK
TMP = "tmp"


class LocalBlobStore:
    def __init__(self, root: Path, key: bytes, *, workers: int = 4, direct_io: bool = False) -> None:
        if len(key) != 32:
            raise ValueError("blob key must be 32 bytes")
        self.root = Path(root)
        self.tmp = self.root / TMP
        self._key = key
        # DIRECT_IO: new blobs are written with O_DIRECT where the file system allows it (see
        # outfile.py); by default they go through the page cache with early write-back (the
        # setting blob_direct_io; bench/BENCHMARKS.md, "Uploads at disk speed")
        self.direct_io = direct_io
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None
        # threads that write sealed batches to the device (waiting on the disk, not the CPU)
        # while a store worker hashes and encrypts the next batch; they never wait on other jobs
        self._writes: ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()

    # lifecycle -------------------------------------------------------------------------------
    async def start(self) -> int:
        return await self._run(self._start_sync)

    def _start_sync(self) -> int:
        self.tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        removed = 0
        for entry in os.scandir(self.tmp):
            # no write can be in progress before start(): everything here is a crash leftover
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
        return removed

    async def close(self) -> None:
        for executor in (self._executor, self._writes):
            if executor is not None:
                await asyncio.get_running_loop().run_in_executor(None, executor.shutdown, True)
        self._executor = self._writes = None

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="pufferd-blobs")
        return self._executor

    def _write_pool(self) -> ThreadPoolExecutor:
        if self._writes is None:
            self._writes = ThreadPoolExecutor(self._workers, thread_name_prefix="pufferd-blobs-write")
        return self._writes

    def _submit(self, fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
        return asyncio.wrap_future(self._pool().submit(fn, *args))

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await self._submit(fn, *args)

    def exclusive(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._lock

    # paths -----------------------------------------------------------------------------------
    def path_of(self, digest: str) -> Path:
        check_digest(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    # writing ---------------------------------------------------------------------------------
    def writer(self) -> LocalBlobWriter:
        return LocalBlobWriter(self)

    def _place_sync(self, temp: Path, digest: str) -> bool:
        """Move TEMP to DIGEST's address; False when identical content is there already (kept)."""
        target = self.path_of(digest)
        if target.exists():
            return False
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.replace(temp, target)
        _fsync_dir(target.parent)
        return True

    def _drop_later(self, temp: Path) -> None:
        """Remove TEMP on a worker without waiting: freeing a large file's blocks took 20-35 ms
        (100 MiB, ext4) that the uploader of a duplicate waited for. A crash before it is done
        leaves a temp file, which start() removes; close() waits for it."""
        def logged(done: Future[None]) -> None:
            if done.exception() is not None:
                log.error("could not remove the temporary blob %s: %s", temp, done.exception())
        self._pool().submit(temp.unlink, missing_ok=True).add_done_callback(logged)

    # reading ---------------------------------------------------------------------------------
    async def open(self, digest: str) -> LocalBlobReader:
        opened = await self._run(self._open_sync, digest)
        return LocalBlobReader(self, opened)

    def _open_sync(self, digest: str) -> Opened:
        path = self.path_of(digest)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        try:
            return Opened(fd, self._key, digest)
        except BaseException:
            os.close(fd)
            raise

    async def exists(self, digest: str) -> bool:
        try:
            path = self.path_of(digest)
        except BlobNotFound:
            return False
        return await self._run(path.is_file)

    async def delete(self, digest: str) -> bool:
        return await self._run(self._delete_sync, digest)

    def _delete_sync(self, digest: str) -> bool:
        path = self.path_of(digest)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        for parent in (path.parent, path.parent.parent):
            with contextlib.suppress(OSError):  # not empty: other blobs share the shard
                parent.rmdir()
        return True

    async def digests(self) -> list[str]:
        return await self._run(self.digests_sync)

    def digests_sync(self) -> list[str]:
        found: list[str] = []
        for top in os.scandir(self.root):
            if top.name == TMP or len(top.name) != 2 or not top.is_dir(follow_symlinks=False):
                continue
            for mid in os.scandir(top.path):
                if not mid.is_dir(follow_symlinks=False):
                    continue
                for entry in os.scandir(mid.path):
                    if DIGEST_RE.match(entry.name) and entry.name[:2] == top.name \
                            and entry.name[2:4] == mid.name:
                        found.append(entry.name)
        return found

    async def verify(self, digest: str) -> BlobInfo:
        return await self._run(self.verify_sync, digest)

    def verify_sync(self, digest: str) -> BlobInfo:
        """Decrypt the whole blob on the calling thread (doctor runs this without an event loop)."""
        opened = self._open_sync(digest)
        try:
            opened.verify()
            return BlobInfo(opened.sha256, opened.size)
        finally:
            os.close(opened.fd)


class LocalBlobWriter:
    """Streams plaintext into a temp file through a Sealer running on the store's threads.

    Three stages overlap, each on its own thread: the event loop receives a batch while a store
    worker hashes and encrypts the previous one in one pass, while a write thread puts the
    ciphertext before that on the disk (see outfile.py).
    """

    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store
        # taken here, on the loop's thread: the pool is made once, not raced for by two workers
        self._writes = store._write_pool()
        self._temp = store.tmp / f"{secrets.token_hex(16)}.part"
        self._fd: int | None = None
        self._sealer: Sealer | None = None
        self._sha = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_len = 0
        # the job hashing, encrypting and writing the batch before the one being received
        self._inflight: asyncio.Future[None] | None = None
        self._size = 0
        self._info: BlobInfo | None = None
        self._done = False

    @property
    def size(self) -> int:
        return self._size

    def _open_sync(self) -> None:
        self._fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        self._sealer = Sealer(self._fd, self._store._key, sha=self._sha, direct=self._store.direct_io,
                              writer=self._writes)

    def _feed_sync(self, pieces: list[bytes]) -> None:
        if self._sealer is None:
            self._open_sync()
        assert self._sealer is not None
        # one pass: hashlib and AES-GCM release the GIL over each piece and chunk
        self._sealer.feed(pieces)

    async def write(self, data: bytes) -> None:
        if self._done or self._info is not None:
            raise RuntimeError("writer already finished")
        if not data:
            return
        self._pending.append(bytes(data))
        self._pending_len += len(data)
        self._size += len(data)
        if self._pending_len >= BATCH:
            await self._flush()

    async def _flush(self) -> None:
        # one batch in flight while the next fills: the network and the cipher overlap
        if self._inflight is not None:
            # asyncio.wait, not await: cancelling this wait must not leave the job running
            # unwatched (abort waits for it before closing the file)
            await asyncio.wait((self._inflight,))
            inflight, self._inflight = self._inflight, None
            inflight.result()
        if self._pending:
            pieces, self._pending, self._pending_len = self._pending, [], 0
            # submitted here, not from a task of its own: that would first run when the loop
            # next waits, after the body's pieces already received (up to a batch later)
            self._inflight = self._store._submit(self._feed_sync, pieces)

    async def seal(self) -> BlobInfo:
        """Encrypt what is left, write the trailer and fsync; the blob is not visible yet."""
        if self._done or self._info is not None:
            raise RuntimeError("writer already sealed")
        try:
            await self._flush()
            await self._flush()  # the last batch in flight
            digest, size = await self._store._run(self._seal_sync)
        except BaseException:
            await self.abort()
            raise
        self._info = BlobInfo(digest, size)
        return self._info

    def _seal_sync(self) -> tuple[str, int]:
        if self._sealer is None:
            self._open_sync()
        assert self._sealer is not None and self._fd is not None
        digest, size = self._sealer.finish()
        os.close(self._fd)
        self._fd = None
        return digest, size

    async def place(self) -> BlobInfo:
        """Move the sealed blob to its content address (an identical blob there is kept)."""
        if self._info is None or self._done:
            raise RuntimeError("writer not sealed")
        try:
            placed = await self._store._run(self._store._place_sync, self._temp, self._info.sha256)
        except BaseException:
            await self.abort()
            raise
        self._done = True
        if not placed:
            self._store._drop_later(self._temp)  # the identical blob already stored is kept
        return self._info

    async def commit(self) -> BlobInfo:
        await self.seal()
        return await self.place()

    async def abort(self) -> None:
        self._done = True
        self._pending = []
        if self._inflight is not None:
            # a worker cannot be stopped: let it finish with the batch and the file first
            with contextlib.suppress(BaseException):
                await asyncio.wait((self._inflight,))
            self._inflight = None
        await self._store._run(self._discard_sync)

    def _discard_sync(self) -> None:
        if self._sealer is not None:
            self._sealer.drain()  # a write of the file still in flight
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._temp.unlink(missing_ok=True)


class LocalBlobReader:
    """An authenticated open blob; `iter_range` decrypts batches ahead of the consumer."""

    def __init__(self, store: LocalBlobStore, opened: Opened) -> None:
        self._store = store
        self._opened = opened
        self.size = opened.size
        self.sha256 = opened.sha256
        self._closed = False

    async def iter_range(self, start: int, end: int) -> AsyncGenerator[bytes, None]:
        end = min(end, self.size)
        if start >= end:
            return
        chunk = self._opened.chunk
        per_batch = max(1, READ_BATCH // chunk)
        spans = []
        pos = start
        while pos < end:
            batch_end = min(end, (pos // chunk + per_batch) * chunk)
            spans.append((pos, batch_end))
            pos = batch_end
        ahead: asyncio.Future[bytes] | None = None
        try:
            ahead = self._store._submit(self._opened.read_range, *spans[0])
            for nxt in spans[1:]:
                current, ahead = ahead, None
                data = await current
                ahead = self._store._submit(self._opened.read_range, *nxt)
                yield data
            current, ahead = ahead, None
            yield await current
        finally:
            if ahead is not None:
                with contextlib.suppress(BaseException):
                    await ahead

    async def read_all(self) -> bytes:
        """The whole plaintext (small blobs and tests only)."""
        return b"".join([piece async for piece in self.iter_range(0, self.size)])

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._store._run(os.close, self._opened.fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

