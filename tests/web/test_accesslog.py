"""The batched access log (pufferd/web/accesslog.py): one line per request, written in batches."""
from __future__ import annotations

import asyncio
import io
import logging
import re
from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import TestServer
from media_helpers import local, png, put, ticket

from pufferd.web.accesslog import AccessLogBuffer, access_logger_class

LINE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO aiohttp\.access: '
                  r'127\.0\.0\.1 "GET /health/live\?probe=1 HTTP/1\.1" 200 \d+ \d+\.\d{6}s$')


class CountingStream(io.StringIO):
    """A text stream that counts write calls, to show lines are batched."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


async def test_access_log_writes_one_line_per_request_in_the_log_format(aiohttp_client, app) -> None:
    stream = CountingStream()
    buffer = AccessLogBuffer(stream, interval=60)
    server = TestServer(app)
    await server.start_server(access_log_class=access_logger_class(buffer),
                              access_log=logging.getLogger("aiohttp.access"))
    client = await aiohttp_client(server)
    for _ in range(3):
        resp = await client.get("/health/live", params={"probe": "1"})
        assert resp.status == 200
    assert stream.getvalue() == ""  # held until the interval passes or someone flushes
    buffer.flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and all(LINE.match(line) for line in lines), lines
    assert stream.writes == 1


async def test_access_log_flushes_after_the_interval() -> None:
    stream = CountingStream()
    buffer = AccessLogBuffer(stream, interval=0.01)
    buffer.add("first")
    buffer.add("second")
    await asyncio.sleep(0.1)
    assert [line.split(": ", 1)[1] for line in stream.getvalue().splitlines()] == ["first", "second"]
    assert stream.writes == 1


async def test_access_log_flushes_when_max_lines_accumulate() -> None:
    stream = CountingStream()
    buffer = AccessLogBuffer(stream, interval=60, max_lines=4)
    for i in range(9):
        buffer.add(f"line {i}")
    assert len(stream.getvalue().splitlines()) == 8
    assert stream.writes == 2
    buffer.flush()
    assert stream.getvalue().splitlines()[-1].endswith("line 8")


async def test_access_log_survives_a_closed_stream() -> None:
    stream = io.StringIO()
    buffer = AccessLogBuffer(stream, interval=60)
    stream.close()
    buffer.add("lost")
    buffer.flush()  # no exception: a broken stderr must not fail requests
    buffer.flush()


async def test_access_log_redacts_the_signature_of_upload_and_download_urls(aiohttp_client, app,
                                                                            make_user) -> None:
    stream = io.StringIO()
    buffer = AccessLogBuffer(stream, interval=60)
    server = TestServer(app)
    await server.start_server(access_log_class=access_logger_class(buffer),
                              access_log=logging.getLogger("aiohttp.access"))
    client = await aiohttp_client(server)
    alice = await make_user("alice")
    data = png(1000)
    t = await ticket(client, alice, size=len(data))
    assert (await put(client, t, data)).status == 200
    resp = await client.post("/api/v1/media/download-url", json={"file_url": t["file_url"]}, headers=alice.headers)
    signed = (await resp.json())["download_url"]
    got = await client.get(local(signed))
    assert got.status == 200 and await got.read() == data
    for _ in range(100):  # a streamed response is logged just after its last byte went out
        buffer.flush()
        if stream.getvalue().count("\n") == 4:
            break
        await asyncio.sleep(0.01)
    log = stream.getvalue()
    secrets = [parse_qs(urlsplit(url).query)["sig"][0] for url in (t["upload_url"], signed)]
    assert all(sig not in log for sig in secrets), log
    assert log.count("sig=[redacted]") == 2, log
    assert "exp=" in log  # only the credential goes
