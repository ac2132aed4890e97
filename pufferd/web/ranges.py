"""HTTP conditional and range requests for file downloads (RFC 9110 sections 8.8.3, 13.1, 14).

Only single byte ranges are served; a request for several ranges, or one this module cannot
parse, gets the whole file (a server may always ignore Range, RFC 9110 14.2). No Range header,
however long its numbers, is an error of the server.
"""
from __future__ import annotations

import re
from urllib.parse import quote

# RFC 9110 14.1.1 for one range: "bytes" "=" first-pos "-" [last-pos], or "-" suffix-length, with
# optional whitespace. DIGIT is ASCII only (RFC 5234): re.ASCII keeps other scripts' digits out.
_RANGE = re.compile(r"[ \t]*bytes[ \t]*=[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*", re.IGNORECASE | re.ASCII)
# positions with more digits than this lie beyond any file, and are never turned into an int
# (a Range header may hold thousands of digits; int() refuses more than 4300 of them)
_MAX_DIGITS = 18
_BEYOND = 10**_MAX_DIGITS


class Unsatisfiable(Exception):
    """The range selects no byte of the representation: 416 with Content-Range: bytes */size."""


def _position(digits: str) -> tuple[str, int]:
    """DIGITS without leading zeros (for exact comparison) and its value, capped at _BEYOND."""
    digits = digits.lstrip("0") or "0"
    return digits, (int(digits) if len(digits) <= _MAX_DIGITS else _BEYOND)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) for a satisfiable single range, None to send everything.

    Several ranges, another unit and anything malformed are ignored (None: the whole file, as
    RFC 9110 14.2 allows); a range that starts at or past the end raises Unsatisfiable.
    """
    if not header:
        return None
    m = _RANGE.fullmatch(header)
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        _, n = _position(last)
        if n == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - n), size
    first_digits, start = _position(first)
    if last:
        last_digits, end = _position(last)
        if (len(last_digits), last_digits) < (len(first_digits), first_digits):
            return None  # invalid (last < first): ignored, RFC 9110 14.1.1
        end += 1
    else:
        end = size
    if start >= size:
        raise Unsatisfiable
    return start, min(end, size)


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match matches (weak comparison, RFC 9110 13.1.2): answer 304."""
    if not if_none_match:
        return False
    bare = etag.removeprefix("W/")
    return any(t == "*" or t.removeprefix("W/") == bare for t in _tags(if_none_match))


def range_applies(if_range: str | None, etag: str) -> bool:
    """If-Range holds (strong comparison; a date never matches, there is no Last-Modified)."""
    return if_range is None or if_range.strip() == etag


def content_disposition(disposition: str, file_name: str) -> str:
    """RFC 6266: an ASCII fallback name plus the exact name in RFC 8187 encoding."""
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\;' else "_" for ch in file_name)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"
