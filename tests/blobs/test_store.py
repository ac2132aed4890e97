"""The encrypted content-addressed blob store (pufferd/blobs): format, streaming, dedup, tampering."""
from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pufferd.blobs import BlobCorrupt, BlobInfo, BlobNotFound, LocalBlobStore, UrlSigner, outfile, sealed, sniff
from pufferd.blobs.local import BATCH

KEY = bytes(range(32))
DATA = Path(__file__).parent / "data"


@pytest.fixture(params=[True, False], ids=["direct-io", "page-cache"])
async def store(tmp_path: Path, request: pytest.FixtureRequest):
    """A store writing new blobs with O_DIRECT (where tmp_path allows it), and one through the page cache."""
    s = LocalBlobStore(tmp_path / "blobs", KEY, direct_io=request.param)
    await s.start()
    yield s
    await s.close()


async def put(store: LocalBlobStore, data: bytes, piece: int = 7919):
    w = store.writer()
    for i in range(0, len(data), piece):
        await w.write(data[i:i + piece])
    return await w.commit()


def marker_data(size: int) -> bytes:
    unit = b"PUFFERD-PLAINTEXT-MARKER-"
    return (unit * (size // len(unit) + 1))[:size]


@pytest.mark.parametrize("size", [0, 1, sealed.CHUNK - 1, sealed.CHUNK, sealed.CHUNK + 1,
                                  BATCH, BATCH + 3, 3 * BATCH + sealed.CHUNK // 2])
async def test_round_trip_any_size(store, size):
    data = os.urandom(size)
    info = await put(store, data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.size == size
    path = store.path_of(info.sha256)
    assert path.stat().st_size == sealed.sealed_length(size)
    reader = await store.open(info.sha256)
    try:
        assert reader.size == size
        assert await reader.read_all() == data
    finally:
        await reader.close()


async def test_any_range_decrypts_only_what_it_needs(store):
    data = os.urandom(3 * BATCH + 12345)
    info = await put(store, data, piece=65536)
    reader = await store.open(info.sha256)
    try:
        for start, end in [(0, 1), (5, 70000), (sealed.CHUNK - 1, sealed.CHUNK + 1), (BATCH - 10, 2 * BATCH + 10),
                           (len(data) - 1, len(data)), (100, len(data)), (0, len(data) + 999)]:
            got = b"".join([p async for p in reader.iter_range(start, end)])
            assert got == data[start:end], (start, end)
        assert [p async for p in reader.iter_range(10, 10)] == []
    finally:
        await reader.close()


async def test_identical_content_is_stored_once(store):
    data = os.urandom(200_000)
    a = await put(store, data)
    first = store.path_of(a.sha256).read_bytes()
    b = await put(store, data, piece=1000)
    assert a == b
    assert await store.digests() == [a.sha256]
    assert store.path_of(a.sha256).read_bytes() == first  # the blob stored first is kept
    await store.close()  # the second copy is removed in the background; close waits for it
    assert list(store.tmp.iterdir()) == []


async def test_no_plaintext_on_disk(store, tmp_path):
    data = marker_data(300_000)
    await put(store, data)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"PLAINTEXT-MARKER" not in path.read_bytes(), path


async def test_same_content_encrypts_differently_each_time(store, tmp_path):
    data = os.urandom(1000)
    info = await put(store, data)
    first = store.path_of(info.sha256).read_bytes()
    await store.delete(info.sha256)
    await put(store, data)
    assert store.path_of(info.sha256).read_bytes() != first


async def test_aborted_write_leaves_nothing(store):
    w = store.writer()
    await w.write(os.urandom(BATCH * 2 + 5))
    await w.abort()
    await w.abort()
    assert list(store.tmp.iterdir()) == []
    assert await store.digests() == []


async def test_start_removes_stale_temp_files(tmp_path):
    root = tmp_path / "blobs"
    (root / "tmp").mkdir(parents=True)
    (root / "tmp" / "crashed.part").write_bytes(b"half an upload")
    s = LocalBlobStore(root, KEY)
    try:
        assert await s.start() == 1
        assert list((root / "tmp").iterdir()) == []
    finally:
        await s.close()


async def test_unknown_and_malformed_digests_are_not_found(store):
    with pytest.raises(BlobNotFound):
        await store.open("0" * 64)
    for bad in ["../../etc/passwd", "A" * 64, "0" * 63, "", "tmp/../" + "0" * 57]:
        with pytest.raises(BlobNotFound):
            await store.open(bad)
        assert not await store.exists(bad)


async def test_flipped_byte_fails_authentication(store):
    data = os.urandom(3 * sealed.CHUNK)
    info = await put(store, data)
    path = store.path_of(info.sha256)
    raw = bytearray(path.read_bytes())
    raw[sealed.HEADER_LEN + sealed.CHUNK + 40] ^= 1  # inside chunk 1
    path.write_bytes(bytes(raw))
    reader = await store.open(info.sha256)  # header and trailer are intact
    try:
        assert await _read(reader, 0, 100) == data[:100]  # chunk 0 still fine
        with pytest.raises(BlobCorrupt, match="chunk 1"):
            await _read(reader, sealed.CHUNK, sealed.CHUNK + 10)
    finally:
        await reader.close()
    with pytest.raises(BlobCorrupt):
        await store.verify(info.sha256)


async def test_truncated_and_swapped_blobs_are_detected(store):
    a = await put(store, os.urandom(2 * sealed.CHUNK + 1))
    b = await put(store, os.urandom(100))
    pa, pb = store.path_of(a.sha256), store.path_of(b.sha256)
    # swapping two files: each still decrypts, but not under the other's name
    ra, rb = pa.read_bytes(), pb.read_bytes()
    pa.write_bytes(rb)
    with pytest.raises(BlobCorrupt, match="content address"):
        await store.open(a.sha256)
    # dropping the last chunk (keeping the trailer) changes the length the trailer implies
    cut = ra[:sealed.HEADER_LEN + 2 * (sealed.CHUNK + sealed.TAG)] + ra[-sealed.TRAILER_LEN:]
    pa.write_bytes(cut)
    with pytest.raises(BlobCorrupt):
        await store.open(a.sha256)
    # a blob sealed with another key does not open
    other = LocalBlobStore(store.root, bytes(32))
    try:
        with pytest.raises(BlobCorrupt):
            await other.open(b.sha256)
    finally:
        await other.close()


async def test_verify_accepts_a_sound_blob(store):
    data = os.urandom(BATCH + 17)
    info = await put(store, data)
    assert await store.verify(info.sha256) == info


async def test_delete_removes_the_file(store):
    info = await put(store, b"hello")
    assert await store.delete(info.sha256)
    assert not await store.delete(info.sha256)
    assert not await store.exists(info.sha256)
    assert await store.digests() == []


async def _read(reader, start, end):
    return b"".join([p async for p in reader.iter_range(start, end)])


def test_signer_binds_every_field():
    s = UrlSigner(KEY)
    sig = s.sign("PUT", "uploads/a.jpg", "image/jpeg", 10, 1000, 7)
    assert s.verify(sig, "PUT", "uploads/a.jpg", "image/jpeg", 10, 1000, 7)
    assert not s.verify(sig, "PUT", "uploads/a.jpg", "image/png", 10, 1000, 7)
    assert not s.verify(sig, "PUT", "uploads/a.jpg", "image/jpeg", 11, 1000, 7)
    assert not s.verify(sig, "PUT", "uploads/a.jpg", "image/jpeg", 10, 1000, 8)
    # length prefixes: moving a boundary between fields changes the signature
    assert s.sign("ab", "c") != s.sign("a", "bc")
    assert not s.verify(None, "x")
    assert not s.verify("", "x")
    assert not UrlSigner(bytes(32)).verify(sig, "PUT", "uploads/a.jpg", "image/jpeg", 10, 1000, 7)


@pytest.mark.parametrize("mime,head", [
    ("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF"),
    ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00"),
    ("image/webp", b"RIFF\x10\x00\x00\x00WEBPVP8 "),
    ("video/mp4", b"\x00\x00\x00\x18ftypmp42"),
    ("video/webm", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"),
    ("audio/webm", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"),
    ("audio/mpeg", b"ID3\x04\x00"),
    ("audio/mpeg", b"\xff\xfb\x90\x64"),
    ("audio/ogg", b"OggS\x00\x02"),
    ("audio/wav", b"RIFF\x24\x00\x00\x00WAVEfmt "),
    ("application/pdf", b"%PDF-1.7\n"),
    ("application/zip", b"PK\x03\x04\x14\x00"),
    ("text/plain", "héllo\n".encode()),
])
def test_sniff_accepts_each_type(mime, head):
    assert sniff.matches(mime, head)


def test_sniff_refuses_mismatches():
    png = b"\x89PNG\r\n\x1a\n\x00\x00"
    assert not sniff.matches("image/jpeg", png)
    assert sniff.detect(png) == "image/png"
    assert not sniff.matches("audio/wav", b"RIFF\x10\x00\x00\x00WEBPVP8 ")
    assert not sniff.matches("text/plain", b"abc\x00def")
    assert not sniff.matches("video/webm", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01matroska")
    assert not sniff.matches("image/gif", b"GIF89a")
    assert not sniff.matches("audio/mpeg", b"\xff\xf1\x50\x80")  # AAC ADTS, not MPEG audio
    assert sniff.detect(b"\x00\x01\x02") is None


def _takes_o_direct(directory: Path) -> bool:
    probe = directory / "probe"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
    except OSError:
        return False
    finally:
        probe.unlink(missing_ok=True)
    os.close(fd)
    return True


@pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="no O_DIRECT on this platform")
def test_sealer_bypasses_the_page_cache_where_the_file_system_allows_it(tmp_path):
    data = os.urandom(3 * BATCH + 4321)
    fd = os.open(tmp_path / "blob", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        sealer = sealed.Sealer(fd, KEY)
        assert sealer.direct == _takes_o_direct(tmp_path)
        if sealer.direct:
            assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT
        sealer.feed([data[:1000], data[1000:BATCH + 7], data[BATCH + 7:]])
        assert sealer.finish() == (hashlib.sha256(data).hexdigest(), len(data))
        assert not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT  # the last partial block went through the cache
    finally:
        os.close(fd)
    fd = os.open(tmp_path / "blob", os.O_RDONLY)
    try:
        opened = sealed.Opened(fd, KEY, hashlib.sha256(data).hexdigest())
        assert os.fstat(fd).st_size == sealed.sealed_length(len(data))
        assert opened.read_range(0, len(data)) == data
    finally:
        os.close(fd)


@pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="no O_DIRECT on this platform")
def test_write_refused_under_o_direct_goes_on_through_the_page_cache(tmp_path, monkeypatch):
    """A file system that takes O_DIRECT at fcntl but refuses the writes (EINVAL) still gets the blob."""
    if not _takes_o_direct(tmp_path):
        pytest.skip("tmp_path does not take O_DIRECT")
    real_write = os.write
    refused = []

    def write(fd: int, data) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    data = os.urandom(2 * BATCH + 99)
    fd = os.open(tmp_path / "blob", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        sealer = sealed.Sealer(fd, KEY)
        assert sealer.direct
        monkeypatch.setattr(outfile.os, "write", write)
        sealer.feed([data])
        assert not sealer.direct and len(refused) == 1
        assert sealer.finish() == (hashlib.sha256(data).hexdigest(), len(data))
    finally:
        monkeypatch.undo()
        os.close(fd)
    fd = os.open(tmp_path / "blob", os.O_RDONLY)
    try:
        assert sealed.Opened(fd, KEY).read_range(0, len(data)) == data
    finally:
        os.close(fd)


GOLDEN_DIGEST = "84d026f7b5a47a03ebfe619cfaa01ad19f0ed8b8ac5060c46f51118503a2aca3"


def golden_plaintext() -> bytes:
    return b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(2200))[:70_001]


async def test_blob_written_before_direct_io_still_reads(store):
    """data/pfdblob1-70001.bin was sealed by the page-cache writer of 2026-12-03 (commit b4286ca)
    with KEY: the format is unchanged, so it opens, decrypts, verifies and serves ranges."""
    plain = golden_plaintext()
    assert hashlib.sha256(plain).hexdigest() == GOLDEN_DIGEST
    path = store.path_of(GOLDEN_DIGEST)
    path.parent.mkdir(parents=True)
    shutil.copyfile(DATA / "pfdblob1-70001.bin", path)
    assert await store.digests() == [GOLDEN_DIGEST]
    assert await store.verify(GOLDEN_DIGEST) == BlobInfo(GOLDEN_DIGEST, len(plain))
    assert await put(store, plain) == BlobInfo(GOLDEN_DIGEST, len(plain))  # the same content, stored once
    assert path.read_bytes() == (DATA / "pfdblob1-70001.bin").read_bytes()  # and kept, not replaced
    reader = await store.open(GOLDEN_DIGEST)
    try:
        assert await reader.read_all() == plain
        assert await _read(reader, sealed.CHUNK - 3, sealed.CHUNK + 3) == plain[sealed.CHUNK - 3:sealed.CHUNK + 3]
    finally:
        await reader.close()
    raw = bytearray(path.read_bytes())
    raw[sealed.HEADER_LEN + 10] ^= 0x80
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobCorrupt, match="chunk 0"):
        await store.verify(GOLDEN_DIGEST)


@pytest.mark.parametrize("direct", [True, False], ids=["direct-io", "page-cache"])
@pytest.mark.parametrize("background", [True, False], ids=["write-thread", "same-thread"])
def test_outfile_writes_every_byte_in_order(tmp_path, direct, background):
    """Commits of any size, blocks cut at 4 KiB, one write in flight on another thread: the file
    holds exactly the bytes appended, in order."""
    rng = random.Random(17)
    expected = bytearray()
    with ThreadPoolExecutor(2) as pool:
        fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            out = outfile.OutFile(fd, direct=direct, writer=pool if background else None)
            out.append(b"header")
            expected += b"header"
            for size in [0, 1, 4095, 4096, 70_000, 1 << 20, 3, 2 * outfile.ALIGN + 1] + \
                    [rng.randrange(1, 300_000) for _ in range(20)]:
                data = rng.randbytes(size)
                with out.space(size) as view:
                    view[:] = data
                out.commit(size)
                expected += data
            out.finish()
        finally:
            os.close(fd)
    assert (tmp_path / "out").read_bytes() == bytes(expected)


async def test_failed_disk_write_fails_the_upload_and_leaves_nothing(store, monkeypatch):
    """A write refused by the disk (ENOSPC) on the write thread fails the writer, which removes its file."""
    real_write = os.write
    refused = []

    def write(fd: int, data) -> int:
        if len(data) >= outfile.ALIGN and not refused:
            refused.append(len(data))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(outfile.os, "write", write)
    w = store.writer()
    data = os.urandom(4 * BATCH + 5)
    with pytest.raises(OSError, match="No space left"):
        try:
            for i in range(0, len(data), 65536):
                await w.write(data[i:i + 65536])
            await w.commit()
        except OSError:
            await w.abort()  # as media.receive_upload does with any failure
            raise
    monkeypatch.undo()
    assert refused
    assert list(store.tmp.iterdir()) == []
    assert await store.digests() == []
