"""The access log: one line per request, written in batches.

aiohttp's own AccessLogger sends every request through `logging` (a LogRecord, a formatted time,
one write and one flush system call each): ≈ 30 µs a request, which made a small request ≈ 35 %
slower (bench/BENCHMARKS.md, "Foundation"). This logger formats the same line as the other log
lines (`2026-11-23 09:42:13,152 INFO aiohttp.access: 127.0.0.1 "GET / HTTP/1.1" 200 15 0.000412s`)
with a timestamp cached per second, and writes what accumulated in one write at most
FLUSH_INTERVAL seconds later (or at MAX_LINES lines). So an access line can appear up to
FLUSH_INTERVAL after log lines written during the same request; `flush()` at shutdown writes the rest.
"""
from __future__ import annotations

import asyncio
import re
import time
from typing import TextIO

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

FLUSH_INTERVAL = 0.25
MAX_LINES = 256
# query parameters that are credentials: the WebSocket's ?token=<access token>, and the `sig` of
# signed upload and download URLs (whoever holds the whole URL may use it until it expires)
_SECRET_PARAM = re.compile(r"([?&])(token|sig)=[^&]*")


class AccessLogBuffer:
    """Collects access lines and writes them to STREAM in batches, from the event loop."""

    def __init__(self, stream: TextIO, *, name: str = "aiohttp.access",
                 interval: float = FLUSH_INTERVAL, max_lines: int = MAX_LINES) -> None:
        self._stream = stream
        self._name = name
        self._interval = interval
        self._max_lines = max_lines
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._second = -1
        self._stamp = ""

    def add(self, line: str) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        self._lines.append(f"{self._stamp},{int((now - second) * 1000):03d} INFO {self._name}: {line}\n")
        if len(self._lines) >= self._max_lines:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self.flush)

    def flush(self) -> None:
        """Write every pending line now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        data = "".join(self._lines)
        self._lines.clear()
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not fail requests
            pass


def access_logger_class(buffer: AccessLogBuffer) -> type[AbstractAccessLogger]:
    """An aiohttp access logger class (aiohttp makes one per connection) writing into BUFFER."""

    class BufferedAccessLogger(AbstractAccessLogger):
        def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
            version = request.version
            # raw_path: the request target as sent, without building a URL object for it
            path = request.raw_path
            if "token=" in path or "sig=" in path:  # never write a credential
                path = _SECRET_PARAM.sub(r"\1\2=[redacted]", path)
            buffer.add(f'{request.remote or "-"} "{request.method} {path} '
                       f'HTTP/{version.major}.{version.minor}" {response.status} '
                       f'{response.body_length} {time:06f}s')

    return BufferedAccessLogger
