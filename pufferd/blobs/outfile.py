"""Appending the bytes of a new blob file, straight to the device where the file system allows it.

A blob is written once and not read back soon, so the page cache gains nothing from holding it:
copying every byte into the cache cost the upload about as much CPU as AES-GCM and SHA-256
together, and the copy was then dropped again to start its write-back early (bench/BENCHMARKS.md,
"Uploads at disk speed"). With O_DIRECT the device reads the caller's buffer itself. O_DIRECT wants
the buffer address, the length and the file offset aligned to the device's logical block size
(ALIGN = 4 KiB covers 512-byte and 4 KiB sectors), so bytes are staged in one page-aligned buffer
(an anonymous mmap) and only whole blocks leave it; the remainder, less than a block, stays at the
buffer's start for the next write. The last partial block goes through the page cache (O_DIRECT
switched off with fcntl, which Linux allows) before the fsync.

A file system that refuses O_DIRECT, when it is switched on or at a write, gets the same bytes
through the page cache, with write-back started after every WRITEBACK_BYTES (POSIX_FADV_DONTNEED)
so that the final fsync has little left to wait for. The bytes on disk are the same either way.

Given an executor (WRITER), each commit's whole blocks are written there while the caller fills
a second buffer: a write to the device waits on the disk, not on the CPU, so the next batch is
encrypted meanwhile. One write is in flight at a time, so the writes stay in file order.
"""
from __future__ import annotations

import errno
import fcntl
import mmap
import os
from concurrent.futures import Executor, Future

ALIGN = 4096
WRITEBACK_BYTES = 256 * 1024
_O_DIRECT: int = getattr(os, "O_DIRECT", 0)


class OutFile:
    """Sequential writes to a new, empty file descriptor FD (opened for writing, not O_APPEND).

    Fill `space(n)`, then `commit(n)`: whole blocks are written (everything, without O_DIRECT),
    on WRITER when given; `finish()` writes the rest and fsyncs. The caller closes FD, after
    `finish()` or `drain()`.
    """

    def __init__(self, fd: int, *, direct: bool = True, writer: Executor | None = None) -> None:
        self.fd = fd
        self.direct = direct and _O_DIRECT != 0 and _set_direct(fd, on=True)
        self._buf = mmap.mmap(-1, ALIGN)
        self._pending = 0  # bytes at the start of _buf not written yet
        self._written = 0
        self._advised = 0
        self._writer = writer
        self._spare: mmap.mmap | None = None  # the buffer of the write in flight, then free
        self._writing: Future[None] | None = None

    def space(self, n: int) -> memoryview:
        """A writable view of the N bytes after those pending (valid until the next call)."""
        need = self._pending + n
        if len(self._buf) < need:
            grown = mmap.mmap(-1, -(-need // ALIGN) * ALIGN)
            grown[:self._pending] = self._buf[:self._pending]
            self._buf = grown  # the old map is unmapped when its last view is released
        return memoryview(self._buf)[self._pending:need]

    def commit(self, n: int) -> None:
        """The first N bytes of the last `space` are filled: write what can be written now."""
        end = self._pending + n
        cut = end - end % ALIGN if self.direct else end
        buf = self._buf
        if cut and self._writer is not None:
            # the write in flight is of the other buffer: it precedes these bytes, then frees it
            self._wait()
            other = self._spare if self._spare is not None and len(self._spare) >= len(buf) \
                else mmap.mmap(-1, len(buf))
            other[:end - cut] = buf[cut:end]
            self._buf, self._spare, self._pending = other, buf, end - cut
            self._writing = self._writer.submit(self._write_from, buf, cut)
            return
        if cut:
            self._write_from(buf, cut)
            buf[:end - cut] = buf[cut:end]
        self._pending = end - cut

    def append(self, data: bytes) -> None:
        with self.space(len(data)) as view:
            view[:] = data
        self.commit(len(data))

    def finish(self) -> None:
        """Write what is pending (less than a block: through the page cache) and fsync."""
        self._wait()
        if self._pending:
            if self.direct:
                self._buffered()
            with memoryview(self._buf) as view:
                self._write(view[:self._pending])
            self._pending = 0
        os.fsync(self.fd)

    def drain(self) -> None:
        """Wait for the write in flight, ignoring its failure (before closing FD on an abort)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.exception()

    def _wait(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def _write_from(self, buf: mmap.mmap, n: int) -> None:
        with memoryview(buf) as view:
            self._write(view[:n])

    def _write(self, data: memoryview) -> None:
        done = 0
        while done < len(data):
            try:
                done += os.write(self.fd, data[done:])
            except OSError as exc:
                # EINVAL: O_DIRECT was accepted, but not for this write (a file system with a
                # larger block, or a short write left the offset unaligned): go on without it
                if exc.errno != errno.EINVAL or not self.direct:
                    raise
                self._buffered()
        self._written += done
        if not self.direct and self._written - self._advised >= WRITEBACK_BYTES:
            # start writing these pages back now, so the final fsync has little left to wait for
            os.posix_fadvise(self.fd, self._advised, self._written - self._advised, os.POSIX_FADV_DONTNEED)
            self._advised = self._written

    def _buffered(self) -> None:
        _set_direct(self.fd, on=False)
        self.direct = False


def _set_direct(fd: int, *, on: bool) -> bool:
    """Switch O_DIRECT on FD on or off; False when the file system refuses it (EINVAL)."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | _O_DIRECT if on else flags & ~_O_DIRECT)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return False
    return True
