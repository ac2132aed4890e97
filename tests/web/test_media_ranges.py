"""Malformed Range headers on a real download (RFC 9110 section 14): each is ignored (200 with the
whole file) or unsatisfiable (416 with `Content-Range: bytes */size`), never a server error."""
from __future__ import annotations

import pytest
from media_helpers import download, local, png, upload

SIZE = 70_000  # more than one 64 KiB chunk of the blob store
HUGE = "9" * 30
GIANT = "9" * 5000  # past Python's 4300-digit limit for int(str)

IGNORED = [
    f"bytes=0-{HUGE}0, 5-9",          # several ranges: served whole
    "bytes=" + ",".join(f"{i}-{i}" for i in range(500)),
    "bytes=0-0,-1",
    "bytes=",
    "bytes=-",
    "bytes=--5",
    "bytes=5--9",
    "bytes=a-b",
    "bytes=0x10-0x20",
    "bytes=1e3-",
    "bytes=+5-9",
    "bytes=5-+9",
    "bytes=٣-٥",                      # digits of another script are not ASCII digits (RFC 5234 DIGIT)
    "bytes=1_000-2_000",
    "bytes 0-5",
    "items=0-5",
    "bytes=9-5",                       # last < first: invalid, ignored (RFC 9110 14.1.1)
    f"bytes={HUGE}-5",
    f"bytes={GIANT}-5",
    "garbage",
    "=",
    ";;;",
    "bytes=0-5;x",
]
UNSATISFIABLE = [
    f"bytes={HUGE}-",
    f"bytes={HUGE}-{HUGE}9",
    f"bytes={GIANT}-",
    f"bytes={SIZE}-",
    "bytes=-0",
    f"bytes=-{'0' * 40}",
]
PARTIAL = [
    (f"bytes=0-{HUGE}", 0, SIZE),
    (f"bytes=0-{GIANT}", 0, SIZE),
    (f"bytes=-{HUGE}", 0, SIZE),
    (f"bytes=-{GIANT}", 0, SIZE),
    (f"bytes=100-{HUGE}", 100, SIZE),
    (f"bytes={'0' * 50}1-{'0' * 50}3", 1, 4),   # leading zeros are still a number
]


@pytest.fixture
async def file(client, alice):
    data = png(SIZE)
    return data, await upload(client, alice, data)


@pytest.mark.parametrize("header", IGNORED)
async def test_a_malformed_range_is_ignored(client, alice, file, header):
    data, t = file
    resp = await download(client, alice, t, Range=header)
    assert resp.status == 200, await resp.text()
    assert "Content-Range" not in resp.headers
    assert await resp.read() == data


@pytest.mark.parametrize("header", UNSATISFIABLE)
async def test_a_range_past_the_end_is_416(client, alice, file, header):
    resp = await download(client, alice, file[1], Range=header)
    assert resp.status == 416, await resp.text()
    assert resp.headers["Content-Range"] == f"bytes */{SIZE}"
    assert "detail" in await resp.json()


@pytest.mark.parametrize(("header", "start", "end"), PARTIAL)
async def test_a_range_with_a_huge_end_is_cut_at_the_file_size(client, alice, file, header, start, end):
    data, t = file
    resp = await download(client, alice, t, Range=header)
    assert resp.status == 206, await resp.text()
    assert resp.headers["Content-Range"] == f"bytes {start}-{end - 1}/{SIZE}"
    assert await resp.read() == data[start:end]


async def test_a_huge_range_on_head_is_not_a_server_error(client, alice, file):
    resp = await client.head(local(file[1]["file_url"]), headers={**alice.headers, "Range": f"bytes={GIANT}-"})
    assert resp.status == 416
